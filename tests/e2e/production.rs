//! The card use cases on the production adapters: DynamoStore against moto and StripeGateway
//! against localstripe (with our compatibility layer), both started by scripts/with-stand-ins.

use std::sync::Arc;

use aws_config::{BehaviorVersion, Region};
use aws_sdk_dynamodb::config::Credentials;
use billing_aws::DynamoStore;
use billing_aws::store::create_table;
use billing_contract::instrument::Instrumented;
use billing_contract::unique_account;
use billing_core::ports::store::AccountStore;
use billing_core::rules::purchase::{PurchaseLimits, PurchaseStatus};
use billing_core::usecases::card::{Holder, create_setup_intent, set_card};
use billing_core::usecases::purchase::{
    Keyed, Ports, PurchaseAnswer, PurchaseRequest, create_purchase,
};
use billing_core::{AccountId, PaymentMethodId};
use billing_stripe::StripeGateway;
use serde_json::Value;

const STRIPE_KEY: &str = "sk_test_e2e_production";

pub fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run these tests through scripts/with-stand-ins")
    })
}

struct Production {
    store: Instrumented<DynamoStore>,
    gateway: Instrumented<StripeGateway>,
}

/// A DynamoStore on a fresh table in moto, and the table's name.
async fn moto_store() -> (DynamoStore, String) {
    let config = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(env("BILLING_TEST_MOTO_URL"))
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "e2e"))
        .load()
        .await;
    let table = format!("billing-{}", unique_account("e2e"));
    create_table(&aws_sdk_dynamodb::Client::new(&config), &table)
        .await
        .expect("table created in moto");
    (DynamoStore::new(&config, table.clone()), table)
}

/// DynamoDB on moto (a fresh table) and Stripe on localstripe.
pub async fn production_pair() -> (DynamoStore, StripeGateway) {
    let gateway = StripeGateway::new(STRIPE_KEY, Some(&env("BILLING_TEST_STRIPE_URL")))
        .expect("Stripe client");
    (moto_store().await.0, gateway)
}

async fn production() -> Arc<Production> {
    let (store, gateway) = production_pair().await;
    Arc::new(Production {
        store: Instrumented::new(store),
        gateway: Instrumented::new(gateway),
    })
}

// The card-on-file invariant under 25 concurrent changes, and with a replace stopped or
// failing after each step in turn, on the production adapters.
billing_contract::card_contract!(production_pair);

#[path = "../../functions/stripe/tests/stand_in/mod.rs"]
pub mod stripe_stand_in;

#[path = "../../functions/aws/tests/support/mod.rs"]
#[allow(dead_code)] // the purchase cases use its SES mailer and inspector only
mod moto_support;

/// The sender the SES stand-in verifies.
const SENDER: &str = "billing@example.com";

/// The SES v2 mailer on moto, its sender verified.
pub async fn ses_mailer() -> billing_aws::SesMailer {
    moto_support::verified_ses_mailer(SENDER).await
}

/// DynamoDB on moto (a fresh table), Stripe on localstripe with its cardholder, SES on moto.
async fn purchase_harness()
-> billing_contract::purchase::PurchaseHarness<DynamoStore, StripeGateway> {
    let (store, gateway) = production_pair().await;
    billing_contract::purchase::PurchaseHarness {
        store,
        gateway,
        bank: Arc::new(stripe_stand_in::LocalstripeBank),
        mail: (
            Arc::new(ses_mailer().await),
            Arc::new(moto_support::MotoSes),
        ),
    }
}

// Purchases settle exactly once on DynamoDB + Stripe + SES, as on the embedded adapters.
billing_contract::purchase_contract!(purchase_harness);

// The monthly charge on DynamoDB + Stripe + SES, as on the embedded adapters.
mod monthly {
    use super::purchase_harness;
    billing_contract::invoice_contract!(purchase_harness);
}

// Getting paid after a failed charge on DynamoDB + Stripe + SES, as on the embedded adapters.
mod recovery {
    use super::purchase_harness;
    billing_contract::recovery_contract!(purchase_harness);
}

// Account deletion on DynamoDB + Stripe + SES, as on the embedded adapters; the erasure is
// checked on a Scan of the whole table.
mod deletion {
    use super::{purchase_harness, scan_table};
    billing_contract::deletion_contract!(purchase_harness, scan_table);
}

