//! The store port: versioned records with conditional, atomic multi-item writes.
//!
//! Every idempotency guarantee in this system rests on two things this port promises:
//! a write can be made conditional on the record's version (or its absence), and a
//! [`Transaction`] applies all of its writes or none. Adapters implement the four methods of
//! [`Store`]; the typed role facades ([`AccountStore`], [`LedgerStore`], …) are built on them.
//!
//! Money is read only from items read with strong consistency: the balance item
//! ([`Store::balance`]) and records by key. Listings ([`ListQuery`]) may come from an index
//! and lag: they find accounts, they never give amounts.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::domain::account::Account;
use crate::domain::idempotency::IdempotencyRecord;
use crate::domain::ids::{AccountId, IdempotencyKey, InvoiceId, PurchaseId};
use crate::domain::invoice::Invoice;
use crate::domain::purchase::{Purchase, PurchaseSlot};
// Refused usage (RefusedUsage) names the event and its amount.
use crate::domain::{ids::UsageEventId, money::Micros};
use crate::rules::ledger::{BalanceState, EntryKind, LedgerEntry, due_shard};
use crate::rules::period::BillingPeriod;

/// Most items one transaction may touch (DynamoDB's TransactWriteItems limit). An `Append`
/// touches one per entry plus the account's balance item.
pub const MAX_TRANSACTION_ITEMS: usize = 100;

/// Marks an account as one the monthly charge of `period` must visit. Written with the usage
/// that makes it due (and by a close that carries an amount over), found by
/// [`ListQuery::Due`] without reading any account that has nothing to pay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DueMark {
    /// The account.
    pub account: AccountId,
    /// The period whose charge must visit it.
    pub period: BillingPeriod,
}

/// A card-network event (a Stripe webhook) that was handled for an account, kept so that the
/// same event delivered again is recognised and acknowledged without acting twice. Stripe
/// retries a delivery for three days; the record is kept for [`HandledEvent::RETENTION`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandledEvent {
    /// The account the event was about.
    pub account: AccountId,
    /// Stripe's `evt_…`.
    pub id: String,
    /// When it was handled.
    pub handled_at: DateTime<Utc>,
    /// When the record may be forgotten (DynamoDB TTL).
    pub expires_at: DateTime<Utc>,
}

impl HandledEvent {
    /// How long a handled event is remembered: beyond Stripe's three days of retries.
    pub const RETENTION: chrono::Duration = chrono::Duration::days(7);

    /// An event handled at `now`.
    pub fn new(account: AccountId, id: impl Into<String>, now: DateTime<Utc>) -> Self {
        Self {
            account,
            id: id.into(),
            handled_at: now,
            expires_at: now + Self::RETENTION,
        }
    }
}

/// A usage event the ledger did not count, kept so that no refusal is silent: an operator (or
/// the metering team) reads what was refused, for which account, and why. Written by the usage
/// use case with the refusal; the same event refused again writes the same record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusedUsage {
    /// The account the event was reported for.
    pub account: AccountId,
    /// The event.
    pub event: UsageEventId,
    /// Its cost as reported, in micro-USD.
    pub amount: Micros,
    /// When it said it occurred.
    pub occurred_at: DateTime<Utc>,
    /// Why, as a stable code (`account_deleted`, `usage_event_conflict`, `ledger_limit`).
    /// Text rather than an enum so that a record written by a newer version with a new code
    /// still reads.
    pub reason: String,
    /// When it was refused.
    pub refused_at: DateTime<Utc>,
}

/// An entry that already existed when an `Append` tried to add it, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingEntry {
    /// The account it was recorded for.
    pub account: AccountId,
    /// The entry as stored.
    pub entry: LedgerEntry,
}

/// The key under which an entry is unique. Usage entries are unique across all accounts (an
/// event id names one event, whoever it was reported for), every other entry within its
/// account.
pub fn entry_scope(account: &AccountId, entry: &LedgerEntry) -> String {
    match entry.kind {
        EntryKind::Usage => format!("entry:{}", entry.id.as_str()),
        EntryKind::CreditPurchase | EntryKind::Invoiced | EntryKind::Adjustment => {
            format!("entry:{account}:{}", entry.id.as_str())
        }
    }
}

