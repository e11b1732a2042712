//! The embedded durable store: one redb file in the data folder.
//!
//! Six tables: versioned records (JSON) under `kind#account[#id]` keys (due marks under
//! `due#period#shard#account`, so one shard of a period is one key range), ledger entries
//! under their uniqueness scope (`usage:<event>` for usage, `account#entry-id` otherwise),
//! one balance item per account (balance, version, usage totals by period); two sparse
//! indexes kept with the records they follow: unsettled purchase slots (see [`unsettled`]) and
//! invoices the collection sweep must visit (see [`collect`]), which share [`sparse_index`];
//! and each account's due marks (see [`due_by_account`]), so that every record of an account
//! is found by key ranges (see [`account_records`]). A [`Transaction`] is all or nothing: every
//! condition is checked before anything of it is written, and the first one that fails
//! refuses it with nothing written, the index included.
//!
//! Commits are grouped: one writer thread takes every transaction waiting and applies them in
//! one redb write transaction, so the group shares one fsync. Each is checked against the
//! state the ones before it left, so every caller gets the answer it would get alone in that
//! order; a commit answers only once its group is durable. (redb's ephemeral savepoints can
//! only be taken before a write transaction writes anything, so they cannot undo one member
//! of a group: checking first is what keeps a refused member from writing.)

mod account_records;
mod collect;
mod due_by_account;
mod sparse_index;
mod unsettled;

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use billing_core::AccountId;
use billing_core::ports::store::{
    ExistingEntry, Expect, ListQuery, Page, Record, RecordKey, Store, StoreError, Transaction,
    Versioned, Write,
};
use billing_core::rules::ledger::{BalanceState, LedgerEntry, due_shard};
use billing_core::rules::period::BillingPeriod;
use redb::{
    Database, ReadableDatabase, ReadableTable, Table, TableDefinition, TableHandle,
    WriteTransaction,
};
use serde::{Deserialize, Serialize};

use crate::group::GroupWriter;

const RECORDS: TableDefinition<&str, &[u8]> = TableDefinition::new("records");
// Named anew when entries and balances gained what they hold now (account of an entry; the
// balance item's version and usage totals), so an older data folder's tables are left alone.
const ENTRIES: TableDefinition<&str, &[u8]> = TableDefinition::new("ledger_entries_v2");
const BALANCES: TableDefinition<&str, &[u8]> = TableDefinition::new("balance_items");
/// Unsettled purchase slots by `<created_at>#<account>` (value: the account).
const UNSETTLED: TableDefinition<&str, &str> = TableDefinition::new("unsettled_slots");
/// Invoices with a collection visit set, by `<visit_at>#<account>#<invoice>` (value: the
/// invoice's record key).
const COLLECT: TableDefinition<&str, &str> = TableDefinition::new("collect_invoices");
/// Due marks by `<account>#<period>` (value: the mark's record key).
const DUE_BY_ACCOUNT: TableDefinition<&str, &str> = TableDefinition::new("due_marks_by_account");

/// redb's page cache for the store file. Its default (1 GiB) lets memory grow with the data;
/// the working set of a monthly run is a few pages per account.
const CACHE_BYTES: usize = 64 << 20;

/// The file-backed store. Cheap to clone; clones share the database and its writer.
#[derive(Clone)]
pub struct EmbeddedStore {
    db: Arc<Database>,
    writer: Arc<GroupWriter<Transaction, Result<(), StoreError>>>,
}

#[derive(Deserialize)]
struct Stored {
    version: u64,
    record: Record,
}

/// What the writer stores; borrows the record it writes.
#[derive(Serialize)]
struct StoredRef<'a> {
    version: u64,
    record: &'a Record,
}

/// A stored record's version, read without decoding the record.
#[derive(Deserialize)]
struct StoredVersion {
    version: u64,
}

