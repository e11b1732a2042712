//! A [`Transaction`] as DynamoDB actions.
//!
//! Every write but `Append` is one action on one item. `Append` is one Put per entry that
//! requires the entry to be new (and asks for the stored item back when it is not), then one
//! update of the account's balance item: `ADD` to the balance, the version and each period's
//! usage total, conditioned on the write's version expectation and on staying within
//! ±`LEDGER_LIMIT`. Each action remembers the write it came from, so a cancellation reason
//! maps back to the index the caller knows. A `Check` without a condition asks nothing and is
//! left out.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, Put, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, Update,
};
use billing_core::AccountId;
use billing_core::ports::store::{Expect, Record, StoreError, Transaction, Write};
use billing_core::rules::ledger::{BalanceMove, LEDGER_LIMIT, LedgerEntry};

use super::items::{self, EXPIRES, Item, RECORD, VERSION};
use super::keys::{self, GSI1_PK, GSI1_SK, IndexKey, ItemKey, PK};

/// What an action does to its item.
pub(crate) enum Kind {
    /// An update expression.
    Update(String),
    /// A whole new item.
    Put(Item),
    Delete,
    Check,
}

/// One item-level action of a transaction.
pub(crate) struct Action {
    /// Index of the [`Write`] it came from.
    pub write: usize,
    /// A ledger entry's Put: when its condition fails, the stored entry comes back.
    pub entry: bool,
    pub key: ItemKey,
    pub kind: Kind,
    pub condition: Option<String>,
    pub names: HashMap<String, String>,
    pub values: HashMap<String, AttributeValue>,
}

impl Action {
    fn new(write: usize, key: ItemKey, kind: Kind) -> Self {
        Self {
            write,
            entry: false,
            key,
            kind,
            condition: None,
            names: HashMap::new(),
            values: HashMap::new(),
        }
    }

    fn name(&mut self, attribute: &str) {
        self.names
            .insert(items::name(attribute), attribute.to_owned());
    }

    fn expect(mut self, expect: Expect) -> Self {
        self.condition = match expect {
            Expect::Absent => Some(format!("attribute_not_exists({PK})")),
            Expect::Version(version) => {
                self.name(VERSION);
                self.values
                    .insert(":expected".to_owned(), items::number(version));
                Some(format!("#{VERSION} = :expected"))
            }
            Expect::Any => None,
        };
        self
    }
}

/// The actions of a transaction, in write order.
pub(crate) fn actions(transaction: &Transaction) -> Result<Vec<Action>, StoreError> {
    let mut actions = Vec::with_capacity(transaction.writes().len() + 1);
    for (index, write) in transaction.writes().iter().enumerate() {
        match write {
            Write::Put { record, expect } => {
                let key = record.key();
                // ADD starts a missing version at 0, so a create gets 1 and a replace n + 1,
                // whatever the condition.
                let mut set = format!("SET #{RECORD} = :record");
                let mut values = HashMap::from([
                    (":record".to_owned(), items::record_value(record)?),
                    (":one".to_owned(), items::number(1)),
                ]);
                let mut remove = String::new();
                match keys::record_index(record)? {
                    IndexKey::Listed(gsi1pk, gsi1sk) => {
                        set.push_str(&format!(", {GSI1_PK} = :gsi1pk, {GSI1_SK} = :gsi1sk"));
                        values.insert(":gsi1pk".to_owned(), AttributeValue::S(gsi1pk));
                        values.insert(":gsi1sk".to_owned(), AttributeValue::S(gsi1sk));
                    }
                    // A settled slot leaves the sparse index: an item without the attributes
                    // is in no index.
                    IndexKey::Unlisted => remove = format!(" REMOVE {GSI1_PK}, {GSI1_SK}"),
                    IndexKey::Never => {}
                }
                let expires_at = match record {
                    Record::Idempotency(kept) => Some(kept.expires_at),
                    Record::Event(handled) => Some(handled.expires_at),
                    Record::Account(_)
                    | Record::Purchase(_)
                    | Record::PurchaseSlot(_)
                    | Record::Invoice(_)
                    | Record::Due(_)
                    | Record::RefusedUsage(_) => None,
                };
                if let Some(expires_at) = expires_at {
                    set.push_str(&format!(", {EXPIRES} = :expires"));
                    values.insert(":expires".to_owned(), items::number(expires_at.timestamp()));
                }
                let update = format!("{set}{remove} ADD #{VERSION} :one");
                let mut action = Action::new(index, keys::record(&key), Kind::Update(update));
                action.name(RECORD);
                action.name(VERSION);
                action.values.extend(values);
                actions.push(action.expect(*expect));
            }
            Write::Delete { key, expect } => {
                actions.push(Action::new(index, keys::record(key), Kind::Delete).expect(*expect));
            }
            Write::Check { key, expect } => match expect {
                Expect::Any => {}
                Expect::Absent | Expect::Version(_) => {
                    actions
                        .push(Action::new(index, keys::record(key), Kind::Check).expect(*expect));
                }
            },
            Write::Append {
                account,
                entries,
                balance,
            } => {
                for entry in entries {
                    let mut put = Action::new(
                        index,
                        keys::entry(account, entry),
                        Kind::Put(items::entry_item(account, entry)?),
                    );
                    put.condition = Some(format!("attribute_not_exists({PK})"));
                    put.entry = true;
                    actions.push(put);
                }
                actions.push(balance_update(index, account, entries, *balance)?);
            }
        }
    }
    Ok(actions)
}

