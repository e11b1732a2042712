//! The simulated card network: plays Stripe's test PaymentMethod ids with the outcomes Stripe
//! documents, keeps its customers, cards and payments in a redb file so they survive restarts,
//! and lets a local "bank" settle payments later: approve or decline an authentication, make a
//! processing payment succeed or fail. Every payment transition also records the event Stripe
//! would send (`events`), durably and in the same write, for the webhook path to consume.

mod events;
mod settlement;
mod updater;
mod view;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use billing_core::domain::money::Cents;
use billing_core::ports::clock::Clock;
use billing_core::ports::gateway::{
    CardDetails, ChargeOutcome, ChargeRequest, CustomerCards, Decline, GatewayError,
    PaymentGateway, PaymentMethod, SetupIntent,
};
use billing_core::rules::card::CheckResult;
use billing_core::{AccountId, ClientSecret, CustomerId, EmailAddress, PaymentId, PaymentMethodId};
use chrono::{Datelike, NaiveDate, Utc};
use redb::{
    Database, ReadOnlyTable, ReadableDatabase, ReadableTable, Table, TableDefinition,
    WriteTransaction,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::cards::{OnAttach, OnCharge, TestCard, test_card};
use crate::group::GroupWriter;
pub use events::{API_VERSION, NetworkEvent, stripe_signature};
pub use view::{AttachedCard, NetworkView};

const STATE: TableDefinition<&str, &[u8]> = TableDefinition::new("card_network");
/// redb's page cache for the network's file (its default, 1 GiB, lets memory grow with the
/// payments kept).
const CACHE_BYTES: usize = 32 << 20;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SimCustomer {
    id: String,
    account: String,
    default_payment_method: Option<String>,
    deleted: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SimPaymentMethod {
    id: String,
    template: String,
    customer: Option<String>,
    /// December unless the card updater changed it (cards stored before it existed read so).
    #[serde(default = "december")]
    exp_month: u32,
    exp_year: i32,
    /// Detached from a customer: like on Stripe, it can never be attached or used again.
    #[serde(default)]
    detached: bool,
    /// Unix seconds.
    #[serde(default)]
    created: i64,
}

fn december() -> u32 {
    12
}

/// A payment (PaymentIntent). Fields added after the first release default, so payments
/// written by an older local server still read.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SimPayment {
    id: String,
    customer: String,
    payment_method: String,
    amount: Cents,
    outcome: ChargeOutcome,
    #[serde(default = "usd")]
    currency: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
    #[serde(default)]
    idempotency_key: Option<String>,
    /// Unix seconds.
    #[serde(default)]
    created: i64,
    /// Unix seconds, once canceled.
    #[serde(default)]
    canceled_at: Option<i64>,
    /// What the charge request was first answered: a retry with the same idempotency key gets
    /// this again, as on Stripe, even after the payment has moved on.
    #[serde(default)]
    first_answer: Option<ChargeOutcome>,
}

fn usd() -> String {
    "usd".into()
}

impl SimPayment {
    fn payment_id(&self) -> Result<PaymentId, GatewayError> {
        PaymentId::parse(&self.id).map_err(unavailable)
    }

    fn client_secret(&self) -> String {
        format!("{}_secret_local", self.id)
    }
}

/// Seconds since the Unix epoch, as Stripe stamps objects and events (real time: the network
/// does not follow the local server's movable clock).
fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The simulated card network. Cheap to clone.
#[derive(Clone)]
pub struct SimulatedCardNetwork {
    db: Arc<Database>,
    /// Charges are group-committed (see [`SimulatedCardNetwork::charge_group`]): the monthly
    /// run sends many at once. Each goes with the day the network's clock reads when it is sent.
    charges: Arc<GroupWriter<(ChargeRequest, NaiveDate), Result<ChargeOutcome, GatewayError>>>,
    /// What the issuer takes as today when it checks a card's expiry: real time unless
    /// [`SimulatedCardNetwork::with_clock`] gives the local server's movable clock.
    clock: Arc<dyn Clock>,
}

/// Real time.
struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> chrono::DateTime<Utc> {
        Utc::now()
    }
}