/// A stored record as the write path needs it: its version, and the record itself only under
/// the keys of the kinds an index follows (purchase slots, invoices, due marks).
struct Current {
    version: u64,
    record: Option<Record>,
}

#[derive(Deserialize)]
struct StoredEntry {
    account: AccountId,
    entry: LedgerEntry,
}

#[derive(Serialize)]
struct StoredEntryRef<'a> {
    account: &'a AccountId,
    entry: &'a LedgerEntry,
}

/// The tables a write transaction opens.
struct Tables<'t> {
    records: Table<'t, &'static str, &'static [u8]>,
    entries: Table<'t, &'static str, &'static [u8]>,
    balances: Table<'t, &'static str, &'static [u8]>,
    unsettled: Table<'t, &'static str, &'static str>,
    collect: Table<'t, &'static str, &'static str>,
    due_by_account: Table<'t, &'static str, &'static str>,
}

impl<'t> Tables<'t> {
    fn open(txn: &'t WriteTransaction) -> Result<Self, StoreError> {
        Ok(Self {
            records: txn.open_table(RECORDS).map_err(storage)?,
            entries: txn.open_table(ENTRIES).map_err(storage)?,
            balances: txn.open_table(BALANCES).map_err(storage)?,
            unsettled: txn.open_table(UNSETTLED).map_err(storage)?,
            collect: txn.open_table(COLLECT).map_err(storage)?,
            due_by_account: txn.open_table(DUE_BY_ACCOUNT).map_err(storage)?,
        })
    }
}

/// One write of a planned transaction, encoded and checked.
// Steps live only while one transaction is written (at most 100 of them): boxing the index
// changes of a record step would cost allocations on every write and save a few kilobytes.
#[allow(clippy::large_enum_variant)]
enum Step {
    /// A record put (`Some`) or deleted (`None`), with what it changes in the indexes.
    Record {
        key: String,
        bytes: Option<Vec<u8>>,
        index: sparse_index::Change,
        collect: sparse_index::Change,
        due: sparse_index::Change,
    },
    /// A new ledger entry.
    Entry { key: String, bytes: Vec<u8> },
    /// An account's balance item.
    Balance { account: String, bytes: Vec<u8> },
}

fn storage<E: std::fmt::Display>(error: E) -> StoreError {
    StoreError::Unavailable(error.to_string())
}

fn corrupt<E: std::fmt::Display>(error: E) -> StoreError {
    StoreError::Corrupt(error.to_string())
}

/// The text key of a record. Ids cannot contain `#` (see `billing_core::domain::ids`).
fn record_key(key: &RecordKey) -> String {
    match key {
        RecordKey::RefusedUsage(a, e) => format!("refused#{a}#{e}"),
        RecordKey::Account(a) => format!("account#{a}"),
        RecordKey::Purchase(a, p) => format!("purchase#{a}#{p}"),
        RecordKey::PurchaseSlot(a) => format!("slot#{a}"),
        RecordKey::Invoice(a, i) => format!("invoice#{a}#{i}"),
        RecordKey::Idempotency(a, k) => format!("idempotency#{a}#{k}"),
        RecordKey::Due(a, period) => format!("{}{a}", due_prefix(*period, due_shard(a))),
        RecordKey::Event(a, id) => format!("event#{a}#{id}"),
    }
}

fn due_prefix(period: BillingPeriod, shard: u16) -> String {
    format!("due#{period}#{shard:02}#")
}

/// Usage entries are unique across accounts (see `entry_scope`): their key has no account.
fn entry_key(account: &AccountId, entry: &LedgerEntry) -> String {
    billing_core::ports::store::entry_scope(account, entry)
}

fn read_balance(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    account: &AccountId,
) -> Result<BalanceState, StoreError> {
    match table.get(account.as_str()).map_err(storage)? {
        None => Ok(BalanceState::default()),
        Some(bytes) => serde_json::from_slice(bytes.value()).map_err(corrupt),
    }
}

