//! Where each item lives in the single table.
//!
//! Everything of an account shares the partition `ACCOUNT#<id>`, so one strongly consistent
//! Query reads an account's invoices, and a transaction over one account stays within one
//! partition. The one global index (`gsi1`) is overloaded: account items carry
//! `ACCOUNTS / <id>` there (the monthly charge lists accounts in id order) and ledger entries
//! carry `LEDGER#<id> / <effective_at>#<entry id>` (entries since an instant, oldest first).
//! Ids cannot contain `#` (see `billing_core::domain::ids`), so prefixes never run into ids.

use billing_core::AccountId;
use billing_core::ports::store::RecordKey;
use billing_core::rules::ledger::LedgerEntry;
use chrono::{DateTime, SecondsFormat, Utc};

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

/// A ledger entry: keyed by its id alone, so a second entry with the same id collides.
pub(crate) fn entry(account: &AccountId, entry: &LedgerEntry) -> ItemKey {
    ItemKey {
        pk: partition(account),
        sk: format!("ENTRY#{}", entry.id.as_str()),
    }
}

pub(crate) fn ledger(account: &AccountId) -> String {
    format!("LEDGER#{account}")
}

/// Fixed-width UTC time, so text order is time order (years 0000–9999).
pub(crate) fn instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// The `gsi1` key of a ledger entry: by effective time, then id.
pub(crate) fn entry_index(account: &AccountId, entry: &LedgerEntry) -> (String, String) {
    (
        ledger(account),
        format!("{}#{}", instant(entry.effective_at), entry.id.as_str()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn instants_sort_as_text_in_time_order() {
        let earlier = Utc.with_ymd_and_hms(2026, 9, 30, 23, 59, 59).unwrap();
        let later = earlier + chrono::Duration::nanoseconds(1);
        let much_later = Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap();
        assert!(instant(earlier) < instant(later));
        assert!(instant(later) < instant(much_later));
        assert_eq!(instant(much_later), "2027-01-01T00:00:00.000000000Z");
    }
}
