use async_trait::async_trait;
use billing_core::AccountId;
use billing_core::domain::invoice::InvoiceStatus;
use billing_core::ports::store::{
    ListQuery, Page, Record, RecordKey, Store, StoreError, Transaction, Versioned,
};
use billing_core::rules::ledger::BalanceState;
use billing_core::rules::period::BillingPeriod;
use chrono::{DateTime, TimeZone, Utc};
use serde_json::json;

use super::*;
use crate::test_support::{Embedded, failed_ids, sqs};

/// The worker runs after the planner of November 3rd.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 3, 3, 5, 0).unwrap()
}

fn october() -> BillingPeriod {
    BillingPeriod::new(2026, 10).unwrap()
}

struct Fixed(DateTime<Utc>);

impl Clock for Fixed {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

impl Embedded {
    fn payments_made(&self) -> usize {
        self.network
            .pending_events(1_000)
            .unwrap()
            .iter()
            .filter(|e| e.kind == "payment_intent.succeeded")
            .count()
    }
}

/// A charge job's body, as the planner sends it.
fn job(account: &str) -> String {
    serde_json::to_string(&ChargeJob {
        account: AccountId::parse(account).unwrap(),
        period: october(),
        invoice: None,
    })
    .unwrap()
}

#[tokio::test]
async fn an_owing_account_with_a_card_is_charged_once_even_when_its_job_comes_twice() {
    let embedded = Embedded::open();
    embedded.owing("acct_paid", Some("pm_card_visa")).await;
    let batch = || sqs("billing-charge", &[("m1", job("acct_paid"))]);

    let first = charge_messages(embedded.invoice_ports(), &Fixed(now()), batch()).await;
    let again = charge_messages(embedded.invoice_ports(), &Fixed(now()), batch()).await;

    assert!(failed_ids(&first).is_empty());
    assert!(failed_ids(&again).is_empty());
    let invoice = embedded.october_invoice("acct_paid").await;
    assert_eq!(invoice.status, InvoiceStatus::Paid);
    assert_eq!(invoice.attempts.len(), 1);
    assert_eq!(
        embedded.payments_made(),
        1,
        "one payment for two deliveries"
    );
    assert_eq!(embedded.outbox.messages().unwrap().len(), 1, "one receipt");
}

#[tokio::test]
async fn an_account_without_a_card_gets_a_failed_invoice_and_its_job_is_done() {
    let embedded = Embedded::open();
    embedded.owing("acct_nocard", None).await;

    let response = charge_messages(
        embedded.invoice_ports(),
        &Fixed(now()),
        sqs("billing-charge", &[("m1", job("acct_nocard"))]),
    )
    .await;

    assert!(failed_ids(&response).is_empty(), "an answer, not an error");
    let invoice = embedded.october_invoice("acct_nocard").await;
    assert_eq!(invoice.status, InvoiceStatus::PaymentFailed);
    assert_eq!(embedded.payments_made(), 0);
}

#[tokio::test]
async fn every_job_of_a_batch_is_charged() {
    let embedded = Embedded::open();
    let accounts: Vec<String> = (0..JOBS_AT_ONCE + 2)
        .map(|n| format!("acct_{n:02}"))
        .collect();
    for account in &accounts {
        embedded.owing(account, Some("pm_card_visa")).await;
    }
    let messages: Vec<(&str, String)> = accounts.iter().map(|a| (a.as_str(), job(a))).collect();

    let response = charge_messages(
        embedded.invoice_ports(),
        &Fixed(now()),
        sqs("billing-charge", &messages),
    )
    .await;

    assert!(failed_ids(&response).is_empty());
    for account in &accounts {
        assert_eq!(
            embedded.october_invoice(account).await.status,
            InvoiceStatus::Paid
        );
    }
    assert_eq!(embedded.payments_made(), accounts.len());
}

#[tokio::test]
async fn a_body_that_is_not_a_charge_job_is_the_only_failure_reported() {
    let embedded = Embedded::open();
    embedded.owing("acct_good", Some("pm_card_visa")).await;

    let response = charge_messages(
        embedded.invoice_ports(),
        &Fixed(now()),
        sqs(
            "billing-charge",
            &[
                ("m1", job("acct_good")),
                ("m2", "{\"account\": \"acct_good\"".to_owned()),
                (
                    "m3",
                    json!({"account": "acct_good", "period": "October"}).to_string(),
                ),
            ],
        ),
    )
    .await;

    assert_eq!(failed_ids(&response), ["m2", "m3"]);
    assert_eq!(
        embedded.october_invoice("acct_good").await.status,
        InvoiceStatus::Paid
    );
}

#[test]
fn an_unusable_body_is_described_without_quoting_it() {
    let message = sqs(
        "billing-charge",
        &[("m1", "{\"account\": \"4242424242424242\"}".to_owned())],
    )
    .records
    .remove(0);

    let reason = parse(&message).expect_err("no period");

    assert_eq!(reason, "JSON, but not a charge job (line 1, column 31)");
}

/// A store that fails every call with one error.
struct Failing(StoreError);

#[async_trait]
impl Store for Failing {
    async fn get(&self, _: &RecordKey) -> Result<Option<Versioned<Record>>, StoreError> {
        Err(self.0.clone())
    }
    async fn list(&self, _: &ListQuery, _: usize) -> Result<Page<Record>, StoreError> {
        Err(self.0.clone())
    }
    async fn balance(&self, _: &AccountId) -> Result<BalanceState, StoreError> {
        Err(self.0.clone())
    }
    async fn commit(&self, _: Transaction) -> Result<(), StoreError> {
        Err(self.0.clone())
    }
}

#[tokio::test]
async fn a_job_the_store_cannot_serve_comes_again_whether_or_not_it_may_clear_by_itself() {
    let embedded = Embedded::open();
    for error in [
        StoreError::Unavailable("throttled".into()),
        StoreError::Misconfigured("AccessDeniedException".into()),
    ] {
        let store = Failing(error);
        let ports = Ports {
            store: &store,
            ..embedded.invoice_ports()
        };

        let response = charge_messages(
            ports,
            &Fixed(now()),
            sqs("billing-charge", &[("m1", job("acct_x"))]),
        )
        .await;

        assert_eq!(failed_ids(&response), ["m1"], "{:?}", store.0);
    }
}

#[test]
fn the_repository_fixture_holds_one_charge_job_and_one_unusable_body() {
    let event: SqsEvent = serde_json::from_str(include_str!(
        "../../../../tests/lambda/events/sqs-charge-jobs.json"
    ))
    .unwrap();

    let parsed: Vec<Result<ChargeJob, String>> = event.records.iter().map(parse).collect();

    assert_eq!(parsed.len(), 2);
    assert_eq!(parsed[0].as_ref().unwrap().period, october());
    assert!(parsed[1].is_err());
}
