//! An account's due marks, for [`ListQuery::AccountRecords`]: a table keyed by
//! `<account>#<period>`, holding the mark's record key. Due marks are keyed
//! `due#<period>#<shard>#<account>` so that one shard of a period is one key range for the
//! monthly charge; that key order scatters one account's marks over every period, so without
//! this table finding them would mean reading every mark of every account. It is changed in
//! the same write transaction as every due-mark write, so it is as consistent as the records
//! themselves.
//!
//! [`ListQuery::AccountRecords`]: billing_core::ports::store::ListQuery::AccountRecords

use std::ops::Bound;

use billing_core::AccountId;
use billing_core::ports::store::{Record, StoreError};
use billing_core::rules::period::BillingPeriod;
use redb::{ReadableTable, Table};

use super::sparse_index::{self, Change, Entry};
use super::storage;

/// The table key of the mark of `account` for `period`. Ids cannot contain `#`, and periods
/// are `YYYY-MM` with four-digit years, so text order is (account, period) order.
pub(super) fn key(account: &AccountId, period: BillingPeriod) -> String {
    format!("{account}#{period}")
}

/// The entry of a record at the record key `at` that belongs in the table (a due mark).
fn entry(at: &str, record: &Record) -> Result<Option<Entry>, StoreError> {
    match record {
        Record::Due(mark) => Ok(Some((key(&mark.account, mark.period), at.to_owned()))),
        _ => Ok(None),
    }
}

/// What moving from the record `before` to the record `after` at the record key `at` (`None`:
/// absent) changes in the table.
pub(super) fn change(
    at: &str,
    before: Option<&Record>,
    after: Option<&Record>,
) -> Result<Change, StoreError> {
    sparse_index::change(before, after, |record| entry(at, record))
}

/// Fills the table from the stored due marks (a data folder written before it existed).
pub(super) fn rebuild(
    records: &impl ReadableTable<&'static str, &'static [u8]>,
    index: &mut Table<&str, &str>,
) -> Result<(), StoreError> {
    sparse_index::rebuild(records, "due", index, entry)
}

/// The record keys of the account's due marks in period order, after the mark of `after`
/// (exclusive; it need not exist any more), at most `want` of them.
pub(super) fn record_keys(
    index: &impl ReadableTable<&'static str, &'static str>,
    account: &AccountId,
    after: Option<BillingPeriod>,
    want: usize,
) -> Result<Vec<String>, StoreError> {
    // '$' sorts right after '#', so `<account>$` is past every mark of the account and before
    // any other account's (ids hold no character below '$').
    let end = format!("{account}$");
    let start = match after {
        Some(period) => Bound::Excluded(key(account, period)),
        None => Bound::Included(format!("{account}#")),
    };
    let range = (
        start.as_ref().map(String::as_str),
        Bound::Excluded(end.as_str()),
    );
    let mut keys = Vec::new();
    for item in index.range::<&str>(range).map_err(storage)?.take(want) {
        let (_, record_key) = item.map_err(storage)?;
        keys.push(record_key.value().to_owned());
    }
    Ok(keys)
}