/// A stored record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    /// An account.
    Account(Account),
    /// A credit purchase.
    Purchase(Purchase),
    /// An account's latest-purchase pointer.
    PurchaseSlot(PurchaseSlot),
    /// An invoice.
    Invoice(Invoice),
    /// A claimed idempotency key.
    Idempotency(IdempotencyRecord),
    /// An account the monthly charge of a period must visit.
    Due(DueMark),
    /// A card-network event handled for the account.
    Event(HandledEvent),
    /// A usage event that was refused, with the reason.
    RefusedUsage(RefusedUsage),
}

/// Where a record lives. Every key belongs to exactly one account.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordKey {
    /// An account.
    Account(AccountId),
    /// A purchase.
    Purchase(AccountId, PurchaseId),
    /// The latest-purchase pointer.
    PurchaseSlot(AccountId),
    /// An invoice.
    Invoice(AccountId, InvoiceId),
    /// An idempotency record.
    Idempotency(AccountId, IdempotencyKey),
    /// A due mark.
    Due(AccountId, BillingPeriod),
    /// A handled card-network event (`evt_…`).
    Event(AccountId, String),
    /// A refused usage event.
    RefusedUsage(AccountId, UsageEventId),
}

impl RecordKey {
    /// The account the key belongs to.
    pub fn account(&self) -> &AccountId {
        match self {
            Self::Account(a)
            | Self::Purchase(a, _)
            | Self::PurchaseSlot(a)
            | Self::Invoice(a, _)
            | Self::Idempotency(a, _)
            | Self::Due(a, _)
            | Self::Event(a, _)
            | Self::RefusedUsage(a, _) => a,
        }
    }
}

impl Record {
    /// The key this record is stored under.
    pub fn key(&self) -> RecordKey {
        match self {
            Self::Account(a) => RecordKey::Account(a.id.clone()),
            Self::Purchase(p) => RecordKey::Purchase(p.account.clone(), p.id.clone()),
            Self::PurchaseSlot(s) => RecordKey::PurchaseSlot(s.account.clone()),
            Self::Invoice(i) => RecordKey::Invoice(i.account.clone(), i.id.clone()),
            Self::Idempotency(r) => RecordKey::Idempotency(r.account.clone(), r.key.clone()),
            Self::Due(d) => RecordKey::Due(d.account.clone(), d.period),
            Self::Event(e) => RecordKey::Event(e.account.clone(), e.id.clone()),
            Self::RefusedUsage(r) => RecordKey::RefusedUsage(r.account.clone(), r.event.clone()),
        }
    }
}

/// A record with the version the store holds it at. Versions start at 1 and go up by one
/// with every write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned<T> {
    /// The record.
    pub value: T,
    /// Its version.
    pub version: u64,
}

/// The condition a write needs to hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Expect {
    /// There is no record at the key.
    Absent,
    /// The record is at exactly this version.
    Version(u64),
    /// No condition.
    Any,
}

/// One write of a transaction.
// A write is built, moved into its transaction and consumed once: boxing the record would
// cost an allocation per write and buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// Create or replace a record, if the condition holds.
    Put {
        /// The record.
        record: Record,
        /// Condition on the record at its key.
        expect: Expect,
    },
    /// Remove a record, if the condition holds.
    Delete {
        /// Where.
        key: RecordKey,
        /// Condition on the record there.
        expect: Expect,
    },
    /// Only check a condition (no write).
    Check {
        /// Where.
        key: RecordKey,
        /// The condition.
        expect: Expect,
    },
    /// Append ledger entries to one account and move its balance item once: the balance by
    /// their sum, the version by one, each period's usage total by its usage. Fails with
    /// [`StoreError::EntriesExist`] when any entry exists (naming every one that does), which is
    /// what makes each cause count once; fails with [`StoreError::Conflict`] when `balance`
    /// does not hold for the balance item's version (`Absent`: no entry yet) or the balance or a
    /// total would leave ±[`LEDGER_LIMIT`](crate::rules::ledger::LEDGER_LIMIT).
    Append {
        /// The account.
        account: AccountId,
        /// The entries (at least one; ids distinct).
        entries: Vec<LedgerEntry>,
        /// Condition on the balance item's version.
        balance: Expect,
    },
}

