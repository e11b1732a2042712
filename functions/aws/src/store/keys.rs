//! Where each item lives in the single table.
//!
//! Everything of an account shares the partition `ACCOUNT#<id>` (records, its balance item,
//! its non-usage entries), so one strongly consistent Query reads an account's invoices. Usage
//! entries are the exception: each is its own item `ENTRY#usage:<event id>`, because an event
//! id is unique across accounts (a reuse under another account must collide) and because a hot
//! account's thousands of entries a second then spread over the whole table.
//!
//! The one global index (`gsi1`) is overloaded and sparse: account items carry
//! `ACCOUNTS / <id>` (accounts in id order), due marks carry `DUE#<period>#<shard> / <id>`
//! (the accounts one month's charge must visit, in shards), and purchase slots carry
//! `UNSETTLED / <start>#<id>` only while their purchase is unsettled (the in-flight purchases,
//! oldest first, for the sweep), and invoices carry `COLLECT / <visit>#<account>#<invoice>`
//! only while the collection sweep must visit them (`Invoice::visit_at` is set: a scheduled
//! retry, an attempt or an email left claimed; earliest visit first). Ids cannot contain `#`
//! (see `billing_core::domain::ids`), so prefixes never run into ids.

use billing_core::ports::store::{Record, RecordKey, StoreError};
use billing_core::rules::ledger::{EntryKind, LedgerEntry, due_shard};
use billing_core::rules::period::BillingPeriod;
use billing_core::{AccountId, InvoiceId};
use chrono::{DateTime, Datelike, Utc};

/// Partition key attribute.
pub const PK: &str = "pk";
/// Sort key attribute.
pub const SK: &str = "sk";
/// The global index.
pub const GSI1: &str = "gsi1";
/// Partition key of [`GSI1`].
pub const GSI1_PK: &str = "gsi1pk";
/// Sort key of [`GSI1`].
pub const GSI1_SK: &str = "gsi1sk";

/// The `gsi1pk` every account item carries.
pub(crate) const ACCOUNTS: &str = "ACCOUNTS";
/// The `gsi1pk` a purchase slot carries while its purchase is unsettled.
pub(crate) const UNSETTLED: &str = "UNSETTLED";
/// The `gsi1pk` an invoice carries while the collection sweep must visit it.
pub(crate) const COLLECT: &str = "COLLECT";
/// Sort-key prefix of invoices.
pub(crate) const INVOICE_PREFIX: &str = "INVOICE#";

/// The primary key of an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ItemKey {
    pub pk: String,
    pub sk: String,
}

impl std::fmt::Display for ItemKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.pk, self.sk)
    }
}

pub(crate) fn partition(account: &AccountId) -> String {
    format!("ACCOUNT#{account}")
}

/// The item a record key names.
pub(crate) fn record(key: &RecordKey) -> ItemKey {
    let sk = match key {
        RecordKey::RefusedUsage(_, e) => format!("REFUSED#{e}"),
        RecordKey::Account(_) => "ACCOUNT".to_owned(),
        RecordKey::Purchase(_, p) => format!("PURCHASE#{p}"),
        RecordKey::PurchaseSlot(_) => "PURCHASE_SLOT".to_owned(),
        RecordKey::Invoice(_, i) => format!("{INVOICE_PREFIX}{i}"),
        RecordKey::Idempotency(_, k) => format!("IDEMPOTENCY#{k}"),
        RecordKey::Due(_, period) => format!("DUE#{period}"),
        RecordKey::Event(_, id) => format!("EVENT#{id}"),
    };
    ItemKey {
        pk: partition(key.account()),
        sk,
    }
}

/// Where a record's item stands in `gsi1`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum IndexKey {
    /// Listed under this `gsi1pk` and `gsi1sk`.
    Listed(String, String),
    /// A kind listed only in some states, not in this one: a key it had must go (a settled
    /// purchase slot, an invoice with no visit due).
    Unlisted,
    /// A kind never listed.
    Never,
}

/// The `gsi1` key of a record as written.
pub(crate) fn record_index(record: &Record) -> Result<IndexKey, StoreError> {
    Ok(match record {
        Record::Account(a) => IndexKey::Listed(ACCOUNTS.to_owned(), a.id.to_string()),
        Record::Due(d) => {
            IndexKey::Listed(due(d.period, due_shard(&d.account)), d.account.to_string())
        }
        Record::PurchaseSlot(slot) if !slot.needs_sweep() => IndexKey::Unlisted,
        Record::PurchaseSlot(slot) => IndexKey::Listed(
            UNSETTLED.to_owned(),
            unsettled(slot.created_at, &slot.account)?,
        ),
        Record::Invoice(invoice) => match invoice.visit_at() {
            None => IndexKey::Unlisted,
            Some(at) => IndexKey::Listed(
                COLLECT.to_owned(),
                collect(at, &invoice.account, &invoice.id)?,
            ),
        },
        Record::Purchase(_) | Record::Idempotency(_) | Record::Event(_) => IndexKey::Never,
        Record::RefusedUsage(_) => IndexKey::Never,
    })
}

/// `at` as text that sorts as time does: fixed-width RFC 3339 in UTC with nanoseconds (so two
/// starts within one millisecond keep their order, and `< started_before` is exact), for the
/// years 0000–9999.
pub(crate) fn instant(at: DateTime<Utc>) -> Result<String, StoreError> {
    if !(0..=9999).contains(&at.year()) {
        return Err(StoreError::Invalid(format!(
            "{at} is outside the years 0000-9999 an index can list"
        )));
    }
    Ok(at.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string())
}