/// A charge request that makes a new payment.
struct NewCharge<'a> {
    request: &'a ChargeRequest,
    pm: SimPaymentMethod,
    template: &'static TestCard,
    /// The day the network's clock read when the request was sent.
    today: NaiveDate,
}

/// What a charge request does, decided from reads alone before anything is written.
enum ChargePlan {
    /// The idempotency key was used before: its first answer again.
    Replay(ChargeOutcome),
    /// A new payment with this card, played as this test card.
    New {
        pm: SimPaymentMethod,
        template: &'static TestCard,
    },
}

fn unavailable<E: std::fmt::Display>(error: E) -> GatewayError {
    GatewayError::Unavailable(error.to_string())
}

fn read<T: DeserializeOwned>(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    key: &str,
) -> Result<Option<T>, GatewayError> {
    match table.get(key).map_err(unavailable)? {
        None => Ok(None),
        Some(bytes) => serde_json::from_slice(bytes.value())
            .map(Some)
            .map_err(unavailable),
    }
}

fn write<T: Serialize>(
    table: &mut Table<&str, &[u8]>,
    key: &str,
    value: &T,
) -> Result<(), GatewayError> {
    let bytes = serde_json::to_vec(value).map_err(unavailable)?;
    table.insert(key, bytes.as_slice()).map_err(unavailable)?;
    Ok(())
}

fn next_id(table: &mut Table<&str, &[u8]>, prefix: &str) -> Result<String, GatewayError> {
    let n: u64 = read(table, "counter")?.unwrap_or(0) + 1;
    write(table, "counter", &n)?;
    Ok(format!("{prefix}_sim{n:08}"))
}

fn template_of(id: &str) -> Result<&'static TestCard, GatewayError> {
    test_card(id).ok_or_else(|| GatewayError::NotFound(format!("payment method {id}")))
}

fn declined(code: &str) -> Decline {
    Decline {
        decline_code: Some(code.to_owned()),
        network_message: format!("Your card was declined ({code})."),
    }
}

impl SimulatedCardNetwork {
    /// Opens (or creates) the network's file. `authorize_base_url` is where the local server
    /// serves `/_local/bank/authorize/{payment}`.
    pub fn open(path: &Path, authorize_base_url: impl Into<String>) -> Result<Self, GatewayError> {
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(path)
            .map_err(unavailable)?;
        let txn = db.begin_write().map_err(unavailable)?;
        txn.open_table(STATE).map_err(unavailable)?;
        txn.commit().map_err(unavailable)?;
        let db = Arc::new(db);
        let authorize_base_url: String = authorize_base_url.into();
        let charges = GroupWriter::start("simulated-network-charges", {
            let db = db.clone();
            let authorize_base = authorize_base_url.trim_end_matches('/').to_owned();
            move |group: &[(ChargeRequest, NaiveDate)]| {
                Self::charge_group(&db, &authorize_base, group)
            }
        })
        .map_err(unavailable)?;
        Ok(Self {
            db,
            charges: Arc::new(charges),
            clock: Arc::new(SystemClock),
        })
    }

    /// The network with the issuers reading `clock` as today when they check a card's expiry:
    /// a charge on a card past its expiry month declines with `expired_card`, as a real issuer
    /// declines it (unless the card updater gave the card a new expiry first). Object
    /// timestamps stay in real time.
    pub fn with_clock(self, clock: Arc<dyn Clock>) -> Self {
        Self { clock, ..self }
    }

