//! Items as stored: a record under `record` with its `version`, an entry under `entry`, a
//! balance under `balance`. Keeping each record whole in one map attribute lets one
//! `SET #record = :record` replace it without leaving fields of the old one behind.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use billing_core::AccountId;
use billing_core::domain::money::Micros;
use billing_core::ports::store::{Record, StoreError};
use billing_core::rules::ledger::LedgerEntry;
use serde::{Deserialize, Serialize};

use super::keys::{self, ItemKey, PK, SK};

/// An item's attributes.
pub(crate) type Item = HashMap<String, AttributeValue>;

/// Record attributes.
pub(crate) const RECORD: &str = "record";
pub(crate) const VERSION: &str = "version";
const BALANCE: &str = "balance";

#[derive(Deserialize)]
struct StoredRecord {
    version: u64,
    record: Record,
}

#[derive(Deserialize)]
struct StoredEntry {
    entry: LedgerEntry,
}

#[derive(Deserialize)]
struct StoredBalance {
    balance: i64,
}

#[derive(Serialize)]
struct EntryItem<'a> {
    pk: &'a str,
    sk: &'a str,
    gsi1pk: &'a str,
    gsi1sk: &'a str,
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

/// The record as one map attribute.
pub(crate) fn record_value(record: &Record) -> Result<AttributeValue, StoreError> {
    serde_dynamo::to_attribute_value(record).map_err(|_| {
        StoreError::Invalid(format!("{:?} cannot be encoded for DynamoDB", record.key()))
    })
}

/// A ledger entry item, with its `gsi1` key.
pub(crate) fn entry_item(account: &AccountId, entry: &LedgerEntry) -> Result<Item, StoreError> {
    let key = keys::entry(account, entry);
    let (gsi1pk, gsi1sk) = keys::entry_index(account, entry);
    serde_dynamo::to_item(EntryItem {
        pk: &key.pk,
        sk: &key.sk,
        gsi1pk: &gsi1pk,
        gsi1sk: &gsi1sk,
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

pub(crate) fn decode_entry(item: Item) -> Result<LedgerEntry, StoreError> {
    let error = corrupt(&item, "a ledger entry");
    Ok(serde_dynamo::from_item::<_, StoredEntry>(item)
        .map_err(|_| error)?
        .entry)
}

pub(crate) fn decode_balance(item: Item) -> Result<Micros, StoreError> {
    let error = corrupt(&item, "a balance");
    Ok(Micros::new(
        serde_dynamo::from_item::<_, StoredBalance>(item)
            .map_err(|_| error)?
            .balance,
    ))
}

/// Names of the attributes the expressions use (`record`, `version`… may be reserved words).
pub(crate) fn name(attribute: &str) -> String {
    format!("#{attribute}")
}

pub(crate) const BALANCE_ATTRIBUTE: &str = BALANCE;
