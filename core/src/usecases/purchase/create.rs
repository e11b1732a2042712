//! `POST /v1/billing/credit-purchases`: decide, record, then charge.
//!
//! 1. The amount is checked against the limits; a keyed request whose key was used before is
//!    replayed (its first answer), refused (another request), answered "in progress" (the
//!    first request is still running), or resumed (the first request died before answering).
//! 2. The account must have a card. The in-flight rule is read from the account's purchase
//!    slot; a purchase left unsettled past its window is resolved first (asked of the network;
//!    canceled if not final), so nothing of it can be charged once another has started.
//! 3. **One transaction records the purchase, moves the slot (conditioned on its version) and
//!    claims the client's key**: of concurrent requests exactly one gets past this, and no
//!    money has moved yet. Then the card is charged with the purchase's own key
//!    ([`network_key`]), so the request sent again (a retry, the sweep) is the same payment.
//! 4. The network's answer settles the purchase ([`super::settle_purchase`]) and records the
//!    key's answer in the same transaction.

use chrono::{DateTime, Duration, Utc};

use super::decide::{CANCELED, network_key};
use super::settle::{Known, get_purchase, settle, slot_version_of};
use super::sweep::resolve;
use super::{ATTEMPTS, Ports};
use crate::domain::account::{Account, AccountStatus};
use crate::domain::idempotency::{IdempotencyRecord, KeyedOutcome, KeyedRefusal};
use crate::domain::ids::{AccountId, IdempotencyKey, PurchaseId};
use crate::domain::money::{Cents, Currency};
use crate::domain::purchase::{Purchase, PurchaseSlot, Receipt};
use crate::ports::gateway::{ChargeOutcome, ChargeRequest, Decline};
use crate::ports::store::{
    AccountStore, Expect, IdempotencyStore, PurchaseStore, Record, RecordKey, StoreError,
    Transaction, Versioned, Write,
};
use crate::rules::decline::decline_advice;
use crate::rules::purchase::{PurchaseGate, PurchaseLimits, PurchaseStatus, purchase_gate};
use crate::usecases::card::decide::{LeaseState, lease_state};
use crate::usecases::card::{needs_repair, repair_card_change};
use crate::usecases::error::UseCaseError;

/// How long the first request with a key is presumed alive (well above a function's
/// timeout). A retry within it answers "in progress"; after it, the retry resumes the request.
pub const KEY_CLAIM_TIMEOUT: Duration = Duration::seconds(60);

/// What a client is told to wait when the purchase in flight outlived its window and the
/// network still holds it (it is resolved by the next request or sweep).
const STALE_RETRY_AFTER: u64 = 60;

/// A request sent with an `Idempotency-Key`.
#[derive(Debug, Clone)]
pub struct Keyed {
    /// The key.
    pub key: IdempotencyKey,
    /// A digest of what was asked (method, path and the parsed body): the same key with
    /// another request is refused.
    pub digest: String,
}

/// A purchase as asked for.
#[derive(Debug, Clone)]
pub struct PurchaseRequest<'a> {
    /// The buyer.
    pub account: &'a AccountId,
    /// How much.
    pub amount: Cents,
    /// In what (the API accepts only USD).
    pub currency: Currency,
    /// The client's key, when sent.
    pub keyed: Option<Keyed>,
    /// The id the purchase gets if this request starts one (fresh per request).
    pub new_id: PurchaseId,
    /// The amount limits.
    pub limits: PurchaseLimits,
    /// Now.
    pub now: DateTime<Utc>,
}

/// What the request answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PurchaseAnswer {
    /// `201`: the purchase as it stands.
    Purchase(Box<Purchase>),
    /// `402 card_declined`: the issuer declined; nothing was charged.
    Declined {
        /// The decline code, normalised by the decline rule.
        decline_code: &'static str,
        /// The rule's message for it.
        message: &'static str,
    },
}

