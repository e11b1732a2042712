//! The embedded durable store: one redb file in the data folder.
//!
//! Three tables: versioned records (JSON) under `kind#account[#id]` keys, ledger entries under
//! `account#entry-id`, and one running balance per account. A [`Transaction`] becomes one redb
//! write transaction: every condition is checked inside it, and the first one that fails drops
//! the transaction, so nothing of it is written.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use billing_core::AccountId;
use billing_core::domain::money::Micros;
use billing_core::ports::store::{
    Expect, ListQuery, Page, Record, RecordKey, Store, StoreError, Transaction, Versioned, Write,
};
use billing_core::rules::ledger::LedgerEntry;
use chrono::{DateTime, Utc};
use redb::{Database, ReadableDatabase, ReadableTable, Table, TableDefinition};
use serde::{Deserialize, Serialize};

const RECORDS: TableDefinition<&str, &[u8]> = TableDefinition::new("records");
const ENTRIES: TableDefinition<&str, &[u8]> = TableDefinition::new("ledger_entries");
const BALANCES: TableDefinition<&str, i64> = TableDefinition::new("balances");

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

fn storage<E: std::fmt::Display>(error: E) -> StoreError {
    StoreError::Unavailable(error.to_string())
}

fn corrupt<E: std::fmt::Display>(error: E) -> StoreError {
    StoreError::Corrupt(error.to_string())
}

/// The text key of a record. Ids cannot contain `#` (see `billing_core::domain::ids`).
fn record_key(key: &RecordKey) -> String {
    match key {
        RecordKey::Account(a) => format!("account#{a}"),
        RecordKey::Purchase(a, p) => format!("purchase#{a}#{p}"),
        RecordKey::PurchaseSlot(a) => format!("slot#{a}"),
        RecordKey::Invoice(a, i) => format!("invoice#{a}#{i}"),
        RecordKey::Idempotency(a, k) => format!("idempotency#{a}#{k}"),
    }
}

fn entry_key(account: &AccountId, entry: &LedgerEntry) -> String {
    format!("{account}#{}", entry.id.as_str())
}

fn current_version(table: &Table<&str, &[u8]>, key: &str) -> Result<Option<u64>, StoreError> {
    match table.get(key).map_err(storage)? {
        None => Ok(None),
        Some(bytes) => {
            let stored: Stored = serde_json::from_slice(bytes.value()).map_err(corrupt)?;
            Ok(Some(stored.version))
        }
    }
}

fn holds(expect: Expect, current: Option<u64>) -> bool {
    match (expect, current) {
        (Expect::Any, _) | (Expect::Absent, None) => true,
        (Expect::Version(want), Some(have)) => want == have,
        (Expect::Absent, Some(_)) | (Expect::Version(_), None) => false,
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
        txn.commit().map_err(storage)?;
        Ok(Self { db: Arc::new(db) })
    }

    fn apply(&self, transaction: &Transaction) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(storage)?;
        {
            let mut records = txn.open_table(RECORDS).map_err(storage)?;
            let mut entries = txn.open_table(ENTRIES).map_err(storage)?;
            let mut balances = txn.open_table(BALANCES).map_err(storage)?;
            for (index, write) in transaction.writes().iter().enumerate() {
                let conflict = StoreError::Conflict { index };
                match write {
                    Write::Put { record, expect } => {
                        let key = record_key(&record.key());
                        let current = current_version(&records, &key)?;
                        if !holds(*expect, current) {
                            return Err(conflict);
                        }
                        let stored = Stored {
                            version: current.unwrap_or(0) + 1,
                            record: record.clone(),
                        };
                        let bytes = serde_json::to_vec(&stored).map_err(corrupt)?;
                        records
                            .insert(key.as_str(), bytes.as_slice())
                            .map_err(storage)?;
                    }
                    Write::Delete { key, expect } => {
                        let key = record_key(key);
                        if !holds(*expect, current_version(&records, &key)?) {
                            return Err(conflict);
                        }
                        records.remove(key.as_str()).map_err(storage)?;
                    }
                    Write::Check { key, expect } => {
                        if !holds(*expect, current_version(&records, &record_key(key))?) {
                            return Err(conflict);
                        }
                    }
                    Write::Append { account, entry } => {
                        let key = entry_key(account, entry);
                        if entries.get(key.as_str()).map_err(storage)?.is_some() {
                            return Err(conflict);
                        }
                        let bytes = serde_json::to_vec(entry).map_err(corrupt)?;
                        entries
                            .insert(key.as_str(), bytes.as_slice())
                            .map_err(storage)?;
                        let before = balances
                            .get(account.as_str())
                            .map_err(storage)?
                            .map_or(0, |v| v.value());
                        let after =
                            Micros::new(before).checked_add(entry.amount).map_err(|_| {
                                StoreError::Invalid(format!("balance of {account} would overflow"))
                            })?;
                        balances
                            .insert(account.as_str(), after.get())
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
            ListQuery::Accounts { after } => {
                let start = after
                    .as_ref()
                    .map_or("account#".to_owned(), |a| format!("account#{a}"));
                let end = "account$"; // '$' sorts right after '#'
                for item in records.range(start.as_str()..end).map_err(storage)? {
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

    async fn balance(&self, account: &AccountId) -> Result<Micros, StoreError> {
        let txn = self.db.begin_read().map_err(storage)?;
        let balances = txn.open_table(BALANCES).map_err(storage)?;
        Ok(Micros::new(
            balances
                .get(account.as_str())
                .map_err(storage)?
                .map_or(0, |v| v.value()),
        ))
    }

    async fn entries_since(
        &self,
        account: &AccountId,
        since: DateTime<Utc>,
    ) -> Result<Vec<LedgerEntry>, StoreError> {
        let txn = self.db.begin_read().map_err(storage)?;
        let table = txn.open_table(ENTRIES).map_err(storage)?;
        let (start, end) = (format!("{account}#"), format!("{account}$"));
        let mut entries = Vec::new();
        for item in table.range(start.as_str()..end.as_str()).map_err(storage)? {
            let (_, value) = item.map_err(storage)?;
            let entry: LedgerEntry = serde_json::from_slice(value.value()).map_err(corrupt)?;
            if entry.effective_at >= since {
                entries.push(entry);
            }
        }
        entries.sort_by(|a, b| (a.effective_at, &a.id).cmp(&(b.effective_at, &b.id)));
        Ok(entries)
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