    /// Applies a group of charge requests in one write transaction (one fsync), each answered
    /// as if sent alone in that order: each is checked against the state the ones before it
    /// left, and a refused one writes nothing. When the storage fails, nothing of the group is
    /// written and every request gets the error (a retry with its key starts afresh).
    fn charge_group(
        db: &Database,
        authorize_base: &str,
        group: &[(ChargeRequest, NaiveDate)],
    ) -> Vec<Result<ChargeOutcome, GatewayError>> {
        let fail_all = |error: GatewayError| group.iter().map(|_| Err(error.clone())).collect();
        let txn = match db.begin_write() {
            Ok(txn) => txn,
            Err(error) => return fail_all(unavailable(error)),
        };
        let mut answers = Vec::with_capacity(group.len());
        let mut written = false;
        {
            let mut table = match txn.open_table(STATE) {
                Ok(table) => table,
                Err(error) => return fail_all(unavailable(error)),
            };
            for (request, today) in group {
                let answer = match Self::plan_charge(&table, request) {
                    Ok(ChargePlan::Replay(outcome)) => Ok(outcome),
                    Ok(ChargePlan::New { pm, template }) => {
                        written = true;
                        let new = NewCharge {
                            request,
                            pm,
                            template,
                            today: *today,
                        };
                        match Self::write_charge(&mut table, authorize_base, new) {
                            Ok(outcome) => Ok(outcome),
                            Err(error) => return fail_all(error),
                        }
                    }
                    Err(error) => Err(error),
                };
                answers.push(answer);
            }
        }
        if !written {
            return answers;
        }
        match txn.commit() {
            Ok(()) => answers,
            Err(error) => fail_all(unavailable(error)),
        }
    }

    /// Everything a charge checks, read before it writes anything.
    fn plan_charge(
        table: &impl ReadableTable<&'static str, &'static [u8]>,
        request: &ChargeRequest,
    ) -> Result<ChargePlan, GatewayError> {
        if !request.amount.is_positive() {
            return Err(GatewayError::Invalid("amount must be positive".into()));
        }
        let by_key = format!("charge-key#{}", request.idempotency_key);
        if let Some(existing) = read::<String>(table, &by_key)? {
            let payment: SimPayment = read(table, &format!("payment#{existing}"))?
                .ok_or_else(|| GatewayError::Unavailable("lost payment".into()))?;
            return Ok(ChargePlan::Replay(
                payment.first_answer.unwrap_or(payment.outcome),
            ));
        }
        Self::live_customer(table, request.customer.as_str())?;
        let pm: SimPaymentMethod =
            read::<SimPaymentMethod>(table, &format!("pm#{}", request.payment_method))?
                .filter(|pm| pm.customer.as_deref() == Some(request.customer.as_str()))
                .ok_or_else(|| {
                    GatewayError::Invalid(format!(
                        "{} is not attached to {}",
                        request.payment_method, request.customer
                    ))
                })?;
        let template = template_of(&pm.template)?;
        Ok(ChargePlan::New { pm, template })
    }

    /// Writes a new payment (with its event and its idempotency key). Fails only when the
    /// storage does.
    fn write_charge(
        table: &mut Table<&str, &[u8]>,
        authorize_base: &str,
        new: NewCharge<'_>,
    ) -> Result<ChargeOutcome, GatewayError> {
        let NewCharge {
            request,
            pm,
            template,
            today,
        } = new;
        let id = next_id(table, "pi")?;
        let payment = PaymentId::parse(&id).map_err(unavailable)?;
        let client_secret =
            ClientSecret::parse(&format!("{id}_secret_local")).map_err(unavailable)?;
        let url = Some(format!("{authorize_base}/{id}"));
        // The issuer checks the expiry before anything the test card plays.
        let expired = (pm.exp_year, pm.exp_month) < (today.year(), today.month());
        let charge = match expired {
            true => OnCharge::Decline("expired_card"),
            false => template.charge,
        };
        let outcome = match charge {
            OnCharge::Succeed => ChargeOutcome::Succeeded { payment },
            OnCharge::Hold => ChargeOutcome::Processing { payment },
            OnCharge::Decline(code) => ChargeOutcome::Declined {
                payment: Some(payment),
                decline: declined(code),
            },
            OnCharge::Authenticate if request.off_session => {
                ChargeOutcome::AuthenticationRequired {
                    payment,
                    client_secret,
                    url,
                }
            }
            OnCharge::Authenticate => ChargeOutcome::RequiresAction {
                payment,
                client_secret,
                url,
            },
        };
        let stored = SimPayment {
            id: id.clone(),
            customer: request.customer.to_string(),
            payment_method: pm.id,
            amount: request.amount,
            outcome: outcome.clone(),
            currency: request.currency.code().to_owned(),
            description: Some(request.description.clone()),
            metadata: BTreeMap::from([
                ("account_id".to_owned(), request.account.to_string()),
                ("reference".to_owned(), request.reference.clone()),
            ]),
            idempotency_key: Some(request.idempotency_key.clone()),
            created: unix_now(),
            canceled_at: None,
            first_answer: Some(outcome.clone()),
        };
        Self::record(table, &stored)?;
        write(
            table,
            &format!("charge-key#{}", request.idempotency_key),
            &id,
        )?;
        Ok(stored.outcome)
    }