impl PurchaseAnswer {
    fn declined(code: Option<&str>) -> Self {
        let advice = decline_advice(code);
        Self::Declined {
            decline_code: advice.code,
            message: advice.message(),
        }
    }

    fn of(purchase: Purchase) -> Self {
        match &purchase.failure {
            Some(failure)
                if purchase.status == PurchaseStatus::Failed
                    && failure.decline_code != CANCELED =>
            {
                Self::declined(Some(&failure.decline_code))
            }
            _ => Self::Purchase(Box::new(purchase)),
        }
    }
}

/// Where the client's key stands.
enum KeyState {
    /// Not used (or expired): claim it with this condition.
    Fresh(Expect),
    /// Used before: this is the answer.
    Answered(PurchaseAnswer),
}

/// `POST /v1/billing/credit-purchases`. See the module documentation for the steps.
pub async fn create_purchase(
    ports: Ports<'_>,
    request: PurchaseRequest<'_>,
) -> Result<PurchaseAnswer, UseCaseError> {
    let amount = request.limits.check(request.amount)?;
    let key_claim = match &request.keyed {
        None => None,
        Some(keyed) => match key_state(ports, &request, keyed).await? {
            KeyState::Answered(answer) => return Ok(answer),
            KeyState::Fresh(expect) => Some((keyed, expect)),
        },
    };
    let Versioned {
        value: account,
        version: account_version,
    } = card_holder(ports, request.account, request.now).await?;
    let email = account.email;
    let (Some(customer), Some(card)) = (account.customer, account.card) else {
        return Err(UseCaseError::CardRequired);
    };
    let purchase = Purchase {
        id: request.new_id.clone(),
        account: request.account.clone(),
        amount,
        currency: request.currency,
        status: PurchaseStatus::Processing,
        customer,
        payment_method: card.payment_method,
        payment: None,
        next_action: None,
        failure: None,
        idempotency_key: request.keyed.as_ref().map(|k| k.key.clone()),
        receipt: Receipt::NotDue,
        created_at: request.now,
        updated_at: request.now,
    };
    let (key, slot_version) =
        record_start(ports, &request, &purchase, key_claim, account_version).await?;
    let known = Known {
        purchase: Some(Versioned {
            value: purchase,
            version: 1,
        }),
        slot_version: Some(slot_version),
        email: Some(email),
    };
    charge(ports, known, key.as_ref(), request.now).await
}

/// The account to charge, with the card on file as the network holds it: a card change that
/// died there is repaired first, and one under way answers `card_change_in_progress` (which
/// card would pay is not known until it ends).
async fn card_holder(
    ports: Ports<'_>,
    account: &AccountId,
    now: DateTime<Utc>,
) -> Result<Versioned<Account>, UseCaseError> {
    let mut read = ports.store.account(account).await?;
    if read.as_ref().is_some_and(|a| needs_repair(&a.value, now)) {
        repair_card_change(ports.store, ports.gateway, account, now).await?;
        read = ports.store.account(account).await?;
    }
    let read = read.ok_or(UseCaseError::CardRequired)?;
    if read.value.status != AccountStatus::Active {
        return Err(UseCaseError::AccountDeleted);
    }
    if let LeaseState::Held { retry_after } = lease_state(Some(&read.value), now) {
        return Err(UseCaseError::CardChangeInProgress { retry_after });
    }
    Ok(read)
}

