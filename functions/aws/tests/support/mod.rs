//! Moto for the contract tests: SDK config, the inspectors, a request counter.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Credentials, Intercept, RuntimeComponents};
use billing_contract::mailer::{Delivered, MailInspector};
use billing_contract::queue::QueueInspector;
use billing_core::ports::queue::ChargeJob;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Moto's base URL. A missing variable fails the test: these tests never pass without moto.
pub fn moto_url() -> String {
    std::env::var("BILLING_TEST_MOTO_URL").unwrap_or_else(|_| {
        panic!(
            "BILLING_TEST_MOTO_URL is not set. These tests run against moto_server: run them as \
             `scripts/with-stand-ins cargo test -p billing-aws`, which starts moto on a free \
             port and sets it"
        )
    })
}

/// An SDK config pointing at moto, with dummy credentials (built per test: clients keep
/// connections on the runtime that opened them, and each test has its own runtime).
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(billing_aws::https_client())
        .endpoint_url(moto_url())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
        .load()
        .await
}

/// A name no other test (or test process sharing the moto) uses.
pub fn unique_name(label: &str) -> String {
    static SEQUENCE: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{label}-{}-{nanos:x}-{}",
        std::process::id(),
        SEQUENCE.fetch_add(1, Ordering::Relaxed)
    )
}

/// `GET {moto}{path}`, the body as JSON (HTTP/1.0, so the body is never chunked).
async fn get_json(path: &str) -> serde_json::Value {
    let url = moto_url();
    let authority = url.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = tokio::net::TcpStream::connect(authority).await.unwrap();
    let request = format!("GET {path} HTTP/1.0\r\nHost: {authority}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let response = String::from_utf8(response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    assert!(
        head.starts_with("HTTP/1.") && head.contains(" 200 "),
        "{head}"
    );
    serde_json::from_str(body).unwrap()
}

/// The SES v2 mailer on moto, sending from `sender`, which it verifies first (SES refuses to
/// send from an unverified identity; moto verifies one on creation).
pub async fn verified_ses_mailer(sender: &str) -> billing_aws::SesMailer {
    let client = aws_sdk_sesv2::Client::new(&sdk_config().await);
    if let Err(error) = client
        .create_email_identity()
        .email_identity(sender)
        .send()
        .await
    {
        let exists = error
            .as_service_error()
            .is_some_and(|e| e.is_already_exists_exception());
        assert!(exists, "verify the sender: {error:?}");
    }
    billing_aws::SesMailer::from_client(client, sender)
}

/// Reads the messages moto's SES keeps (only the Html part when both are sent).
pub struct MotoSes;

#[async_trait]
impl MailInspector for MotoSes {
    async fn delivered(&self) -> Vec<Delivered> {
        let data = get_json("/moto-api/data.json").await;
        let models = data["ses"].as_object().cloned().unwrap_or_default();
        let mut delivered = Vec::new();
        for message in models.values().filter_map(|v| v.as_array()).flatten() {
            let (Some(subject), Some(html)) =
                (message["subject"].as_str(), message["body"].as_str())
            else {
                continue;
            };
            let to = message["destinations"]["ToAddresses"].as_array();
            for address in to.into_iter().flatten().filter_map(|a| a.as_str()) {
                delivered.push(Delivered {
                    to: address.to_owned(),
                    subject: subject.to_owned(),
                    html: html.to_owned(),
                });
            }
        }
        delivered
    }
}

/// Receives and deletes every message of one queue.
pub struct SqsDrain {
    pub client: aws_sdk_sqs::Client,
    pub queue_url: String,
}

#[async_trait]
impl QueueInspector for SqsDrain {
    async fn drain(&self) -> Vec<ChargeJob> {
        let mut jobs = Vec::new();
        loop {
            let received = self
                .client
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .send()
                .await
                .unwrap();
            let messages = received.messages();
            if messages.is_empty() {
                return jobs;
            }
            for message in messages {
                jobs.push(serde_json::from_str(message.body().unwrap()).unwrap());
                self.client
                    .delete_message()
                    .queue_url(&self.queue_url)
                    .receipt_handle(message.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
        }
    }
}

/// Counts the requests a DynamoDB client sends (each attempt), by operation.
#[derive(Debug, Default, Clone)]
pub struct RequestLog(Arc<Mutex<Vec<String>>>);

impl RequestLog {
    /// The operations sent since the last call, in order.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut self.0.lock().unwrap())
    }
}

impl Intercept for RequestLog {
    fn name(&self) -> &'static str {
        "RequestLog"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let target = context
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or("?");
        let operation = target.rsplit('.').next().unwrap_or(target);
        self.0.lock().unwrap().push(operation.to_owned());
        Ok(())
    }
}
