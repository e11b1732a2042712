//! The store contract of [`ListQuery::AccountRecords`]: every record of one account, each
//! once, across pages, even when each is deleted right after it is listed (as account
//! deletion does), and nothing else: no other account's record, no balance, no ledger entry.
//!
//! [`ListQuery::AccountRecords`]: billing_core::ports::store::ListQuery::AccountRecords

use billing_core::domain::account::Account;
use billing_core::domain::idempotency::IdempotencyRecord;
use billing_core::domain::money::{Cents, Micros};
use billing_core::domain::purchase::PurchaseSlot;
use billing_core::ports::store::{
    AccountStore, DueMark, Expect, HandledEvent, Page, Record, RecordKey, RefusedUsage, StoreError,
    Transaction, Write,
};
use billing_core::rules::ledger::LedgerEntry;
use billing_core::rules::period::BillingPeriod;
use billing_core::rules::purchase::PurchaseStatus;
use billing_core::{AccountId, EmailAddress, IdempotencyKey, PurchaseId, UsageEventId};

use super::{SharedStore, append, create_all, invoice, purchase, t0, usage};
use crate::unique_account;

/// Records of every kind for `account`, two of the kinds that may have many.
fn every_kind(account: &AccountId) -> Vec<Record> {
    let email = EmailAddress::parse("ada@example.com").unwrap();
    let (september, october) = (
        BillingPeriod::new(2026, 9).unwrap(),
        BillingPeriod::new(2026, 10).unwrap(),
    );
    let key = IdempotencyKey::parse("key-1").unwrap();
    let refused_event = UsageEventId::parse(&format!("{account}-refused")).unwrap();
    vec![
        Record::Account(Account::new(account.clone(), Some(email), t0())),
        Record::Purchase(purchase(account, "cp_1")),
        Record::Purchase(purchase(account, "cp_2")),
        Record::PurchaseSlot(PurchaseSlot {
            account: account.clone(),
            purchase: PurchaseId::parse("cp_2").unwrap(),
            status: PurchaseStatus::Processing,
            created_at: t0(),
            receipt_pending: false,
        }),
        Record::Invoice(invoice(account, september)),
        Record::Invoice(invoice(account, october)),
        Record::Idempotency(IdempotencyRecord::claim(
            account.clone(),
            key,
            "digest",
            None,
            t0(),
        )),
        Record::Due(DueMark {
            account: account.clone(),
            period: september,
        }),
        Record::Due(DueMark {
            account: account.clone(),
            period: october,
        }),
        Record::Event(HandledEvent::new(account.clone(), "evt_1", t0())),
        Record::RefusedUsage(RefusedUsage {
            account: account.clone(),
            event: refused_event,
            amount: Micros::new(1_000),
            occurred_at: t0(),
            reason: "account_deleted".into(),
            refused_at: t0(),
        }),
    ]
}

/// Ledger entries for `account`: usage (stored apart from the account's records by some
/// stores) and several credits (stored among them by others).
fn entries(account: &AccountId) -> Vec<LedgerEntry> {
    let mut entries = vec![usage(&format!("{account}-usage"), 2_000_000, t0())];
    for n in 0..5 {
        let purchase = PurchaseId::parse(&format!("cp_credit_{n}")).unwrap();
        entries.push(LedgerEntry::credit_purchase(&purchase, Cents::new(100), t0()).unwrap());
    }
    entries
}

/// Writes `account`'s records of every kind and its ledger entries; returns the records.
async fn account_with_everything(store: &SharedStore, account: &AccountId) -> Vec<Record> {
    let records = every_kind(account);
    store.commit(create_all(records.clone())).await.unwrap();
    store
        .commit(append(account, entries(account), Expect::Absent))
        .await
        .unwrap();
    records
}

/// More pages than any case's records fill: a listing still going past it repeats itself.
const MOST_PAGES: usize = 50;