/// Records the purchase, moves the slot and claims the key in one transaction, after the
/// in-flight rule let it start. Returns the claimed key record and the slot's new version.
async fn record_start(
    ports: Ports<'_>,
    request: &PurchaseRequest<'_>,
    purchase: &Purchase,
    key_claim: Option<(&Keyed, Expect)>,
    account_version: u64,
) -> Result<(Option<Versioned<IdempotencyRecord>>, u64), UseCaseError> {
    let account = request.account;
    for _ in 0..ATTEMPTS {
        let slot = ports.store.purchase_slot(account).await?;
        if let Some(slot) = &slot {
            let latest = (slot.value.status, slot.value.created_at);
            match purchase_gate(Some(latest), request.now) {
                PurchaseGate::InFlight { retry_after } => {
                    return Err(UseCaseError::PurchaseInProgress { retry_after });
                }
                PurchaseGate::Open if !slot.value.status.is_settled() => {
                    let stale = resolve(ports, account, &slot.value.purchase, request.now).await?;
                    if !stale.status.is_settled() {
                        // The network will not let go of it yet: it still counts as in flight.
                        return Err(UseCaseError::PurchaseInProgress {
                            retry_after: STALE_RETRY_AFTER,
                        });
                    }
                    continue;
                }
                PurchaseGate::Open => {}
            }
        }
        let mut transaction = Transaction::new()
            .with(Write::Put {
                record: Record::Purchase(purchase.clone()),
                expect: Expect::Absent,
            })
            .with(Write::Put {
                record: Record::PurchaseSlot(PurchaseSlot::of(purchase)),
                expect: slot
                    .as_ref()
                    .map_or(Expect::Absent, |s| Expect::Version(s.version)),
            });
        let claimed = key_claim.map(|(keyed, expect)| {
            let record = IdempotencyRecord::claim(
                account.clone(),
                keyed.key.clone(),
                keyed.digest.clone(),
                Some(purchase.id.clone()),
                request.now,
            );
            transaction.push(Write::Put {
                record: Record::Idempotency(record.clone()),
                expect,
            });
            record
        });
        // The account as read: a deletion starting (or the card changing) since then makes
        // this purchase start over rather than charge an account on its way out.
        let account_check = transaction.writes().len();
        transaction.push(Write::Check {
            key: RecordKey::Account(account.clone()),
            expect: Expect::Version(account_version),
        });
        match ports.store.commit(transaction).await {
            Ok(()) => {
                let version = match expect_of(key_claim) {
                    Some(Expect::Version(v)) => v + 1,
                    _ => 1,
                };
                let slot_version = slot.map_or(1, |s| s.version + 1);
                return Ok((
                    claimed.map(|value| Versioned { value, version }),
                    slot_version,
                ));
            }
            Err(StoreError::Conflict { index }) if index == account_check => {
                return Err(UseCaseError::ConcurrentUpdate);
            }
            // The key was claimed by a concurrent request with it.
            Err(StoreError::Conflict { index: 2 }) => {
                return Err(UseCaseError::IdempotencyKeyInUse {
                    retry_after: KEY_CLAIM_TIMEOUT.num_seconds().unsigned_abs(),
                });
            }
            // Another purchase moved the slot: the in-flight rule decides again.
            Err(StoreError::Conflict { .. }) => continue,
            Err(error) => return Err(error.into()),
        }
    }
    Err(UseCaseError::ConcurrentUpdate)
}

fn expect_of(key_claim: Option<(&Keyed, Expect)>) -> Option<Expect> {
    key_claim.map(|(_, expect)| expect)
}

/// The charge of a purchase: always the same request for the same purchase.
pub(super) fn charge_request(purchase: &Purchase) -> ChargeRequest {
    ChargeRequest {
        customer: purchase.customer.clone(),
        payment_method: purchase.payment_method.clone(),
        amount: purchase.amount,
        currency: purchase.currency,
        idempotency_key: network_key(&purchase.id),
        off_session: false,
        description: format!("Credits {}", purchase.id),
        account: purchase.account.clone(),
        reference: purchase.id.to_string(),
    }
}

