use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use billing_core::AccountId;
use billing_core::ports::queue::{ChargeJob, QueueError};
use billing_core::usecases::usage::{UsageEvent, record_usage_batch};
use billing_embedded::EmbeddedStore;
use chrono::TimeZone;
use serde_json::json;

use super::*;
use crate::test_support::DownQueue;

/// When the schedule fires in November: it charges October.
fn fired() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 3, 3, 0, 0).unwrap()
}

fn october() -> BillingPeriod {
    BillingPeriod::new(2026, 10).unwrap()
}

/// The schedule's input as `infra/template.yaml` writes it, placeholders filled.
fn scheduled(time: DateTime<Utc>) -> serde_json::Value {
    json!({
        "version": "0",
        "id": "5c7a6f7e-3f1a-4c1e-9a53-5c6e1f0f4a10",
        "detail-type": "Scheduled Event",
        "source": "aws.scheduler",
        "account": "123456789012",
        "time": time.to_rfc3339(),
        "region": "us-east-1",
        "resources": ["arn:aws:scheduler:us-east-1:123456789012:schedule/default/monthly-charge"],
        "detail": {},
    })
}

fn store() -> (tempfile::TempDir, EmbeddedStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(&dir.path().join("store.redb")).unwrap();
    (dir, store)
}

/// Usage for each account, recorded at `recorded_at` as having occurred the hour before.
async fn usage(store: &EmbeddedStore, accounts: &[String], recorded_at: DateTime<Utc>) {
    let events: Vec<UsageEvent> = accounts
        .iter()
        .map(|account| {
            serde_json::from_value(json!({
                "id": format!("evt_{account}_{}", recorded_at.timestamp()),
                "account_id": account,
                "amount_micros": 12_340_000,
                "occurred_at": (recorded_at - chrono::Duration::hours(1)).to_rfc3339(),
            }))
            .unwrap()
        })
        .collect();
    record_usage_batch(store, &events, recorded_at)
        .await
        .unwrap();
}

fn accounts(prefix: &str, count: usize) -> Vec<String> {
    (0..count).map(|n| format!("{prefix}-{n:03}")).collect()
}

/// A queue that keeps the jobs sent to it and how many sends were in flight at most. Each
/// send yields once, so sends of concurrent shards overlap.
#[derive(Default)]
struct RecordingQueue {
    jobs: Mutex<Vec<ChargeJob>>,
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
}

#[async_trait]
impl JobQueue for RecordingQueue {
    async fn enqueue(&self, jobs: &[ChargeJob]) -> Result<(), QueueError> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_in_flight.fetch_max(now, Ordering::SeqCst);
        tokio::task::yield_now().await;
        self.jobs.lock().unwrap().extend_from_slice(jobs);
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        Ok(())
    }
}

#[tokio::test]
async fn every_account_owing_for_the_month_before_the_trigger_gets_one_job() {
    let (_dir, store) = store();
    let owing = accounts("plan-owing", 150);
    usage(
        &store,
        &owing,
        Utc.with_ymd_and_hms(2026, 10, 20, 12, 0, 0).unwrap(),
    )
    .await;
    let queue = RecordingQueue::default();

    let summary = plan_monthly_charge(&store, &queue, scheduled(fired()), fired())
        .await
        .expect("planned");

    assert_eq!(
        summary,
        PlanSummary {
            period: october(),
            enqueued: 150
        }
    );
    let jobs = queue.jobs.into_inner().unwrap();
    let planned: BTreeSet<&str> = jobs.iter().map(|j| j.account.as_str()).collect();
    assert_eq!(jobs.len(), 150, "one job per account");
    assert_eq!(planned, owing.iter().map(String::as_str).collect());
    assert!(jobs.iter().all(|j| j.period == october()));
}

#[tokio::test]
async fn an_account_whose_usage_is_all_in_the_new_month_is_not_visited() {
    let (_dir, store) = store();
    usage(
        &store,
        &accounts("plan-october", 3),
        Utc.with_ymd_and_hms(2026, 10, 31, 22, 0, 0).unwrap(),
    )
    .await;
    usage(
        &store,
        &accounts("plan-november", 3),
        Utc.with_ymd_and_hms(2026, 11, 2, 12, 0, 0).unwrap(),
    )
    .await;
    let queue = RecordingQueue::default();

    let summary = plan_monthly_charge(&store, &queue, scheduled(fired()), fired())
        .await
        .expect("planned");

    assert_eq!(summary.enqueued, 3);
    let jobs = queue.jobs.into_inner().unwrap();
    assert!(
        jobs.iter()
            .all(|j| j.account.as_str().starts_with("plan-october")),
        "{jobs:?}"
    );
}

