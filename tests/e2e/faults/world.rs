//! The production adapters wired through two fault proxies: DynamoStore, SqsQueue and
//! SesMailer → proxy → moto; StripeGateway → proxy → localstripe. What the tests read back to
//! judge (moto's table, localstripe's PaymentIntents and events) is read directly, never
//! through a proxy.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;
use billing_aws::store::create_table;
use billing_aws::{DynamoStore, SesMailer, SqsQueue};
use billing_contract::unique_account;
use billing_core::ports::clock::Clock;
use billing_stripe::StripeGateway;
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::proxy::{FaultProxy, Side};
use crate::production::{env, ses_mailer, stripe_get};

/// The sender the SES stand-in verifies (as in production.rs).
pub const SENDER: &str = "billing@example.com";

/// A Stripe key of this suite's own: the compatibility layer scopes idempotency keys by it.
pub const STRIPE_KEY: &str = "sk_test_e2e_faults";

pub struct World {
    pub stripe_proxy: FaultProxy,
    pub aws_proxy: FaultProxy,
    pub store: DynamoStore,
    pub gateway: StripeGateway,
    pub mailer: SesMailer,
    pub queue: SqsQueue,
    pub queue_url: String,
    /// SQS straight on moto: the test plays the event source mapping.
    pub sqs: aws_sdk_sqs::Client,
}

async fn sdk_config(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "faults"))
        .load()
        .await
}

impl World {
    /// Prints each proxy's request count and the faults it injected, for the run's report.
    pub fn report_proxies(&self) {
        for (side, proxy) in [("stripe", &self.stripe_proxy), ("aws", &self.aws_proxy)] {
            eprintln!(
                "  {side}: {} requests; faults {:?}",
                proxy.exchanges().len(),
                proxy.faults()
            );
        }
    }

    /// A fresh table and queue on moto; both proxies transparent until [`World::set_rate`].
    pub async fn start(seed: u64) -> Self {
        let moto = env("BILLING_TEST_MOTO_URL");
        let direct = sdk_config(&moto).await;
        let name = format!("faults-{}", unique_account("t"));
        create_table(&aws_sdk_dynamodb::Client::new(&direct), &name)
            .await
            .expect("table created in moto");
        let sqs = aws_sdk_sqs::Client::new(&direct);
        let queue_url = sqs
            .create_queue()
            .queue_name(&name)
            .send()
            .await
            .expect("queue created in moto")
            .queue_url
            .expect("a queue url");
        drop(ses_mailer().await); // verifies the sender on moto
        let aws_proxy = FaultProxy::start(&moto, Side::Aws, seed, 0).await;
        let stripe_proxy =
            FaultProxy::start(&env("BILLING_TEST_STRIPE_URL"), Side::Stripe, seed, 0).await;
        let faulty = sdk_config(aws_proxy.url()).await;
        let gateway =
            StripeGateway::new(STRIPE_KEY, Some(&format!("{}/", stripe_proxy.url()))).unwrap();
        Self {
            store: DynamoStore::new(&faulty, name),
            gateway,
            mailer: SesMailer::new(&faulty, SENDER),
            queue: SqsQueue::new(&faulty, queue_url.clone()),
            queue_url,
            sqs,
            stripe_proxy,
            aws_proxy,
        }
    }

    /// Faults in `rate_per_mille` of the requests on both sides from now on.
    pub fn set_rate(&self, rate_per_mille: u32) {
        self.stripe_proxy.set_rate(rate_per_mille);
        self.aws_proxy.set_rate(rate_per_mille);
    }

    /// Every message on the queue, received once each (kept invisible past the test).
    pub async fn drain_queue(&self) -> Vec<String> {
        let mut bodies = Vec::new();
        loop {
            let received = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .visibility_timeout(43_200)
                .send()
                .await
                .expect("ReceiveMessage on moto");
            let messages = received.messages.unwrap_or_default();
            if messages.is_empty() {
                return bodies;
            }
            bodies.extend(messages.into_iter().filter_map(|m| m.body));
        }
    }
}

/// A clock the test moves: the business time of the webhook handler.
#[derive(Default)]
pub struct TestClock(AtomicI64);

impl TestClock {
    pub fn set(&self, now: DateTime<Utc>) {
        self.0.store(now.timestamp_micros(), Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(self.0.load(Ordering::SeqCst)).unwrap()
    }
}

/// A succeeded or other PaymentIntent localstripe holds for one of `accounts`.
#[derive(Debug, Clone)]
pub struct Intent {
    pub id: String,
    pub account: String,
    pub reference: String,
    pub amount: i64,
    pub succeeded: bool,
}

/// Every PaymentIntent localstripe holds whose `metadata.account_id` is one of `accounts`.
pub async fn intents_of(accounts: &BTreeMap<String, impl Sized>) -> Vec<Intent> {
    let mut intents = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let cursor = after
            .as_ref()
            .map(|a| format!("&starting_after={a}"))
            .unwrap_or_default();
        let page = stripe_get(&format!("/v1/payment_intents?limit=100{cursor}")).await;
        let data = page["data"].as_array().unwrap();
        for intent in data {
            let account = intent["metadata"]["account_id"]
                .as_str()
                .unwrap_or_default();
            if accounts.contains_key(account) {
                intents.push(Intent {
                    id: intent["id"].as_str().unwrap().to_owned(),
                    account: account.to_owned(),
                    reference: intent["metadata"]["reference"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    amount: intent["amount"].as_i64().unwrap(),
                    succeeded: intent["status"] == "succeeded",
                });
            }
        }
        after = data
            .last()
            .and_then(|i| i["id"].as_str())
            .map(str::to_owned);
        if page["has_more"] != true || after.is_none() {
            return intents;
        }
    }
}

/// The events localstripe recorded about a PaymentIntent, as posted bodies.
pub async fn events_about(payment: &str) -> Vec<String> {
    let list = stripe_get(&format!("/_compat/events?payment_intent={payment}")).await;
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(Value::to_string)
        .collect()
}