/// The `gsi1sk` of an unsettled purchase slot: oldest first, then by account.
pub(crate) fn unsettled(
    created_at: DateTime<Utc>,
    account: &AccountId,
) -> Result<String, StoreError> {
    Ok(format!("{}#{account}", instant(created_at)?))
}

/// The `gsi1sk` of an invoice the collection sweep must visit: earliest visit first, then by
/// account, then by invoice id.
pub(crate) fn collect(
    visit_at: DateTime<Utc>,
    account: &AccountId,
    invoice: &InvoiceId,
) -> Result<String, StoreError> {
    Ok(format!("{}#{account}#{invoice}", instant(visit_at)?))
}

/// The least text above every `gsi1sk` of a visit at or before `at`: every such key is an
/// instant `<= at` followed by `#…`, and `$` sorts right after `#`, so `gsi1sk < <at>$` is
/// exactly "due at or before `at`" (instants have one width, so a later one differs inside
/// the instant and sorts above).
pub(crate) fn collect_end(at: DateTime<Utc>) -> Result<String, StoreError> {
    Ok(format!("{}$", instant(at)?))
}

/// The running balance of an account.
pub(crate) fn balance(account: &AccountId) -> ItemKey {
    ItemKey {
        pk: partition(account),
        sk: "BALANCE".to_owned(),
    }
}

/// The `gsi1pk` of one shard of a period's due marks.
pub(crate) fn due(period: BillingPeriod, shard: u16) -> String {
    format!("DUE#{period}#{shard:02}")
}

/// A ledger entry, keyed by its id alone so a second entry with the same id collides: a usage
/// entry in its own partition (unique across accounts), any other in its account's.
pub(crate) fn entry(account: &AccountId, entry: &LedgerEntry) -> ItemKey {
    match entry.kind {
        EntryKind::Usage => ItemKey {
            pk: format!("ENTRY#{}", entry.id.as_str()),
            sk: "ENTRY".to_owned(),
        },
        EntryKind::CreditPurchase | EntryKind::Invoiced | EntryKind::Adjustment => ItemKey {
            pk: partition(account),
            sk: format!("ENTRY#{}", entry.id.as_str()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use billing_core::UsageEventId;
    use billing_core::domain::money::Micros;
    use chrono::{DateTime, TimeZone, Utc};

    #[test]
    fn a_usage_entry_has_the_same_key_whichever_account_reports_it() {
        let entry = LedgerEntry::usage(
            &UsageEventId::parse("evt_1").unwrap(),
            Micros::new(1),
            DateTime::<Utc>::UNIX_EPOCH,
            "",
        )
        .unwrap();
        let a = AccountId::parse("a").unwrap();
        let b = AccountId::parse("b").unwrap();
        assert_eq!(super::entry(&a, &entry), super::entry(&b, &entry));
        assert_eq!(super::entry(&a, &entry).pk, "ENTRY#usage:evt_1");
    }

    #[test]
    fn unsettled_index_keys_sort_as_start_then_account_down_to_the_nanosecond() {
        let noon = Utc.with_ymd_and_hms(2026, 10, 15, 12, 0, 0).unwrap();
        let (a, b) = (
            AccountId::parse("a").unwrap(),
            AccountId::parse("b").unwrap(),
        );
        let keys = [
            unsettled(noon, &a).unwrap(),
            unsettled(noon, &b).unwrap(),
            unsettled(noon + chrono::Duration::nanoseconds(1), &a).unwrap(),
            unsettled(noon + chrono::Duration::seconds(1), &a).unwrap(),
        ];
        assert_eq!(keys[0], "2026-10-15T12:00:00.000000000Z#a");
        assert!(keys.windows(2).all(|pair| pair[0] < pair[1]), "{keys:?}");
        assert!(keys[3] < instant(noon + chrono::Duration::seconds(2)).unwrap());
        assert!(keys[3] > instant(noon + chrono::Duration::seconds(1)).unwrap());
    }

    #[test]
    fn a_start_beyond_year_9999_is_refused_as_invalid() {
        let far = Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).unwrap();
        assert!(matches!(instant(far), Err(StoreError::Invalid(_))));
    }

    #[test]
    fn collect_index_keys_sort_as_visit_then_account_then_invoice_and_end_inclusively() {
        let noon = Utc.with_ymd_and_hms(2026, 10, 15, 12, 0, 0).unwrap();
        let (a, b) = (
            AccountId::parse("a").unwrap(),
            AccountId::parse("b").unwrap(),
        );
        let (i1, i2) = (
            InvoiceId::parse("in_1").unwrap(),
            InvoiceId::parse("in_2").unwrap(),
        );
        let keys = [
            collect(noon, &a, &i1).unwrap(),
            collect(noon, &a, &i2).unwrap(),
            collect(noon, &b, &i1).unwrap(),
            collect(noon + chrono::Duration::nanoseconds(1), &a, &i1).unwrap(),
        ];
        assert_eq!(keys[0], "2026-10-15T12:00:00.000000000Z#a#in_1");
        assert!(keys.windows(2).all(|pair| pair[0] < pair[1]), "{keys:?}");
        let end = collect_end(noon).unwrap();
        assert!(keys[2] < end, "a visit at the bound itself is due");
        assert!(keys[3] > end, "a visit one nanosecond later is not");
    }

    #[test]
    fn due_shards_are_two_digits_so_they_sort_as_numbers() {
        let period = BillingPeriod::new(2026, 10).unwrap();
        assert_eq!(due(period, 7), "DUE#2026-10#07");
    }
}
