//! The embedded durable store: one redb file in the data folder.
//!
//! Four tables: versioned records (JSON) under `kind#account[#id]` keys (due marks under
//! `due#period#shard#account`, so one shard of a period is one key range), ledger entries
//! under their uniqueness scope (`usage:<event>` for usage, `account#entry-id` otherwise),
//! one balance item per account (balance, version, usage totals by period), and the index of
//! unsettled purchase slots (see [`unsettled`]). A [`Transaction`] becomes one redb write
//! transaction: every condition is checked inside it, and the first one that fails drops the
//! transaction, so nothing of it is written, the index included.

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
use redb::{Database, ReadableDatabase, ReadableTable, Table, TableDefinition, TableHandle};
use serde::{Deserialize, Serialize};

const RECORDS: TableDefinition<&str, &[u8]> = TableDefinition::new("records");
// Named anew when entries and balances gained what they hold now (account of an entry; the
// balance item's version and usage totals), so an older data folder's tables are left alone.
const ENTRIES: TableDefinition<&str, &[u8]> = TableDefinition::new("ledger_entries_v2");
const BALANCES: TableDefinition<&str, &[u8]> = TableDefinition::new("balance_items");
/// Unsettled purchase slots by `<created_at>#<account>` (value: the account).
const UNSETTLED: TableDefinition<&str, &str> = TableDefinition::new("unsettled_slots");

/// The file-backed store. Cheap to clone; clones share the database.
#[derive(Clone)]
pub struct EmbeddedStore {
    db: Arc<Database>,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    version: u64,
    record: Record,
}

#[derive(Serialize, Deserialize)]
struct StoredEntry {
    account: AccountId,
    entry: LedgerEntry,
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

fn current(table: &Table<&str, &[u8]>, key: &str) -> Result<Option<Stored>, StoreError> {
    match table.get(key).map_err(storage)? {
        None => Ok(None),
        Some(bytes) => serde_json::from_slice(bytes.value())
            .map(Some)
            .map_err(corrupt),
    }
}

fn current_version(table: &Table<&str, &[u8]>, key: &str) -> Result<Option<u64>, StoreError> {
    Ok(current(table, key)?.map(|stored| stored.version))
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
        ListQuery::Invoices { .. } | ListQuery::Unsettled { .. } => {
            unreachable!("invoices and unsettled slots have listings of their own")
        }
    }
}

impl EmbeddedStore {
    /// Opens (or creates) the store file.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = Database::create(path).map_err(storage)?;
        let txn = db.begin_write().map_err(storage)?;
        txn.open_table(RECORDS).map_err(storage)?;
        txn.open_table(ENTRIES).map_err(storage)?;
        txn.open_table(BALANCES).map_err(storage)?;
        let indexed = txn
            .list_tables()
            .map_err(storage)?
            .any(|table| table.name() == UNSETTLED.name());
        let mut index = txn.open_table(UNSETTLED).map_err(storage)?;
        if !indexed {
            // A data folder from before the index: list its slots once.
            let records = txn.open_table(RECORDS).map_err(storage)?;
            unsettled::rebuild(&records, &mut index)?;
        }
        drop(index);
        txn.commit().map_err(storage)?;
        Ok(Self { db: Arc::new(db) })
    }

    fn apply(&self, transaction: &Transaction) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(storage)?;
        {
            let mut records = txn.open_table(RECORDS).map_err(storage)?;
            let mut entries = txn.open_table(ENTRIES).map_err(storage)?;
            let mut balances = txn.open_table(BALANCES).map_err(storage)?;
            let mut in_flight = txn.open_table(UNSETTLED).map_err(storage)?;
            for (index, write) in transaction.writes().iter().enumerate() {
                let conflict = StoreError::Conflict { index };
                match write {
                    Write::Put { record, expect } => {
                        let key = record_key(&record.key());
                        let before = current(&records, &key)?;
                        let version = before.as_ref().map(|stored| stored.version);
                        if !holds(*expect, version) {
                            return Err(conflict);
                        }
                        unsettled::replace(
                            &mut in_flight,
                            before.as_ref().map(|stored| &stored.record),
                            Some(record),
                        )?;
                        let stored = Stored {
                            version: version.unwrap_or(0) + 1,
                            record: record.clone(),
                        };
                        let bytes = serde_json::to_vec(&stored).map_err(corrupt)?;
                        records
                            .insert(key.as_str(), bytes.as_slice())
                            .map_err(storage)?;
                    }
                    Write::Delete { key, expect } => {
                        let key = record_key(key);
                        let before = current(&records, &key)?;
                        if !holds(*expect, before.as_ref().map(|stored| stored.version)) {
                            return Err(conflict);
                        }
                        unsettled::replace(
                            &mut in_flight,
                            before.as_ref().map(|stored| &stored.record),
                            None,
                        )?;
                        records.remove(key.as_str()).map_err(storage)?;
                    }
                    Write::Check { key, expect } => {
                        if !holds(*expect, current_version(&records, &record_key(key))?) {
                            return Err(conflict);
                        }
                    }
                    Write::Append {
                        account,
                        entries: appended,
                        balance,
                    } => {
                        let mut existing = Vec::new();
                        for entry in appended {
                            let key = entry_key(account, entry);
                            if let Some(bytes) = entries.get(key.as_str()).map_err(storage)? {
                                let stored: StoredEntry =
                                    serde_json::from_slice(bytes.value()).map_err(corrupt)?;
                                existing.push(ExistingEntry {
                                    account: stored.account,
                                    entry: stored.entry,
                                });
                            }
                        }
                        if !existing.is_empty() {
                            return Err(StoreError::EntriesExist { index, existing });
                        }
                        let before = read_balance(&balances, account)?;
                        let version = (before.version > 0).then_some(before.version);
                        let Some(after) = before.after(appended) else {
                            return Err(conflict);
                        };
                        if !holds(*balance, version) {
                            return Err(conflict);
                        }
                        for entry in appended {
                            let stored = StoredEntry {
                                account: account.clone(),
                                entry: entry.clone(),
                            };
                            let bytes = serde_json::to_vec(&stored).map_err(corrupt)?;
                            let key = entry_key(account, entry);
                            entries
                                .insert(key.as_str(), bytes.as_slice())
                                .map_err(storage)?;
                        }
                        let bytes = serde_json::to_vec(&after).map_err(corrupt)?;
                        balances
                            .insert(account.as_str(), bytes.as_slice())
                            .map_err(storage)?;
                    }
                }
            }
        }
        txn.commit().map_err(storage)
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

    async fn commit(&self, transaction: Transaction) -> Result<(), StoreError> {
        transaction.validate()?;
        let store = self.clone();
        // redb commits fsync: keep that off the async workers.
        tokio::task::spawn_blocking(move || store.apply(&transaction))
            .await
            .map_err(|e| StoreError::Unavailable(format!("store task failed: {e}")))?
    }
}
