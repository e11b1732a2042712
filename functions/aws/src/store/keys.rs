//! Where each item lives in the single table.
//!
//! Everything of an account shares the partition `ACCOUNT#<id>` (records, its balance item,
//! its non-usage entries), so one strongly consistent Query reads an account's invoices. Usage
//! entries are the exception: each is its own item `ENTRY#usage:<event id>`, because an event
//! id is unique across accounts (a reuse under another account must collide) and because a hot
//! account's thousands of entries a second then spread over the whole table.
//!
//! The one global index (`gsi1`) is overloaded and sparse: account items carry
//! `ACCOUNTS / <id>` (accounts in id order) and due marks carry `DUE#<period>#<shard> / <id>`
//! (the accounts one month's charge must visit, in shards). Ids cannot contain `#` (see
//! `billing_core::domain::ids`), so prefixes never run into ids.

use billing_core::AccountId;
use billing_core::ports::store::RecordKey;
use billing_core::rules::ledger::{EntryKind, LedgerEntry, due_shard};
use billing_core::rules::period::BillingPeriod;

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
        RecordKey::Account(_) => "ACCOUNT".to_owned(),
        RecordKey::Purchase(_, p) => format!("PURCHASE#{p}"),
        RecordKey::PurchaseSlot(_) => "PURCHASE_SLOT".to_owned(),
        RecordKey::Invoice(_, i) => format!("{INVOICE_PREFIX}{i}"),
        RecordKey::Idempotency(_, k) => format!("IDEMPOTENCY#{k}"),
        RecordKey::Due(_, period) => format!("DUE#{period}"),
    };
    ItemKey {
        pk: partition(key.account()),
        sk,
    }
}

/// The `gsi1` key of a record, for the records that are listed through it.
pub(crate) fn record_index(key: &RecordKey) -> Option<(String, String)> {
    match key {
        RecordKey::Account(a) => Some((ACCOUNTS.to_owned(), a.to_string())),
        RecordKey::Due(a, period) => Some((due(*period, due_shard(a)), a.to_string())),
        RecordKey::Purchase(..)
        | RecordKey::PurchaseSlot(_)
        | RecordKey::Invoice(..)
        | RecordKey::Idempotency(..) => None,
    }
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
    use chrono::{DateTime, Utc};

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
    fn due_shards_are_two_digits_so_they_sort_as_numbers() {
        let period = BillingPeriod::new(2026, 10).unwrap();
        assert_eq!(due(period, 7), "DUE#2026-10#07");
    }
}
