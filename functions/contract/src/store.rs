//! The store contract.

use std::sync::Arc;

use billing_core::domain::account::{Account, AccountStatus};
use billing_core::domain::idempotency::{IdempotencyRecord, SavedResponse};
use billing_core::domain::invoice::{Invoice, InvoiceLine, InvoiceStatus};
use billing_core::domain::money::{Cents, Currency, Micros};
use billing_core::domain::purchase::{Purchase, PurchaseSlot};
use billing_core::ports::store::{
    AccountStore, Expect, IdempotencyStore, InvoiceStore, ListQuery, PurchaseStore, Record,
    RecordKey, Store, StoreError, Transaction, Write,
};
use billing_core::rules::ledger::LedgerEntry;
use billing_core::rules::period::BillingPeriod;
use billing_core::rules::purchase::PurchaseStatus;
use billing_core::{AccountId, IdempotencyKey, InvoiceId, PurchaseId, UsageEventId};
use chrono::{DateTime, Duration, TimeZone, Utc};

use crate::unique_account;

/// A store as the cases take it.
pub type SharedStore = Arc<dyn Store>;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 10, 15, 12, 0, 0).unwrap()
}

fn account(id: &AccountId) -> Record {
    Record::Account(Account::new(id.clone(), None, t0()))
}

fn put(record: Record, expect: Expect) -> Transaction {
    Transaction::new().with(Write::Put { record, expect })
}

fn usage(event: &str, micros: i64, at: DateTime<Utc>) -> LedgerEntry {
    LedgerEntry::usage(
        &UsageEventId::parse(event).unwrap(),
        Micros::new(micros),
        at,
        "contract",
    )
    .unwrap()
}

fn purchase(account: &AccountId, id: &str) -> Purchase {
    Purchase {
        id: PurchaseId::parse(id).unwrap(),
        account: account.clone(),
        amount: Cents::new(2_500),
        currency: Currency::Usd,
        status: PurchaseStatus::Processing,
        payment: Some("pi_123".into()),
        next_action: None,
        failure: None,
        idempotency_key: Some(IdempotencyKey::parse("key-1").unwrap()),
        created_at: t0(),
        updated_at: t0(),
    }
}

fn invoice(account: &AccountId, period: BillingPeriod) -> Invoice {
    Invoice {
        id: InvoiceId::parse(&format!("in_{}{:02}", period.year(), period.month())).unwrap(),
        account: account.clone(),
        period,
        status: InvoiceStatus::Open,
        currency: Currency::Usd,
        amount_due: Cents::new(1_234),
        amount_paid: Cents::ZERO,
        lines: vec![InvoiceLine {
            description: "Usage".into(),
            amount_micros: Micros::new(12_340_000),
        }],
        attempts: vec![],
        authorization_url: None,
        created_at: period.charge_at(),
    }
}

/// Reading a key never written gives nothing.
pub async fn a_record_that_was_never_written_reads_as_none(store: SharedStore) {
    let id = unique_account("none");
    assert_eq!(store.account(&id).await.unwrap(), None);
    assert_eq!(store.purchase_slot(&id).await.unwrap(), None);
    assert_eq!(store.balance(&id).await.unwrap(), Micros::ZERO);
    assert!(store.entries_since(&id, t0()).await.unwrap().is_empty());
}

/// Creating gives version 1; creating again conflicts and changes nothing.
pub async fn creating_a_record_gives_version_one_and_a_second_create_conflicts(store: SharedStore) {
    let id = unique_account("create");
    store
        .commit(put(account(&id), Expect::Absent))
        .await
        .unwrap();
    let stored = store.account(&id).await.unwrap().expect("created");
    assert_eq!(stored.version, 1);
    assert_eq!(stored.value.status, AccountStatus::Active);

    let mut changed = Account::new(id.clone(), None, t0());
    changed.status = AccountStatus::Deleting;
    let again = store
        .commit(put(Record::Account(changed), Expect::Absent))
        .await;
    assert_eq!(again, Err(StoreError::Conflict { index: 0 }));
    assert_eq!(
        store.account(&id).await.unwrap().unwrap().value.status,
        AccountStatus::Active
    );
}

