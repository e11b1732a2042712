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

use billing_core::ports::store::{Page, Record, StoreError};
use billing_core::{AccountId, InvoiceId};
use chrono::{DateTime, Utc};
use redb::{ReadableTable, Table};

use super::sparse_index::{self, Change, Entry, instant};

/// The index key of an invoice visited at `visit_at`. Ids cannot contain `#`, and every
/// character an id may hold sorts after it, so text order is (visit, account, invoice) order.
fn key(
    visit_at: DateTime<Utc>,
    account: &AccountId,
    invoice: &InvoiceId,
) -> Result<String, StoreError> {
    Ok(format!("{}#{account}#{invoice}", instant(visit_at)?))
}

/// The entry of a record at the record key `at` that belongs in the index (an invoice with a
/// visit set): its index key, holding `at`.
fn entry(at: &str, record: &Record) -> Result<Option<Entry>, StoreError> {
    match record {
        Record::Invoice(invoice) => invoice
            .visit_at()
            .map(|visit| Ok((key(visit, &invoice.account, &invoice.id)?, at.to_owned())))
            .transpose(),
        _ => Ok(None),
    }
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
    sparse_index::change(before, after, |record| entry(at, record))
}

/// Fills the index from the stored invoices (a data folder written before it existed).
pub(super) fn rebuild(
    records: &impl ReadableTable<&'static str, &'static [u8]>,
    index: &mut Table<&str, &str>,
) -> Result<(), StoreError> {
    sparse_index::rebuild(records, "invoice", index, entry)
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
    let after = after
        .map(|(at, account, invoice)| key(*at, account, invoice))
        .transpose()?;
    sparse_index::page(index, after, &end, limit, |record_key| {
        Ok(record_key.to_owned())
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
