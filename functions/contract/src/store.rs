//! The store contract.

use std::sync::Arc;

use billing_core::domain::account::{Account, AccountStatus};
use billing_core::domain::idempotency::{IdempotencyRecord, KeyedOutcome};
use billing_core::domain::invoice::{
    AttemptOutcome, AttemptTrigger, ChargeAttempt, Invoice, InvoiceLine, InvoiceStatus, Notice,
};
use billing_core::domain::money::{Cents, Currency, Micros};
use billing_core::domain::purchase::{Purchase, PurchaseSlot};
use billing_core::ports::store::{
    AccountStore, DueMark, EventStore, ExistingEntry, Expect, HandledEvent, IdempotencyStore,
    InvoiceStore, LedgerStore, ListQuery, PurchaseStore, Record, RecordKey, Store, StoreError,
    Transaction, Versioned, Write,
};
use billing_core::rules::ledger::{BalanceState, LedgerEntry, due_shard};
use billing_core::rules::period::BillingPeriod;
use billing_core::rules::purchase::PurchaseStatus;
use billing_core::{AccountId, IdempotencyKey, InvoiceId, PurchaseId, UsageEventId};
use chrono::{DateTime, Duration, TimeZone, Utc};

use crate::unique_account;

pub use crate::usage::*;

mod account_records;
pub use account_records::*;

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

/// One transaction creating every record of `records`.
fn create_all(records: impl IntoIterator<Item = Record>) -> Transaction {
    let mut transaction = Transaction::new();
    for record in records {
        transaction.push(Write::Put {
            record,
            expect: Expect::Absent,
        });
    }
    transaction
}

/// The first hundred records of a listing (the store is shared: other cases' records may be
/// among them).
async fn first_hundred(store: &SharedStore, query: &ListQuery) -> Vec<Record> {
    store.list(query, 100).await.unwrap().items
}

