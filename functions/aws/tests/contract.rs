//! The AWS adapters against the port contracts, on moto (`scripts/with-stand-ins`), plus
//! what only the DynamoDB store promises: how many requests each method sends.

mod support;

use std::sync::Arc;

use billing_aws::store::create_table;
use billing_aws::{DynamoStore, SqsQueue};
use billing_contract::mailer::MailHarness;
use billing_contract::queue::QueueHarness;
use billing_contract::{mailer_contract, queue_contract, store_contract};
use billing_core::ports::store::Store;
use support::{MotoSes, RequestLog, SqsDrain, sdk_config, unique_name};
use tokio::sync::OnceCell;

const SENDER: &str = "billing@example.com";

/// One table for the whole test binary, created on first use.
async fn table(client: &aws_sdk_dynamodb::Client) -> String {
    static TABLE: OnceCell<String> = OnceCell::const_new();
    TABLE
        .get_or_init(|| async {
            let name = unique_name("billing");
            create_table(client, &name)
                .await
                .expect("create the table in moto");
            name
        })
        .await
        .clone()
}

async fn dynamo_store(log: Option<RequestLog>) -> DynamoStore {
    let config = sdk_config().await;
    let mut builder = aws_sdk_dynamodb::config::Builder::from(&config);
    if let Some(log) = log {
        builder = builder.interceptor(log);
    }
    let client = aws_sdk_dynamodb::Client::from_conf(builder.build());
    let table = table(&client).await;
    DynamoStore::from_client(client, table)
}

/// A table of its own for each contract case: moto undoes a cancelled TransactWriteItems by
/// putting back a copy of the whole table taken when the transaction began, which also undoes
/// whatever other cases wrote to that table meanwhile (real DynamoDB undoes nothing it did not
/// do). The usage cases cancel transactions on purpose (duplicates, closes twice).
async fn store() -> Arc<dyn Store> {
    let client = aws_sdk_dynamodb::Client::new(&sdk_config().await);
    let name = unique_name("contract");
    create_table(&client, &name)
        .await
        .expect("create a table in moto");
    Arc::new(DynamoStore::from_client(client, name))
}

async fn mailer() -> MailHarness {
    (
        Arc::new(support::verified_ses_mailer(SENDER).await),
        Arc::new(MotoSes),
    )
}

async fn queue() -> QueueHarness {
    let config = sdk_config().await;
    let client = aws_sdk_sqs::Client::new(&config);
    let created = client
        .create_queue()
        .queue_name(unique_name("charge-jobs"))
        .send()
        .await
        .expect("create a queue in moto");
    let queue_url = created.queue_url().expect("a queue url").to_owned();
    (
        Arc::new(SqsQueue::from_client(client.clone(), queue_url.clone())),
        Arc::new(SqsDrain { client, queue_url }),
    )
}

mod store {
    use super::*;
    store_contract!(super::store);
}

mod mailer {
    use super::*;
    mailer_contract!(super::mailer);
}

mod queue {
    use super::*;
    queue_contract!(super::queue);
}

mod dynamo {
    use super::*;
    use aws_sdk_dynamodb::types::AttributeValue;
    use billing_core::domain::account::Account;
    use billing_core::domain::idempotency::IdempotencyRecord;
    use billing_core::domain::money::Micros;
    use billing_core::ports::store::StoreError;
    use billing_core::ports::store::{
        AccountStore, Expect, InvoiceStore, ListQuery, Record, RecordKey, Transaction, Write,
    };
    use billing_core::rules::ledger::LedgerEntry;
    use billing_core::{AccountId, IdempotencyKey, InvoiceId, UsageEventId};
    use chrono::{TimeZone, Utc};

