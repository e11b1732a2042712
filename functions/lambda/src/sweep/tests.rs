use async_trait::async_trait;
use billing_core::ports::gateway::{ChargeOutcome, PaymentGateway};
use billing_core::ports::store::{ListQuery, Page};
use billing_core::ports::store::{
    PurchaseStore, Record, RecordKey, Store, StoreError, Transaction, Versioned,
};
use billing_core::rules::ledger::BalanceState;
use billing_core::rules::purchase::{PurchaseLimits, PurchaseStatus};
use billing_core::usecases::card::{Holder, set_card};
use billing_core::usecases::purchase::{PurchaseAnswer, PurchaseRequest, create_purchase};
use billing_core::{AccountId, Cents, Currency, EmailAddress, Micros, PaymentMethodId, PurchaseId};
use chrono::{TimeDelta, TimeZone};

use super::*;
use crate::test_support::Embedded;

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

    let summary = run_sweep(embedded.purchase_ports(), scheduled(t0()), t0())
        .await
        .expect("a sweep");

    assert_eq!(summary, SweepSummary::default());
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

    let summary = run_sweep(embedded.purchase_ports(), scheduled(later), later)
        .await
        .expect("a sweep");

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

    let error = run_sweep(embedded.purchase_ports(), event, t0())
        .await
        .expect_err("not the schedule");

    assert_eq!(
        error.to_string(),
        "not a scheduled event (detail-type \"Object Created\")"
    );
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
async fn a_store_that_cannot_list_fails_the_invocation() {
    let embedded = Embedded::open();
    let ports = Ports {
        store: &Down,
        gateway: &embedded.network,
        mailer: &embedded.outbox,
    };

    let error = run_sweep(ports, scheduled(t0()), t0())
        .await
        .expect_err("the listing failed");

    assert!(matches!(error, SweepFailed::Listing(_)), "{error:?}");
}