/// One item a write touches, for the one-write-per-item rule: compared as values, so checking
/// a transaction (done on every commit) formats nothing.
#[derive(Debug, PartialEq, Eq, Hash)]
enum Touched<'a> {
    /// A record.
    Record(RecordKey),
    /// An account's balance item.
    Balance(&'a AccountId),
    /// A ledger entry, in the scope it is unique in (see [`entry_scope`]): usage across all
    /// accounts, every other kind within its account.
    Entry(Option<&'a AccountId>, &'a crate::rules::ledger::EntryId),
}

impl Write {
    /// The items the write touches.
    fn touches(&self) -> Vec<Touched<'_>> {
        match self {
            Self::Put { record, .. } => vec![Touched::Record(record.key())],
            Self::Delete { key, .. } | Self::Check { key, .. } => {
                vec![Touched::Record(key.clone())]
            }
            Self::Append {
                account, entries, ..
            } => std::iter::once(Touched::Balance(account))
                .chain(entries.iter().map(|entry| {
                    let scope = (entry.kind != EntryKind::Usage).then_some(account);
                    Touched::Entry(scope, &entry.id)
                }))
                .collect(),
        }
    }
}

/// Writes applied all together or not at all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transaction {
    writes: Vec<Write>,
}

impl Transaction {
    /// An empty transaction.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a write (builder style).
    #[must_use]
    pub fn with(mut self, write: Write) -> Self {
        self.writes.push(write);
        self
    }

    /// Adds a write.
    pub fn push(&mut self, write: Write) {
        self.writes.push(write);
    }

    /// The writes, in order: a [`StoreError::Conflict`] names one by its index.
    pub fn writes(&self) -> &[Write] {
        &self.writes
    }

    /// Checks the shape every adapter can honour: at least one write, at most
    /// [`MAX_TRANSACTION_ITEMS`] items touched, and no item touched twice (so at most one
    /// `Append` per account).
    pub fn validate(&self) -> Result<(), StoreError> {
        let touched: Vec<Touched<'_>> = self.writes.iter().flat_map(Write::touches).collect();
        let empty_append = self
            .writes
            .iter()
            .any(|w| matches!(w, Write::Append { entries, .. } if entries.is_empty()));
        if empty_append {
            return Err(StoreError::Invalid("an append needs an entry".into()));
        }
        if self.writes.is_empty() || touched.len() > MAX_TRANSACTION_ITEMS {
            return Err(StoreError::Invalid(format!(
                "a transaction touches 1 to {MAX_TRANSACTION_ITEMS} items, not {}",
                touched.len()
            )));
        }
        let mut seen = std::collections::HashSet::with_capacity(touched.len());
        for touched in touched {
            if let Some(twice) = seen.replace(touched) {
                return Err(StoreError::Invalid(format!(
                    "{twice:?} is written twice in one transaction"
                )));
            }
        }
        Ok(())
    }
}

/// What a read can list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListQuery {
    /// Accounts in id order, after `after`.
    Accounts {
        /// Exclusive cursor.
        after: Option<AccountId>,
    },
    /// An account's invoices, newest (highest id) first, after `starting_after`.
    Invoices {
        /// The account.
        account: AccountId,
        /// Exclusive cursor.
        starting_after: Option<InvoiceId>,
    },
    /// One shard of the accounts the monthly charge of `period` must visit (their
    /// [`DueMark`]s), in account id order, after `after`. Listed from an index: it finds
    /// accounts, and each visit reads the account's balance item itself.
    Due {
        /// The period.
        period: BillingPeriod,
        /// The shard, below [`DUE_SHARDS`](crate::rules::ledger::DUE_SHARDS); an account's
        /// is [`due_shard`](crate::rules::ledger::due_shard).
        shard: u16,
        /// Exclusive cursor.
        after: Option<AccountId>,
    },
    /// The purchase slots the sweep must visit ([`PurchaseSlot::needs_sweep`]: the latest
    /// purchase is unsettled or its receipt is still owed) whose purchase started before
    /// `started_before`, oldest first (by start, then account), after the cursor. Listed from
    /// a sparse index that holds only such slots: the sweep finds stuck purchases without
    /// reading any account that has none, and reads each purchase itself.
    Unsettled {
        /// Only purchases started before this instant.
        started_before: DateTime<Utc>,
        /// Exclusive cursor: the (start, account) of the last slot of the previous page.
        after: Option<(DateTime<Utc>, AccountId)>,
    },
    /// The invoices the collection sweep must visit ([`Invoice::visit_at`] is set) whose visit
    /// is due at or before `due_at`, earliest visit first (then account, then invoice id),
    /// after the cursor. Listed from a sparse index that holds only such invoices: the sweep
    /// finds retries and stalled attempts without reading any account that has none, and reads
    /// each invoice itself.
    Collect {
        /// Only invoices whose visit is due at or before this instant.
        due_at: DateTime<Utc>,
        /// Exclusive cursor: the (visit, account, invoice) of the last item of the previous
        /// page.
        after: Option<(DateTime<Utc>, AccountId, InvoiceId)>,
    },
    /// Every record of one account, of every kind (not its balance item or ledger entries),
    /// after the record whose key is `after`, in an order of the store's choosing that is the
    /// same on every page. Read by key, with strong consistency, never from an index: account
    /// deletion pages through it to erase what the account left. A record written or deleted
    /// while paging may or may not be listed; every other record is listed exactly once.
    AccountRecords {
        /// The account.
        account: AccountId,
        /// Exclusive cursor: the key of the last record of the previous page.
        after: Option<RecordKey>,
    },
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Whether more follow.
    pub has_more: bool,
}