    /// Runs `f` in one write transaction; it commits only when `f` succeeds.
    fn transact<T>(
        &self,
        f: impl FnOnce(&mut Table<&str, &[u8]>) -> Result<T, GatewayError>,
    ) -> Result<T, GatewayError> {
        let txn: WriteTransaction = self.db.begin_write().map_err(unavailable)?;
        let result = {
            let mut table = txn.open_table(STATE).map_err(unavailable)?;
            f(&mut table)?
        };
        txn.commit().map_err(unavailable)?;
        Ok(result)
    }

    /// Runs `f` in a read transaction (no commit, no fsync).
    fn read_only<T>(
        &self,
        f: impl FnOnce(&ReadOnlyTable<&str, &[u8]>) -> Result<T, GatewayError>,
    ) -> Result<T, GatewayError> {
        let txn = self.db.begin_read().map_err(unavailable)?;
        let table = txn.open_table(STATE).map_err(unavailable)?;
        f(&table)
    }

    fn details(&self, pm: &SimPaymentMethod, attached: bool) -> Result<CardDetails, GatewayError> {
        let card = template_of(&pm.template)?;
        // Checks are reported once the card has been verified, which happens on attach.
        let check = |result: CheckResult| {
            if attached {
                result
            } else {
                CheckResult::Unchecked
            }
        };
        Ok(CardDetails {
            brand: card.brand.to_owned(),
            last4: card.last4.to_owned(),
            exp_month: pm.exp_month,
            exp_year: pm.exp_year,
            funding: card.funding,
            fingerprint: format!("fp_sim_{}", card.id.trim_start_matches("pm_card_")),
            cvc_check: check(card.cvc),
            address_line1_check: check(card.line1),
            address_postal_code_check: check(card.zip),
        })
    }

    fn view(&self, pm: &SimPaymentMethod) -> Result<PaymentMethod, GatewayError> {
        Ok(PaymentMethod {
            id: PaymentMethodId::parse(&pm.id).map_err(unavailable)?,
            customer: pm
                .customer
                .as_deref()
                .map(CustomerId::parse)
                .transpose()
                .map_err(unavailable)?,
            card: self.details(pm, pm.customer.is_some())?,
        })
    }

    fn lookup_payment_method(
        table: &impl ReadableTable<&'static str, &'static [u8]>,
        id: &str,
        exp_year: i32,
    ) -> Result<SimPaymentMethod, GatewayError> {
        if let Some(stored) = read::<SimPaymentMethod>(table, &format!("pm#{id}"))? {
            return Ok(stored);
        }
        let card = template_of(id)?;
        Ok(SimPaymentMethod {
            id: card.id.to_owned(),
            template: card.id.to_owned(),
            customer: None,
            exp_month: december(),
            exp_year,
            detached: false,
            created: unix_now(),
        })
    }