/// A replace must name the current version; a stale one conflicts.
pub async fn replacing_needs_the_current_version(store: SharedStore) {
    let id = unique_account("replace");
    store
        .commit(put(account(&id), Expect::Absent))
        .await
        .unwrap();
    let mut next = Account::new(id.clone(), None, t0());
    next.status = AccountStatus::Deleting;
    store
        .commit(put(Record::Account(next.clone()), Expect::Version(1)))
        .await
        .unwrap();
    assert_eq!(store.account(&id).await.unwrap().unwrap().version, 2);

    let stale = store
        .commit(put(Record::Account(next.clone()), Expect::Version(1)))
        .await;
    assert_eq!(stale, Err(StoreError::Conflict { index: 0 }));
    let missing = unique_account("replace-missing");
    let on_missing = store
        .commit(put(account(&missing), Expect::Version(1)))
        .await;
    assert_eq!(on_missing, Err(StoreError::Conflict { index: 0 }));
    store
        .commit(put(Record::Account(next), Expect::Any))
        .await
        .unwrap();
    assert_eq!(store.account(&id).await.unwrap().unwrap().version, 3);
}

/// When any condition fails, no write of the transaction happens, and the error names it.
pub async fn a_failed_condition_leaves_every_write_of_the_transaction_undone(store: SharedStore) {
    let id = unique_account("atomic");
    store
        .commit(put(account(&id), Expect::Absent))
        .await
        .unwrap();
    let slot = PurchaseSlot {
        account: id.clone(),
        purchase: PurchaseId::parse("cp_1").unwrap(),
        status: PurchaseStatus::Processing,
        created_at: t0(),
    };
    let transaction = Transaction::new()
        .with(Write::Put {
            record: Record::PurchaseSlot(slot),
            expect: Expect::Absent,
        })
        .with(Write::Put {
            record: Record::Purchase(purchase(&id, "cp_1")),
            expect: Expect::Absent,
        })
        .with(Write::Append {
            account: id.clone(),
            entry: usage("atomic-1", 1_000, t0()),
        })
        .with(Write::Check {
            key: RecordKey::Account(id.clone()),
            expect: Expect::Version(7),
        });
    assert_eq!(
        store.commit(transaction).await,
        Err(StoreError::Conflict { index: 3 })
    );
    assert_eq!(store.purchase_slot(&id).await.unwrap(), None);
    assert_eq!(
        store
            .purchase(&id, &PurchaseId::parse("cp_1").unwrap())
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.balance(&id).await.unwrap(), Micros::ZERO);
    assert!(
        store
            .entries_since(&id, t0() - Duration::days(1))
            .await
            .unwrap()
            .is_empty()
    );
}

/// Each entry id counts once; the balance is the sum of the entries.
pub async fn appending_moves_the_balance_once_per_entry_id(store: SharedStore) {
    let id = unique_account("append");
    let first = usage("append-1", 1_500_000, t0());
    store
        .commit(Transaction::new().with(Write::Append {
            account: id.clone(),
            entry: first.clone(),
        }))
        .await
        .unwrap();
    let repeat = store
        .commit(Transaction::new().with(Write::Append {
            account: id.clone(),
            entry: first,
        }))
        .await;
    assert_eq!(repeat, Err(StoreError::Conflict { index: 0 }));
    let credit =
        LedgerEntry::credit_purchase(&PurchaseId::parse("cp_9").unwrap(), Cents::new(500), t0())
            .unwrap();
    store
        .commit(Transaction::new().with(Write::Append {
            account: id.clone(),
            entry: credit,
        }))
        .await
        .unwrap();
    assert_eq!(store.balance(&id).await.unwrap(), Micros::new(3_500_000));
}

/// Entries effective at or after an instant, oldest first.
pub async fn entries_since_lists_entries_at_or_after_an_instant_oldest_first(store: SharedStore) {
    let id = unique_account("since");
    for (event, hours) in [("since-c", 2), ("since-a", -5), ("since-b", 0)] {
        let entry = usage(event, 10, t0() + Duration::hours(hours));
        store
            .commit(Transaction::new().with(Write::Append {
                account: id.clone(),
                entry,
            }))
            .await
            .unwrap();
    }
    let entries = store.entries_since(&id, t0()).await.unwrap();
    let ids: Vec<_> = entries.iter().map(|e| e.id.as_str().to_owned()).collect();
    assert_eq!(ids, ["usage:since-b", "usage:since-c"]);
    assert_eq!(entries[0], usage("since-b", 10, t0()));
}

