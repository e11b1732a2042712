//! Usage and the monthly close, through the core use cases, on any store: what the store
//! contract promises the money paths. Stamped out by `store_contract!` with the store cases.

use billing_core::domain::account::{Account, AccountStatus};
use billing_core::domain::money::{Cents, Micros};
use billing_core::ports::store::{
    AccountStore, Expect, InvoiceStore, LedgerStore, ListQuery, Page, Record, RecordKey,
    RefusedUsage, Store, StoreError, Transaction, Versioned, Write,
};
use billing_core::rules::ledger::{BalanceState, due_shard};
use billing_core::rules::period::BillingPeriod;
use billing_core::usecases::close::{ClosedPeriod, close_account_period, invoice_id};
use billing_core::usecases::error::UseCaseError;
use billing_core::usecases::overview::billing_overview;
use billing_core::usecases::usage::{
    UsageEvent, UsageOutcome, UsageRecorded, UsageRefusal, record_usage, record_usage_batch,
};
use billing_core::{AccountId, UsageEventId};
use chrono::{DateTime, TimeZone, Utc};

use crate::store::SharedStore;
use crate::unique_account;

fn at(month: u32, day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, month, day, hour, 0, 0).unwrap()
}

fn october() -> BillingPeriod {
    BillingPeriod::new(2026, 10).unwrap()
}

fn event(account: &AccountId, id: &str, micros: i64, occurred_at: DateTime<Utc>) -> UsageEvent {
    UsageEvent {
        id: UsageEventId::parse(&format!("{account}-{id}")).unwrap(),
        account_id: account.clone(),
        amount_micros: micros,
        occurred_at,
        description: "contract".into(),
    }
}

async fn is_due(store: &SharedStore, account: &AccountId, period: BillingPeriod) -> bool {
    let mut after = None;
    loop {
        let page = store
            .due_accounts(period, due_shard(account), after, 100)
            .await
            .unwrap();
        if page.items.contains(account) {
            return true;
        }
        if !page.has_more {
            return false;
        }
        after = page.items.last().cloned();
    }
}

/// An event of `i64::MAX` micro-USD is refused, and the account's overview still reads.
pub async fn usage_of_i64_max_is_refused_and_the_account_still_reads(store: SharedStore) {
    let id = unique_account("huge");
    let now = at(10, 20, 12);
    let huge = event(&id, "huge", i64::MAX, now);
    let refused = record_usage(store.as_ref(), &huge, now).await;
    assert!(
        matches!(&refused, Err(UseCaseError::Invalid(e)) if e.field == "amount_micros"),
        "{refused:?}"
    );
    let next = event(&id, "next", 10_000_000_000, now);
    assert_eq!(
        record_usage(store.as_ref(), &next, now).await.unwrap(),
        UsageRecorded::Recorded
    );
    let overview = billing_overview(store.as_ref(), &id, None, now)
        .await
        .unwrap();
    assert_eq!(overview.outstanding, Cents::new(1_000_000));
}

/// A batch whose second event is invalid is refused whole: not even the first is written.
pub async fn a_batch_with_an_invalid_second_event_writes_nothing(store: SharedStore) {
    let id = unique_account("invalid-second");
    let now = at(10, 20, 12);
    let batch = [
        event(&id, "good", 1_000_000, now),
        event(&id, "bad", -5, now),
    ];
    let refused = record_usage_batch(store.as_ref(), &batch, now).await;
    assert!(
        matches!(&refused, Err(UseCaseError::Invalid(e)) if e.reason.contains("usage event 1")),
        "{refused:?}"
    );
    assert_eq!(store.balance(&id).await.unwrap().amount, Micros::ZERO);
    assert_eq!(store.account(&id).await.unwrap(), None);
}

/// An id reused with another amount, time or account is refused and changes nothing; the
/// same content again is a duplicate.
pub async fn a_reused_event_id_with_other_content_is_refused_and_counts_once(store: SharedStore) {
    let id = unique_account("reuse");
    let other = unique_account("reuse-other");
    let now = at(10, 20, 12);
    let first = event(&id, "e", 1_000_000, now);
    record_usage(store.as_ref(), &first, now).await.unwrap();

    let mut more = first.clone();
    more.amount_micros = 2_000_000;
    let mut later = first.clone();
    later.occurred_at = now - chrono::Duration::hours(1);
    let mut elsewhere = first.clone();
    elsewhere.account_id = other.clone();
    for reuse in [&more, &later, &elsewhere] {
        let refused = record_usage(store.as_ref(), reuse, now).await;
        assert!(
            matches!(&refused, Err(UseCaseError::UsageEventConflict(e)) if *e == first.id),
            "{refused:?}"
        );
    }
    let mut renamed = first.clone();
    renamed.description = "another description".into();
    assert_eq!(
        record_usage(store.as_ref(), &renamed, now).await.unwrap(),
        UsageRecorded::Duplicate
    );
    assert_eq!(
        store.balance(&id).await.unwrap().amount,
        Micros::new(-1_000_000)
    );
    assert_eq!(store.balance(&other).await.unwrap().amount, Micros::ZERO);
    for account in [&id, &other] {
        let refusal = store.refused_usage(account, &first.id).await.unwrap();
        let reason = refusal.map(|r| r.value.reason);
        assert_eq!(reason.as_deref(), Some("usage_event_conflict"), "{account}");
    }
}