/// Commits a put of `record` (expecting `expect`) followed by a check that `account` is at
/// version 9, which fails (no case writes an account that often), and asserts the store
/// refuses the transaction at that check.
async fn put_in_a_failing_transaction(
    store: &SharedStore,
    record: Record,
    expect: Expect,
    account: &AccountId,
) {
    let fails = Transaction::new()
        .with(Write::Put { record, expect })
        .with(Write::Check {
            key: RecordKey::Account(account.clone()),
            expect: Expect::Version(9),
        });
    assert_eq!(
        store.commit(fails).await,
        Err(StoreError::Conflict { index: 1 })
    );
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

fn append(account: &AccountId, entries: Vec<LedgerEntry>, balance: Expect) -> Transaction {
    Transaction::new().with(Write::Append {
        account: account.clone(),
        entries,
        balance,
    })
}

fn purchase(account: &AccountId, id: &str) -> Purchase {
    Purchase {
        id: PurchaseId::parse(id).unwrap(),
        account: account.clone(),
        amount: Cents::new(2_500),
        currency: Currency::Usd,
        status: PurchaseStatus::Processing,
        customer: billing_core::CustomerId::parse("cus_1").unwrap(),
        payment_method: billing_core::PaymentMethodId::parse("pm_1").unwrap(),
        payment: Some(billing_core::PaymentId::parse("pi_123").unwrap()),
        next_action: None,
        failure: None,
        idempotency_key: Some(IdempotencyKey::parse("key-1").unwrap()),
        receipt: billing_core::domain::purchase::Receipt::NotDue,
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
        retry_at: Vec::new(),
        next_payment_attempt: None,
        created_at: period.charge_at(),
    }
}

/// Reading a key never written gives nothing.
pub async fn a_record_that_was_never_written_reads_as_none(store: SharedStore) {
    let id = unique_account("none");
    assert_eq!(store.account(&id).await.unwrap(), None);
    assert_eq!(store.purchase_slot(&id).await.unwrap(), None);
    assert_eq!(store.balance(&id).await.unwrap(), BalanceState::default());
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
        receipt_pending: false,
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
            entries: vec![usage(&format!("{id}-atomic"), 1_000, t0())],
            balance: Expect::Any,
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
    assert_eq!(store.balance(&id).await.unwrap(), BalanceState::default());
    let entry = usage(&format!("{id}-atomic"), 1_000, t0());
    store
        .commit(append(&id, vec![entry], Expect::Absent))
        .await
        .expect("the entry of the failed transaction was never written");
}

/// Each entry id counts once; the balance is the sum of the entries.
pub async fn appending_moves_the_balance_once_per_entry_id(store: SharedStore) {
    let id = unique_account("append");
    let first = usage(&format!("{id}-1"), 1_500_000, t0());
    store
        .commit(append(&id, vec![first.clone()], Expect::Any))
        .await
        .unwrap();
    let repeat = store
        .commit(append(&id, vec![first.clone()], Expect::Any))
        .await;
    let existing = vec![ExistingEntry {
        account: id.clone(),
        entry: first,
    }];
    assert_eq!(repeat, Err(StoreError::EntriesExist { index: 0, existing }));
    let credit =
        LedgerEntry::credit_purchase(&PurchaseId::parse("cp_9").unwrap(), Cents::new(500), t0())
            .unwrap();
    store
        .commit(append(&id, vec![credit], Expect::Any))
        .await
        .unwrap();
    let state = store.balance(&id).await.unwrap();
    assert_eq!(state.amount, Micros::new(3_500_000));
    assert_eq!(state.version, 2);
}

/// An append of many entries names every one that exists, as stored (whichever account it was
/// recorded for), and writes none of them.
pub async fn an_append_names_every_entry_that_exists_and_writes_none(store: SharedStore) {
    let id = unique_account("exists");
    let other = unique_account("exists-other");
    let (a, b, c) = (format!("{id}-a"), format!("{id}-b"), format!("{id}-c"));
    store
        .commit(append(&id, vec![usage(&a, 10, t0())], Expect::Any))
        .await
        .unwrap();
    store
        .commit(append(&other, vec![usage(&c, 30, t0())], Expect::Any))
        .await
        .unwrap();

    let batch = vec![
        usage(&a, 10, t0()),
        usage(&b, 20, t0()),
        usage(&c, 99, t0()),
    ];
    let Err(StoreError::EntriesExist { index, existing }) =
        store.commit(append(&id, batch, Expect::Any)).await
    else {
        panic!("existing entries must be reported");
    };
    assert_eq!(index, 0);
    let mut found: Vec<_> = existing
        .iter()
        .map(|e| (e.account.clone(), e.entry.clone()))
        .collect();
    found.sort_by(|x, y| x.1.id.cmp(&y.1.id));
    assert_eq!(
        found,
        [
            (id.clone(), usage(&a, 10, t0())),
            (other, usage(&c, 30, t0()))
        ]
    );
    assert_eq!(store.balance(&id).await.unwrap().amount, Micros::new(-10));
}

/// The balance item keeps the balance, a version moved by every append, and the usage of each
/// period by when it occurred; a condition on the version holds only for the version read.
pub async fn the_balance_item_keeps_a_version_and_usage_totals_by_period(store: SharedStore) {
    let id = unique_account("totals");
    let october = usage(&format!("{id}-oct"), 4_000_000, t0());
    let november = usage(&format!("{id}-nov"), 1_000_000, t0() + Duration::days(20));
    store
        .commit(append(&id, vec![october], Expect::Version(1)))
        .await
        .expect_err("no balance item has version 1 yet");
    store
        .commit(append(&id, vec![november.clone()], Expect::Absent))
        .await
        .unwrap();
    let credit =
        LedgerEntry::credit_purchase(&PurchaseId::parse("cp_1").unwrap(), Cents::new(100), t0())
            .unwrap();
    let stale = store
        .commit(append(&id, vec![credit.clone()], Expect::Version(7)))
        .await;
    assert_eq!(stale, Err(StoreError::Conflict { index: 0 }));
    store
        .commit(append(&id, vec![credit], Expect::Version(1)))
        .await
        .unwrap();
    let state = store.balance(&id).await.unwrap();
    assert_eq!(state.version, 2);
    assert_eq!(state.amount, Micros::new(0));
    let totals: Vec<_> = state.usage.into_iter().collect();
    assert_eq!(
        totals,
        [(
            BillingPeriod::new(2026, 11).unwrap(),
            Micros::new(1_000_000)
        )]
    );
}

/// Due marks list by period and shard, in account id order, with a cursor.
pub async fn due_marks_list_one_shard_of_a_period_in_account_order(store: SharedStore) {
    let period = BillingPeriod::new(2026, 10).unwrap();
    let base = unique_account("due");
    let ids: Vec<AccountId> = (0..40)
        .map(|n| AccountId::parse(&format!("{base}-{n:02}")).unwrap())
        .collect();
    let mut transaction = Transaction::new();
    for id in &ids {
        transaction.push(Write::Put {
            record: Record::Due(DueMark {
                account: id.clone(),
                period,
            }),
            expect: Expect::Any,
        });
    }
    store.commit(transaction).await.unwrap();

    let shard = due_shard(&ids[0]);
    let mine: Vec<_> = ids
        .iter()
        .filter(|id| due_shard(id) == shard)
        .cloned()
        .collect();
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store.due_accounts(period, shard, after, 2).await.unwrap();
        seen.extend(page.items.iter().cloned());
        after = page.items.last().cloned();
        if !page.has_more {
            break;
        }
    }
    let listed: Vec<_> = seen
        .iter()
        .filter(|id| mine.contains(id))
        .cloned()
        .collect();
    assert_eq!(listed, mine);
    assert!(seen.iter().all(|id| due_shard(id) == shard));
    let next = store
        .due_accounts(period.next(), shard, None, 100)
        .await
        .unwrap();
    assert!(next.items.iter().all(|id| !ids.contains(id)));
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
    let mut record = IdempotencyRecord::claim(
        id.clone(),
        IdempotencyKey::parse("k1").unwrap(),
        "digest",
        None,
        t0(),
    );
    record.outcome = Some(KeyedOutcome::Purchase {
        purchase: PurchaseId::parse("cp_1").unwrap(),
    });
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
                receipt_pending: false,
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
            entries: vec![usage(&format!("{id}-1"), 1, t0())],
            balance: Expect::Any,
        })
        .with(Write::Append {
            account: id.clone(),
            entries: vec![usage(&format!("{id}-2"), 1, t0())],
            balance: Expect::Any,
        });
    assert!(matches!(
        store.commit(two_appends).await,
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(store.account(&id).await.unwrap(), None);
    assert_eq!(store.balance(&id).await.unwrap(), BalanceState::default());
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

/// A handled webhook event reads back as written, once per account and event id: recording it
/// again is refused, which is how a redelivered event is told from a new one.
pub async fn a_handled_event_round_trips_and_is_recorded_once(store: SharedStore) {
    let id = unique_account("event");
    let other = unique_account("event-other");
    let handled = HandledEvent::new(id.clone(), format!("evt_{id}"), t0());
    let record = || Record::Event(handled.clone());

    store.commit(put(record(), Expect::Absent)).await.unwrap();
    let again = store.commit(put(record(), Expect::Absent)).await;

    assert_eq!(again, Err(StoreError::Conflict { index: 0 }));
    assert_eq!(
        store.handled_event(&id, &handled.id).await.unwrap(),
        Some(Versioned {
            value: handled.clone(),
            version: 1
        })
    );
    assert_eq!(handled.expires_at, t0() + Duration::days(7));
    assert_eq!(store.handled_event(&id, "evt_other").await.unwrap(), None);
    assert_eq!(
        store.handled_event(&other, &handled.id).await.unwrap(),
        None
    );
}

fn slot(
    account: &AccountId,
    purchase: &str,
    status: PurchaseStatus,
    created_at: DateTime<Utc>,
) -> PurchaseSlot {
    PurchaseSlot {
        account: account.clone(),
        purchase: PurchaseId::parse(purchase).unwrap(),
        status,
        created_at,
        receipt_pending: false,
    }
}

fn put_slot(slot: PurchaseSlot, expect: Expect) -> Transaction {
    put(Record::PurchaseSlot(slot), expect)
}

/// Every page of the unsettled listing before `before`, as (accounts, has_more), starting just
/// before `from`. The cases share one store: each keeps its slots in a window of starts of its
/// own, years before any other case's, and lists from the beginning of that window with a
/// cursor (which need not name a slot).
async fn unsettled_pages(
    store: &SharedStore,
    from: DateTime<Utc>,
    before: DateTime<Utc>,
    limit: usize,
) -> Vec<(Vec<AccountId>, bool)> {
    let mut pages = Vec::new();
    let mut after = Some((
        from - Duration::nanoseconds(1),
        AccountId::parse("a").unwrap(),
    ));
    loop {
        let page = store
            .unsettled_purchases(before, after, limit)
            .await
            .unwrap();
        after = page.items.last().map(|s| (s.created_at, s.account.clone()));
        let accounts = page.items.iter().map(|s| s.account.clone()).collect();
        pages.push((accounts, page.has_more));
        if !page.has_more {
            return pages;
        }
    }
}

/// The unsettled slots started before an instant list oldest first (then by account), in
/// pages, and nothing else: no settled slot, no slot started at the instant or later, no other
/// record.
pub async fn unsettled_slots_list_oldest_first_before_the_instant_in_pages(store: SharedStore) {
    let window = Utc.with_ymd_and_hms(2001, 3, 1, 0, 0, 0).unwrap();
    let before = window + Duration::minutes(5);
    let base = unique_account("unsettled");
    let ids: Vec<AccountId> = (0..8)
        .map(|n| AccountId::parse(&format!("{base}-{n}")).unwrap())
        .collect();
    let minute = |n: i64| window + Duration::minutes(n);
    let written = [
        slot(
            &ids[0],
            "cp_0",
            PurchaseStatus::Processing,
            before - Duration::nanoseconds(1),
        ),
        slot(&ids[1], "cp_1", PurchaseStatus::RequiresAction, minute(2)),
        slot(&ids[2], "cp_2", PurchaseStatus::Processing, minute(2)),
        slot(&ids[3], "cp_3", PurchaseStatus::Processing, minute(1)),
        slot(&ids[4], "cp_4", PurchaseStatus::RequiresAction, minute(0)),
        slot(&ids[5], "cp_5", PurchaseStatus::Succeeded, minute(1)),
        slot(&ids[6], "cp_6", PurchaseStatus::Failed, minute(1)),
        slot(&ids[7], "cp_7", PurchaseStatus::Processing, before),
    ];
    let mut started = purchase(&ids[0], "cp_0");
    started.created_at = minute(1);
    let others = [
        Record::Purchase(started),
        Record::Account(Account::new(ids[0].clone(), None, minute(1))),
        Record::Event(HandledEvent::new(ids[0].clone(), "evt_1", minute(1))),
    ];
    let slots = written.iter().cloned().map(Record::PurchaseSlot);
    store.commit(create_all(slots.chain(others))).await.unwrap();

    let pages = unsettled_pages(&store, window, before, 2).await;

    let expected = |order: &[usize]| order.iter().map(|n| ids[*n].clone()).collect::<Vec<_>>();
    assert_eq!(
        pages,
        [
            (expected(&[4, 3]), true),
            (expected(&[1, 2]), true),
            (expected(&[0]), false)
        ]
    );
    let from_the_start = ListQuery::Unsettled {
        started_before: before,
        after: None,
    };
    let mut listed = Vec::new();
    for record in first_hundred(&store, &from_the_start).await {
        let Record::PurchaseSlot(slot) = record else {
            panic!("the unsettled listing returned {record:?}")
        };
        assert!(
            !slot.status.is_settled() && slot.created_at < before,
            "{slot:?}"
        );
        if ids.contains(&slot.account) {
            listed.push(slot);
        }
    }
    let in_order: Vec<_> = [4, 3, 1, 2, 0].map(|n| written[n].clone()).into();
    assert_eq!(listed, in_order);
}

/// A slot is listed while its purchase is unsettled, once, under the start of its current
/// purchase; it leaves the listing when written settled or deleted, and a transaction that
/// fails leaves the listing as it was.
pub async fn a_slot_leaves_the_unsettled_listing_once_written_settled(store: SharedStore) {
    let window = Utc.with_ymd_and_hms(2001, 6, 1, 0, 0, 0).unwrap();
    let before = window + Duration::hours(1);
    let id = unique_account("settles");
    let listing = || unsettled_pages(&store, window, before, 10);
    let listed = |ids: &[&AccountId]| vec![(ids.iter().map(|id| (*id).clone()).collect(), false)];
    let first = slot(&id, "cp_1", PurchaseStatus::Processing, window);
    store
        .commit(put_slot(first.clone(), Expect::Absent))
        .await
        .unwrap();
    assert_eq!(listing().await, listed(&[&id]));

    let asked = slot(&id, "cp_1", PurchaseStatus::RequiresAction, window);
    store
        .commit(put_slot(asked, Expect::Version(1)))
        .await
        .unwrap();
    assert_eq!(listing().await, listed(&[&id]));

    let settled = slot(&id, "cp_1", PurchaseStatus::Succeeded, window);
    let settling = Record::PurchaseSlot(settled.clone());
    put_in_a_failing_transaction(&store, settling, Expect::Version(2), &id).await;
    assert_eq!(listing().await, listed(&[&id]));

    store
        .commit(put_slot(settled, Expect::Version(2)))
        .await
        .unwrap();
    assert_eq!(listing().await, listed(&[]));

    let next = slot(
        &id,
        "cp_2",
        PurchaseStatus::Processing,
        window + Duration::minutes(30),
    );
    store
        .commit(put_slot(next.clone(), Expect::Version(3)))
        .await
        .unwrap();
    assert_eq!(listing().await, listed(&[&id]));
    let page = store.unsettled_purchases(before, None, 100).await.unwrap();
    let mine: Vec<_> = page.items.into_iter().filter(|s| s.account == id).collect();
    assert_eq!(mine, [next]);
    let started_since = unsettled_pages(&store, window, window + Duration::minutes(30), 10);
    assert_eq!(started_since.await, listed(&[]));

    store
        .commit(Transaction::new().with(Write::Delete {
            key: RecordKey::PurchaseSlot(id.clone()),
            expect: Expect::Version(4),
        }))
        .await
        .unwrap();
    assert_eq!(listing().await, listed(&[]));
}

/// Two accounts' purchases interleave in time: the listing follows each account's current
/// purchase, and a cursor carries across accounts whichever sorts first by id.
pub async fn unsettled_slots_of_two_accounts_interleave_by_start(store: SharedStore) {
    let window = Utc.with_ymd_and_hms(2001, 9, 1, 0, 0, 0).unwrap();
    let before = window + Duration::hours(1);
    let base = unique_account("interleave");
    // `late` sorts before `early` by id, so only the starts order them.
    let early = AccountId::parse(&format!("{base}-b")).unwrap();
    let late = AccountId::parse(&format!("{base}-a")).unwrap();
    let minute = |n: i64| window + Duration::minutes(n);
    store
        .commit(
            Transaction::new()
                .with(Write::Put {
                    record: Record::PurchaseSlot(slot(
                        &early,
                        "cp_1",
                        PurchaseStatus::Processing,
                        minute(0),
                    )),
                    expect: Expect::Absent,
                })
                .with(Write::Put {
                    record: Record::PurchaseSlot(slot(
                        &late,
                        "cp_2",
                        PurchaseStatus::Processing,
                        minute(1),
                    )),
                    expect: Expect::Absent,
                }),
        )
        .await
        .unwrap();
    assert_eq!(
        unsettled_pages(&store, window, before, 1).await,
        [(vec![early.clone()], true), (vec![late.clone()], false)]
    );

    store
        .commit(put_slot(
            slot(&early, "cp_1", PurchaseStatus::Failed, minute(0)),
            Expect::Version(1),
        ))
        .await
        .unwrap();
    store
        .commit(put_slot(
            slot(&early, "cp_3", PurchaseStatus::Processing, minute(2)),
            Expect::Version(2),
        ))
        .await
        .unwrap();

    assert_eq!(
        unsettled_pages(&store, window, before, 1).await,
        [(vec![late.clone()], true), (vec![early.clone()], false)]
    );
    assert_eq!(
        unsettled_pages(&store, window, minute(2), 1).await,
        [(vec![late], false)]
    );
}

/// A start outside the years the listing can order is refused as a bad request, and writes
/// nothing.
pub async fn an_unsettled_slot_or_listing_beyond_year_9999_is_refused(store: SharedStore) {
    let id = unique_account("far");
    let far = Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).unwrap();
    let written = store
        .commit(put_slot(
            slot(&id, "cp_1", PurchaseStatus::Processing, far),
            Expect::Absent,
        ))
        .await;
    assert!(
        matches!(written, Err(StoreError::Invalid(_))),
        "{written:?}"
    );
    assert_eq!(store.purchase_slot(&id).await.unwrap(), None);
    let listed = store.unsettled_purchases(far, None, 10).await;
    assert!(matches!(listed, Err(StoreError::Invalid(_))), "{listed:?}");
}

/// An invoice whose first attempt was declined (its email sent) and whose collection visit
/// falls at `visit` (its next payment attempt), or none.
fn visited(account: &AccountId, period: BillingPeriod, visit: Option<DateTime<Utc>>) -> Invoice {
    let mut invoice = attempted(
        account,
        period,
        AttemptOutcome::Declined,
        period.charge_at(),
    );
    invoice.status = InvoiceStatus::PaymentFailed;
    invoice.attempts[0].notice = Notice::Sent;
    invoice.retry_at = visit.into_iter().collect();
    invoice.next_payment_attempt = visit;
    invoice
}

/// An invoice whose first attempt was claimed at `claimed` and never heard back: its visit
/// falls [`Invoice::IN_FLIGHT_TIMEOUT`] later.
fn in_flight(account: &AccountId, period: BillingPeriod, claimed: DateTime<Utc>) -> Invoice {
    attempted(account, period, AttemptOutcome::Pending, claimed)
}

fn attempted(
    account: &AccountId,
    period: BillingPeriod,
    outcome: AttemptOutcome,
    at: DateTime<Utc>,
) -> Invoice {
    let mut invoice = invoice(account, period);
    invoice.attempts.push(ChargeAttempt {
        number: 1,
        trigger: AttemptTrigger::Monthly,
        at,
        payment_method: None,
        payment: None,
        client_secret: None,
        outcome,
        decline_code: None,
        notice: Notice::None,
        updated_at: at,
    });
    invoice
}

fn put_invoice(invoice: Invoice, expect: Expect) -> Transaction {
    put(Record::Invoice(invoice), expect)
}

/// Every page of the collect listing due at `due_at`, as ((account, invoice) pairs, has_more),
/// starting just before `from`. Like [`unsettled_pages`]: each case keeps its visits in a
/// window of its own, and lists from the beginning of it with a cursor that names no invoice.
async fn collect_pages(
    store: &SharedStore,
    from: DateTime<Utc>,
    due_at: DateTime<Utc>,
    limit: usize,
) -> Vec<(Vec<(AccountId, InvoiceId)>, bool)> {
    let mut pages = Vec::new();
    let mut after = Some((
        from - Duration::nanoseconds(1),
        AccountId::parse("a").unwrap(),
        InvoiceId::parse("in_a").unwrap(),
    ));
    loop {
        let page = store.invoices_to_visit(due_at, after, limit).await.unwrap();
        after = page
            .items
            .last()
            .map(|i| (i.visit_at().unwrap(), i.account.clone(), i.id.clone()));
        let listed = page
            .items
            .iter()
            .map(|i| (i.account.clone(), i.id.clone()))
            .collect();
        pages.push((listed, page.has_more));
        if !page.has_more {
            return pages;
        }
    }
}

/// The invoices whose collection visit is due at or before an instant (the instant itself
/// included) list earliest visit first, then by account, then by invoice, in pages; an
/// invoice with no visit or a later one is not listed, nor is any other record.
pub async fn invoices_to_visit_list_earliest_first_up_to_and_including_the_instant(
    store: SharedStore,
) {
    let window = Utc.with_ymd_and_hms(2002, 3, 1, 0, 0, 0).unwrap();
    let due_at = window + Duration::minutes(5);
    let base = unique_account("collect");
    let ids: Vec<AccountId> = (0..7)
        .map(|n| AccountId::parse(&format!("{base}-{n}")).unwrap())
        .collect();
    let minute = |n: i64| window + Duration::minutes(n);
    let (january, february) = (
        BillingPeriod::new(2002, 1).unwrap(),
        BillingPeriod::new(2002, 2).unwrap(),
    );
    let written = [
        visited(&ids[0], january, Some(due_at)),
        visited(&ids[1], january, Some(minute(2))),
        visited(&ids[2], january, Some(minute(2))),
        visited(&ids[3], february, Some(minute(1))),
        visited(&ids[3], january, Some(minute(1))),
        in_flight(&ids[4], january, minute(0) - Invoice::IN_FLIGHT_TIMEOUT),
        visited(&ids[5], january, None),
        visited(&ids[6], january, Some(due_at + Duration::nanoseconds(1))),
    ];
    let other = Record::PurchaseSlot(slot(&ids[5], "cp_1", PurchaseStatus::Processing, minute(1)));
    let invoices = written.iter().cloned().map(Record::Invoice);
    store
        .commit(create_all(invoices.chain([other])))
        .await
        .unwrap();

    let pages = collect_pages(&store, window, due_at, 2).await;

    let expected = |order: &[usize]| {
        order
            .iter()
            .map(|n| (written[*n].account.clone(), written[*n].id.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        pages,
        [
            (expected(&[5, 4]), true),
            (expected(&[3, 1]), true),
            (expected(&[2, 0]), false)
        ]
    );
    let from_the_start = ListQuery::Collect {
        due_at,
        after: None,
    };
    let mut listed = Vec::new();
    for record in first_hundred(&store, &from_the_start).await {
        let Record::Invoice(invoice) = record else {
            panic!("the collect listing returned {record:?}")
        };
        assert!(
            invoice.visit_at().is_some_and(|at| at <= due_at),
            "{invoice:?}"
        );
        if ids.contains(&invoice.account) {
            listed.push(invoice);
        }
    }
    let in_order: Vec<_> = [5, 4, 3, 1, 2, 0].map(|n| written[n].clone()).into();
    assert_eq!(listed, in_order);
    assert_eq!(
        collect_pages(&store, window, minute(1) - Duration::nanoseconds(1), 10).await,
        [(expected(&[5]), false)],
        "a visit later than the instant is not listed yet"
    );
}

/// An invoice is listed exactly while its visit is set, once, under its current visit; it
/// leaves the listing when written paid or deleted, and a transaction that fails leaves the
/// listing as it was.
pub async fn an_invoice_leaves_the_collect_listing_once_paid(store: SharedStore) {
    let window = Utc.with_ymd_and_hms(2002, 6, 1, 0, 0, 0).unwrap();
    let due_at = window + Duration::days(10);
    let id = unique_account("paid");
    let period = BillingPeriod::new(2002, 5).unwrap();
    let listing = |due_at| collect_pages(&store, window, due_at, 10);
    let mine = |invoice: &Invoice| vec![(vec![(id.clone(), invoice.id.clone())], false)];
    let nothing = vec![(vec![], false)];
    let claimed = in_flight(&id, period, window);
    store
        .commit(put_invoice(claimed.clone(), Expect::Absent))
        .await
        .unwrap();
    assert_eq!(listing(due_at).await, mine(&claimed));

    let declined = visited(&id, period, Some(window + Duration::days(3)));
    store
        .commit(put_invoice(declined.clone(), Expect::Version(1)))
        .await
        .unwrap();
    assert_eq!(listing(due_at).await, mine(&declined));
    assert_eq!(
        listing(window + Duration::days(2)).await,
        nothing,
        "the retry moved the visit three days on"
    );

    let paid = Invoice {
        status: InvoiceStatus::Paid,
        amount_paid: declined.amount_due,
        next_payment_attempt: None,
        ..declined.clone()
    };
    let paying = Record::Invoice(paid.clone());
    put_in_a_failing_transaction(&store, paying, Expect::Version(2), &id).await;
    assert_eq!(listing(due_at).await, mine(&declined));

    store
        .commit(put_invoice(paid, Expect::Version(2)))
        .await
        .unwrap();
    assert_eq!(listing(due_at).await, nothing);

    let next = visited(
        &id,
        BillingPeriod::new(2002, 6).unwrap(),
        Some(window + Duration::days(5)),
    );
    store
        .commit(put_invoice(next.clone(), Expect::Absent))
        .await
        .unwrap();
    assert_eq!(listing(due_at).await, mine(&next));
    store
        .commit(Transaction::new().with(Write::Delete {
            key: RecordKey::Invoice(id.clone(), next.id.clone()),
            expect: Expect::Version(1),
        }))
        .await
        .unwrap();
    assert_eq!(listing(due_at).await, nothing);
}

/// A visit outside the years the listing can order is refused as a bad request, and writes
/// nothing.
pub async fn an_invoice_visit_or_collect_listing_beyond_year_9999_is_refused(store: SharedStore) {
    let id = unique_account("far-visit");
    let far = Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).unwrap();
    let written = visited(&id, BillingPeriod::new(2026, 10).unwrap(), Some(far));
    let refused = store
        .commit(put_invoice(written.clone(), Expect::Absent))
        .await;
    assert!(
        matches!(refused, Err(StoreError::Invalid(_))),
        "{refused:?}"
    );
    assert_eq!(store.invoice(&id, &written.id).await.unwrap(), None);
    let listed = store.invoices_to_visit(far, None, 10).await;
    assert!(matches!(listed, Err(StoreError::Invalid(_))), "{listed:?}");
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
            an_append_names_every_entry_that_exists_and_writes_none,
            the_balance_item_keeps_a_version_and_usage_totals_by_period,
            due_marks_list_one_shard_of_a_period_in_account_order,
            invoices_list_newest_first_in_pages,
            accounts_list_in_id_order_across_pages,
            delete_and_check_honour_their_conditions,
            only_one_of_many_concurrent_creators_wins,
            only_one_of_many_writers_of_the_same_version_wins,
            malformed_transactions_are_refused_without_writing,
            every_record_kind_round_trips_unchanged,
            a_handled_event_round_trips_and_is_recorded_once,
            unsettled_slots_list_oldest_first_before_the_instant_in_pages,
            a_slot_leaves_the_unsettled_listing_once_written_settled,
            unsettled_slots_of_two_accounts_interleave_by_start,
            an_unsettled_slot_or_listing_beyond_year_9999_is_refused,
            invoices_to_visit_list_earliest_first_up_to_and_including_the_instant,
            an_invoice_leaves_the_collect_listing_once_paid,
            an_invoice_visit_or_collect_listing_beyond_year_9999_is_refused,
            account_records_list_every_record_of_the_account_once_and_nothing_else,
            account_records_page_on_when_each_listed_record_is_deleted,
            an_account_without_records_lists_one_empty_page,
            an_account_records_cursor_of_another_account_is_refused,
            usage_of_i64_max_is_refused_and_the_account_still_reads,
            a_batch_with_an_invalid_second_event_writes_nothing,
            a_reused_event_id_with_other_content_is_refused_and_counts_once,
            a_batch_with_duplicates_counts_every_other_event_once,
            usage_for_a_deleted_account_is_refused,
            usage_after_the_period_end_arriving_before_the_close_is_not_invoiced_with_it,
            late_usage_for_a_closed_month_lands_in_the_next_invoice,
            an_amount_under_the_minimum_marks_the_account_due_next_month,
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