/// Charges the card and settles what the network answers. When the network cannot be
/// reached the outcome is unknown: the purchase stays `processing` and is answered so; the
/// same request is sent again by a retry of the key or by the sweep, never a new one.
async fn charge(
    ports: Ports<'_>,
    known: Known,
    key: Option<&Versioned<IdempotencyRecord>>,
    now: DateTime<Utc>,
) -> Result<PurchaseAnswer, UseCaseError> {
    let purchase = known
        .purchase
        .as_ref()
        .map(|p| p.value.clone())
        .ok_or_else(|| StoreError::Invalid("a charge needs its purchase".into()))?;
    let outcome = match ports.gateway.charge(&charge_request(&purchase)).await {
        Ok(outcome) => outcome,
        Err(error) if error.is_retryable() => {
            tracing::warn!(purchase = %purchase.id, %error, "charge outcome unknown; the sweep will ask again");
            if let Some(key) = key {
                let mut record = key.value.clone();
                record.outcome = Some(KeyedOutcome::Purchase {
                    purchase: purchase.id.clone(),
                });
                let answered = Transaction::new().with(Write::Put {
                    record: Record::Idempotency(record),
                    expect: Expect::Version(key.version),
                });
                ports.store.commit(answered).await?;
            }
            return Ok(PurchaseAnswer::Purchase(Box::new(purchase)));
        }
        // Refused before any payment existed (the card is gone from the customer, say).
        Err(error) => {
            tracing::warn!(purchase = %purchase.id, %error, "charge refused by the network");
            ChargeOutcome::Declined {
                payment: None,
                decline: Decline {
                    decline_code: None,
                    network_message: error.to_string(),
                },
            }
        }
    };
    let settled = settle(
        ports,
        &purchase.account,
        &purchase.id,
        &outcome,
        now,
        key,
        known,
    )
    .await?;
    Ok(PurchaseAnswer::of(settled))
}

/// Reads the client's key: fresh, answered before, or the first request still running (an
/// error) or dead (resumed here).
async fn key_state(
    ports: Ports<'_>,
    request: &PurchaseRequest<'_>,
    keyed: &Keyed,
) -> Result<KeyState, UseCaseError> {
    let Some(record) = ports.store.idempotency(request.account, &keyed.key).await? else {
        return Ok(KeyState::Fresh(Expect::Absent));
    };
    if record.value.is_expired(request.now) {
        return Ok(KeyState::Fresh(Expect::Version(record.version)));
    }
    if record.value.request_digest != keyed.digest {
        return Err(UseCaseError::IdempotencyKeyReused);
    }
    match &record.value.outcome {
        Some(KeyedOutcome::Purchase { purchase }) => {
            Ok(KeyState::Answered(PurchaseAnswer::Purchase(Box::new(
                get_purchase(ports.store, request.account, purchase).await?,
            ))))
        }
        Some(KeyedOutcome::Refused {
            refusal: KeyedRefusal::CardDeclined { decline_code },
        }) => Ok(KeyState::Answered(PurchaseAnswer::declined(
            decline_code.as_deref(),
        ))),
        None => {
            let running_until = record.value.created_at + KEY_CLAIM_TIMEOUT;
            if request.now < running_until {
                let wait = running_until - request.now;
                let retry_after = wait.num_seconds() + i64::from(wait.subsec_nanos() > 0);
                return Err(UseCaseError::IdempotencyKeyInUse {
                    retry_after: retry_after.max(1).unsigned_abs(),
                });
            }
            let purchase = record.value.purchase.clone().ok_or_else(|| {
                StoreError::Corrupt(format!("key {} names no purchase", keyed.key.as_str()))
            })?;
            let purchase = ports
                .store
                .purchase(request.account, &purchase)
                .await?
                .ok_or(UseCaseError::NotFound)?;
            tracing::info!(purchase = %purchase.value.id, "resuming the request of a key whose first run died");
            let known = Known {
                slot_version: slot_version_of(ports, request.account, &purchase.value.id).await?,
                purchase: Some(purchase),
                email: None,
            };
            let answer = charge(ports, known, Some(&record), request.now).await?;
            Ok(KeyState::Answered(answer))
        }
    }
}
