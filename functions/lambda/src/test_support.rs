//! What the handlers' unit tests share: the embedded adapters in a folder of their own, SQS
//! events as Lambda delivers them, and a queue that is down.

use std::sync::Arc;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use billing_core::domain::invoice::Invoice;
use billing_core::ports::links::AuthorizationLinks;
use billing_core::ports::queue::{ChargeJob, JobQueue, QueueError};
use billing_core::ports::store::InvoiceStore;
use billing_core::rules::period::BillingPeriod;
use billing_core::rules::retry::RetrySchedule;
use billing_core::usecases::card::{Holder, set_card};
use billing_core::usecases::usage::{UsageEvent, record_usage_batch};
use billing_core::usecases::{invoice, purchase};
use billing_core::{AccountId, EmailAddress, InvoiceId, PaymentMethodId, PurchaseId};
use billing_embedded::{EmbeddedStore, LocalClock, OutboxMailer, SimulatedCardNetwork};
use chrono::{DateTime, TimeZone, Utc};
use serde_json::json;

/// The embedded store, card network and outbox, each in a folder of its own.
pub(crate) struct Embedded {
    _dir: tempfile::TempDir,
    pub store: EmbeddedStore,
    pub network: SimulatedCardNetwork,
    pub outbox: OutboxMailer,
}

/// A charge queue that is down: every enqueue times out.
pub(crate) struct DownQueue;

#[async_trait::async_trait]
impl JobQueue for DownQueue {
    async fn enqueue(&self, _: &[ChargeJob]) -> Result<(), QueueError> {
        Err(QueueError::Unavailable(
            "SendMessageBatch: timed out".into(),
        ))
    }
}

/// Links as the API signs them, without the signing: the emails only need an address.
pub(crate) struct PlainLinks;

impl AuthorizationLinks for PlainLinks {
    fn purchase(&self, _: &AccountId, purchase: &PurchaseId, _: DateTime<Utc>) -> String {
        format!("https://billing.example.com/authorize/{purchase}")
    }

    fn invoice(&self, _: &AccountId, invoice: &InvoiceId, _: DateTime<Utc>) -> String {
        format!("https://billing.example.com/authorize/{invoice}")
    }
}

impl Embedded {
    pub fn open() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(&dir.path().join("billing.redb")).unwrap();
        let network = SimulatedCardNetwork::open(
            &dir.path().join("card-network.redb"),
            "http://127.0.0.1:3000/_local/bank/authorize",
        )
        .unwrap();
        let outbox =
            OutboxMailer::open(&dir.path().join("outbox"), Arc::new(LocalClock::default()))
                .unwrap();
        Self {
            _dir: dir,
            store,
            network,
            outbox,
        }
    }

    /// The purchase use cases' ports.
    pub fn purchase_ports(&self) -> purchase::Ports<'_> {
        purchase::Ports {
            store: &self.store,
            gateway: &self.network,
            mailer: &self.outbox,
        }
    }

    /// The invoice use cases' ports, with plain links.
    pub fn invoice_ports(&self) -> invoice::Ports<'_> {
        invoice::Ports {
            store: &self.store,
            gateway: &self.network,
            mailer: &self.outbox,
            links: &PlainLinks,
            retries: &RetrySchedule::STANDARD,
        }
    }

    /// An account that used 12.34 USD in October, with `card` on file (or none).
    pub async fn owing(&self, account: &str, card: Option<&str>) {
        let id = AccountId::parse(account).unwrap();
        let october_20 = Utc.with_ymd_and_hms(2026, 10, 20, 12, 0, 0).unwrap();
        if let Some(card) = card {
            let email = EmailAddress::parse(&format!("{account}@example.com")).unwrap();
            let holder = Holder {
                account: &id,
                email: Some(&email),
            };
            set_card(
                &self.store,
                &self.network,
                &holder,
                &PaymentMethodId::parse(card).unwrap(),
                october_20,
            )
            .await
            .expect("card on file");
        }
        let event: UsageEvent = serde_json::from_value(json!({
            "id": format!("evt_{account}"),
            "account_id": account,
            "amount_micros": 12_340_000,
            "occurred_at": "2026-10-20T11:00:00Z",
        }))
        .unwrap();
        record_usage_batch(&self.store, &[event], october_20)
            .await
            .unwrap();
    }

    /// The account's October invoice.
    pub async fn october_invoice(&self, account: &str) -> Invoice {
        let id = InvoiceId::parse("in_202610").unwrap();
        self.store
            .invoice(&AccountId::parse(account).unwrap(), &id)
            .await
            .unwrap()
            .expect("the October invoice")
            .value
    }
}

/// October 2026, the month the test accounts used.
pub(crate) fn october() -> BillingPeriod {
    BillingPeriod::new(2026, 10).unwrap()
}

/// An SQS event from `queue` as Lambda delivers it: `(message id, body)` per record.
pub(crate) fn sqs(queue: &str, messages: &[(&str, String)]) -> SqsEvent {
    let records: Vec<_> = messages
        .iter()
        .map(|(id, body)| {
            json!({
                "messageId": id,
                "receiptHandle": format!("handle-{id}"),
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": format!("arn:aws:sqs:us-east-1:123456789012:{queue}"),
                "awsRegion": "us-east-1",
            })
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).unwrap()
}

/// The ids of the messages a response asks SQS to deliver again, sorted.
pub(crate) fn failed_ids(response: &SqsBatchResponse) -> Vec<&str> {
    let mut ids: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    ids.sort_unstable();
    ids
}