/// Every item of the store's table, as text: a Scan of the whole table in moto.
fn scan_table(
    store: &DynamoStore,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Vec<String>> + Send + '_>> {
    Box::pin(async move {
        let config = aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(env("BILLING_TEST_MOTO_URL"))
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("testing", "testing", None, None, "e2e"))
            .load()
            .await;
        let client = aws_sdk_dynamodb::Client::new(&config);
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let page = client
                .scan()
                .table_name(store.table_name())
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("Scan of the table");
            items.extend(page.items().iter().map(|item| format!("{item:?}")));
            start = page.last_evaluated_key;
            if start.is_none() {
                return items;
            }
        }
    })
}

fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}

/// What localstripe holds, read with its plain HTTP API (localstripe keeps one state for
/// every key).
pub async fn stripe_get(path: &str) -> Value {
    let url = format!(
        "{}{}",
        env("BILLING_TEST_STRIPE_URL").trim_end_matches('/'),
        path
    );
    let response = reqwest::Client::new()
        .get(url)
        .bearer_auth(STRIPE_KEY)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    response.json().await.unwrap()
}

/// Every page of localstripe's customers: other suites on the same stand-in (the fault runs)
/// create hundreds.
async fn customers_of(account: &AccountId) -> Vec<String> {
    let mut ours = Vec::new();
    let mut after = String::new();
    loop {
        let page = stripe_get(&format!("/v1/customers?limit=100{after}")).await;
        let data = page["data"].as_array().unwrap();
        ours.extend(
            data.iter()
                .filter(|c| c["metadata"]["account_id"] == account.as_str())
                .map(|c| c["id"].as_str().unwrap().to_owned()),
        );
        match data.last() {
            Some(last) if page["has_more"] == true => {
                after = format!("&starting_after={}", last["id"].as_str().unwrap());
            }
            _ => return ours,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_setup_intents_for_one_account_create_one_stripe_customer() {
    let production = production().await;
    let account = unique_account("race-si");
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (production, account) = (production.clone(), account.clone());
        tasks.spawn(async move {
            let holder = Holder {
                account: &account,
                email: None,
            };
            create_setup_intent(&production.store, &production.gateway, &holder, now()).await
        });
    }
    while let Some(result) = tasks.join_next().await {
        let intent = result.unwrap().expect("every caller gets a SetupIntent");
        assert!(intent.id.starts_with("seti_"));
    }
    let stored = production
        .store
        .inner
        .account(&account)
        .await
        .unwrap()
        .unwrap()
        .value
        .customer
        .unwrap();
    assert_eq!(customers_of(&account).await, vec![stored.to_string()]);
}

/// Requests moto received for one table since the recording started, by `X-Amz-Target`
/// operation (`DynamoDB_20120810.GetItem` → `GetItem`), read from moto's own recorder.
async fn moto_requests_for(table: &str) -> Vec<String> {
    let url = format!(
        "{}/moto-api/recorder/download-recording",
        env("BILLING_TEST_MOTO_URL")
    );
    let recording = reqwest::get(url).await.unwrap().text().await.unwrap();
    recording
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter_map(|entry| {
            let body = entry["body"].as_str().unwrap_or_default();
            let body = if entry["body_encoded"] == true {
                String::from_utf8(base64_decode(body)).unwrap_or_default()
            } else {
                body.to_owned()
            };
            let names_table = body.contains(&format!("\"{table}\""));
            let target = entry["headers"]["X-Amz-Target"].as_str()?;
            names_table.then(|| target.rsplit('.').next().unwrap_or(target).to_owned())
        })
        .collect()
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap_or_default()
}

/// Requests localstripe received with one API key since the log was cleared, as
/// `METHOD /path` (from our compatibility layer's request log).
async fn stripe_requests_with(key: &str) -> Vec<String> {
    let url = format!("{}_compat/requests", env("BILLING_TEST_STRIPE_URL"));
    let log: Value = reqwest::get(url).await.unwrap().json().await.unwrap();
    let fingerprint = key_fingerprint(key);
    log.as_array()
        .unwrap()
        .iter()
        .filter(|r| r["key"] == fingerprint.as_str())
        .map(|r| {
            format!(
                "{} {}",
                r["method"].as_str().unwrap(),
                r["path"].as_str().unwrap()
            )
        })
        .collect()
}

/// How the compatibility layer names a key in its log (never the key itself).
fn key_fingerprint(key: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(key.as_bytes());
    digest[..6].iter().map(|b| format!("{b:02x}")).collect()
}

/// One account's view of the wire: a fresh Stripe key of its own (so localstripe's request log
/// can be filtered to it), a fresh table on moto with its recorder on, and `pm_card_visa` on
/// file.
struct Wire {
    account: AccountId,
    key: String,
    store: DynamoStore,
    table: String,
    gateway: StripeGateway,
}

impl Wire {
    async fn with_visa(label: &str, email: Option<&billing_core::EmailAddress>) -> Self {
        Self::with_card(label, email, "pm_card_visa").await
    }

    async fn with_card(
        label: &str,
        email: Option<&billing_core::EmailAddress>,
        card: &str,
    ) -> Self {
        let account = unique_account(label);
        let key = format!("sk_test_{}", account.as_str().replace(['-', '.'], ""));
        let (store, table) = moto_store().await;
        let gateway = StripeGateway::new(&key, Some(&env("BILLING_TEST_STRIPE_URL"))).unwrap();
        let recorder = format!(
            "{}/moto-api/recorder/start-recording",
            env("BILLING_TEST_MOTO_URL")
        );
        reqwest::Client::new().post(recorder).send().await.unwrap();
        let holder = Holder {
            account: &account,
            email,
        };
        let card = PaymentMethodId::parse(card).unwrap();
        set_card(&store, &gateway, &holder, &card, now())
            .await
            .unwrap();
        Self {
            account,
            key,
            store,
            table,
            gateway,
        }
    }

    /// A wire whose account has `card` on file, an address, and 31.40 USD of October usage:
    /// the October charge job owes it.
    async fn owing_october(
        label: &str,
        card: &str,
    ) -> (Self, billing_core::ports::queue::ChargeJob) {
        use billing_core::rules::period::BillingPeriod;
        use billing_core::usecases::usage::{UsageEvent, record_usage};
        use billing_core::{EmailAddress, UsageEventId};
        use chrono::TimeZone;

        let email = EmailAddress::parse(&format!("{label}@example.com")).unwrap();
        let wire = Self::with_card(label, Some(&email), card).await;
        let occurred_at = chrono::Utc.with_ymd_and_hms(2026, 10, 9, 8, 0, 0).unwrap();
        let usage = UsageEvent {
            id: UsageEventId::parse(&format!("{}-1", wire.account)).unwrap(),
            account_id: wire.account.clone(),
            amount_micros: 31_400_000,
            occurred_at,
            description: "model calls".into(),
        };
        record_usage(&wire.store, &usage, occurred_at)
            .await
            .unwrap();
        let job = billing_core::ports::queue::ChargeJob {
            account: wire.account.clone(),
            period: BillingPeriod::new(2026, 10).unwrap(),
            invoice: None,
        };
        (wire, job)
    }

    /// The invoice use cases' ports on this wire's store and gateway.
    fn invoice_ports<'a>(
        &'a self,
        mailer: &'a billing_aws::SesMailer,
    ) -> billing_core::usecases::invoice::Ports<'a> {
        billing_core::usecases::invoice::Ports {
            store: &self.store,
            gateway: &self.gateway,
            mailer,
            links: &billing_contract::PlainLinks,
            retries: &billing_core::rules::retry::RetrySchedule::STANDARD,
        }
    }

    /// How many requests each stand-in has seen so far.
    async fn mark(&self) -> (usize, usize) {
        (
            moto_requests_for(&self.table).await.len(),
            stripe_requests_with(&self.key).await.len(),
        )
    }

    /// The DynamoDB operations and Stripe requests since `mark`.
    async fn since(&self, (dynamo, stripe): (usize, usize)) -> (Vec<String>, Vec<String>) {
        (
            moto_requests_for(&self.table).await.split_off(dynamo),
            stripe_requests_with(&self.key).await.split_off(stripe),
        )
    }
}