    fn live_customer(
        table: &impl ReadableTable<&'static str, &'static [u8]>,
        id: &str,
    ) -> Result<SimCustomer, GatewayError> {
        match read::<SimCustomer>(table, &format!("customer#{id}"))? {
            Some(customer) if !customer.deleted => Ok(customer),
            _ => Err(GatewayError::NotFound(format!("customer {id}"))),
        }
    }

    /// Test cards expire in December three years after the real current year: fixed in real
    /// time, so moving the local clock past it shows an expired card.
    fn expiry_year(&self) -> i32 {
        chrono::Utc::now().year() + 3
    }
}

#[async_trait]
impl PaymentGateway for SimulatedCardNetwork {
    async fn create_customer(
        &self,
        account: &AccountId,
        _email: Option<&EmailAddress>,
    ) -> Result<CustomerId, GatewayError> {
        let id = self.transact(|table| {
            let by_account = format!("customer-of#{account}");
            if let Some(existing) = read::<String>(table, &by_account)? {
                return Ok(existing);
            }
            let id = next_id(table, "cus")?;
            let customer = SimCustomer {
                id: id.clone(),
                account: account.to_string(),
                default_payment_method: None,
                deleted: false,
            };
            write(table, &format!("customer#{id}"), &customer)?;
            write(table, &by_account, &id)?;
            Ok(id)
        })?;
        CustomerId::parse(&id).map_err(unavailable)
    }

    async fn create_setup_intent(
        &self,
        customer: &CustomerId,
    ) -> Result<SetupIntent, GatewayError> {
        self.transact(|table| {
            Self::live_customer(table, customer.as_str())?;
            let id = next_id(table, "seti")?;
            Ok(SetupIntent {
                client_secret: format!("{id}_secret_local"),
                id,
            })
        })
    }

    async fn payment_method(&self, id: &PaymentMethodId) -> Result<PaymentMethod, GatewayError> {
        let exp_year = self.expiry_year();
        let pm =
            self.read_only(|table| Self::lookup_payment_method(table, id.as_str(), exp_year))?;
        self.view(&pm)
    }

    async fn attach(
        &self,
        id: &PaymentMethodId,
        customer: &CustomerId,
    ) -> Result<PaymentMethod, GatewayError> {
        let exp_year = self.expiry_year();
        let attached = self.transact(|table| {
            Self::live_customer(table, customer.as_str())?;
            let pm = Self::lookup_payment_method(table, id.as_str(), exp_year)?;
            if pm.detached {
                return Err(GatewayError::Invalid(
                    "This PaymentMethod was detached from a Customer and may not be used again."
                        .into(),
                ));
            }
            match &pm.customer {
                Some(owner) if owner == customer.as_str() => return Ok(pm),
                Some(_) => {
                    return Err(GatewayError::Invalid(
                        "The payment method you provided has already been attached to a customer."
                            .into(),
                    ));
                }
                None => {}
            }
            if let OnAttach::Decline(code) = template_of(&pm.template)?.attach {
                return Err(GatewayError::CardDeclined(declined(code)));
            }
            // Test ids attach as a fresh copy, as on Stripe; a concrete id attaches as itself.
            let attached_id = if pm.id == pm.template {
                next_id(table, "pm")?
            } else {
                pm.id.clone()
            };
            let attached = SimPaymentMethod {
                id: attached_id,
                customer: Some(customer.to_string()),
                ..pm
            };
            write(table, &format!("pm#{}", attached.id), &attached)?;
            Ok(attached)
        })?;
        self.view(&attached)
    }

    async fn set_default(
        &self,
        customer: &CustomerId,
        id: &PaymentMethodId,
    ) -> Result<(), GatewayError> {
        self.transact(|table| {
            let mut stored = Self::live_customer(table, customer.as_str())?;
            let pm: Option<SimPaymentMethod> = read(table, &format!("pm#{id}"))?;
            if pm.and_then(|p| p.customer).as_deref() != Some(customer.as_str()) {
                return Err(GatewayError::Invalid(format!(
                    "{id} is not attached to {customer}"
                )));
            }
            stored.default_payment_method = Some(id.to_string());
            write(table, &format!("customer#{customer}"), &stored)
        })
    }

