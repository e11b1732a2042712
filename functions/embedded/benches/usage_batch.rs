//! Events per second for one hot account on the embedded store, in batches of 100 through
//! the batch use case (validation, one account read, one atomic write per chunk of 96 events
//! with its balance item and due mark, an fsync per commit). A measurement, never a test:
//! `cargo bench -p billing-embedded --bench usage_batch`.

use std::time::Instant;

use billing_core::AccountId;
use billing_core::UsageEventId;
use billing_core::usecases::usage::{UsageEvent, UsageOutcome, record_usage_batch};
use billing_embedded::EmbeddedStore;
use chrono::{TimeZone, Utc};

const BATCH: usize = 100;
const WARM_UP_BATCHES: usize = 20;
const BATCHES: usize = 500;
const RUNS: usize = 3;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("a runtime");
    let dir = tempfile::tempdir().expect("a temp dir");
    let store = EmbeddedStore::open(&dir.path().join("billing.redb")).expect("the store");
    let account = AccountId::parse("acct_hot").expect("an account id");
    let now = Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap();
    let mut next_id = 0u64;
    let mut batch = || -> Vec<UsageEvent> {
        (0..BATCH)
            .map(|_| {
                next_id += 1;
                UsageEvent {
                    id: UsageEventId::parse(&format!("evt_{next_id:012}")).unwrap(),
                    account_id: account.clone(),
                    amount_micros: 1_234,
                    occurred_at: now,
                    description: "1k tokens".into(),
                }
            })
            .collect()
    };

    runtime.block_on(async {
        for _ in 0..WARM_UP_BATCHES {
            record_usage_batch(&store, &batch(), now).await.unwrap();
        }
        for run in 1..=RUNS {
            let batches: Vec<_> = (0..BATCHES).map(|_| batch()).collect();
            let started = Instant::now();
            for events in &batches {
                let outcomes = record_usage_batch(&store, events, now).await.unwrap();
                assert!(outcomes.iter().all(|o| matches!(o, UsageOutcome::Counted(_))));
            }
            let elapsed = started.elapsed();
            let events = (BATCHES * BATCH) as u128;
            println!(
                "run {run}: {events} events in {BATCHES} batches of {BATCH}: {:.3} s, {} events/s, {} µs per batch",
                elapsed.as_secs_f64(),
                events * 1_000_000 / elapsed.as_micros().max(1),
                elapsed.as_micros() / BATCHES as u128,
            );
        }
    });
}