/// Store failures. Conditions that did not hold are not faults: they are how callers learn
/// that someone else got there first.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StoreError {
    /// The condition of write `index` did not hold; nothing was written.
    #[error("condition failed on write {index}")]
    Conflict {
        /// Index into [`Transaction::writes`].
        index: usize,
    },
    /// Entries of the `Append` at `index` already exist (all of them are named, as stored);
    /// nothing was written.
    #[error("{} entries of write {index} exist", existing.len())]
    EntriesExist {
        /// Index into [`Transaction::writes`].
        index: usize,
        /// Every entry of the write that exists.
        existing: Vec<ExistingEntry>,
    },
    /// The request cannot be honoured as made (a bug in the caller).
    #[error("invalid store request: {0}")]
    Invalid(String),
    /// The store could not be reached or gave up; the same call may succeed later.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Stored data did not decode.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The store is not set up for this caller (access denied, missing table): an operator
    /// must act, and sending the same call again cannot help.
    #[error("store misconfigured: {0}")]
    Misconfigured(String),
}

impl StoreError {
    /// Whether the same call may succeed later without anyone changing anything.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Unavailable(_) => true,
            Self::Conflict { .. }
            | Self::EntriesExist { .. }
            | Self::Invalid(_)
            | Self::Corrupt(_)
            | Self::Misconfigured(_) => false,
        }
    }
}

/// The store port.
#[async_trait]
pub trait Store: Send + Sync {
    /// The record at a key.
    async fn get(&self, key: &RecordKey) -> Result<Option<Versioned<Record>>, StoreError>;

    /// One page of a listing, at most `limit` items (1–100).
    async fn list(&self, query: &ListQuery, limit: usize) -> Result<Page<Record>, StoreError>;

    /// The account's balance item, read with strong consistency: balance, version and usage
    /// totals by period, together (the default state when the account has no entry).
    async fn balance(&self, account: &AccountId) -> Result<BalanceState, StoreError>;

    /// Applies every write or none.
    async fn commit(&self, transaction: Transaction) -> Result<(), StoreError>;

    /// Records of one account and its balance item, read together with strong consistency, in
    /// one round trip where the store can: the monthly charge reads the account, the period's
    /// invoice and the balance of every account it visits. Records come in the order of
    /// `keys`, which must all belong to `account` (at most 99 of them). The default reads them
    /// in turn.
    async fn get_with_balance(
        &self,
        account: &AccountId,
        keys: &[RecordKey],
    ) -> Result<(Vec<Option<Versioned<Record>>>, BalanceState), StoreError> {
        check_own_keys(account, keys)?;
        let mut records = Vec::with_capacity(keys.len());
        for key in keys {
            records.push(self.get(key).await?);
        }
        Ok((records, self.balance(account).await?))
    }
}

/// Most records [`Store::get_with_balance`] reads besides the balance (DynamoDB's
/// BatchGetItem takes 100 keys).
pub const MAX_BATCH_KEYS: usize = 99;

/// Refuses keys of another account, and more than [`MAX_BATCH_KEYS`] of them.
pub fn check_own_keys(account: &AccountId, keys: &[RecordKey]) -> Result<(), StoreError> {
    if keys.len() > MAX_BATCH_KEYS {
        return Err(StoreError::Invalid(format!(
            "at most {MAX_BATCH_KEYS} keys are read together, not {}",
            keys.len()
        )));
    }
    match keys.iter().find(|key| key.account() != account) {
        Some(key) => Err(StoreError::Invalid(format!(
            "{key:?} is not a record of {account}"
        ))),
        None => Ok(()),
    }
}