    async fn customer_cards(&self, customer: &CustomerId) -> Result<CustomerCards, GatewayError> {
        let (default_payment_method, attached) =
            self.read_only(|table| Self::cards_of(table, customer))?;
        Ok(CustomerCards {
            default_payment_method,
            attached: attached
                .iter()
                .map(|pm| self.view(pm))
                .collect::<Result<_, _>>()?,
        })
    }

    async fn detach(&self, id: &PaymentMethodId) -> Result<(), GatewayError> {
        self.transact(|table| {
            let key = format!("pm#{id}");
            let mut pm: SimPaymentMethod = read(table, &key)?
                .ok_or_else(|| GatewayError::NotFound(format!("payment method {id}")))?;
            if let Some(owner) = pm.customer.take() {
                let customer_key = format!("customer#{owner}");
                if let Some(mut customer) = read::<SimCustomer>(table, &customer_key)?
                    && customer.default_payment_method.as_deref() == Some(id.as_str())
                {
                    customer.default_payment_method = None;
                    write(table, &customer_key, &customer)?;
                }
                pm.detached = true;
                write(table, &key, &pm)?;
            }
            Ok(())
        })
    }

    async fn charge(&self, request: &ChargeRequest) -> Result<ChargeOutcome, GatewayError> {
        if !request.amount.is_positive() {
            return Err(GatewayError::Invalid("amount must be positive".into()));
        }
        // Written by the charge writer thread, grouped with the charges sent meanwhile.
        let today = self.clock.now().date_naive();
        self.charges
            .submit((request.clone(), today))
            .await
            .unwrap_or_else(|| Err(unavailable("the network's charge writer stopped")))
    }

    async fn charge_status(&self, payment: &PaymentId) -> Result<ChargeOutcome, GatewayError> {
        self.read_only(|table| Self::stored_payment(table, payment).map(|p| p.outcome))
    }

    async fn cancel_payment(&self, payment: &PaymentId) -> Result<ChargeOutcome, GatewayError> {
        self.transact(|table| {
            let mut stored = Self::stored_payment(table, payment)?;
            match stored.outcome {
                // As on Stripe: a payment waiting for the cardholder (or for another payment
                // method after a decline) can be canceled; a card payment that succeeded or is
                // processing cannot, and a canceled one stays canceled.
                ChargeOutcome::RequiresAction { .. }
                | ChargeOutcome::AuthenticationRequired { .. }
                | ChargeOutcome::Declined { .. } => {
                    stored.outcome = ChargeOutcome::Canceled {
                        payment: payment.clone(),
                    };
                    stored.canceled_at = Some(unix_now());
                    Self::record(table, &stored)?;
                    Ok(stored.outcome)
                }
                ChargeOutcome::Succeeded { .. }
                | ChargeOutcome::Processing { .. }
                | ChargeOutcome::Canceled { .. } => Ok(stored.outcome),
            }
        })
    }

    async fn customer_account(
        &self,
        customer: &CustomerId,
    ) -> Result<Option<AccountId>, GatewayError> {
        self.read_only(|table| {
            Ok(read::<SimCustomer>(table, &format!("customer#{customer}"))?
                .filter(|found| !found.deleted)
                .and_then(|found| AccountId::parse(&found.account).ok()))
        })
    }

    async fn delete_customer(&self, customer: &CustomerId) -> Result<(), GatewayError> {
        self.transact(|table| {
            let key = format!("customer#{customer}");
            let Some(mut stored) = read::<SimCustomer>(table, &key)? else {
                return Err(GatewayError::NotFound(format!("customer {customer}")));
            };
            stored.deleted = true;
            stored.default_payment_method = None;
            write(table, &key, &stored)
        })
    }
}
