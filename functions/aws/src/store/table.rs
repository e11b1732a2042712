//! The table's definition, for tests and tools (production tables come from the SAM
//! template, which mirrors this: see the README).

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::create_table::builders::CreateTableFluentBuilder;
use aws_sdk_dynamodb::operation::update_time_to_live::builders::UpdateTimeToLiveFluentBuilder;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use billing_core::ports::store::StoreError;

use super::errors;
use super::items::EXPIRES;
use super::keys::{GSI1, GSI1_PK, GSI1_SK, PK, SK};

fn string_attribute(name: &str) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .expect("name and type are set")
}

fn key(name: &str, key_type: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .expect("name and type are set")
}

/// A CreateTable request for the store's table (on-demand billing), ready to send.
pub fn table_definition(client: &Client, table: &str) -> CreateTableFluentBuilder {
    let index = GlobalSecondaryIndex::builder()
        .index_name(GSI1)
        .key_schema(key(GSI1_PK, KeyType::Hash))
        .key_schema(key(GSI1_SK, KeyType::Range))
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()
        .expect("name, keys and projection are set");
    client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(string_attribute(PK))
        .attribute_definitions(string_attribute(SK))
        .attribute_definitions(string_attribute(GSI1_PK))
        .attribute_definitions(string_attribute(GSI1_SK))
        .key_schema(key(PK, KeyType::Hash))
        .key_schema(key(SK, KeyType::Range))
        .global_secondary_indexes(index)
}

/// The UpdateTimeToLive request that lets DynamoDB delete items once their `expires` (epoch
/// seconds) has passed: idempotency records. CreateTable cannot carry it, so it is sent once
/// the table is active (the template sets `TimeToLiveSpecification` on the table itself).
pub fn time_to_live(client: &Client, table: &str) -> UpdateTimeToLiveFluentBuilder {
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(EXPIRES)
                .enabled(true)
                .build()
                .expect("name and switch are set"),
        )
}

/// Creates the store's table, waits until it is active, and turns its TTL on.
pub async fn create_table(client: &Client, table: &str) -> Result<(), StoreError> {
    table_definition(client, table)
        .send()
        .await
        .map_err(|e| errors::sdk("CreateTable", e))?;
    for _ in 0..120 {
        let described = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| errors::sdk("DescribeTable", e))?;
        let status = described.table().and_then(|t| t.table_status());
        if status == Some(&aws_sdk_dynamodb::types::TableStatus::Active) {
            time_to_live(client, table)
                .send()
                .await
                .map_err(|e| errors::sdk("UpdateTimeToLive", e))?;
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    Err(StoreError::Unavailable(format!(
        "table {table} did not become active within a minute"
    )))
}
