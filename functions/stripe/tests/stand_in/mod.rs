//! The localstripe stand-in as the tests reach it: its URL, and plain HTTP for what no Stripe
//! client sends (the cardholder's side, the raw event list, the compat layer's controls).

use async_trait::async_trait;
use billing_contract::gateway::Bank;
use billing_core::{ClientSecret, PaymentId};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const URL_VAR: &str = "BILLING_TEST_STRIPE_URL";

/// The secret key the tests use (localstripe takes any `sk_test_…`).
pub const KEY: &str = "sk_test_contract";

/// The stand-in's base URL; these tests fail, never pass silently, without it.
pub fn url() -> String {
    std::env::var(URL_VAR).unwrap_or_else(|_| {
        panic!(
            "{URL_VAR} is not set: these tests run against localstripe; run them as \
             `scripts/with-stand-ins cargo test -p billing-stripe`"
        )
    })
}

/// One HTTP/1.1 request with a form body (may be empty). Returns the status and the body.
pub async fn request(method: &str, path: &str, form: &str) -> (u16, String) {
    let url = url();
    let host = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let mut stream = TcpStream::connect(&host)
        .await
        .expect("localstripe answers");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {KEY}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{form}",
        form.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap();
    (status, body.to_owned())
}

/// The cardholder through localstripe's test-only `_authenticate` route (what Stripe.js does
/// with the client secret), and the events Stripe recorded, read from `GET /v1/events`.
#[allow(dead_code)] // each test binary that includes this module uses part of it
pub struct LocalstripeBank;

#[async_trait]
impl Bank for LocalstripeBank {
    async fn authenticate(&self, payment: &PaymentId, secret: &ClientSecret, approve: bool) {
        let (status, body) = request(
            "POST",
            &format!("/v1/payment_intents/{payment}/_authenticate"),
            &format!("client_secret={}&success={approve}", secret.expose()),
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }

    async fn event_types(&self, payment: &PaymentId) -> Vec<String> {
        let mut kinds = Vec::new();
        let mut after = String::new();
        loop {
            let (status, body) = request("GET", &format!("/v1/events?limit=100{after}"), "").await;
            assert_eq!(status, 200, "{body}");
            let page: serde_json::Value = serde_json::from_str(&body).unwrap();
            let events = page["data"].as_array().unwrap();
            kinds.extend(
                events
                    .iter()
                    .filter(|event| event["data"]["object"]["id"] == payment.as_str())
                    .map(|event| event["type"].as_str().unwrap().to_owned()),
            );
            match events.last() {
                Some(last) if page["has_more"] == true => {
                    after = format!("&starting_after={}", last["id"].as_str().unwrap());
                }
                _ => return kinds,
            }
        }
    }
}