fn current(table: &Table<&str, &[u8]>, key: &str) -> Result<Option<Current>, StoreError> {
    let Some(bytes) = table.get(key).map_err(storage)? else {
        return Ok(None);
    };
    if key.starts_with("slot#") || key.starts_with("invoice#") || key.starts_with("due#") {
        let stored: Stored = serde_json::from_slice(bytes.value()).map_err(corrupt)?;
        return Ok(Some(Current {
            version: stored.version,
            record: Some(stored.record),
        }));
    }
    let stored: StoredVersion = serde_json::from_slice(bytes.value()).map_err(corrupt)?;
    Ok(Some(Current {
        version: stored.version,
        record: None,
    }))
}

fn holds(expect: Expect, current: Option<u64>) -> bool {
    match (expect, current) {
        (Expect::Any, _) | (Expect::Absent, None) => true,
        (Expect::Version(want), Some(have)) => want == have,
        (Expect::Absent, Some(_)) | (Expect::Version(_), None) => false,
    }
}

/// The key range of a forward listing (accounts, or one shard of a period's due marks): its
/// prefix, the key just past it, and the exclusive cursor. Invoices are listed backwards.
fn forward_range(query: &ListQuery) -> (String, String, Option<&AccountId>) {
    match query {
        // '$' sorts right after '#'.
        ListQuery::Accounts { after } => {
            ("account#".to_owned(), "account$".to_owned(), after.as_ref())
        }
        ListQuery::Due {
            period,
            shard,
            after,
        } => {
            let prefix = due_prefix(*period, *shard);
            let end = format!("{}$", prefix.trim_end_matches('#'));
            (prefix, end, after.as_ref())
        }
        ListQuery::Invoices { .. }
        | ListQuery::Unsettled { .. }
        | ListQuery::Collect { .. }
        | ListQuery::AccountRecords { .. } => {
            unreachable!("invoices, indexes and account records have listings of their own")
        }
    }
}