#[tokio::test]
async fn shards_are_planned_concurrently_and_never_more_than_the_bound_at_once() {
    let (_dir, store) = store();
    // Enough accounts that nearly every one of the 32 shards has some.
    usage(
        &store,
        &accounts("plan-spread", 300),
        Utc.with_ymd_and_hms(2026, 10, 20, 12, 0, 0).unwrap(),
    )
    .await;
    let queue = RecordingQueue::default();

    plan_monthly_charge(&store, &queue, scheduled(fired()), fired())
        .await
        .expect("planned");

    let most = queue.most_in_flight.load(Ordering::SeqCst);
    assert!(most > 1, "shards were planned one after another");
    assert!(most <= SHARDS_AT_ONCE, "{most} shards at once");
}

#[tokio::test]
async fn planning_twice_sends_the_same_jobs_again() {
    let (_dir, store) = store();
    usage(
        &store,
        &accounts("plan-twice", 20),
        Utc.with_ymd_and_hms(2026, 10, 20, 12, 0, 0).unwrap(),
    )
    .await;
    let (first, second) = (RecordingQueue::default(), RecordingQueue::default());

    plan_monthly_charge(&store, &first, scheduled(fired()), fired())
        .await
        .unwrap();
    plan_monthly_charge(&store, &second, scheduled(fired()), fired())
        .await
        .unwrap();

    let sorted = |queue: RecordingQueue| {
        let mut jobs: Vec<String> = queue
            .jobs
            .into_inner()
            .unwrap()
            .iter()
            .map(|j| j.account.to_string())
            .collect();
        jobs.sort();
        jobs
    };
    assert_eq!(sorted(first), sorted(second));
}

#[tokio::test]
async fn a_queue_that_is_down_fails_the_invocation_naming_the_shards_left_unplanned() {
    let (_dir, store) = store();
    let owing = accounts("plan-down", 1);
    usage(
        &store,
        &owing,
        Utc.with_ymd_and_hms(2026, 10, 20, 12, 0, 0).unwrap(),
    )
    .await;
    let shard = billing_core::rules::ledger::due_shard(&AccountId::parse(&owing[0]).unwrap());

    let error = plan_monthly_charge(&store, &DownQueue, scheduled(fired()), fired())
        .await
        .expect_err("the queue is down");

    let PlanFailed::Shards {
        period,
        enqueued,
        failed,
    } = &error
    else {
        panic!("{error:?}");
    };
    assert_eq!((*period, *enqueued), (october(), 0));
    assert_eq!(failed.iter().map(|(s, _)| *s).collect::<Vec<_>>(), [shard]);
    assert!(failed[0].1.is_retryable());
    let diagnostic = lambda_runtime::Diagnostic::from(error);
    assert_eq!(diagnostic.error_type, "MonthlyChargeFailed.Shards");
    assert!(
        diagnostic.error_message.contains("queue unavailable"),
        "{}",
        diagnostic.error_message
    );
}

#[tokio::test]
async fn a_trigger_before_the_month_has_ended_is_refused_and_plans_nothing() {
    let (_dir, store) = store();
    usage(
        &store,
        &accounts("plan-early", 2),
        Utc.with_ymd_and_hms(2026, 10, 20, 12, 0, 0).unwrap(),
    )
    .await;
    let queue = RecordingQueue::default();
    let early = Utc.with_ymd_and_hms(2026, 10, 31, 23, 0, 0).unwrap();

    let error = plan_monthly_charge(&store, &queue, scheduled(fired()), early)
        .await
        .expect_err("October has not ended");

    assert!(matches!(error, PlanFailed::PeriodNotEnded(_)), "{error:?}");
    assert!(queue.jobs.into_inner().unwrap().is_empty());
}

#[test]
fn an_event_of_another_kind_is_refused_with_what_it_was() {
    let mut event = scheduled(fired());
    event["detail-type"] = json!("Object Created");

    let error = MonthlyTrigger::parse(event).expect_err("not scheduled");

    assert_eq!(
        error.to_string(),
        r#"not a monthly trigger: detail-type "Object Created", not "Scheduled Event""#
    );
    assert_eq!(
        lambda_runtime::Diagnostic::from(error).error_type,
        "MonthlyChargeFailed.NotScheduled"
    );
}

#[test]
fn a_payload_that_is_not_an_eventbridge_event_is_refused() {
    let error = MonthlyTrigger::parse(json!({"Records": []})).expect_err("an SQS event");

    assert!(
        error
            .to_string()
            .starts_with("not a monthly trigger: not an EventBridge event: missing field"),
        "{error}"
    );
}

#[test]
fn a_scheduled_event_without_its_time_is_refused() {
    let mut event = scheduled(fired());
    event.as_object_mut().unwrap().remove("time");

    let error = MonthlyTrigger::parse(event).expect_err("no time");

    assert_eq!(
        error.to_string(),
        "not a monthly trigger: a scheduled event without its time"
    );
}

#[test]
fn the_repository_fixture_is_the_trigger_of_november_3rd() {
    let fixture: serde_json::Value = serde_json::from_str(include_str!(
        "../../../../tests/lambda/events/scheduled-monthly-charge.json"
    ))
    .unwrap();

    let trigger = MonthlyTrigger::parse(fixture).expect("the fixture parses");

    assert_eq!(trigger.time, fired());
    assert_eq!(charged_period(trigger.time, fired()).unwrap(), october());
}