/// Every page of the account's records, `limit` at a time, handing each page to `visit`
/// before asking for the next; checks that no page is over `limit`, that no empty page says
/// more follow, and that paging ends.
async fn pages(
    store: &SharedStore,
    account: &AccountId,
    limit: usize,
    mut visit: impl AsyncFnMut(&Page<Record>),
) -> Vec<Page<Record>> {
    let mut pages = Vec::new();
    let mut after = None;
    loop {
        let page = store.account_records(account, after, limit).await.unwrap();
        assert!(
            page.items.len() <= limit,
            "{} over {limit}",
            page.items.len()
        );
        assert!(
            !(page.items.is_empty() && page.has_more),
            "an empty page said more follow"
        );
        visit(&page).await;
        after = page.items.last().map(Record::key);
        let has_more = page.has_more;
        pages.push(page);
        if !has_more {
            return pages;
        }
        assert!(pages.len() < MOST_PAGES, "paging never ends");
    }
}

/// The records of all pages, sorted by key (the order is the store's to choose).
fn listed(pages: &[Page<Record>]) -> Vec<Record> {
    let mut records: Vec<Record> = pages.iter().flat_map(|p| p.items.clone()).collect();
    records.sort_by_key(Record::key);
    records
}

fn sorted(mut records: Vec<Record>) -> Vec<Record> {
    records.sort_by_key(Record::key);
    records
}

/// Paging through an account's records with any page size lists each of its records exactly
/// once, and nothing of another account (even one whose id starts with this one's), nor its
/// balance or ledger entries.
pub async fn account_records_list_every_record_of_the_account_once_and_nothing_else(
    store: SharedStore,
) {
    let id = unique_account("records");
    let longer = AccountId::parse(&format!("{id}-b")).unwrap();
    let written = account_with_everything(&store, &id).await;
    account_with_everything(&store, &longer).await;

    for limit in [1, 2, 100] {
        let pages = pages(&store, &id, limit, async |_| {}).await;

        assert_eq!(listed(&pages), sorted(written.clone()), "limit {limit}");
        let full_pages = written.len().div_ceil(limit);
        assert_eq!(pages.len(), full_pages, "limit {limit}: has_more is exact");
    }
}

/// Deleting each record right after it is listed (as account deletion erases while it pages)
/// does not make the listing skip or repeat a record.
pub async fn account_records_page_on_when_each_listed_record_is_deleted(store: SharedStore) {
    let id = unique_account("records-erased");
    let written = account_with_everything(&store, &id).await;

    let pages = pages(&store, &id, 2, async |page: &Page<Record>| {
        for record in &page.items {
            let delete = Transaction::new().with(Write::Delete {
                key: record.key(),
                expect: Expect::Version(1),
            });
            store.commit(delete).await.unwrap();
        }
    })
    .await;

    assert_eq!(listed(&pages), sorted(written.clone()));
    let after = store.account_records(&id, None, 100).await.unwrap();
    assert_eq!(after.items, [], "every record was deleted");
    assert!(!after.has_more);
}

/// An account with no record lists one empty page with nothing more, whether or not it has
/// ledger entries.
pub async fn an_account_without_records_lists_one_empty_page(store: SharedStore) {
    let never_seen = unique_account("records-none");
    let only_entries = unique_account("records-entries");
    store
        .commit(append(
            &only_entries,
            entries(&only_entries),
            Expect::Absent,
        ))
        .await
        .unwrap();

    for account in [&never_seen, &only_entries] {
        for limit in [1, 100] {
            let page = store.account_records(account, None, limit).await.unwrap();
            assert_eq!(page.items, [], "{account}, limit {limit}");
            assert!(!page.has_more, "{account}, limit {limit}");
        }
    }
}

/// A cursor naming another account's record is a bad request.
pub async fn an_account_records_cursor_of_another_account_is_refused(store: SharedStore) {
    let id = unique_account("records-cursor");
    let other = RecordKey::Account(unique_account("records-cursor-other"));

    let refused = store.account_records(&id, Some(other), 10).await;

    assert!(
        matches!(refused, Err(StoreError::Invalid(_))),
        "{refused:?}"
    );
}