/// Invoices list newest first, in pages, and never show another account's.
pub async fn invoices_list_newest_first_in_pages(store: SharedStore) {
    let id = unique_account("invoices");
    let other = unique_account("invoices-other");
    let mut transaction = Transaction::new();
    let mut period = BillingPeriod::new(2026, 1).unwrap();
    for _ in 0..5 {
        transaction.push(Write::Put {
            record: Record::Invoice(invoice(&id, period)),
            expect: Expect::Absent,
        });
        period = period.next();
    }
    transaction.push(Write::Put {
        record: Record::Invoice(invoice(&other, period)),
        expect: Expect::Absent,
    });
    store.commit(transaction).await.unwrap();

    let first = store.invoices(&id, None, 2).await.unwrap();
    let ids: Vec<_> = first.items.iter().map(|i| i.id.to_string()).collect();
    assert_eq!(ids, ["in_202605", "in_202604"]);
    assert!(first.has_more);
    let rest = store
        .invoices(&id, Some(first.items[1].id.clone()), 10)
        .await
        .unwrap();
    let ids: Vec<_> = rest.items.iter().map(|i| i.id.to_string()).collect();
    assert_eq!(ids, ["in_202603", "in_202602", "in_202601"]);
    assert!(!rest.has_more);
    assert_eq!(
        rest.items[0],
        invoice(&id, BillingPeriod::new(2026, 3).unwrap())
    );
}

/// Accounts list in id order; paging visits each once.
pub async fn accounts_list_in_id_order_across_pages(store: SharedStore) {
    let base = unique_account("list");
    let ids: Vec<AccountId> = (0..7)
        .map(|n| AccountId::parse(&format!("{base}-{n}")).unwrap())
        .collect();
    let mut transaction = Transaction::new();
    for id in ids.iter().rev() {
        transaction.push(Write::Put {
            record: account(id),
            expect: Expect::Absent,
        });
    }
    store.commit(transaction).await.unwrap();

    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .list(
                &ListQuery::Accounts {
                    after: after.clone(),
                },
                3,
            )
            .await
            .unwrap();
        for record in &page.items {
            let Record::Account(a) = record else {
                panic!("listed a non-account: {record:?}")
            };
            seen.push(a.id.clone());
        }
        after = page.items.last().map(|r| r.key().account().clone());
        if !page.has_more {
            break;
        }
    }
    let mine: Vec<_> = seen.iter().filter(|id| ids.contains(id)).cloned().collect();
    assert_eq!(mine, ids);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, seen, "listing is in id order with no repeats");
}

/// Delete and check honour their conditions.
pub async fn delete_and_check_honour_their_conditions(store: SharedStore) {
    let id = unique_account("delete");
    let key = RecordKey::Idempotency(id.clone(), IdempotencyKey::parse("k1").unwrap());
    let record = IdempotencyRecord {
        account: id.clone(),
        key: IdempotencyKey::parse("k1").unwrap(),
        request_digest: "digest".into(),
        response: Some(SavedResponse {
            status: 201,
            body: "{\"id\":\"cp_1\"}".into(),
        }),
        created_at: t0(),
    };
    store
        .commit(put(Record::Idempotency(record.clone()), Expect::Absent))
        .await
        .unwrap();
    assert_eq!(
        store
            .idempotency(&id, &record.key)
            .await
            .unwrap()
            .unwrap()
            .value,
        record
    );

    let check = Transaction::new().with(Write::Check {
        key: key.clone(),
        expect: Expect::Absent,
    });
    assert_eq!(
        store.commit(check).await,
        Err(StoreError::Conflict { index: 0 })
    );
    let wrong = Transaction::new().with(Write::Delete {
        key: key.clone(),
        expect: Expect::Version(2),
    });
    assert_eq!(
        store.commit(wrong).await,
        Err(StoreError::Conflict { index: 0 })
    );
    store
        .commit(Transaction::new().with(Write::Delete {
            key: key.clone(),
            expect: Expect::Version(1),
        }))
        .await
        .unwrap();
    assert_eq!(store.get(&key).await.unwrap(), None);
}

/// Of many writers racing to create one record, exactly one wins.
pub async fn only_one_of_many_concurrent_creators_wins(store: SharedStore) {
    let id = unique_account("race");
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..8 {
        let store = store.clone();
        let id = id.clone();
        tasks.spawn(async move {
            let slot = PurchaseSlot {
                account: id.clone(),
                purchase: PurchaseId::parse(&format!("cp_{n}")).unwrap(),
                status: PurchaseStatus::Processing,
                created_at: t0(),
            };
            store
                .commit(put(Record::PurchaseSlot(slot), Expect::Absent))
                .await
        });
    }
    let mut wins = 0;
    while let Some(result) = tasks.join_next().await {
        match result.unwrap() {
            Ok(()) => wins += 1,
            Err(StoreError::Conflict { index: 0 }) => {}
            Err(other) => panic!("unexpected error: {other}"),
        }
    }
    assert_eq!(wins, 1);
    assert_eq!(store.purchase_slot(&id).await.unwrap().unwrap().version, 1);
}

