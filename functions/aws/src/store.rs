//! The DynamoDB store: every record, ledger entry and balance in one table.
//!
//! Calls per method (each call one request, before the SDK's own retries):
//! `get` 1 GetItem; `balance` 1 GetItem; `get_with_balance` 1 BatchGetItem (again only for
//! keys DynamoDB left unprocessed); `list` 1 Query per page read (one for any page of
//! up to 100 records; an account's records take more only while its balance item and ledger
//! entries fill the pages DynamoDB returns, see [`account_records`]); `commit` 1 request —
//! UpdateItem or DeleteItem when the transaction is one single-item write, otherwise one
//! TransactWriteItems (sent again, at most [`CONFLICT_ATTEMPTS`] times in all, while
//! DynamoDB cancels it only for a concurrent transaction on the same items).

mod account_records;
mod commit;
mod errors;
mod items;
mod keys;
mod table;
mod writes;

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::types::KeysAndAttributes;
use billing_core::AccountId;
use billing_core::ports::store::{
    ListQuery, Page, Record, RecordKey, Store, StoreError, Transaction, Versioned, check_own_keys,
};
use billing_core::rules::ledger::BalanceState;
use billing_core::rules::period::BillingPeriod;
use chrono::{DateTime, Utc};

pub use commit::CONFLICT_ATTEMPTS;
pub use items::EXPIRES;
pub use keys::{GSI1, GSI1_PK, GSI1_SK, PK, SK};
pub use table::{create_table, table_definition, time_to_live};

use items::{Item, key_attributes};
use writes::Kind;