#[tokio::test]
async fn a_replace_makes_four_stripe_and_four_dynamodb_requests_at_the_wire() {
    let wire = Wire::with_visa("wire-count", None).await;
    let holder = Holder {
        account: &wire.account,
        email: None,
    };
    let mastercard = PaymentMethodId::parse("pm_card_mastercard").unwrap();
    let mark = wire.mark().await;

    let replaced = set_card(&wire.store, &wire.gateway, &holder, &mastercard, now())
        .await
        .unwrap();

    assert!(replaced.changed && replaced.old_card_left_attached.is_none());
    let (dynamo, stripe) = wire.since(mark).await;
    assert_eq!(
        dynamo,
        ["GetItem", "UpdateItem", "UpdateItem", "UpdateItem"],
        "read the account; claim, record, release the lease"
    );
    let shapes: Vec<String> = stripe.iter().map(|request| shape(request)).collect();
    assert_eq!(
        shapes,
        [
            "GET /v1/payment_methods/{id}",
            "POST /v1/payment_methods/{id}/attach",
            "POST /v1/customers/{id}",
            "POST /v1/payment_methods/{id}/detach",
        ],
        "retrieve, attach, make default, detach the old card"
    );
}

/// `POST /v1/customers/cus_123` → `POST /v1/customers/{id}`.
fn shape(request: &str) -> String {
    request
        .split('/')
        .map(|segment| {
            if segment.contains('_') && !["payment_methods", "payment_intents"].contains(&segment) {
                "{id}"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test]
async fn a_keyed_purchase_makes_one_stripe_and_six_dynamodb_requests_at_the_wire() {
    let email = billing_core::EmailAddress::parse("wire@example.com").unwrap();
    let wire = Wire::with_visa("wire-buy", Some(&email)).await;
    let account = wire.account.clone();
    let mailer = ses_mailer().await;
    let mark = wire.mark().await;
    let ports = Ports {
        store: &wire.store,
        gateway: &wire.gateway,
        mailer: &mailer,
    };

    let answer = create_purchase(
        ports,
        PurchaseRequest {
            account: &account,
            amount: billing_core::Cents::new(2_500),
            currency: billing_core::Currency::Usd,
            keyed: Some(Keyed {
                key: billing_core::IdempotencyKey::parse("wire-1").unwrap(),
                digest: "amount=2500 currency=usd".into(),
            }),
            new_id: billing_core::PurchaseId::parse("cp_wire1").unwrap(),
            limits: PurchaseLimits::default(),
            now: now(),
        },
    )
    .await
    .unwrap();

    assert!(matches!(answer, PurchaseAnswer::Purchase(p) if p.status == PurchaseStatus::Succeeded));
    let (dynamo, stripe) = wire.since(mark).await;
    assert_eq!(
        dynamo,
        [
            "GetItem",
            "GetItem",
            "GetItem",
            "TransactWriteItems",
            "TransactWriteItems",
            "TransactWriteItems"
        ],
        "read the key, the account and the slot; record the start; settle with the credit \
         and the receipt's claim; mark the receipt sent"
    );
    assert_eq!(
        stripe,
        ["POST /v1/payment_intents"],
        "one PaymentIntent, created and confirmed"
    );
}

#[tokio::test]
async fn a_monthly_charge_makes_one_stripe_and_four_dynamodb_requests_at_the_wire() {
    use billing_core::usecases::invoice::{Charged, charge_account};

    let (wire, job) = Wire::owing_october("wire-monthly", "pm_card_visa").await;
    let mailer = ses_mailer().await;
    let mark = wire.mark().await;

    let charged = charge_account(wire.invoice_ports(&mailer), &job, job.period.charge_at())
        .await
        .unwrap();

    assert!(
        matches!(charged, Charged::Invoiced { created: true, .. }),
        "{charged:?}"
    );
    let (dynamo, stripe) = wire.since(mark).await;
    assert_eq!(
        dynamo,
        [
            "BatchGetItem",
            "TransactWriteItems",
            "UpdateItem",
            "UpdateItem"
        ],
        "read account, invoice and balance; write the invoice with its claimed attempt and \
         the ledger entry; record the payment and claim the receipt; mark it sent"
    );
    let shapes: Vec<String> = stripe.iter().map(|request| shape(request)).collect();
    assert_eq!(shapes, ["POST /v1/payment_intents"], "one PaymentIntent");
}

#[tokio::test]
async fn a_scheduled_retry_makes_one_stripe_and_four_dynamodb_requests_at_the_wire() {
    use billing_core::usecases::invoice::{Charged, charge_account, sweep_invoices};

    let (wire, job) = Wire::owing_october("wire-retry", "pm_card_chargeCustomerFail").await;
    let mailer = ses_mailer().await;
    let ports = wire.invoice_ports(&mailer);
    charge_account(ports, &job, job.period.charge_at())
        .await
        .unwrap();
    let retry_day = job.period.charge_at() + chrono::TimeDelta::days(3);
    let mark = wire.mark().await;

    let queue = billing_contract::queue::Jobs::default();
    let enqueued = sweep_invoices(&wire.store, &queue, retry_day)
        .await
        .unwrap();
    let (sweep_dynamo, sweep_stripe) = wire.since(mark).await;
    let mark = wire.mark().await;
    let retried = charge_account(ports, &job, retry_day).await.unwrap();

    assert_eq!(enqueued, 1);
    assert_eq!(sweep_dynamo, ["Query"], "one page of the collect index");
    assert_eq!(sweep_stripe, Vec::<String>::new());
    assert!(
        matches!(retried, Charged::Invoiced { created: false, .. }),
        "{retried:?}"
    );
    let (dynamo, stripe) = wire.since(mark).await;
    assert_eq!(
        dynamo,
        ["BatchGetItem", "UpdateItem", "UpdateItem", "UpdateItem"],
        "read account, invoice and balance; claim the retry; record the decline and claim its \
         email; mark it sent"
    );
    let shapes: Vec<String> = stripe.iter().map(|request| shape(request)).collect();
    assert_eq!(shapes, ["POST /v1/payment_intents"], "one PaymentIntent");
}

#[tokio::test]
async fn a_deletion_makes_five_stripe_and_seventeen_dynamodb_requests_at_the_wire() {
    use billing_core::usecases::deletion::{DeletionRequest, delete_account};

    let (wire, _) = Wire::owing_october("wire-delete", "pm_card_visa").await;
    let mailer = ses_mailer().await;
    let email = billing_core::EmailAddress::parse("wire-delete@example.com").unwrap();
    let at = chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 11, 27, 9, 30, 0).unwrap();
    let mark = wire.mark().await;

    let request = DeletionRequest {
        account: &wire.account,
        email: Some(&email),
        confirm: wire.account.as_str(),
        now: at,
    };
    let deleted = delete_account(wire.invoice_ports(&mailer), request)
        .await
        .unwrap();

    assert!(deleted.final_invoice.is_some(), "{deleted:?}");
    let (dynamo, stripe) = wire.since(mark).await;
    let shapes: Vec<String> = stripe.iter().map(|request| shape(request)).collect();
    assert_eq!(
        dynamo,
        [
            "GetItem",
            "GetItem",
            "GetItem",
            "TransactWriteItems",
            "Query",
            "GetItem",
            "UpdateItem",
            "UpdateItem",
            "UpdateItem",
            "Query",
            "DeleteItem",
            "GetItem",
            "UpdateItem",
            "GetItem",
            "TransactWriteItems",
            "UpdateItem",
            "UpdateItem",
        ],
        "start: read the account, the purchase slot and the balance, then mark it deleting with \
         the final invoice and its entry; collect: list the invoices, read the final one, record \
         its payment and claim the receipt, mark it sent, move on to erasing; erase: list the \
         account's records, delete the due mark, read and anonymise the invoice, read the \
         balance and close it, mark the account deleted claiming the confirmation; mark it sent"
    );
    assert_eq!(
        shapes,
        [
            "POST /v1/payment_intents",
            "GET /v1/customers/{id}",
            "GET /v1/payment_methods",
            "POST /v1/payment_methods/{id}/detach",
            "DELETE /v1/customers/{id}",
        ],
        "one PaymentIntent for the final invoice; the customer's cards read, each detached; the \
         customer deleted"
    );
}
