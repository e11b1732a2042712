use async_trait::async_trait;
use billing_core::domain::account::{Account, AccountStatus};
use billing_core::domain::money::Micros;
use billing_core::ports::store::{
    Expect, LedgerStore, ListQuery, Page, Record, RecordKey, StoreError, Transaction, Versioned,
    Write,
};
use billing_core::rules::ledger::BalanceState;
use billing_core::{AccountId, UsageEventId};
use billing_embedded::EmbeddedStore;
use chrono::TimeZone;
use serde_json::json;

use super::*;
use crate::test_support::{failed_ids, sqs};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap()
}

fn store() -> (tempfile::TempDir, EmbeddedStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(&dir.path().join("store.redb")).unwrap();
    (dir, store)
}

/// A message body as metering sends it.
fn usage(id: &str, account: &str, micros: i64) -> String {
    json!({
        "id": id,
        "account_id": account,
        "amount_micros": micros,
        "occurred_at": "2026-11-20T11:59:00Z",
        "description": "tokens",
    })
    .to_string()
}

fn account(id: &str) -> AccountId {
    AccountId::parse(id).unwrap()
}

#[tokio::test]
async fn a_batch_delivered_twice_is_recorded_once_and_acknowledged_both_times() {
    let (_dir, store) = store();
    let batch = || {
        sqs(
            "billing-usage",
            &[
                ("m1", usage("evt_1", "acct_a", 1_000)),
                ("m2", usage("evt_2", "acct_a", 2_000)),
                ("m3", usage("evt_3", "acct_b", 4_000)),
            ],
        )
    };

    let first = record_usage_messages(&store, batch(), now()).await;
    let again = record_usage_messages(&store, batch(), now()).await;

    assert!(failed_ids(&first).is_empty());
    assert!(failed_ids(&again).is_empty());
    let a = store.balance(&account("acct_a")).await.unwrap();
    assert_eq!(a.amount, Micros::new(-3_000));
    let b = store.balance(&account("acct_b")).await.unwrap();
    assert_eq!(b.amount, Micros::new(-4_000));
}

#[tokio::test]
async fn a_malformed_message_is_reported_alone_and_the_rest_is_recorded() {
    let (_dir, store) = store();
    let event = sqs(
        "billing-usage",
        &[
            ("good-1", usage("evt_1", "acct_a", 1_000)),
            ("not-json", "{\"id\": ".to_owned()),
            ("not-usage", json!({"id": "evt_x", "amount": 5}).to_string()),
            ("good-2", usage("evt_2", "acct_a", 2_000)),
        ],
    );

    let response = record_usage_messages(&store, event, now()).await;

    assert_eq!(failed_ids(&response), ["not-json", "not-usage"]);
    let a = store.balance(&account("acct_a")).await.unwrap();
    assert_eq!(a.amount, Micros::new(-3_000));
}

#[tokio::test]
async fn an_event_out_of_bounds_is_reported_without_refusing_the_batch() {
    let (_dir, store) = store();
    let event = sqs(
        "billing-usage",
        &[
            ("negative", usage("evt_neg", "acct_a", -1)),
            ("good", usage("evt_1", "acct_a", 1_000)),
        ],
    );

    let response = record_usage_messages(&store, event, now()).await;

    assert_eq!(failed_ids(&response), ["negative"]);
    let a = store.balance(&account("acct_a")).await.unwrap();
    assert_eq!(a.amount, Micros::new(-1_000));
}

#[tokio::test]
async fn usage_for_a_deleted_account_is_acknowledged_and_its_refusal_is_stored() {
    let (_dir, store) = store();
    let gone = account("acct_gone");
    let mut deleted = Account::new(gone.clone(), None, now());
    deleted.status = AccountStatus::Deleted;
    store
        .commit(Transaction::new().with(Write::Put {
            record: Record::Account(deleted),
            expect: Expect::Absent,
        }))
        .await
        .unwrap();

    let event = sqs(
        "billing-usage",
        &[("m1", usage("evt_gone", "acct_gone", 7_000))],
    );
    let response = record_usage_messages(&store, event, now()).await;

    assert!(failed_ids(&response).is_empty());
    let refusal = store
        .refused_usage(&gone, &UsageEventId::parse("evt_gone").unwrap())
        .await
        .unwrap()
        .expect("the refusal is recorded");
    assert_eq!(refusal.value.reason, "account_deleted");
    assert_eq!(refusal.value.amount, Micros::new(7_000));
    assert_eq!(store.balance(&gone).await.unwrap().amount, Micros::ZERO);
}

/// A store that cannot be reached.
struct Unreachable;

#[async_trait]
impl Store for Unreachable {
    async fn get(&self, _: &RecordKey) -> Result<Option<Versioned<Record>>, StoreError> {
        Err(StoreError::Unavailable("timed out".into()))
    }
    async fn list(&self, _: &ListQuery, _: usize) -> Result<Page<Record>, StoreError> {
        Err(StoreError::Unavailable("timed out".into()))
    }
    async fn balance(&self, _: &AccountId) -> Result<BalanceState, StoreError> {
        Err(StoreError::Unavailable("timed out".into()))
    }
    async fn commit(&self, _: Transaction) -> Result<(), StoreError> {
        Err(StoreError::Unavailable("timed out".into()))
    }
}

#[tokio::test]
async fn every_event_the_store_could_not_take_is_reported_for_redelivery() {
    let event = sqs(
        "billing-usage",
        &[
            ("m1", usage("evt_1", "acct_a", 1_000)),
            ("m2", usage("evt_2", "acct_b", 2_000)),
        ],
    );

    let response = record_usage_messages(&Unreachable, event, now()).await;

    assert_eq!(failed_ids(&response), ["m1", "m2"]);
}

#[tokio::test]
async fn the_answer_is_the_partial_batch_response_lambda_reads() {
    let event = sqs("billing-usage", &[("m1", "oops".to_owned())]);

    let response = record_usage_messages(&Unreachable, event, now()).await;

    assert_eq!(
        serde_json::to_value(&response).unwrap(),
        json!({"batchItemFailures": [{"itemIdentifier": "m1"}]})
    );
}