impl EmbeddedStore {
    /// Opens (or creates) the store file.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(path)
            .map_err(storage)?;
        let txn = db.begin_write().map_err(storage)?;
        txn.open_table(RECORDS).map_err(storage)?;
        txn.open_table(ENTRIES).map_err(storage)?;
        txn.open_table(BALANCES).map_err(storage)?;
        let tables: Vec<String> = txn
            .list_tables()
            .map_err(storage)?
            .map(|table| table.name().to_owned())
            .collect();
        let new = |definition: TableDefinition<&str, &str>| {
            !tables.iter().any(|name| name == definition.name())
        };
        let (unsettled_new, collect_new, due_new) =
            (new(UNSETTLED), new(COLLECT), new(DUE_BY_ACCOUNT));
        let records = txn.open_table(RECORDS).map_err(storage)?;
        let mut index = txn.open_table(UNSETTLED).map_err(storage)?;
        if unsettled_new {
            // A data folder from before the index: list its slots once.
            unsettled::rebuild(&records, &mut index)?;
        }
        let mut visits = txn.open_table(COLLECT).map_err(storage)?;
        if collect_new {
            // Likewise its invoices.
            collect::rebuild(&records, &mut visits)?;
        }
        let mut due_marks = txn.open_table(DUE_BY_ACCOUNT).map_err(storage)?;
        if due_new {
            // And its due marks.
            due_by_account::rebuild(&records, &mut due_marks)?;
        }
        drop((records, index, visits, due_marks));
        txn.commit().map_err(storage)?;
        let db = Arc::new(db);
        let writer = GroupWriter::start("embedded-store-writer", {
            let db = db.clone();
            move |group: &[Transaction]| Self::apply_group(&db, group)
        })
        .map_err(storage)?;
        Ok(Self {
            db,
            writer: Arc::new(writer),
        })
    }

    /// Checks every condition of `transaction` against the tables as they stand (the writes
    /// of the group before it included) and returns what it writes, writing nothing: a failed
    /// condition leaves the group's write transaction as it was.
    fn plan(tables: &Tables<'_>, transaction: &Transaction) -> Result<Vec<Step>, StoreError> {
        let mut steps = Vec::with_capacity(transaction.writes().len());
        for (index, write) in transaction.writes().iter().enumerate() {
            let conflict = StoreError::Conflict { index };
            match write {
                Write::Put { record, expect } => {
                    let key = record_key(&record.key());
                    let before = current(&tables.records, &key)?;
                    let version = before.as_ref().map(|stored| stored.version);
                    if !holds(*expect, version) {
                        return Err(conflict);
                    }
                    let old = before.as_ref().and_then(|stored| stored.record.as_ref());
                    let index = unsettled::change(old, Some(record))?;
                    let collect = collect::change(&key, old, Some(record))?;
                    let due = due_by_account::change(&key, old, Some(record))?;
                    let stored = StoredRef {
                        version: version.unwrap_or(0) + 1,
                        record,
                    };
                    let bytes = serde_json::to_vec(&stored).map_err(corrupt)?;
                    steps.push(Step::Record {
                        key,
                        bytes: Some(bytes),
                        index,
                        collect,
                        due,
                    });
                }
                Write::Delete { key, expect } => {
                    let key = record_key(key);
                    let before = current(&tables.records, &key)?;
                    if !holds(*expect, before.as_ref().map(|stored| stored.version)) {
                        return Err(conflict);
                    }
                    let old = before.as_ref().and_then(|stored| stored.record.as_ref());
                    let index = unsettled::change(old, None)?;
                    let collect = collect::change(&key, old, None)?;
                    let due = due_by_account::change(&key, old, None)?;
                    steps.push(Step::Record {
                        key,
                        bytes: None,
                        index,
                        collect,
                        due,
                    });
                }
                Write::Check { key, expect } => {
                    let version = current(&tables.records, &record_key(key))?.map(|s| s.version);
                    if !holds(*expect, version) {
                        return Err(conflict);
                    }
                }
                Write::Append {
                    account,
                    entries: appended,
                    balance,
                } => {
                    let mut existing = Vec::new();
                    let mut keys = Vec::with_capacity(appended.len());
                    for entry in appended {
                        let key = entry_key(account, entry);
                        if let Some(bytes) = tables.entries.get(key.as_str()).map_err(storage)? {
                            let stored: StoredEntry =
                                serde_json::from_slice(bytes.value()).map_err(corrupt)?;
                            existing.push(ExistingEntry {
                                account: stored.account,
                                entry: stored.entry,
                            });
                        }
                        keys.push(key);
                    }
                    if !existing.is_empty() {
                        return Err(StoreError::EntriesExist { index, existing });
                    }
                    let before = read_balance(&tables.balances, account)?;
                    let version = (before.version > 0).then_some(before.version);
                    let Some(after) = before.after(appended) else {
                        return Err(conflict);
                    };
                    if !holds(*balance, version) {
                        return Err(conflict);
                    }
                    for (key, entry) in keys.into_iter().zip(appended) {
                        let stored = StoredEntryRef { account, entry };
                        let bytes = serde_json::to_vec(&stored).map_err(corrupt)?;
                        steps.push(Step::Entry { key, bytes });
                    }
                    let bytes = serde_json::to_vec(&after).map_err(corrupt)?;
                    steps.push(Step::Balance {
                        account: account.to_string(),
                        bytes,
                    });
                }
            }
        }
        Ok(steps)
    }

    /// Writes the steps of one planned transaction. A failure here is the storage's, and the
    /// caller drops the whole group's write transaction.
    fn write(tables: &mut Tables<'_>, steps: Vec<Step>) -> Result<(), StoreError> {
        for step in steps {
            match step {
                Step::Record {
                    key,
                    bytes,
                    index,
                    collect,
                    due,
                } => {
                    match bytes {
                        Some(bytes) => tables.records.insert(key.as_str(), bytes.as_slice()),
                        None => tables.records.remove(key.as_str()),
                    }
                    .map_err(storage)?;
                    sparse_index::apply(&mut tables.unsettled, index)?;
                    sparse_index::apply(&mut tables.collect, collect)?;
                    sparse_index::apply(&mut tables.due_by_account, due)?;
                }
                Step::Entry { key, bytes } => {
                    tables
                        .entries
                        .insert(key.as_str(), bytes.as_slice())
                        .map_err(storage)?;
                }
                Step::Balance { account, bytes } => {
                    tables
                        .balances
                        .insert(account.as_str(), bytes.as_slice())
                        .map_err(storage)?;
                }
            }
        }
        Ok(())
    }

    /// Applies a group of transactions in one redb write transaction (one fsync), each all or
    /// nothing and checked against the state the ones before it left: the answers are those of
    /// applying them one after another, in order. When the storage fails, nothing of the group
    /// is written and every member gets the error.
    fn apply_group(db: &Database, group: &[Transaction]) -> Vec<Result<(), StoreError>> {
        let fail_all = |error: StoreError| group.iter().map(|_| Err(error.clone())).collect();
        let txn = match db.begin_write() {
            Ok(txn) => txn,
            Err(error) => return fail_all(storage(error)),
        };
        let mut results = Vec::with_capacity(group.len());
        let written = {
            let mut tables = match Tables::open(&txn) {
                Ok(tables) => tables,
                Err(error) => return fail_all(error),
            };
            for transaction in group {
                let result = match Self::plan(&tables, transaction) {
                    Ok(steps) => {
                        if let Err(error) = Self::write(&mut tables, steps) {
                            return fail_all(error);
                        }
                        Ok(())
                    }
                    Err(error) => Err(error),
                };
                results.push(result);
            }
            results.iter().any(Result::is_ok)
        };
        if !written {
            // Every condition failed: nothing to make durable.
            return results;
        }
        match txn.commit() {
            Ok(()) => results,
            Err(error) => fail_all(storage(error)),
        }
    }

    fn read_list(&self, query: &ListQuery, limit: usize) -> Result<Page<Record>, StoreError> {
        let txn = self.db.begin_read().map_err(storage)?;
        let records = txn.open_table(RECORDS).map_err(storage)?;
        let decode = |bytes: &[u8]| -> Result<Record, StoreError> {
            Ok(serde_json::from_slice::<Stored>(bytes)
                .map_err(corrupt)?
                .record)
        };
        let mut items = Vec::with_capacity(limit);
        let mut has_more = false;
        match query {
            // Both walk one key prefix forward from an exclusive cursor.
            ListQuery::Accounts { .. } | ListQuery::Due { .. } => {
                let (prefix, end, after) = forward_range(query);
                let start = after.map_or(prefix.clone(), |a| format!("{prefix}{a}"));
                for item in records
                    .range(start.as_str()..end.as_str())
                    .map_err(storage)?
                {
                    let (key, value) = item.map_err(storage)?;
                    if after.is_some() && key.value() == start {
                        continue;
                    }
                    if items.len() == limit {
                        has_more = true;
                        break;
                    }
                    items.push(decode(value.value())?);
                }
            }
            ListQuery::Invoices {
                account,
                starting_after,
            } => {
                let prefix = format!("invoice#{account}#");
                let end = starting_after
                    .as_ref()
                    .map_or(format!("invoice#{account}$"), |i| format!("{prefix}{i}"));
                for item in records
                    .range(prefix.as_str()..end.as_str())
                    .map_err(storage)?
                    .rev()
                {
                    let (_, value) = item.map_err(storage)?;
                    if items.len() == limit {
                        has_more = true;
                        break;
                    }
                    items.push(decode(value.value())?);
                }
            }
            ListQuery::Unsettled {
                started_before,
                after,
            } => {
                let index = txn.open_table(UNSETTLED).map_err(storage)?;
                let slots = unsettled::list(&index, *started_before, after.as_ref(), limit)?;
                has_more = slots.has_more;
                for account in slots.items {
                    let key = record_key(&RecordKey::PurchaseSlot(account));
                    let Some(bytes) = records.get(key.as_str()).map_err(storage)? else {
                        return Err(StoreError::Corrupt(format!(
                            "the index names {key}, absent"
                        )));
                    };
                    items.push(decode(bytes.value())?);
                }
            }
            ListQuery::Collect { due_at, after } => {
                let index = txn.open_table(COLLECT).map_err(storage)?;
                let visits = collect::list(&index, *due_at, after.as_ref(), limit)?;
                has_more = visits.has_more;
                for key in visits.items {
                    let Some(bytes) = records.get(key.as_str()).map_err(storage)? else {
                        return Err(StoreError::Corrupt(format!(
                            "the collect index names {key}, absent"
                        )));
                    };
                    items.push(decode(bytes.value())?);
                }
            }
            ListQuery::AccountRecords { account, after } => {
                let due_marks = txn.open_table(DUE_BY_ACCOUNT).map_err(storage)?;
                return account_records::list(&records, &due_marks, account, after.as_ref(), limit);
            }
        }
        Ok(Page { items, has_more })
    }
}

