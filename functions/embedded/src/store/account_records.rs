//! [`ListQuery::AccountRecords`]: every record of one account, read by key in one read
//! transaction. Records of each kind live under one key prefix per account
//! (`purchase#<account>#…`), or at one key (`account#<account>`, `slot#<account>`); due marks
//! are found through [`due_by_account`](super::due_by_account). The listing reads those
//! places kind after kind, in the order of [`RecordKey`]'s variants, each in key order: that
//! is `RecordKey`'s own order, so a cursor is a position, whether or not its record still
//! exists.
//!
//! [`ListQuery::AccountRecords`]: billing_core::ports::store::ListQuery::AccountRecords

use std::ops::Bound;

use billing_core::AccountId;
use billing_core::ports::store::{Page, Record, RecordKey, StoreError};
use redb::ReadableTable;

use super::{Stored, corrupt, due_by_account, record_key, storage};

/// A kind of record, in [`RecordKey`]'s variant order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Account,
    Purchase,
    PurchaseSlot,
    Invoice,
    Idempotency,
    Due,
    Event,
    RefusedUsage,
}

/// Where an account's records of one kind are.
#[derive(Debug, PartialEq, Eq)]
enum Place {
    /// At this record key (one record per account).
    One(String),
    /// Under this record key prefix, `<kind>#<account>#`.
    Prefix(String),
    /// In the due-marks-by-account table.
    DueMarks,
}

impl Kind {
    const ALL: [Kind; 8] = [
        Kind::Account,
        Kind::Purchase,
        Kind::PurchaseSlot,
        Kind::Invoice,
        Kind::Idempotency,
        Kind::Due,
        Kind::Event,
        Kind::RefusedUsage,
    ];

    fn of(key: &RecordKey) -> Self {
        match key {
            RecordKey::Account(_) => Kind::Account,
            RecordKey::Purchase(..) => Kind::Purchase,
            RecordKey::PurchaseSlot(_) => Kind::PurchaseSlot,
            RecordKey::Invoice(..) => Kind::Invoice,
            RecordKey::Idempotency(..) => Kind::Idempotency,
            RecordKey::Due(..) => Kind::Due,
            RecordKey::Event(..) => Kind::Event,
            RecordKey::RefusedUsage(..) => Kind::RefusedUsage,
        }
    }

    /// Where the account's records of this kind are (the text before the account matches
    /// [`record_key`]; a unit test holds them together).
    fn place(self, account: &AccountId) -> Place {
        let prefix = |kind: &str| Place::Prefix(format!("{kind}#{account}#"));
        match self {
            Kind::Account => Place::One(record_key(&RecordKey::Account(account.clone()))),
            Kind::Purchase => prefix("purchase"),
            Kind::PurchaseSlot => Place::One(record_key(&RecordKey::PurchaseSlot(account.clone()))),
            Kind::Invoice => prefix("invoice"),
            Kind::Idempotency => prefix("idempotency"),
            Kind::Due => Place::DueMarks,
            Kind::Event => prefix("event"),
            Kind::RefusedUsage => prefix("refused"),
        }
    }
}

/// The page being filled: `limit` records, and whether one more was found.
struct Filling {
    items: Vec<Record>,
    limit: usize,
    has_more: bool,
}

impl Filling {
    /// How many more keys to read: the rest of the page and one more, to tell `has_more`.
    fn wanted(&self) -> usize {
        if self.has_more {
            0
        } else {
            self.limit + 1 - self.items.len()
        }
    }

    fn push(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        if self.items.len() == self.limit {
            self.has_more = true;
            return Ok(());
        }
        let stored: Stored = serde_json::from_slice(bytes).map_err(corrupt)?;
        self.items.push(stored.record);
        Ok(())
    }
}

