use async_trait::async_trait;
use billing_contract::queue::Jobs;
use billing_core::domain::invoice::{AttemptTrigger, InvoiceStatus};
use billing_core::ports::gateway::{ChargeOutcome, PaymentGateway};
use billing_core::ports::queue::ChargeJob;
use billing_core::ports::store::{ListQuery, Page};
use billing_core::ports::store::{
    PurchaseStore, Record, RecordKey, Store, StoreError, Transaction, Versioned,
};
use billing_core::rules::ledger::BalanceState;
use billing_core::rules::purchase::{PurchaseLimits, PurchaseStatus};
use billing_core::usecases::card::{Holder, set_card};
use billing_core::usecases::invoice::{attempt_key, charge_account};
use billing_core::usecases::purchase::{PurchaseAnswer, PurchaseRequest, create_purchase};
use billing_core::{AccountId, Cents, Currency, EmailAddress, Micros, PaymentMethodId, PurchaseId};
use chrono::{TimeDelta, TimeZone};

use super::*;
use crate::test_support::{DownQueue, Embedded, october};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap()
}

fn scheduled(at: DateTime<Utc>) -> ScheduledEvent {
    serde_json::from_value(serde_json::json!({
        "detail-type": "Scheduled Event",
        "time": at.to_rfc3339(),
    }))
    .unwrap()
}

#[tokio::test]
async fn a_scheduled_sweep_with_nothing_in_flight_visits_nothing() {
    let embedded = Embedded::open();

    let report = run_sweep(
        embedded.purchase_ports(),
        &Jobs::default(),
        scheduled(t0()),
        t0(),
    )
    .await
    .expect("a sweep");

    assert_eq!(report, SweepReport::default());
}

#[tokio::test]
async fn an_abandoned_authentication_is_canceled_and_failed_after_its_window() {
    let embedded = Embedded::open();
    let account = AccountId::parse("sweep-abandoned").unwrap();
    let email = EmailAddress::parse("sweep-abandoned@example.com").unwrap();
    let holder = Holder {
        account: &account,
        email: Some(&email),
    };
    let card = PaymentMethodId::parse("pm_card_authenticationRequired").unwrap();
    set_card(&embedded.store, &embedded.network, &holder, &card, t0())
        .await
        .unwrap();
    let request = PurchaseRequest {
        account: &account,
        amount: Cents::new(2_500),
        currency: Currency::Usd,
        keyed: None,
        new_id: PurchaseId::parse("cp_sweepabandoned1").unwrap(),
        limits: PurchaseLimits::default(),
        now: t0(),
    };
    let PurchaseAnswer::Purchase(waiting) = create_purchase(embedded.purchase_ports(), request)
        .await
        .unwrap()
    else {
        panic!("a purchase waiting for authentication");
    };
    assert_eq!(waiting.status, PurchaseStatus::RequiresAction);
    let later = t0() + TimeDelta::minutes(16);

    let summary = run_sweep(
        embedded.purchase_ports(),
        &Jobs::default(),
        scheduled(later),
        later,
    )
    .await
    .expect("a sweep")
    .purchases;

    assert_eq!((summary.visited, summary.failed), (1, 1), "{summary:?}");
    let failed = embedded
        .store
        .purchase(&account, &waiting.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(failed.value.status, PurchaseStatus::Failed);
    let payment = waiting.payment.clone().expect("a payment");
    assert_eq!(
        embedded.network.charge_status(&payment).await.unwrap(),
        ChargeOutcome::Canceled { payment }
    );
    assert_eq!(
        embedded.store.balance(&account).await.unwrap().amount,
        Micros::ZERO
    );
}

#[tokio::test]
async fn an_invocation_that_is_not_the_schedule_is_refused_and_sweeps_nothing() {
    let embedded = Embedded::open();
    let event: ScheduledEvent = serde_json::from_value(serde_json::json!({
        "detail-type": "Object Created",
        "time": "2026-11-20T12:00:00Z",
    }))
    .unwrap();

    let queue = Jobs::default();

    let error = run_sweep(embedded.purchase_ports(), &queue, event, t0())
        .await
        .expect_err("not the schedule");

    assert_eq!(
        error.to_string(),
        "not a scheduled event (detail-type \"Object Created\")"
    );
    assert!(queue.take().is_empty());
}

/// A store that cannot be reached.
struct Down;

#[async_trait]
impl Store for Down {
    async fn get(&self, _: &RecordKey) -> Result<Option<Versioned<Record>>, StoreError> {
        Err(StoreError::Unavailable("down".to_owned()))
    }

    async fn list(&self, _: &ListQuery, _: usize) -> Result<Page<Record>, StoreError> {
        Err(StoreError::Unavailable("down".to_owned()))
    }

    async fn balance(&self, _: &AccountId) -> Result<BalanceState, StoreError> {
        Err(StoreError::Unavailable("down".to_owned()))
    }

    async fn commit(&self, _: Transaction) -> Result<(), StoreError> {
        Err(StoreError::Unavailable("down".to_owned()))
    }
}

#[tokio::test]
async fn a_store_that_cannot_list_fails_the_invocation_after_both_parts_tried() {
    let embedded = Embedded::open();
    let ports = Ports {
        store: &Down,
        gateway: &embedded.network,
        mailer: &embedded.outbox,
    };

    let error = run_sweep(ports, &Jobs::default(), scheduled(t0()), t0())
        .await
        .expect_err("the listing failed");

    assert!(
        matches!(
            error,
            SweepFailed::Purchases {
                failed: PurchasesFailed::Listing(_),
                invoices: Err(_),
            }
        ),
        "{error:?}"
    );
    assert_eq!(
        lambda_runtime::Diagnostic::from(error).error_type,
        "SweepFailed.Listing"
    );
}

/// When the October charge ran: November 3rd, 03:05 UTC.
fn charged_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 3, 3, 5, 0).unwrap()
}

