//! Items as stored: a record under `record` with its `version`, an entry under `entry` with
//! its `account`, and the balance item: `balance`, `version` and one `usage#<YYYY-MM>` number
//! per period (top-level, so one `ADD` moves each). Keeping each record whole in one map
//! attribute lets one `SET #record = :record` replace it without leaving fields of the old one
//! behind. Idempotency records and handled events also carry `expires` (epoch seconds), the
//! table's TTL attribute.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use billing_core::AccountId;
use billing_core::domain::money::Micros;
use billing_core::ports::store::{ExistingEntry, Record, StoreError};
use billing_core::rules::ledger::{BalanceState, LedgerEntry};
use billing_core::rules::period::BillingPeriod;
use serde::{Deserialize, Serialize};

use super::keys::{self, ItemKey, PK, SK};

/// An item's attributes.
pub(crate) type Item = HashMap<String, AttributeValue>;

/// Record attributes.
pub(crate) const RECORD: &str = "record";
pub(crate) const VERSION: &str = "version";
const BALANCE: &str = "balance";
/// Prefix of the balance item's usage totals.
const USAGE_PREFIX: &str = "usage#";
/// The TTL attribute (epoch seconds) of items DynamoDB may delete once expired.
pub const EXPIRES: &str = "expires";

#[derive(Deserialize)]
struct StoredRecord {
    version: u64,
    record: Record,
}

#[derive(Deserialize)]
struct StoredEntry {
    account: AccountId,
    entry: LedgerEntry,
}

#[derive(Serialize)]
struct EntryItem<'a> {
    pk: &'a str,
    sk: &'a str,
    account: &'a AccountId,
    entry: &'a LedgerEntry,
}

/// Where an item came from, for error messages that name the item but never its contents
/// (records hold e-mail addresses).
fn whence(item: &Item) -> String {
    let text = |name: &str| match item.get(name) {
        Some(AttributeValue::S(s)) => s.as_str(),
        _ => "?",
    };
    format!("{}/{}", text(PK), text(SK))
}

fn corrupt(item: &Item, what: &str) -> StoreError {
    StoreError::Corrupt(format!("item {} does not decode as {what}", whence(item)))
}

pub(crate) fn key_attributes(key: &ItemKey) -> Item {
    HashMap::from([
        (PK.to_owned(), AttributeValue::S(key.pk.clone())),
        (SK.to_owned(), AttributeValue::S(key.sk.clone())),
    ])
}

/// The `pk/sk` of an item read back (as [`ItemKey`](super::keys::ItemKey) displays it).
pub(crate) fn item_key_text(item: &Item) -> Result<String, StoreError> {
    let text = |name: &str| match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(value.as_str()),
        _ => Err(StoreError::Corrupt(format!(
            "an item without a string {name}"
        ))),
    };
    Ok(format!("{}/{}", text(PK)?, text(SK)?))
}

/// The record as one map attribute.
pub(crate) fn record_value(record: &Record) -> Result<AttributeValue, StoreError> {
    serde_dynamo::to_attribute_value(record).map_err(|_| {
        StoreError::Invalid(format!("{:?} cannot be encoded for DynamoDB", record.key()))
    })
}

/// A ledger entry item (in no index: amounts are read from the balance item).
pub(crate) fn entry_item(account: &AccountId, entry: &LedgerEntry) -> Result<Item, StoreError> {
    let key = keys::entry(account, entry);
    serde_dynamo::to_item(EntryItem {
        pk: &key.pk,
        sk: &key.sk,
        account,
        entry,
    })
    .map_err(|_| StoreError::Invalid(format!("ledger entry {key} cannot be encoded")))
}

pub(crate) fn number(n: impl ToString) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

pub(crate) fn decode_record(item: Item) -> Result<(Record, u64), StoreError> {
    let error = corrupt(&item, "a versioned record");
    let stored: StoredRecord = serde_dynamo::from_item(item).map_err(|_| error)?;
    Ok((stored.record, stored.version))
}

pub(crate) fn decode_entry(item: Item) -> Result<ExistingEntry, StoreError> {
    let error = corrupt(&item, "a ledger entry");
    let stored: StoredEntry = serde_dynamo::from_item(item).map_err(|_| error)?;
    Ok(ExistingEntry {
        account: stored.account,
        entry: stored.entry,
    })
}

/// The attribute holding a period's usage total on the balance item.
pub(crate) fn usage_attribute(period: BillingPeriod) -> String {
    format!("{USAGE_PREFIX}{period}")
}

pub(crate) fn decode_balance(item: &Item) -> Result<BalanceState, StoreError> {
    let error = || corrupt(item, "a balance");
    let int = |value: &AttributeValue| match value {
        AttributeValue::N(n) => n.parse::<i64>().ok(),
        _ => None,
    };
    let mut state = BalanceState::default();
    for (name, value) in item {
        if name == BALANCE {
            state.amount = Micros::new(int(value).ok_or_else(error)?);
        } else if name == VERSION {
            state.version = int(value)
                .and_then(|v| u64::try_from(v).ok())
                .ok_or_else(error)?;
        } else if let Some(period) = name.strip_prefix(USAGE_PREFIX) {
            let period = BillingPeriod::parse(period).map_err(|_| error())?;
            state
                .usage
                .insert(period, Micros::new(int(value).ok_or_else(error)?));
        }
    }
    Ok(state)
}

/// Names of the attributes the expressions use (`record`, `version`… may be reserved words).
pub(crate) fn name(attribute: &str) -> String {
    format!("#{attribute}")
}

pub(crate) const BALANCE_ATTRIBUTE: &str = BALANCE;