fn unexpected(key: &RecordKey, got: &Record) -> StoreError {
    StoreError::Corrupt(format!("{key:?} holds a {:?}", std::mem::discriminant(got)))
}

/// A page of records as a page of `T`, each record picked by `pick` (which refuses, as
/// corrupt data, a record the listing must not have returned).
fn typed_page<T>(
    page: Page<Record>,
    pick: impl Fn(Record) -> Result<T, StoreError>,
) -> Result<Page<T>, StoreError> {
    let items = page.items.into_iter().map(pick).collect::<Result<_, _>>()?;
    Ok(Page {
        items,
        has_more: page.has_more,
    })
}

macro_rules! typed_get {
    ($fn:ident, $variant:ident, $ty:ty, ($($arg:ident: $argty:ty),*), $key:expr) => {
        /// The record, typed.
        fn $fn(&self, $($arg: $argty),*) -> impl Future<Output = Result<Option<Versioned<$ty>>, StoreError>> + Send {
            let key = $key;
            async move {
                match self.get(&key).await? {
                    None => Ok(None),
                    Some(Versioned { value: Record::$variant(v), version }) => Ok(Some(Versioned { value: v, version })),
                    Some(other) => Err(unexpected(&key, &other.value)),
                }
            }
        }
    };
}

/// Accounts, typed.
pub trait AccountStore: Store {
    typed_get!(account, Account, Account, (id: &AccountId), RecordKey::Account(id.clone()));

    /// One page of every record the account has (see [`ListQuery::AccountRecords`]).
    fn account_records(
        &self,
        account: &AccountId,
        after: Option<RecordKey>,
        limit: usize,
    ) -> impl Future<Output = Result<Page<Record>, StoreError>> + Send {
        let query = ListQuery::AccountRecords {
            account: account.clone(),
            after,
        };
        async move {
            typed_page(self.list(&query, limit).await?, |record| {
                match record.key().account() == account {
                    true => Ok(record),
                    false => Err(unexpected(&record.key(), &record)),
                }
            })
        }
    }
}

/// Purchases, typed.
pub trait PurchaseStore: Store {
    typed_get!(purchase, Purchase, Purchase, (account: &AccountId, id: &PurchaseId),
        RecordKey::Purchase(account.clone(), id.clone()));
    typed_get!(purchase_slot, PurchaseSlot, PurchaseSlot, (account: &AccountId),
        RecordKey::PurchaseSlot(account.clone()));

    /// One page of the slots whose purchase is unsettled and started before `started_before`,
    /// oldest first.
    fn unsettled_purchases(
        &self,
        started_before: DateTime<Utc>,
        after: Option<(DateTime<Utc>, AccountId)>,
        limit: usize,
    ) -> impl Future<Output = Result<Page<PurchaseSlot>, StoreError>> + Send {
        let query = ListQuery::Unsettled {
            started_before,
            after,
        };
        async move {
            typed_page(self.list(&query, limit).await?, |record| match record {
                Record::PurchaseSlot(slot)
                    if slot.needs_sweep() && slot.created_at < started_before =>
                {
                    Ok(slot)
                }
                other => Err(unexpected(&other.key(), &other)),
            })
        }
    }
}

/// Handled card-network events, typed.
pub trait EventStore: Store {
    typed_get!(handled_event, Event, HandledEvent, (account: &AccountId, id: &str),
        RecordKey::Event(account.clone(), id.to_owned()));
}

/// Invoices, typed.
pub trait InvoiceStore: Store {
    typed_get!(invoice, Invoice, Invoice, (account: &AccountId, id: &InvoiceId),
        RecordKey::Invoice(account.clone(), id.clone()));

    /// One page of the invoices whose collection visit is due at or before `due_at`, earliest
    /// first.
    fn invoices_to_visit(
        &self,
        due_at: DateTime<Utc>,
        after: Option<(DateTime<Utc>, AccountId, InvoiceId)>,
        limit: usize,
    ) -> impl Future<Output = Result<Page<Invoice>, StoreError>> + Send {
        let query = ListQuery::Collect { due_at, after };
        async move {
            typed_page(self.list(&query, limit).await?, |record| match record {
                Record::Invoice(invoice) if invoice.visit_at().is_some_and(|at| at <= due_at) => {
                    Ok(invoice)
                }
                other => Err(unexpected(&other.key(), &other)),
            })
        }
    }

