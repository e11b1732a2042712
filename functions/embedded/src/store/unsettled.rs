//! The index of unsettled purchase slots, for [`ListQuery::Unsettled`]: a table keyed by
//! `<created_at>#<account>` (the start as fixed-width RFC 3339 text with nanoseconds, so that
//! text order is time order), holding the account. It is changed in the same write transaction
//! as every slot write: a slot is in it exactly while the sweep must visit it (`PurchaseSlot::needs_sweep`), under the
//! start of its current purchase. The sweep then reads one key range, oldest first, and never
//! visits an account with nothing in flight.
//!
//! [`ListQuery::Unsettled`]: billing_core::ports::store::ListQuery::Unsettled

use std::ops::Bound;

use billing_core::AccountId;
use billing_core::ports::store::{Page, Record, StoreError};
use chrono::{DateTime, Datelike, Utc};
use redb::{ReadableTable, Table};

use super::{corrupt, storage};

/// `at` as text that sorts as time does: four-digit years only (0000–9999). Shared with the
/// [collect index](super::collect).
pub(super) fn instant(at: DateTime<Utc>) -> Result<String, StoreError> {
    if !(0..=9999).contains(&at.year()) {
        return Err(StoreError::Invalid(format!(
            "{at} is outside the years 0000-9999 an index can list"
        )));
    }
    Ok(at.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string())
}

/// The index key of a slot started at `created_at`. Ids cannot contain `#`.
fn key(created_at: DateTime<Utc>, account: &AccountId) -> Result<String, StoreError> {
    Ok(format!("{}#{account}", instant(created_at)?))
}

/// The index key of a record that belongs in the index: an unsettled purchase slot.
fn entry(record: &Record) -> Result<Option<String>, StoreError> {
    match record {
        Record::PurchaseSlot(slot) if slot.needs_sweep() => {
            key(slot.created_at, &slot.account).map(Some)
        }
        _ => Ok(None),
    }
}

/// What a write changes in the index: the key it removes, the key and account it inserts.
#[derive(Debug, Default)]
pub(super) struct Change {
    remove: Option<String>,
    insert: Option<(String, String)>,
}

/// What moving from the record `before` to the record `after` at the same key (`None`:
/// absent) changes in the index, so that it holds the slot only while unsettled, under its
/// current start. Computed before anything is written: a start the index cannot hold refuses
/// the write.
pub(super) fn change(
    before: Option<&Record>,
    after: Option<&Record>,
) -> Result<Change, StoreError> {
    let remove = before.map(entry).transpose()?.flatten();
    let insert = match (after.map(entry).transpose()?.flatten(), after) {
        (Some(new), Some(Record::PurchaseSlot(slot))) => Some((new, slot.account.to_string())),
        _ => None,
    };
    Ok(Change { remove, insert })
}

/// Writes a [`Change`].
pub(super) fn apply(index: &mut Table<&str, &str>, change: Change) -> Result<(), StoreError> {
    if let Some(old) = change.remove {
        index.remove(old.as_str()).map_err(storage)?;
    }
    if let Some((new, account)) = change.insert {
        index
            .insert(new.as_str(), account.as_str())
            .map_err(storage)?;
    }
    Ok(())
}

/// Fills the index from the stored slots (a data folder written before it existed).
pub(super) fn rebuild(
    records: &impl ReadableTable<&'static str, &'static [u8]>,
    index: &mut Table<&str, &str>,
) -> Result<(), StoreError> {
    // '$' sorts right after '#'.
    for item in records.range("slot#".."slot$").map_err(storage)? {
        let (_, value) = item.map_err(storage)?;
        let stored: super::Stored = serde_json::from_slice(value.value()).map_err(corrupt)?;
        apply(index, change(None, Some(&stored.record))?)?;
    }
    Ok(())
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
    let start = match after {
        None => Bound::Unbounded,
        Some((at, account)) => Bound::Excluded(key(*at, account)?),
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
        let (_, account) = item.map_err(storage)?;
        if items.len() == limit {
            return Ok(Page {
                items,
                has_more: true,
            });
        }
        items.push(AccountId::parse(account.value()).map_err(corrupt)?);
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
    fn instants_sort_as_text_in_time_order_down_to_the_nanosecond() {
        let noon = Utc.with_ymd_and_hms(2026, 10, 15, 12, 0, 0).unwrap();
        let times = [
            Utc.with_ymd_and_hms(999, 1, 1, 0, 0, 0).unwrap(),
            noon,
            noon + chrono::Duration::nanoseconds(1),
            noon + chrono::Duration::milliseconds(1),
            noon + chrono::Duration::hours(1),
        ];
        let texts: Vec<String> = times.iter().map(|t| instant(*t).unwrap()).collect();
        assert_eq!(texts[1], "2026-10-15T12:00:00.000000000Z");
        assert_eq!(texts[0], "0999-01-01T00:00:00.000000000Z");
        assert!(texts.windows(2).all(|pair| pair[0] < pair[1]), "{texts:?}");
    }

    #[test]
    fn a_start_beyond_year_9999_is_refused_as_invalid() {
        let far = Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).unwrap();
        assert!(matches!(instant(far), Err(StoreError::Invalid(_))));
    }
}