#[async_trait]
impl Store for EmbeddedStore {
    async fn get(&self, key: &RecordKey) -> Result<Option<Versioned<Record>>, StoreError> {
        let txn = self.db.begin_read().map_err(storage)?;
        let records = txn.open_table(RECORDS).map_err(storage)?;
        let Some(bytes) = records.get(record_key(key).as_str()).map_err(storage)? else {
            return Ok(None);
        };
        let stored: Stored = serde_json::from_slice(bytes.value()).map_err(corrupt)?;
        Ok(Some(Versioned {
            value: stored.record,
            version: stored.version,
        }))
    }

    async fn list(&self, query: &ListQuery, limit: usize) -> Result<Page<Record>, StoreError> {
        if !(1..=100).contains(&limit) {
            return Err(StoreError::Invalid(format!(
                "limit must be 1 to 100, not {limit}"
            )));
        }
        self.read_list(query, limit)
    }

    async fn balance(&self, account: &AccountId) -> Result<BalanceState, StoreError> {
        let txn = self.db.begin_read().map_err(storage)?;
        let balances = txn.open_table(BALANCES).map_err(storage)?;
        read_balance(&balances, account)
    }

    /// One read transaction for the records and the balance item, so they are read together.
    async fn get_with_balance(
        &self,
        account: &AccountId,
        keys: &[RecordKey],
    ) -> Result<(Vec<Option<Versioned<Record>>>, BalanceState), StoreError> {
        billing_core::ports::store::check_own_keys(account, keys)?;
        let txn = self.db.begin_read().map_err(storage)?;
        let records = txn.open_table(RECORDS).map_err(storage)?;
        let mut found = Vec::with_capacity(keys.len());
        for key in keys {
            found.push(
                match records.get(record_key(key).as_str()).map_err(storage)? {
                    None => None,
                    Some(bytes) => {
                        let stored: Stored =
                            serde_json::from_slice(bytes.value()).map_err(corrupt)?;
                        Some(Versioned {
                            value: stored.record,
                            version: stored.version,
                        })
                    }
                },
            );
        }
        let balances = txn.open_table(BALANCES).map_err(storage)?;
        Ok((found, read_balance(&balances, account)?))
    }