/// The [`Store`] on one DynamoDB table (layout: see the crate README).
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    /// A store on `table`, with a client built from the shared config.
    pub fn new(config: &aws_types::SdkConfig, table: impl Into<String>) -> Self {
        Self::from_client(Client::new(config), table)
    }

    /// The table's name.
    pub fn table_name(&self) -> &str {
        &self.table
    }

    /// A store on `table` with a client built by the caller.
    pub fn from_client(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    async fn get_item(&self, key: &keys::ItemKey) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_attributes(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| errors::sdk("GetItem", e))?;
        Ok(output.item)
    }

    /// Reads items by key with strong consistency in one BatchGetItem, sending again only the
    /// keys DynamoDB left unprocessed (a bounded number of times). Items found, by
    /// `pk/sk`.
    async fn batch_get(
        &self,
        keys: impl Iterator<Item = &keys::ItemKey>,
    ) -> Result<HashMap<String, Item>, StoreError> {
        let mut pending: Vec<Item> = keys.map(key_attributes).collect();
        let mut found = HashMap::with_capacity(pending.len());
        for attempt in 1..=BATCH_ATTEMPTS {
            if attempt > 1 {
                tokio::time::sleep(commit::backoff(attempt)).await;
            }
            let request = KeysAndAttributes::builder()
                .set_keys(Some(std::mem::take(&mut pending)))
                .consistent_read(true)
                .build()
                .map_err(|e| StoreError::Invalid(format!("BatchGetItem: {e}")))?;
            let output = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await
                .map_err(|e| errors::sdk("BatchGetItem", e))?;
            let mut responses = output.responses.unwrap_or_default();
            for item in responses.remove(&self.table).unwrap_or_default() {
                found.insert(items::item_key_text(&item)?, item);
            }
            match output
                .unprocessed_keys
                .and_then(|mut left| left.remove(&self.table))
            {
                Some(left) if !left.keys.is_empty() => pending = left.keys,
                _ => return Ok(found),
            }
        }
        Err(StoreError::Unavailable(
            "BatchGetItem kept leaving keys unprocessed".into(),
        ))
    }

    /// Reads `want` items of a Query (all of them when `None`), following its pages.
    /// A Query on `gsi1`. Index reads are eventually consistent: see the README.
    fn gsi1_query(
        &self,
        condition: &str,
        values: &HashMap<String, AttributeValue>,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.table)
            .index_name(GSI1)
            .key_condition_expression(condition)
            .set_expression_attribute_values(Some(values.clone()))
    }

    async fn query(
        &self,
        build: impl Fn() -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
        want: Option<usize>,
    ) -> Result<Vec<Item>, StoreError> {
        let mut found = Vec::new();
        let mut start = None;
        loop {
            let page_limit = want.map(|w| i32::try_from(w - found.len()).unwrap_or(i32::MAX));
            let output = build()
                .set_exclusive_start_key(start)
                .set_limit(page_limit)
                .send()
                .await
                .map_err(|e| errors::sdk("Query", e))?;
            found.extend(output.items.unwrap_or_default());
            start = output.last_evaluated_key;
            if start.is_none() || want.is_some_and(|w| found.len() >= w) {
                return Ok(found);
            }
        }
    }

    async fn list_accounts(
        &self,
        after: Option<&AccountId>,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        let mut values = HashMap::from([(
            ":accounts".to_owned(),
            AttributeValue::S(keys::ACCOUNTS.to_owned()),
        )]);
        let mut condition = format!("{GSI1_PK} = :accounts");
        if let Some(after) = after {
            values.insert(":after".to_owned(), AttributeValue::S(after.to_string()));
            condition.push_str(&format!(" AND {GSI1_SK} > :after"));
        }
        self.query(|| self.gsi1_query(&condition, &values), Some(limit + 1))
            .await
    }

    async fn list_due(
        &self,
        period: BillingPeriod,
        shard: u16,
        after: Option<&AccountId>,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        let mut values = HashMap::from([(
            ":due".to_owned(),
            AttributeValue::S(keys::due(period, shard)),
        )]);
        let mut condition = format!("{GSI1_PK} = :due");
        if let Some(after) = after {
            values.insert(":after".to_owned(), AttributeValue::S(after.to_string()));
            condition.push_str(&format!(" AND {GSI1_SK} > :after"));
        }
        self.query(|| self.gsi1_query(&condition, &values), Some(limit + 1))
            .await
    }

    /// Unsettled purchase slots started before `started_before`, oldest first. Every key is
    /// `<start>#<account>`, so `gsi1sk < <started_before>` (the bare instant) is exactly
    /// "started before".
    async fn list_unsettled(
        &self,
        started_before: DateTime<Utc>,
        after: Option<&(DateTime<Utc>, AccountId)>,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        let before = keys::instant(started_before)?;
        let cursor = after
            .map(|(at, account)| keys::unsettled(*at, account))
            .transpose()?;
        self.gsi1_range(keys::UNSETTLED, before, cursor, limit)
            .await
    }

    /// Invoices whose collection visit is due at or before `due_at`, earliest first. Every key
    /// is `<visit>#<account>#<invoice>`, so `gsi1sk < <due_at>$` is exactly "due at or before"
    /// (see [`keys::collect_end`]).
    async fn list_collect(
        &self,
        due_at: DateTime<Utc>,
        after: Option<&(DateTime<Utc>, AccountId, billing_core::InvoiceId)>,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        let end = keys::collect_end(due_at)?;
        let cursor = after
            .map(|(at, account, invoice)| keys::collect(*at, account, invoice))
            .transpose()?;
        self.gsi1_range(keys::COLLECT, end, cursor, limit).await
    }

    /// The items of the GSI1 partition `pk` whose sort key lies after `cursor` (`None`: from
    /// the first) and before `end`, in key order: `limit` of them and one more when there is
    /// one (to tell that there are more). With a cursor the range is a BETWEEN, inclusive at
    /// both ends, so the cursor's own item (if it is still listed there) is read and dropped;
    /// the upper bound reads nothing more, as no key may equal `end` (each has `#` there).
    async fn gsi1_range(
        &self,
        pk: &str,
        end: String,
        cursor: Option<String>,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        let mut values = HashMap::from([
            (":pk".to_owned(), AttributeValue::S(pk.to_owned())),
            (":end".to_owned(), AttributeValue::S(end.clone())),
        ]);
        let (condition, want, cursor) = match cursor {
            None => (
                format!("{GSI1_PK} = :pk AND {GSI1_SK} < :end"),
                limit + 1,
                None,
            ),
            Some(cursor) => {
                if cursor >= end {
                    // Nothing lies between; DynamoDB refuses a BETWEEN whose bounds are reversed.
                    return Ok(Vec::new());
                }
                values.insert(":after".to_owned(), AttributeValue::S(cursor.clone()));
                (
                    format!("{GSI1_PK} = :pk AND {GSI1_SK} BETWEEN :after AND :end"),
                    limit + 2,
                    Some(AttributeValue::S(cursor)),
                )
            }
        };
        let mut found = self
            .query(|| self.gsi1_query(&condition, &values), Some(want))
            .await?;
        if let Some(cursor) = cursor {
            found.retain(|item| item.get(GSI1_SK) != Some(&cursor));
        }
        Ok(found)
    }

    async fn list_invoices(
        &self,
        account: &AccountId,
        starting_after: Option<&billing_core::InvoiceId>,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        let prefix = keys::INVOICE_PREFIX;
        let mut values = HashMap::from([
            (
                ":pk".to_owned(),
                AttributeValue::S(keys::partition(account)),
            ),
            (":lo".to_owned(), AttributeValue::S(prefix.to_owned())),
        ]);
        // Newest first is descending id. With a cursor, the range ends at the cursor itself
        // (BETWEEN is inclusive; the cursor's own item is dropped below), so a cursor that
        // names no invoice still pages correctly.
        let (condition, want) = match starting_after {
            None => (format!("{PK} = :pk AND begins_with({SK}, :lo)"), limit + 1),
            Some(cursor) => {
                values.insert(
                    ":hi".to_owned(),
                    AttributeValue::S(format!("{prefix}{cursor}")),
                );
                (
                    format!("{PK} = :pk AND {SK} BETWEEN :lo AND :hi"),
                    limit + 2,
                )
            }
        };
        let build = || {
            self.client
                .query()
                .table_name(&self.table)
                .key_condition_expression(&condition)
                .set_expression_attribute_values(Some(values.clone()))
                .scan_index_forward(false)
                .consistent_read(true)
        };
        let mut found = self.query(build, Some(want)).await?;
        if let Some(cursor) = starting_after {
            let cursor_sk = AttributeValue::S(format!("{prefix}{cursor}"));
            found.retain(|item| item.get(SK) != Some(&cursor_sk));
        }
        Ok(found)
    }
}