    fn account(id: &AccountId) -> Record {
        Record::Account(Account::new(
            id.clone(),
            None,
            Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0).unwrap(),
        ))
    }

    fn usage(event: &str) -> LedgerEntry {
        LedgerEntry::usage(
            &UsageEventId::parse(event).unwrap(),
            Micros::new(100),
            Utc.with_ymd_and_hms(2026, 10, 2, 0, 0, 0).unwrap(),
            "calls",
        )
        .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn each_store_method_sends_one_request() {
        let log = RequestLog::default();
        let store = dynamo_store(Some(log.clone())).await;
        // Whichever test runs first creates the shared table: that is setup, not a method call.
        log.take();
        let id = billing_contract::unique_account("calls");

        let create = Transaction::new().with(Write::Put {
            record: account(&id),
            expect: Expect::Absent,
        });
        store.commit(create).await.unwrap();
        assert_eq!(log.take(), ["UpdateItem"], "a single put");

        let append = Transaction::new().with(Write::Append {
            account: id.clone(),
            entries: vec![usage(&format!("{id}-1"))],
            balance: Expect::Any,
        });
        store.commit(append).await.unwrap();
        assert_eq!(log.take(), ["TransactWriteItems"], "an append");

        let several = Transaction::new()
            .with(Write::Check {
                key: RecordKey::Account(id.clone()),
                expect: Expect::Version(1),
            })
            .with(Write::Append {
                account: id.clone(),
                entries: vec![usage(&format!("{id}-2"))],
                balance: Expect::Any,
            });
        store.commit(several).await.unwrap();
        assert_eq!(log.take(), ["TransactWriteItems"], "a transaction");

        let asks_nothing = Transaction::new().with(Write::Check {
            key: RecordKey::Account(id.clone()),
            expect: Expect::Any,
        });
        store.commit(asks_nothing).await.unwrap();
        assert!(log.take().is_empty(), "an unconditional check is not sent");

        store.account(&id).await.unwrap().unwrap();
        assert_eq!(log.take(), ["GetItem"], "get");
        assert_eq!(store.balance(&id).await.unwrap().amount, Micros::new(-200));
        assert_eq!(log.take(), ["GetItem"], "balance");
        store.invoices(&id, None, 100).await.unwrap();
        assert_eq!(log.take(), ["Query"], "list invoices");
        let accounts = ListQuery::Accounts { after: None };
        store.list(&accounts, 100).await.unwrap();
        assert_eq!(log.take(), ["Query"], "list accounts");

        let delete = Transaction::new().with(Write::Delete {
            key: RecordKey::Account(id.clone()),
            expect: Expect::Version(1),
        });
        store.commit(delete).await.unwrap();
        assert_eq!(log.take(), ["DeleteItem"], "a single delete");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_invoice_cursor_that_names_no_invoice_still_pages_by_id() {
        let store = dynamo_store(None).await;
        let id = billing_contract::unique_account("cursor");
        let mut transaction = Transaction::new();
        for month in ["in_202601", "in_202603"] {
            let invoice = billing_core::domain::invoice::Invoice {
                id: InvoiceId::parse(month).unwrap(),
                account: id.clone(),
                period: billing_core::rules::period::BillingPeriod::new(2026, 1).unwrap(),
                status: billing_core::domain::invoice::InvoiceStatus::Open,
                currency: billing_core::domain::money::Currency::Usd,
                amount_due: billing_core::domain::money::Cents::new(100),
                amount_paid: billing_core::domain::money::Cents::ZERO,
                lines: vec![],
                attempts: vec![],
                retry_at: Vec::new(),
                next_payment_attempt: None,
                created_at: Utc.with_ymd_and_hms(2026, 2, 3, 3, 0, 0).unwrap(),
            };
            transaction.push(Write::Put {
                record: Record::Invoice(invoice),
                expect: Expect::Absent,
            });
        }
        store.commit(transaction).await.unwrap();

        let cursor = InvoiceId::parse("in_202602").unwrap();
        let page = store.invoices(&id, Some(cursor), 10).await.unwrap();
        let ids: Vec<_> = page.items.iter().map(|i| i.id.to_string()).collect();
        assert_eq!(ids, ["in_202601"]);
        assert!(!page.has_more);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn idempotency_records_carry_the_ttl_attribute_the_table_expires_by() {
        let store = dynamo_store(None).await;
        let config = sdk_config().await;
        let client = aws_sdk_dynamodb::Client::new(&config);
        let table = table(&client).await;
        let id = billing_contract::unique_account("ttl");
        let created = Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0).unwrap();
        let record = IdempotencyRecord::claim(
            id.clone(),
            IdempotencyKey::parse("k").unwrap(),
            "d",
            None,
            created,
        );
        store
            .commit(Transaction::new().with(Write::Put {
                record: Record::Idempotency(record.clone()),
                expect: Expect::Absent,
            }))
            .await
            .unwrap();

        let ttl = client
            .describe_time_to_live()
            .table_name(&table)
            .send()
            .await
            .unwrap();
        let spec = ttl.time_to_live_description().unwrap();
        assert_eq!(spec.attribute_name(), Some(billing_aws::store::EXPIRES));
        let item = client
            .get_item()
            .table_name(&table)
            .key("pk", AttributeValue::S(format!("ACCOUNT#{id}")))
            .key("sk", AttributeValue::S("IDEMPOTENCY#k".into()))
            .send()
            .await
            .unwrap()
            .item
            .unwrap();
        let expires = item[billing_aws::store::EXPIRES].as_n().unwrap();
        assert_eq!(expires, &record.expires_at.timestamp().to_string());
        assert!(record.expires_at.timestamp() - created.timestamp() >= 24 * 3_600);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_missing_table_is_a_misconfiguration_not_worth_retrying() {
        let config = sdk_config().await;
        let store = DynamoStore::new(&config, "no-such-table");
        let error = store
            .account(&billing_contract::unique_account("missing"))
            .await
            .unwrap_err();
        assert!(matches!(error, StoreError::Misconfigured(_)), "{error:?}");
        assert!(!error.is_retryable());
    }
}