    async fn commit(&self, transaction: Transaction) -> Result<(), StoreError> {
        transaction.validate()?;
        // The writer thread does the fsync, off the async workers.
        self.writer
            .submit(transaction)
            .await
            .unwrap_or_else(|| Err(StoreError::Unavailable("the store's writer stopped".into())))
    }
}

#[cfg(test)]
mod tests {
    use billing_core::domain::invoice::{
        AttemptOutcome, AttemptTrigger, ChargeAttempt, Invoice, InvoiceStatus, Notice,
    };
    use billing_core::domain::money::{Cents, Currency};
    use billing_core::ports::store::{AccountStore, DueMark, InvoiceStore};
    use billing_core::{InvoiceId, rules::period::BillingPeriod};
    use chrono::{Duration, TimeZone, Utc};

    use super::*;

    #[tokio::test]
    async fn a_data_folder_from_before_the_collect_index_lists_its_invoices_once_opened() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("billing.redb");
        let retry = Utc.with_ymd_and_hms(2026, 11, 6, 0, 0, 0).unwrap();
        let period = BillingPeriod::new(2026, 10).unwrap();
        let invoice = Invoice {
            id: InvoiceId::parse("in_202610").unwrap(),
            account: AccountId::parse("acct_old").unwrap(),
            period,
            status: InvoiceStatus::PaymentFailed,
            currency: Currency::Usd,
            amount_due: Cents::new(1_234),
            amount_paid: Cents::ZERO,
            lines: Vec::new(),
            attempts: vec![ChargeAttempt {
                number: 1,
                trigger: AttemptTrigger::Monthly,
                at: period.charge_at(),
                payment_method: None,
                payment: None,
                client_secret: None,
                outcome: AttemptOutcome::Declined,
                decline_code: Some("insufficient_funds".into()),
                notice: Notice::Sent,
                updated_at: period.charge_at(),
            }],
            retry_at: vec![retry],
            next_payment_attempt: Some(retry),
            created_at: period.charge_at(),
        };
        // Written as a store from before the index left it: the records table alone.
        {
            let db = Database::create(&path).unwrap();
            let txn = db.begin_write().unwrap();
            let mut records = txn.open_table(RECORDS).unwrap();
            let record = Record::Invoice(invoice.clone());
            let bytes = serde_json::to_vec(&StoredRef {
                version: 1,
                record: &record,
            })
            .unwrap();
            let key = record_key(&record.key());
            records.insert(key.as_str(), bytes.as_slice()).unwrap();
            drop(records);
            txn.commit().unwrap();
        }