/// Duplicates inside a batch (stored before, or twice in the batch) neither lose nor double
/// the other events, across several atomic writes of one account.
pub async fn a_batch_with_duplicates_counts_every_other_event_once(store: SharedStore) {
    let id = unique_account("batch");
    let now = at(10, 20, 12);
    let events: Vec<UsageEvent> = (0..150)
        .map(|n| event(&id, &format!("{n}"), 1_000 + n, now))
        .collect();
    let stored_before = [&events[3], &events[120]];
    for stored in stored_before {
        record_usage(store.as_ref(), stored, now).await.unwrap();
    }
    let mut batch = events.clone();
    batch.push(events[7].clone());
    let mut conflicting = events[8].clone();
    conflicting.amount_micros += 1;
    batch.push(conflicting);

    let outcomes = record_usage_batch(store.as_ref(), &batch, now)
        .await
        .unwrap();
    let counted = |want| outcomes.iter().filter(|o| **o == want).count();
    assert_eq!(counted(UsageOutcome::Counted(UsageRecorded::Recorded)), 148);
    assert_eq!(counted(UsageOutcome::Counted(UsageRecorded::Duplicate)), 3);
    assert_eq!(
        outcomes[151],
        UsageOutcome::Refused(UsageRefusal::EventConflict)
    );
    let total: i64 = events.iter().map(|e| e.amount_micros).sum();
    let state = store.balance(&id).await.unwrap();
    assert_eq!(state.amount, Micros::new(-total));
    assert_eq!(state.usage.get(&october()), Some(&Micros::new(total)));
}

/// Usage for a deleted account is refused per event, moves nothing, and the refusal is
/// recorded with its reason (an event delivered twice in the batch is one refusal). While the
/// record cannot be written the event is not refused but failed, so its sender tries again.
pub async fn usage_for_a_deleted_account_is_refused(store: SharedStore) {
    let id = unique_account("deleted");
    let now = at(10, 20, 12);
    let mut account = Account::new(id.clone(), None, now);
    account.status = AccountStatus::Deleted;
    store
        .commit(Transaction::new().with(Write::Put {
            record: Record::Account(account),
            expect: Expect::Absent,
        }))
        .await
        .unwrap();
    let usage = event(&id, "e", 5, at(10, 20, 11));

    let unrecorded = RefusalsUnwritable(store.clone());
    let outcomes = record_usage_batch(&unrecorded, std::slice::from_ref(&usage), now)
        .await
        .unwrap();
    assert!(
        matches!(&outcomes[..], [UsageOutcome::Failed(e)] if e.is_retryable()),
        "{outcomes:?}"
    );
    assert_eq!(store.refused_usage(&id, &usage.id).await.unwrap(), None);

    let outcomes = record_usage_batch(store.as_ref(), &[usage.clone(), usage.clone()], now)
        .await
        .unwrap();
    let refused = UsageOutcome::Refused(UsageRefusal::AccountDeleted);
    assert_eq!(outcomes, [refused.clone(), refused]);
    assert_eq!(store.balance(&id).await.unwrap().amount, Micros::ZERO);
    let recorded = store.refused_usage(&id, &usage.id).await.unwrap();
    let recorded = recorded.expect("the refusal is recorded").value;
    assert_eq!(
        recorded,
        RefusedUsage {
            account: id.clone(),
            event: usage.id.clone(),
            amount: Micros::new(5),
            occurred_at: usage.occurred_at,
            reason: "account_deleted".into(),
            refused_at: now,
        }
    );
}

/// The store, except that writing a refused-usage record fails as an unreachable store does.
struct RefusalsUnwritable(SharedStore);