/// Of many writers replacing the same version, exactly one wins and the version moves by one.
pub async fn only_one_of_many_writers_of_the_same_version_wins(store: SharedStore) {
    let id = unique_account("race-version");
    store
        .commit(put(account(&id), Expect::Absent))
        .await
        .unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..8 {
        let (store, id) = (store.clone(), id.clone());
        tasks.spawn(async move {
            let mut next = Account::new(id.clone(), None, t0());
            next.customer = Some(billing_core::CustomerId::parse(&format!("cus_{n}")).unwrap());
            store
                .commit(put(Record::Account(next), Expect::Version(1)))
                .await
                .map(|()| n)
        });
    }
    let mut winners = Vec::new();
    while let Some(result) = tasks.join_next().await {
        match result.unwrap() {
            Ok(n) => winners.push(n),
            Err(StoreError::Conflict { index: 0 }) => {}
            Err(other) => panic!("unexpected error: {other}"),
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    let stored = store.account(&id).await.unwrap().unwrap();
    assert_eq!(stored.version, 2);
    assert_eq!(
        stored.value.customer.unwrap().to_string(),
        format!("cus_{}", winners[0])
    );
}

/// Empty transactions and transactions touching one item twice are refused whole.
pub async fn malformed_transactions_are_refused_without_writing(store: SharedStore) {
    let id = unique_account("malformed");
    assert!(matches!(
        store.commit(Transaction::new()).await,
        Err(StoreError::Invalid(_))
    ));
    let twice = Transaction::new()
        .with(Write::Put {
            record: account(&id),
            expect: Expect::Absent,
        })
        .with(Write::Put {
            record: account(&id),
            expect: Expect::Any,
        });
    assert!(matches!(
        store.commit(twice).await,
        Err(StoreError::Invalid(_))
    ));
    let two_appends = Transaction::new()
        .with(Write::Append {
            account: id.clone(),
            entry: usage("m-1", 1, t0()),
        })
        .with(Write::Append {
            account: id.clone(),
            entry: usage("m-2", 1, t0()),
        });
    assert!(matches!(
        store.commit(two_appends).await,
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(store.account(&id).await.unwrap(), None);
    assert_eq!(store.balance(&id).await.unwrap(), Micros::ZERO);
}

/// Every record kind reads back exactly as written.
pub async fn every_record_kind_round_trips_unchanged(store: SharedStore) {
    let id = unique_account("roundtrip");
    let mut full = Account::new(
        id.clone(),
        Some(billing_core::EmailAddress::parse("ada@example.com").unwrap()),
        t0(),
    );
    full.customer = Some(billing_core::CustomerId::parse("cus_123").unwrap());
    let bought = purchase(&id, "cp_rt");
    let bill = invoice(&id, BillingPeriod::new(2026, 9).unwrap());
    store
        .commit(
            Transaction::new()
                .with(Write::Put {
                    record: Record::Account(full.clone()),
                    expect: Expect::Absent,
                })
                .with(Write::Put {
                    record: Record::Purchase(bought.clone()),
                    expect: Expect::Absent,
                })
                .with(Write::Put {
                    record: Record::Invoice(bill.clone()),
                    expect: Expect::Absent,
                }),
        )
        .await
        .unwrap();
    assert_eq!(store.account(&id).await.unwrap().unwrap().value, full);
    assert_eq!(
        store
            .purchase(&id, &bought.id)
            .await
            .unwrap()
            .unwrap()
            .value,
        bought
    );
    assert_eq!(
        store.invoice(&id, &bill.id).await.unwrap().unwrap().value,
        bill
    );
}

/// Stamps out the store contract as tests. `$make` is an async fn returning a [`SharedStore`].
#[macro_export]
macro_rules! store_contract {
    ($make:path) => {
        $crate::store_contract!(@cases $make;
            a_record_that_was_never_written_reads_as_none,
            creating_a_record_gives_version_one_and_a_second_create_conflicts,
            replacing_needs_the_current_version,
            a_failed_condition_leaves_every_write_of_the_transaction_undone,
            appending_moves_the_balance_once_per_entry_id,
            entries_since_lists_entries_at_or_after_an_instant_oldest_first,
            invoices_list_newest_first_in_pages,
            accounts_list_in_id_order_across_pages,
            delete_and_check_honour_their_conditions,
            only_one_of_many_concurrent_creators_wins,
            only_one_of_many_writers_of_the_same_version_wins,
            malformed_transactions_are_refused_without_writing,
            every_record_kind_round_trips_unchanged,
        );
    };
    (@cases $make:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                $crate::store::$case($make().await).await;
            }
        )*
    };
}
