//! [`ListQuery::AccountRecords`] on DynamoDB: every record of one account is an item of its
//! partition `ACCOUNT#<id>`, so a page is a strongly consistent Query of that partition in
//! sort-key order, resuming at the cursor's item key (a position, so a cursor whose record was
//! deleted meanwhile still resumes right after it). The partition also holds the balance item
//! and the account's non-usage ledger entries; those have no `record` attribute and a filter
//! leaves them out (a filter may not name the sort key, so it asks for `record` instead).
//!
//! [`ListQuery::AccountRecords`]: billing_core::ports::store::ListQuery::AccountRecords

use aws_sdk_dynamodb::types::AttributeValue;
use billing_core::AccountId;
use billing_core::ports::store::{RecordKey, StoreError};

use super::items::{self, Item, RECORD, key_attributes};
use super::keys::{self, PK};
use super::{DynamoStore, errors};

/// Most items one Query of the listing evaluates: the page grows towards it while balance and
/// entry items take up the pages DynamoDB returns.
const MOST_EVALUATED: usize = 1_000;

impl DynamoStore {
    /// The account's record items after `after` (exclusive), in sort-key order: `limit` of
    /// them and one more when there is one, to tell that there are more.
    pub(super) async fn list_account_records(
        &self,
        account: &AccountId,
        after: Option<&RecordKey>,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        if let Some(cursor) = after.filter(|cursor| cursor.account() != account) {
            return Err(StoreError::Invalid(format!(
                "the cursor {} is not a record of {account}",
                keys::record(cursor)
            )));
        }
        let want = limit + 1;
        let record = items::name(RECORD);
        let mut found = Vec::with_capacity(want);
        let mut start = after.map(|cursor| key_attributes(&keys::record(cursor)));
        // `Limit` counts items evaluated before the filter: each time skipped items leave the
        // page short, the next Query evaluates twice as many, so a run of entries costs a few
        // round trips, not one per entry.
        let mut evaluate = want;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression(format!("{PK} = :pk"))
                .filter_expression(format!("attribute_exists({record})"))
                .expression_attribute_names(&record, RECORD)
                .expression_attribute_values(":pk", AttributeValue::S(keys::partition(account)))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .limit(i32::try_from(evaluate).unwrap_or(i32::MAX))
                .send()
                .await
                .map_err(|e| errors::sdk("Query", e))?;
            found.extend(output.items.unwrap_or_default());
            start = output.last_evaluated_key;
            if found.len() >= want || start.is_none() {
                found.truncate(want);
                return Ok(found);
            }
            evaluate = (evaluate * 2).clamp(want - found.len(), MOST_EVALUATED);
        }
    }
}