        let store = EmbeddedStore::open(&path).unwrap();

        let due = store.invoices_to_visit(retry, None, 10).await.unwrap();
        assert_eq!(due.items, [invoice]);
        let early = retry - Duration::nanoseconds(1);
        assert!(
            store
                .invoices_to_visit(early, None, 10)
                .await
                .unwrap()
                .items
                .is_empty()
        );
    }

    #[tokio::test]
    async fn a_data_folder_from_before_the_due_table_lists_its_due_marks_once_opened() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("billing.redb");
        let account = AccountId::parse("acct_old").unwrap();
        let marks: Vec<Record> = [9, 10]
            .map(|month| {
                Record::Due(DueMark {
                    account: account.clone(),
                    period: BillingPeriod::new(2026, month).unwrap(),
                })
            })
            .into();
        // Written as a store from before the table left it: the records table alone.
        {
            let db = Database::create(&path).unwrap();
            let txn = db.begin_write().unwrap();
            let mut records = txn.open_table(RECORDS).unwrap();
            for record in &marks {
                let bytes = serde_json::to_vec(&StoredRef { version: 1, record }).unwrap();
                let key = record_key(&record.key());
                records.insert(key.as_str(), bytes.as_slice()).unwrap();
            }
            drop(records);
            txn.commit().unwrap();
        }

        let store = EmbeddedStore::open(&path).unwrap();

        let listed = store.account_records(&account, None, 10).await.unwrap();
        assert_eq!(listed.items, marks);
        assert!(!listed.has_more);
    }
}
