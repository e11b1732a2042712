//! The index of invoices the collection sweep must visit, for [`ListQuery::Collect`]: a table
//! keyed by `<visit_at>#<account>#<invoice>` (the visit as fixed-width RFC 3339 text with
//! nanoseconds, so that text order is time order), holding the invoice's record key. It is
//! changed in the same write transaction as every invoice write: an invoice is in it exactly
//! while [`Invoice::visit_at`] is set (a scheduled retry, an attempt or an email left
//! claimed), under that visit. The sweep then reads one key range, earliest first, and never
//! reads an invoice with nothing to do.
//!
//! [`ListQuery::Collect`]: billing_core::ports::store::ListQuery::Collect
//! [`Invoice::visit_at`]: billing_core::domain::invoice::Invoice::visit_at

use std::ops::Bound;

use billing_core::ports::store::{Page, Record, StoreError};
use billing_core::{AccountId, InvoiceId};
use chrono::{DateTime, Utc};
use redb::{ReadableTable, Table};

use super::unsettled::instant;
use super::{corrupt, storage};

/// The index key of an invoice visited at `visit_at`. Ids cannot contain `#`, and every
/// character an id may hold sorts after it, so text order is (visit, account, invoice) order.
fn key(
    visit_at: DateTime<Utc>,
    account: &AccountId,
    invoice: &InvoiceId,
) -> Result<String, StoreError> {
    Ok(format!("{}#{account}#{invoice}", instant(visit_at)?))
}

/// The index key of a record that belongs in the index: an invoice with a visit set.
fn entry(record: &Record) -> Result<Option<String>, StoreError> {
    match record {
        Record::Invoice(invoice) => invoice
            .visit_at()
            .map(|at| key(at, &invoice.account, &invoice.id))
            .transpose(),
        _ => Ok(None),
    }
}

/// What a write changes in the index: the key it removes, the key it inserts and the record
/// key that one holds.
#[derive(Debug, Default)]
pub(super) struct Change {
    remove: Option<String>,
    insert: Option<(String, String)>,
}

/// What moving from the record `before` to the record `after` at the record key `at` (`None`:
/// absent) changes in the index, so that it holds the invoice only while a visit is set, under
/// that visit. Computed before anything is written: a visit the index cannot hold refuses the
/// write.
pub(super) fn change(
    at: &str,
    before: Option<&Record>,
    after: Option<&Record>,
) -> Result<Change, StoreError> {
    let remove = before.map(entry).transpose()?.flatten();
    let insert = after
        .map(entry)
        .transpose()?
        .flatten()
        .map(|new| (new, at.to_owned()));
    Ok(Change { remove, insert })
}

/// Writes a [`Change`].
pub(super) fn apply(index: &mut Table<&str, &str>, change: Change) -> Result<(), StoreError> {
    if let Some(old) = change.remove {
        index.remove(old.as_str()).map_err(storage)?;
    }
    if let Some((new, record_key)) = change.insert {
        index
            .insert(new.as_str(), record_key.as_str())
            .map_err(storage)?;
    }
    Ok(())
}

/// Fills the index from the stored invoices (a data folder written before it existed).
pub(super) fn rebuild(
    records: &impl ReadableTable<&'static str, &'static [u8]>,
    index: &mut Table<&str, &str>,
) -> Result<(), StoreError> {
    // '$' sorts right after '#'.
    for item in records.range("invoice#".."invoice$").map_err(storage)? {
        let (key, value) = item.map_err(storage)?;
        let stored: super::Stored = serde_json::from_slice(value.value()).map_err(corrupt)?;
        apply(index, change(key.value(), None, Some(&stored.record))?)?;
    }
    Ok(())
}

/// One page of the record keys of the invoices whose visit is due at or before `due_at`,
/// earliest first (then by account, then by invoice), after the exclusive cursor.
pub(super) fn list(
    index: &impl ReadableTable<&'static str, &'static str>,
    due_at: DateTime<Utc>,
    after: Option<&(DateTime<Utc>, AccountId, InvoiceId)>,
    limit: usize,
) -> Result<Page<String>, StoreError> {
    // Every key of a visit at `due_at` is the instant followed by `#…`, and '$' sorts right
    // after '#': the range ends before `<due_at>$`, which keeps `due_at` itself (inclusive)
    // and nothing later (instants have one width, so a later one sorts above in the instant).
    let end = format!("{}$", instant(due_at)?);
    let start = match after {
        None => Bound::Unbounded,
        Some((at, account, invoice)) => Bound::Excluded(key(*at, account, invoice)?),
    };
    let mut items = Vec::with_capacity(limit);
    if matches!(&start, Bound::Excluded(cursor) if *cursor >= end) {
        return Ok(Page {
            items,
            has_more: false,
        });
    }
    let range = (
        start.as_ref().map(String::as_str),
        Bound::Excluded(end.as_str()),
    );
    for item in index.range::<&str>(range).map_err(storage)? {
        let (_, record_key) = item.map_err(storage)?;
        if items.len() == limit {
            return Ok(Page {
                items,
                has_more: true,
            });
        }
        items.push(record_key.value().to_owned());
    }
    Ok(Page {
        items,
        has_more: false,
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn keys_sort_as_visit_then_account_then_invoice() {
        let noon = Utc.with_ymd_and_hms(2026, 10, 15, 12, 0, 0).unwrap();
        let account = |id| AccountId::parse(id).unwrap();
        let invoice = |id| InvoiceId::parse(id).unwrap();
        let keys = [
            key(noon, &account("a"), &invoice("in_2")).unwrap(),
            key(noon, &account("a.b"), &invoice("in_1")).unwrap(),
            key(noon, &account("b"), &invoice("in_1")).unwrap(),
            key(
                noon + chrono::Duration::nanoseconds(1),
                &account("a"),
                &invoice("in_1"),
            )
            .unwrap(),
        ];
        assert_eq!(keys[0], "2026-10-15T12:00:00.000000000Z#a#in_2");
        assert!(keys.windows(2).all(|pair| pair[0] < pair[1]), "{keys:?}");
    }
}