/// One page of the account's records after `after` (exclusive), in [`RecordKey`] order.
pub(super) fn list(
    records: &impl ReadableTable<&'static str, &'static [u8]>,
    due_marks: &impl ReadableTable<&'static str, &'static str>,
    account: &AccountId,
    after: Option<&RecordKey>,
    limit: usize,
) -> Result<Page<Record>, StoreError> {
    if let Some(cursor) = after.filter(|cursor| cursor.account() != account) {
        return Err(StoreError::Invalid(format!(
            "the cursor {cursor:?} is not a record of {account}"
        )));
    }
    let mut page = Filling {
        items: Vec::with_capacity(limit),
        limit,
        has_more: false,
    };
    let cursor_kind = after.map(Kind::of);
    for kind in Kind::ALL {
        if page.wanted() == 0 {
            break;
        }
        // Kinds before the cursor's were listed on earlier pages; in the cursor's own kind,
        // the listing resumes just past the cursor.
        let resume = match cursor_kind {
            Some(at) if kind < at => continue,
            Some(at) if kind == at => after,
            _ => None,
        };
        match kind.place(account) {
            // Resuming in a kind of one record means that record was the cursor.
            Place::One(_) if resume.is_some() => {}
            Place::One(key) => {
                if let Some(bytes) = records.get(key.as_str()).map_err(storage)? {
                    page.push(bytes.value())?;
                }
            }
            Place::Prefix(prefix) => {
                let end = format!("{}$", prefix.trim_end_matches('#'));
                let start = resume.map_or(Bound::Included(prefix), |cursor| {
                    Bound::Excluded(record_key(cursor))
                });
                let range = (
                    start.as_ref().map(String::as_str),
                    Bound::Excluded(end.as_str()),
                );
                for item in records
                    .range::<&str>(range)
                    .map_err(storage)?
                    .take(page.wanted())
                {
                    let (_, bytes) = item.map_err(storage)?;
                    page.push(bytes.value())?;
                }
            }
            Place::DueMarks => {
                let after_period = match resume {
                    Some(RecordKey::Due(_, period)) => Some(*period),
                    _ => None,
                };
                let keys =
                    due_by_account::record_keys(due_marks, account, after_period, page.wanted())?;
                for key in keys {
                    let Some(bytes) = records.get(key.as_str()).map_err(storage)? else {
                        return Err(StoreError::Corrupt(format!(
                            "the due marks of {account} name {key}, absent"
                        )));
                    };
                    page.push(bytes.value())?;
                }
            }
        }
    }
    Ok(Page {
        items: page.items,
        has_more: page.has_more,
    })
}

#[cfg(test)]
mod tests {
    use billing_core::rules::period::BillingPeriod;
    use billing_core::{IdempotencyKey, InvoiceId, PurchaseId, UsageEventId};

    use super::*;

    fn one_key_of_each_kind(account: &AccountId) -> Vec<RecordKey> {
        let a = || account.clone();
        vec![
            RecordKey::Account(a()),
            RecordKey::Purchase(a(), PurchaseId::parse("cp_1").unwrap()),
            RecordKey::PurchaseSlot(a()),
            RecordKey::Invoice(a(), InvoiceId::parse("in_1").unwrap()),
            RecordKey::Idempotency(a(), IdempotencyKey::parse("k").unwrap()),
            RecordKey::Due(a(), BillingPeriod::new(2026, 10).unwrap()),
            RecordKey::Event(a(), "evt_1".into()),
            RecordKey::RefusedUsage(a(), UsageEventId::parse("e1").unwrap()),
        ]
    }

    /// Whether the record key `text` is in `place` (which holds no due mark).
    fn within(place: &Place, text: &str) -> bool {
        match place {
            Place::One(at) => text == at,
            Place::Prefix(prefix) => {
                let end = format!("{}$", prefix.trim_end_matches('#'));
                text >= prefix.as_str() && text < end.as_str()
            }
            Place::DueMarks => unreachable!("due marks have a table of their own"),
        }
    }

    #[test]
    fn kinds_follow_the_order_of_record_keys() {
        let keys = one_key_of_each_kind(&AccountId::parse("a").unwrap());
        let kinds: Vec<Kind> = keys.iter().map(Kind::of).collect();
        assert_eq!(kinds, Kind::ALL);
        assert!(keys.windows(2).all(|pair| pair[0] < pair[1]));
    }

    #[test]
    fn each_record_key_lies_in_its_kinds_place_and_not_in_a_longer_account_ids() {
        let account = AccountId::parse("a").unwrap();
        let longer = AccountId::parse("a-b").unwrap();
        let theirs = one_key_of_each_kind(&longer);
        for (mine, theirs) in one_key_of_each_kind(&account).iter().zip(&theirs) {
            let place = Kind::of(mine).place(&account);
            if place == Place::DueMarks {
                continue;
            }
            assert!(within(&place, &record_key(mine)), "{mine:?} in {place:?}");
            assert!(
                !within(&place, &record_key(theirs)),
                "{theirs:?} in {place:?}"
            );
        }
    }
}