/// When the October invoice's retry `n` days after the charge date is due: 00:00 UTC that day.
fn retry_day(n: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 3, 0, 0, 0).unwrap() + TimeDelta::days(n)
}

/// An account whose October invoice was declined by a card a later attempt may still
/// charge (a generic decline): its first retry is due three days after the charge date.
async fn declined(embedded: &Embedded, account: &str) {
    embedded
        .owing(account, Some("pm_card_chargeCustomerFail"))
        .await;
    let job = ChargeJob::monthly(AccountId::parse(account).unwrap(), october());
    charge_account(embedded.invoice_ports(), &job, charged_at())
        .await
        .expect("charged");
    let invoice = embedded.october_invoice(account).await;
    assert_eq!(invoice.status, InvoiceStatus::PaymentFailed);
    assert_eq!(invoice.next_payment_attempt, Some(retry_day(3)));
}

#[tokio::test]
async fn a_due_retry_is_enqueued_and_the_worker_makes_it_once_with_its_own_key() {
    let embedded = Embedded::open();
    declined(&embedded, "sweep-retry").await;
    let due = retry_day(3);
    let queue = Jobs::default();
    let expected = vec![ChargeJob {
        account: AccountId::parse("sweep-retry").unwrap(),
        period: october(),
        invoice: Some(billing_core::InvoiceId::parse("in_202610").unwrap()),
    }];

    let before = run_sweep(
        embedded.purchase_ports(),
        &queue,
        scheduled(due),
        due - TimeDelta::minutes(5),
    )
    .await
    .expect("a sweep");
    assert_eq!(before.invoices.enqueued, 0, "not due yet");
    let first = run_sweep(embedded.purchase_ports(), &queue, scheduled(due), due)
        .await
        .expect("a sweep");
    let later = due + TimeDelta::minutes(5);
    let second = run_sweep(embedded.purchase_ports(), &queue, scheduled(later), later)
        .await
        .expect("a sweep");
    let jobs = queue.take();
    for job in &jobs {
        charge_account(embedded.invoice_ports(), job, later)
            .await
            .expect("charged");
    }
    let evening = due + TimeDelta::hours(10);
    let after = run_sweep(
        embedded.purchase_ports(),
        &queue,
        scheduled(evening),
        evening,
    )
    .await
    .expect("a sweep");

    assert_eq!((first.invoices.enqueued, second.invoices.enqueued), (1, 1));
    assert_eq!(
        jobs,
        [expected.clone(), expected].concat(),
        "the same job twice"
    );
    let invoice = embedded.october_invoice("sweep-retry").await;
    let numbers: Vec<_> = invoice
        .attempts
        .iter()
        .map(|a| (a.number, a.trigger))
        .collect();
    assert_eq!(
        numbers,
        [(1, AttemptTrigger::Monthly), (2, AttemptTrigger::Retry)],
        "one retry for two jobs"
    );
    assert_eq!(
        attempt_key(&invoice.account, &invoice.id, 2),
        "invoice-sweep-retry-in_202610-2"
    );
    assert_eq!(invoice.status, InvoiceStatus::PaymentFailed);
    assert_eq!(invoice.next_payment_attempt, Some(retry_day(5)));
    assert_eq!(after.invoices.enqueued, 0, "nothing due again that day");
    assert!(queue.take().is_empty());
}

#[tokio::test]
async fn a_charge_queue_that_is_down_fails_the_invocation_after_the_purchases_were_swept() {
    let embedded = Embedded::open();
    declined(&embedded, "sweep-queue-down").await;
    let due = retry_day(3);

    let error = run_sweep(embedded.purchase_ports(), &DownQueue, scheduled(due), due)
        .await
        .expect_err("the queue is down");

    assert!(
        matches!(error, SweepFailed::Invoices { ref purchases, .. } if *purchases == SweepSummary::default()),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .starts_with("cannot enqueue the invoices due a collection visit")
    );
    assert_eq!(
        lambda_runtime::Diagnostic::from(error).error_type,
        "SweepFailed.Invoices"
    );
}