#[async_trait::async_trait]
impl Store for RefusalsUnwritable {
    async fn get(&self, key: &RecordKey) -> Result<Option<Versioned<Record>>, StoreError> {
        self.0.get(key).await
    }
    async fn list(&self, query: &ListQuery, limit: usize) -> Result<Page<Record>, StoreError> {
        self.0.list(query, limit).await
    }
    async fn balance(&self, account: &AccountId) -> Result<BalanceState, StoreError> {
        self.0.balance(account).await
    }
    async fn commit(&self, transaction: Transaction) -> Result<(), StoreError> {
        let refusal = |w: &Write| {
            matches!(
                w,
                Write::Put {
                    record: Record::RefusedUsage(_),
                    ..
                }
            )
        };
        if transaction.writes().iter().any(refusal) {
            return Err(StoreError::Unavailable("refusals unwritable".into()));
        }
        self.0.commit(transaction).await
    }
}

/// Usage that occurred after October ended, recorded just before October's close, is not
/// invoiced with October.
pub async fn usage_after_the_period_end_arriving_before_the_close_is_not_invoiced_with_it(
    store: SharedStore,
) {
    let id = unique_account("after-end");
    let in_october = event(&id, "oct", 10_000_000, at(10, 20, 12));
    record_usage(store.as_ref(), &in_october, at(10, 20, 12))
        .await
        .unwrap();
    let just_before_close = at(11, 3, 2);
    let in_november = event(&id, "nov", 7_000_000, at(11, 3, 1));
    record_usage(store.as_ref(), &in_november, just_before_close)
        .await
        .unwrap();
    assert!(is_due(&store, &id, october()).await);

    let closed = close_account_period(store.as_ref(), &id, october(), october().charge_at())
        .await
        .unwrap();
    let ClosedPeriod::Closed { close, invoice } = closed else {
        panic!("October was not closed before: {closed:?}");
    };
    assert_eq!(close.invoice, Cents::new(1_000));
    let invoice = store
        .invoice(&id, &invoice.expect("an invoice"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(invoice.value.amount_due, Cents::new(1_000));
}

/// Usage that occurred in October and arrives after October's close is billed in November's
/// invoice, never lost and never on October's again.
pub async fn late_usage_for_a_closed_month_lands_in_the_next_invoice(store: SharedStore) {
    let id = unique_account("late");
    record_usage(
        store.as_ref(),
        &event(&id, "oct", 10_000_000, at(10, 20, 12)),
        at(10, 20, 12),
    )
    .await
    .unwrap();
    close_account_period(store.as_ref(), &id, october(), october().charge_at())
        .await
        .unwrap();

    let late = event(&id, "late", 3_000_000, at(10, 30, 12));
    record_usage(store.as_ref(), &late, at(11, 5, 9))
        .await
        .unwrap();
    let november_usage = event(&id, "nov", 2_000_000, at(11, 10, 12));
    record_usage(store.as_ref(), &november_usage, at(11, 10, 12))
        .await
        .unwrap();
    assert!(is_due(&store, &id, october().next()).await);

    let again = close_account_period(store.as_ref(), &id, october(), at(11, 5, 10)).await;
    assert_eq!(
        again.unwrap(),
        ClosedPeriod::AlreadyInvoiced(invoice_id(october()))
    );
    let november = october().next();
    let ClosedPeriod::Closed { close, invoice } =
        close_account_period(store.as_ref(), &id, november, november.charge_at())
            .await
            .unwrap()
    else {
        panic!("November was not closed before");
    };
    assert_eq!(close.invoice, Cents::new(500));
    assert_eq!(invoice, Some(invoice_id(november)));
    let october_invoice = store.invoice(&id, &invoice_id(october())).await.unwrap();
    assert_eq!(october_invoice.unwrap().value.amount_due, Cents::new(1_000));
}

/// An amount under the minimum charge carries over, and the close marks the account due for
/// the next month so that close visits it even without new usage.
pub async fn an_amount_under_the_minimum_marks_the_account_due_next_month(store: SharedStore) {
    let id = unique_account("carry");
    record_usage(
        store.as_ref(),
        &event(&id, "small", 300_000, at(10, 20, 12)),
        at(10, 20, 12),
    )
    .await
    .unwrap();
    let closed = close_account_period(store.as_ref(), &id, october(), october().charge_at())
        .await
        .unwrap();
    let ClosedPeriod::Closed { close, invoice } = closed else {
        panic!("{closed:?}");
    };
    assert_eq!((close.invoice, invoice), (Cents::ZERO, None));
    assert_eq!(close.carried, Micros::new(300_000));
    assert!(is_due(&store, &id, october().next()).await);
}
