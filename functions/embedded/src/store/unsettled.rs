//! The index of unsettled purchase slots, for [`ListQuery::Unsettled`]: a table keyed by
//! `<created_at>#<account>` (the start as fixed-width RFC 3339 text with nanoseconds, so that
//! text order is time order), holding the account. It is changed in the same write transaction
//! as every slot write: a slot is in it exactly while the sweep must visit it (`PurchaseSlot::needs_sweep`), under the
//! start of its current purchase. The sweep then reads one key range, oldest first, and never
//! visits an account with nothing in flight.
//!
//! [`ListQuery::Unsettled`]: billing_core::ports::store::ListQuery::Unsettled

use billing_core::AccountId;
use billing_core::ports::store::{Page, Record, StoreError};
use chrono::{DateTime, Utc};
use redb::{ReadableTable, Table};

use super::corrupt;
use super::sparse_index::{self, Change, Entry, instant};

/// The index key of a slot started at `created_at`. Ids cannot contain `#`.
fn key(created_at: DateTime<Utc>, account: &AccountId) -> Result<String, StoreError> {
    Ok(format!("{}#{account}", instant(created_at)?))
}

/// The entry of a record that belongs in the index (an unsettled purchase slot): its index
/// key, holding the account.
fn entry(record: &Record) -> Result<Option<Entry>, StoreError> {
    match record {
        Record::PurchaseSlot(slot) if slot.needs_sweep() => Ok(Some((
            key(slot.created_at, &slot.account)?,
            slot.account.to_string(),
        ))),
        _ => Ok(None),
    }
}

/// What moving from the record `before` to the record `after` at the same key (`None`:
/// absent) changes in the index, so that it holds the slot only while unsettled, under its
/// current start. Computed before anything is written: a start the index cannot hold refuses
/// the write.
pub(super) fn change(
    before: Option<&Record>,
    after: Option<&Record>,
) -> Result<Change, StoreError> {
    sparse_index::change(before, after, entry)
}

/// Fills the index from the stored slots (a data folder written before it existed).
pub(super) fn rebuild(
    records: &impl ReadableTable<&'static str, &'static [u8]>,
    index: &mut Table<&str, &str>,
) -> Result<(), StoreError> {
    sparse_index::rebuild(records, "slot", index, |_, record| entry(record))
}

/// One page of the accounts whose slot is unsettled and started before `started_before`,
/// oldest first (then by account), after the exclusive cursor.
pub(super) fn list(
    index: &impl ReadableTable<&'static str, &'static str>,
    started_before: DateTime<Utc>,
    after: Option<&(DateTime<Utc>, AccountId)>,
    limit: usize,
) -> Result<Page<AccountId>, StoreError> {
    // Every key of a slot started at `started_before` is the instant followed by `#…`, so it
    // sorts after the bare instant: the range ends before it.
    let end = instant(started_before)?;
    let after = after.map(|(at, account)| key(*at, account)).transpose()?;
    sparse_index::page(index, after, &end, limit, |account| {
        AccountId::parse(account).map_err(corrupt)
    })
}