/// `attribute_not_exists(#a) OR #a BETWEEN :lo AND :hi`, where the bounds keep `#a + delta`
/// within ±`LEDGER_LIMIT` (a missing attribute starts at zero, as `ADD` does).
fn stays_within_limit(action: &mut Action, placeholder: &str, delta: i64) -> String {
    let limit = i128::from(LEDGER_LIMIT.get());
    let delta = i128::from(delta);
    let (lo, hi) = (-limit - delta, limit - delta);
    action
        .values
        .insert(format!(":{placeholder}lo"), items::number(lo));
    action
        .values
        .insert(format!(":{placeholder}hi"), items::number(hi));
    let within = format!("#{placeholder} BETWEEN :{placeholder}lo AND :{placeholder}hi");
    if lo <= 0 && 0 <= hi {
        format!("(attribute_not_exists(#{placeholder}) OR {within})")
    } else {
        within
    }
}

/// The one update of the balance item an `Append` makes.
fn balance_update(
    index: usize,
    account: &AccountId,
    entries: &[LedgerEntry],
    expect: Expect,
) -> Result<Action, StoreError> {
    let moved = BalanceMove::of(entries)
        .map_err(|_| StoreError::Invalid("the entries of an append overflow".into()))?;
    let mut action = Action::new(index, keys::balance(account), Kind::Check).expect(expect);
    let mut conditions: Vec<String> = action.condition.take().into_iter().collect();
    let mut adds = vec!["#balance :amount".to_owned(), format!("#{VERSION} :one")];
    action
        .names
        .insert("#balance".to_owned(), items::BALANCE_ATTRIBUTE.to_owned());
    action.name(VERSION);
    action
        .values
        .insert(":amount".to_owned(), items::number(moved.amount.get()));
    action.values.insert(":one".to_owned(), items::number(1));
    conditions.push(stays_within_limit(
        &mut action,
        "balance",
        moved.amount.get(),
    ));
    for (n, (period, amount)) in moved.usage.iter().enumerate() {
        let placeholder = format!("u{n}");
        action
            .names
            .insert(format!("#{placeholder}"), items::usage_attribute(*period));
        action
            .values
            .insert(format!(":{placeholder}"), items::number(amount.get()));
        adds.push(format!("#{placeholder} :{placeholder}"));
        conditions.push(stays_within_limit(&mut action, &placeholder, amount.get()));
    }
    action.kind = Kind::Update(format!("ADD {}", adds.join(", ")));
    action.condition = Some(conditions.join(" AND "));
    Ok(action)
}

fn non_empty<K, V>(map: HashMap<K, V>) -> Option<HashMap<K, V>> {
    (!map.is_empty()).then_some(map)
}

fn invalid(error: impl std::fmt::Display) -> StoreError {
    StoreError::Invalid(format!("transaction item: {error}"))
}

/// The action as an item of `TransactWriteItems`.
pub(crate) fn transact_item(table: &str, action: Action) -> Result<TransactWriteItem, StoreError> {
    let key = items::key_attributes(&action.key);
    let names = non_empty(action.names);
    let values = non_empty(action.values);
    let item = TransactWriteItem::builder();
    Ok(match action.kind {
        Kind::Update(expression) => item.update(
            Update::builder()
                .table_name(table)
                .set_key(Some(key))
                .update_expression(expression)
                .set_condition_expression(action.condition)
                .set_expression_attribute_names(names)
                .set_expression_attribute_values(values)
                .build()
                .map_err(invalid)?,
        ),
        Kind::Put(attributes) => item.put(
            Put::builder()
                .table_name(table)
                .set_item(Some(attributes))
                .set_return_values_on_condition_check_failure(
                    action
                        .entry
                        .then_some(ReturnValuesOnConditionCheckFailure::AllOld),
                )
                .set_condition_expression(action.condition)
                .set_expression_attribute_names(names)
                .set_expression_attribute_values(values)
                .build()
                .map_err(invalid)?,
        ),
        Kind::Delete => item.delete(
            Delete::builder()
                .table_name(table)
                .set_key(Some(key))
                .set_condition_expression(action.condition)
                .set_expression_attribute_names(names)
                .set_expression_attribute_values(values)
                .build()
                .map_err(invalid)?,
        ),
        Kind::Check => item.condition_check(
            ConditionCheck::builder()
                .table_name(table)
                .set_key(Some(key))
                .set_condition_expression(action.condition)
                .set_expression_attribute_names(names)
                .set_expression_attribute_values(values)
                .build()
                .map_err(invalid)?,
        ),
    }
    .build())
}
