//! The store port: versioned records with conditional, atomic multi-item writes.
//!
//! Every idempotency guarantee in this system rests on two things this port promises:
//! a write can be made conditional on the record's version (or its absence), and a
//! [`Transaction`] applies all of its writes or none. Adapters implement the four methods of
//! [`Store`]; the typed role facades ([`AccountStore`], [`LedgerStore`], …) are built on them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::domain::account::Account;
use crate::domain::idempotency::IdempotencyRecord;
use crate::domain::ids::{AccountId, IdempotencyKey, InvoiceId, PurchaseId};
use crate::domain::invoice::Invoice;
use crate::domain::money::Micros;
use crate::domain::purchase::{Purchase, PurchaseSlot};
use crate::rules::ledger::LedgerEntry;

/// Most items one transaction may touch (DynamoDB's TransactWriteItems limit). An `Append`
/// touches two: the entry and the running balance.
pub const MAX_TRANSACTION_ITEMS: usize = 100;

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
}

impl RecordKey {
    /// The account the key belongs to.
    pub fn account(&self) -> &AccountId {
        match self {
            Self::Account(a)
            | Self::Purchase(a, _)
            | Self::PurchaseSlot(a)
            | Self::Invoice(a, _)
            | Self::Idempotency(a, _) => a,
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
    /// Append a ledger entry and move the account's balance by its amount. Fails when an
    /// entry with the same id exists, which is what makes each cause count once.
    Append {
        /// The account.
        account: AccountId,
        /// The entry.
        entry: LedgerEntry,
    },
}

impl Write {
    /// The keys the write touches, for the one-write-per-item rule.
    fn touches(&self) -> Vec<String> {
        match self {
            Self::Put { record, .. } => vec![format!("{:?}", record.key())],
            Self::Delete { key, .. } | Self::Check { key, .. } => vec![format!("{key:?}")],
            Self::Append { account, entry } => {
                vec![
                    format!("balance:{account}"),
                    format!("entry:{account}:{}", entry.id.as_str()),
                ]
            }
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
        let touched: Vec<String> = self.writes.iter().flat_map(Write::touches).collect();
        if self.writes.is_empty() || touched.len() > MAX_TRANSACTION_ITEMS {
            return Err(StoreError::Invalid(format!(
                "a transaction touches 1 to {MAX_TRANSACTION_ITEMS} items, not {}",
                touched.len()
            )));
        }
        let mut seen = std::collections::HashSet::new();
        for touched in touched {
            if !seen.insert(touched.clone()) {
                return Err(StoreError::Invalid(format!(
                    "{touched} is written twice in one transaction"
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
    /// The condition of write `index` did not hold (or an `Append`'s entry exists); nothing
    /// was written.
    #[error("condition failed on write {index}")]
    Conflict {
        /// Index into [`Transaction::writes`].
        index: usize,
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
}

/// The store port.
#[async_trait]
pub trait Store: Send + Sync {
    /// The record at a key.
    async fn get(&self, key: &RecordKey) -> Result<Option<Versioned<Record>>, StoreError>;

    /// One page of a listing, at most `limit` items (1–100).
    async fn list(&self, query: &ListQuery, limit: usize) -> Result<Page<Record>, StoreError>;

    /// The account's balance: the sum of its ledger entries (zero when it has none).
    async fn balance(&self, account: &AccountId) -> Result<Micros, StoreError>;

    /// The account's ledger entries effective at or after `since`, oldest first.
    async fn entries_since(
        &self,
        account: &AccountId,
        since: DateTime<Utc>,
    ) -> Result<Vec<LedgerEntry>, StoreError>;

    /// Applies every write or none.
    async fn commit(&self, transaction: Transaction) -> Result<(), StoreError>;
}

fn unexpected(key: &RecordKey, got: &Record) -> StoreError {
    StoreError::Corrupt(format!("{key:?} holds a {:?}", std::mem::discriminant(got)))
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
}

/// Purchases, typed.
pub trait PurchaseStore: Store {
    typed_get!(purchase, Purchase, Purchase, (account: &AccountId, id: &PurchaseId),
        RecordKey::Purchase(account.clone(), id.clone()));
    typed_get!(purchase_slot, PurchaseSlot, PurchaseSlot, (account: &AccountId),
        RecordKey::PurchaseSlot(account.clone()));
}

/// Invoices, typed.
pub trait InvoiceStore: Store {
    typed_get!(invoice, Invoice, Invoice, (account: &AccountId, id: &InvoiceId),
        RecordKey::Invoice(account.clone(), id.clone()));

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
            let page = self.list(&query, limit).await?;
            let items = page
                .items
                .into_iter()
                .map(|record| match record {
                    Record::Invoice(invoice) => Ok(invoice),
                    other => Err(unexpected(&other.key(), &other)),
                })
                .collect::<Result<_, _>>()?;
            Ok(Page {
                items,
                has_more: page.has_more,
            })
        }
    }
}

/// Idempotency records, typed.
pub trait IdempotencyStore: Store {
    typed_get!(idempotency, Idempotency, IdempotencyRecord, (account: &AccountId, key: &IdempotencyKey),
        RecordKey::Idempotency(account.clone(), key.clone()));
}

/// The ledger, typed: [`Store::balance`], [`Store::entries_since`] and `Append` writes.
pub trait LedgerStore: Store {}

impl<S: Store + ?Sized> AccountStore for S {}
impl<S: Store + ?Sized> PurchaseStore for S {}
impl<S: Store + ?Sized> InvoiceStore for S {}
impl<S: Store + ?Sized> IdempotencyStore for S {}
impl<S: Store + ?Sized> LedgerStore for S {}

impl StoreError {
    /// Whether the same call may succeed if made again later (a queue worker tells its runtime
    /// to redeliver): only an outage. A condition that did not hold is an answer, not a fault
    /// (the entry exists, or someone else won; a use case that should try again with fresh
    /// reads does so itself), and a bad request or corrupt data stays so.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Unavailable(_) => true,
            Self::Conflict { .. } | Self::Invalid(_) | Self::Corrupt(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::UsageEventId;

    fn append(account: &str, event: &str) -> Write {
        let entry = LedgerEntry::usage(
            &UsageEventId::parse(event).unwrap(),
            Micros::new(1),
            DateTime::<Utc>::UNIX_EPOCH,
            "",
        )
        .unwrap();
        Write::Append {
            account: AccountId::parse(account).unwrap(),
            entry,
        }
    }

    #[test]
    fn an_append_counts_as_two_items_towards_the_limit() {
        let fifty: Transaction = (0..50).fold(Transaction::new(), |t, n| {
            t.with(append(&format!("a{n}"), "e"))
        });
        assert_eq!(fifty.validate(), Ok(()));
        let too_many = fifty.with(append("a50", "e"));
        assert!(matches!(too_many.validate(), Err(StoreError::Invalid(_))));
    }

    #[test]
    fn an_empty_transaction_is_refused() {
        assert!(matches!(
            Transaction::new().validate(),
            Err(StoreError::Invalid(_))
        ));
    }
}
