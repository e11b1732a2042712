//! Group commit: transactions committed at the same time share one write, and the answers are
//! exactly those of some serial order.

use std::sync::Arc;

use billing_core::ports::store::{
    Expect, Record, RecordKey, RefusedUsage, Store, StoreError, Transaction, Versioned, Write,
};
use billing_core::{AccountId, Micros, UsageEventId};
use billing_embedded::EmbeddedStore;
use chrono::{TimeZone, Utc};
use tokio::sync::Barrier;

fn counter(account: &AccountId, event: &str, value: i64) -> Record {
    let at = Utc.with_ymd_and_hms(2026, 10, 15, 12, 0, 0).unwrap();
    Record::RefusedUsage(RefusedUsage {
        account: account.clone(),
        event: UsageEventId::parse(event).unwrap(),
        amount: Micros::new(value),
        occurred_at: at,
        reason: "counter".into(),
        refused_at: at,
    })
}

fn value_of(record: &Versioned<Record>) -> i64 {
    match &record.value {
        Record::RefusedUsage(refused) => refused.amount.get(),
        other => panic!("not the counter: {other:?}"),
    }
}

fn open() -> (tempfile::TempDir, EmbeddedStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(&dir.path().join("billing.redb")).unwrap();
    (dir, store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_conditional_increments_apply_exactly_the_successes_in_a_serial_order() {
    let (_dir, store) = open();
    let account = AccountId::parse("acct-counter").unwrap();
    let key = RecordKey::RefusedUsage(account.clone(), UsageEventId::parse("count").unwrap());
    let create = Write::Put {
        record: counter(&account, "count", 0),
        expect: Expect::Absent,
    };
    store.commit(Transaction::new().with(create)).await.unwrap();
    let tasks = 50;
    // Every task reads before any commits, so the first round conflicts on purpose: all of
    // them hold version 1 and only one can win it.
    let first_round = Arc::new(Barrier::new(tasks));

    let increments: Vec<_> = (0..tasks)
        .map(|_| {
            let (store, key, account, first_round) = (
                store.clone(),
                key.clone(),
                account.clone(),
                first_round.clone(),
            );
            tokio::spawn(async move {
                let mut outcomes = Vec::new();
                loop {
                    let read = store.get(&key).await.unwrap().unwrap();
                    if outcomes.is_empty() {
                        first_round.wait().await;
                    }
                    let next = value_of(&read) + 1;
                    let write = Write::Put {
                        record: counter(&account, "count", next),
                        expect: Expect::Version(read.version),
                    };
                    match store.commit(Transaction::new().with(write)).await {
                        Ok(()) => {
                            outcomes.push(Some((read.version + 1, next)));
                            return outcomes;
                        }
                        Err(StoreError::Conflict { index: 0 }) => outcomes.push(None),
                        Err(other) => panic!("{other:?}"),
                    }
                }
            })
        })
        .collect();
    let mut written = Vec::new();
    let mut conflicts = 0;
    for increment in increments {
        for outcome in increment.await.unwrap() {
            match outcome {
                Some(success) => written.push(success),
                None => conflicts += 1,
            }
        }
    }

    let stored = store.get(&key).await.unwrap().unwrap();
    assert_eq!(written.len(), tasks);
    assert!(conflicts >= tasks - 1, "only {conflicts} conflicts");
    assert_eq!(stored.version, 1 + tasks as u64);
    assert_eq!(value_of(&stored), tasks as i64);
    written.sort_unstable();
    let serial: Vec<(u64, i64)> = (1..=tasks as i64).map(|n| (n as u64 + 1, n)).collect();
    assert_eq!(
        written, serial,
        "every success wrote the version after the one it read, each version once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_transaction_refused_within_a_group_writes_nothing_and_leaves_the_others_whole() {
    let (_dir, store) = open();
    let account = AccountId::parse("acct-group").unwrap();
    let never = RecordKey::RefusedUsage(account.clone(), UsageEventId::parse("never").unwrap());
    let start = Arc::new(Barrier::new(40));

    let commits: Vec<_> = (0..40)
        .map(|n| {
            let (store, account, never, start) =
                (store.clone(), account.clone(), never.clone(), start.clone());
            tokio::spawn(async move {
                // Odd ones end with a condition that cannot hold, after a write that could.
                let mut transaction = Transaction::new().with(Write::Put {
                    record: counter(&account, &format!("e{n}"), n),
                    expect: Expect::Absent,
                });
                if n % 2 == 1 {
                    transaction.push(Write::Check {
                        key: never,
                        expect: Expect::Version(1),
                    });
                }
                start.wait().await;
                store.commit(transaction).await
            })
        })
        .collect();
    let mut answers = Vec::new();
    for commit in commits {
        answers.push(commit.await.unwrap());
    }

    for (n, answer) in answers.iter().enumerate() {
        let key = RecordKey::RefusedUsage(
            account.clone(),
            UsageEventId::parse(&format!("e{n}")).unwrap(),
        );
        let stored = store.get(&key).await.unwrap();
        if n % 2 == 1 {
            assert_eq!(answer, &Err(StoreError::Conflict { index: 1 }), "e{n}");
            assert_eq!(stored, None, "e{n} was written by a refused transaction");
        } else {
            assert_eq!(answer, &Ok(()), "e{n}");
            assert_eq!(
                stored.map(|s| (s.version, value_of(&s))),
                Some((1, n as i64))
            );
        }
    }
}

#[tokio::test]
async fn the_store_file_opens_again_once_the_last_handle_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("billing.redb");
    let account = AccountId::parse("acct-reopen").unwrap();
    let first = EmbeddedStore::open(&path).unwrap();
    let write = Write::Put {
        record: counter(&account, "kept", 7),
        expect: Expect::Absent,
    };
    first.commit(Transaction::new().with(write)).await.unwrap();
    drop(first);

    let again = EmbeddedStore::open(&path).unwrap();

    let key = RecordKey::RefusedUsage(account, UsageEventId::parse("kept").unwrap());
    let stored = again.get(&key).await.unwrap().unwrap();
    assert_eq!((stored.version, value_of(&stored)), (1, 7));
}
