//! What the two sparse indexes ([unsettled](super::unsettled), [collect](super::collect))
//! share: a table whose keys start with an instant as fixed-width RFC 3339 text with
//! nanoseconds (so that text order is time order), each key holding one string (an account,
//! a record key). Each index says which records belong in it and under what key; this module
//! keeps it in step with the records, in the same write transaction, and reads one key range.
//! The table of each account's due marks ([due_by_account](super::due_by_account)) is kept in
//! step the same way, though its keys start with the account.

use std::ops::Bound;

use billing_core::ports::store::{Page, Record, StoreError};
use chrono::{DateTime, Datelike, Utc};
use redb::{ReadableTable, Table};

use super::{Stored, corrupt, storage};

/// `at` as text that sorts as time does: four-digit years only (0000–9999).
pub(super) fn instant(at: DateTime<Utc>) -> Result<String, StoreError> {
    if !(0..=9999).contains(&at.year()) {
        return Err(StoreError::Invalid(format!(
            "{at} is outside the years 0000-9999 an index can list"
        )));
    }
    Ok(at.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string())
}

/// A record's place in an index: its index key and the string that key holds.
pub(super) type Entry = (String, String);

/// What a write changes in an index: the key it removes, the entry it inserts.
#[derive(Debug, Default)]
pub(super) struct Change {
    remove: Option<String>,
    insert: Option<Entry>,
}

/// What moving from the record `before` to the record `after` (`None`: absent) changes in an
/// index that holds a record under `entry(record)` (`None`: not in it). Computed before
/// anything is written: an entry the index cannot hold refuses the write.
pub(super) fn change(
    before: Option<&Record>,
    after: Option<&Record>,
    entry: impl Fn(&Record) -> Result<Option<Entry>, StoreError>,
) -> Result<Change, StoreError> {
    let remove = before
        .map(&entry)
        .transpose()?
        .flatten()
        .map(|(key, _)| key);
    let insert = after.map(&entry).transpose()?.flatten();
    // A record rewritten under the same index key (a due mark written again with more usage)
    // needs only the insert, which replaces what the key held.
    let remove = remove.filter(|old| insert.as_ref().is_none_or(|(new, _)| new != old));
    Ok(Change { remove, insert })
}

/// Writes a [`Change`].
pub(super) fn apply(index: &mut Table<&str, &str>, change: Change) -> Result<(), StoreError> {
    if let Some(old) = change.remove {
        index.remove(old.as_str()).map_err(storage)?;
    }
    if let Some((new, held)) = change.insert {
        index.insert(new.as_str(), held.as_str()).map_err(storage)?;
    }
    Ok(())
}

/// Fills an index from the stored records of one `kind` (a data folder written before it
/// existed); `entry` is given each record's key and the record.
pub(super) fn rebuild(
    records: &impl ReadableTable<&'static str, &'static [u8]>,
    kind: &str,
    index: &mut Table<&str, &str>,
    entry: impl Fn(&str, &Record) -> Result<Option<Entry>, StoreError>,
) -> Result<(), StoreError> {
    // '$' sorts right after '#'.
    let (start, end) = (format!("{kind}#"), format!("{kind}$"));
    for item in records
        .range(start.as_str()..end.as_str())
        .map_err(storage)?
    {
        let (key, value) = item.map_err(storage)?;
        let stored: Stored = serde_json::from_slice(value.value()).map_err(corrupt)?;
        let key = key.value();
        apply(
            index,
            change(None, Some(&stored.record), |r| entry(key, r))?,
        )?;
    }
    Ok(())
}

/// One page of what the index holds, in key order, from just after `after` (exclusive; `None`:
/// the first key) to just before `end` (exclusive), each read by `read`.
pub(super) fn page<T>(
    index: &impl ReadableTable<&'static str, &'static str>,
    after: Option<String>,
    end: &str,
    limit: usize,
    read: impl Fn(&str) -> Result<T, StoreError>,
) -> Result<Page<T>, StoreError> {
    let start = after.map_or(Bound::Unbounded, Bound::Excluded);
    let mut items = Vec::with_capacity(limit);
    if matches!(&start, Bound::Excluded(cursor) if cursor.as_str() >= end) {
        return Ok(Page {
            items,
            has_more: false,
        });
    }
    let range = (start.as_ref().map(String::as_str), Bound::Excluded(end));
    for item in index.range::<&str>(range).map_err(storage)? {
        let (_, held) = item.map_err(storage)?;
        if items.len() == limit {
            return Ok(Page {
                items,
                has_more: true,
            });
        }
        items.push(read(held.value())?);
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