    /// An account's invoices, newest first.
    fn invoices(
        &self,
        account: &AccountId,
        starting_after: Option<InvoiceId>,
        limit: usize,
    ) -> impl Future<Output = Result<Page<Invoice>, StoreError>> + Send {
        let query = ListQuery::Invoices {
            account: account.clone(),
            starting_after,
        };
        async move {
            typed_page(self.list(&query, limit).await?, |record| match record {
                Record::Invoice(invoice) => Ok(invoice),
                other => Err(unexpected(&other.key(), &other)),
            })
        }
    }
}

/// Idempotency records, typed.
pub trait IdempotencyStore: Store {
    typed_get!(idempotency, Idempotency, IdempotencyRecord, (account: &AccountId, key: &IdempotencyKey),
        RecordKey::Idempotency(account.clone(), key.clone()));
}

/// The ledger, typed: [`Store::balance`], `Append` writes, the due index and refused usage.
pub trait LedgerStore: Store {
    typed_get!(refused_usage, RefusedUsage, RefusedUsage, (account: &AccountId, event: &UsageEventId),
        RecordKey::RefusedUsage(account.clone(), event.clone()));

    /// One page of a shard of the accounts the charge of `period` must visit, in id order.
    fn due_accounts(
        &self,
        period: BillingPeriod,
        shard: u16,
        after: Option<AccountId>,
        limit: usize,
    ) -> impl Future<Output = Result<Page<AccountId>, StoreError>> + Send {
        let query = ListQuery::Due {
            period,
            shard,
            after,
        };
        async move {
            typed_page(self.list(&query, limit).await?, |record| match record {
                Record::Due(mark) if mark.period == period && due_shard(&mark.account) == shard => {
                    Ok(mark.account)
                }
                other => Err(unexpected(&other.key(), &other)),
            })
        }
    }
}

impl<S: Store + ?Sized> AccountStore for S {}
impl<S: Store + ?Sized> PurchaseStore for S {}
impl<S: Store + ?Sized> InvoiceStore for S {}
impl<S: Store + ?Sized> IdempotencyStore for S {}
impl<S: Store + ?Sized> LedgerStore for S {}
impl<S: Store + ?Sized> EventStore for S {}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;
    use crate::domain::ids::UsageEventId;
    use crate::domain::money::Micros;

    fn usage(event: &str) -> LedgerEntry {
        LedgerEntry::usage(
            &UsageEventId::parse(event).unwrap(),
            Micros::new(1),
            DateTime::<Utc>::UNIX_EPOCH,
            "",
        )
        .unwrap()
    }

    fn append(account: &str, events: &[&str]) -> Write {
        Write::Append {
            account: AccountId::parse(account).unwrap(),
            entries: events.iter().map(|e| usage(e)).collect(),
            balance: Expect::Any,
        }
    }

    #[test]
    fn an_append_counts_its_entries_and_one_balance_towards_the_limit() {
        let events: Vec<String> = (0..99).map(|n| format!("e{n}")).collect();
        let events: Vec<&str> = events.iter().map(String::as_str).collect();
        let full = Transaction::new().with(append("a", &events));
        assert_eq!(full.validate(), Ok(()));
        let too_many = full.with(append("b", &["e99"]));
        assert!(matches!(too_many.validate(), Err(StoreError::Invalid(_))));
    }

    #[test]
    fn a_usage_event_id_is_one_item_whichever_account_it_is_appended_to() {
        let twice = Transaction::new()
            .with(append("a", &["e1"]))
            .with(append("b", &["e1"]));
        assert!(matches!(twice.validate(), Err(StoreError::Invalid(_))));
        let same_batch = Transaction::new().with(append("a", &["e1", "e1"]));
        assert!(matches!(same_batch.validate(), Err(StoreError::Invalid(_))));
    }

    #[test]
    fn an_empty_transaction_or_append_is_refused() {
        assert!(matches!(
            Transaction::new().validate(),
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(
            Transaction::new().with(append("a", &[])).validate(),
            Err(StoreError::Invalid(_))
        ));
    }
}