/// How many times a BatchGetItem is sent while DynamoDB leaves keys unprocessed (throttling).
const BATCH_ATTEMPTS: u32 = 4;

fn check_limit(limit: usize) -> Result<(), StoreError> {
    if (1..=100).contains(&limit) {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "limit must be 1 to 100, not {limit}"
        )))
    }
}

#[async_trait]
impl Store for DynamoStore {
    async fn get(&self, key: &RecordKey) -> Result<Option<Versioned<Record>>, StoreError> {
        let Some(item) = self.get_item(&keys::record(key)).await? else {
            return Ok(None);
        };
        let (value, version) = items::decode_record(item)?;
        if value.key() != *key {
            return Err(StoreError::Corrupt(format!(
                "item {} holds the record of another key",
                keys::record(key)
            )));
        }
        Ok(Some(Versioned { value, version }))
    }

    async fn list(&self, query: &ListQuery, limit: usize) -> Result<Page<Record>, StoreError> {
        check_limit(limit)?;
        let found = match query {
            ListQuery::Accounts { after } => self.list_accounts(after.as_ref(), limit).await?,
            ListQuery::Due {
                period,
                shard,
                after,
            } => {
                self.list_due(*period, *shard, after.as_ref(), limit)
                    .await?
            }
            ListQuery::Invoices {
                account,
                starting_after,
            } => {
                self.list_invoices(account, starting_after.as_ref(), limit)
                    .await?
            }
            ListQuery::Unsettled {
                started_before,
                after,
            } => {
                self.list_unsettled(*started_before, after.as_ref(), limit)
                    .await?
            }
            ListQuery::Collect { due_at, after } => {
                self.list_collect(*due_at, after.as_ref(), limit).await?
            }
            ListQuery::AccountRecords { account, after } => {
                self.list_account_records(account, after.as_ref(), limit)
                    .await?
            }
        };
        let has_more = found.len() > limit;
        let items = found
            .into_iter()
            .take(limit)
            .map(|item| items::decode_record(item).map(|(record, _)| record))
            .collect::<Result<_, _>>()?;
        Ok(Page { items, has_more })
    }

    async fn balance(&self, account: &AccountId) -> Result<BalanceState, StoreError> {
        match self.get_item(&keys::balance(account)).await? {
            None => Ok(BalanceState::default()),
            Some(item) => items::decode_balance(&item),
        }
    }

    async fn get_with_balance(
        &self,
        account: &AccountId,
        keys: &[RecordKey],
    ) -> Result<(Vec<Option<Versioned<Record>>>, BalanceState), StoreError> {
        check_own_keys(account, keys)?;
        let balance_key = keys::balance(account);
        let wanted: Vec<keys::ItemKey> = keys.iter().map(keys::record).collect();
        let mut found = self
            .batch_get(wanted.iter().chain(std::iter::once(&balance_key)))
            .await?;
        let mut records = Vec::with_capacity(keys.len());
        for (key, item_key) in keys.iter().zip(&wanted) {
            let record = match found.remove(&item_key.to_string()) {
                None => None,
                Some(item) => {
                    let (value, version) = items::decode_record(item)?;
                    if value.key() != *key {
                        return Err(StoreError::Corrupt(format!(
                            "item {item_key} holds the record of another key"
                        )));
                    }
                    Some(Versioned { value, version })
                }
            };
            records.push(record);
        }
        let balance = match found.remove(&balance_key.to_string()) {
            None => BalanceState::default(),
            Some(item) => items::decode_balance(&item)?,
        };
        Ok((records, balance))
    }

    async fn commit(&self, transaction: Transaction) -> Result<(), StoreError> {
        transaction.validate()?;
        let mut actions = writes::actions(&transaction)?;
        match actions.len() {
            0 => Ok(()),
            1 if matches!(actions[0].kind, Kind::Update(_) | Kind::Delete) => {
                self.write_one(actions.remove(0)).await
            }
            _ => self.transact(actions).await,
        }
    }
}
