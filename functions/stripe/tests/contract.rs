//! StripeGateway against the port contract, on localstripe plus our compatibility layer
//! (tests/stand-ins/localstripe_server.py). Run through `scripts/with-stand-ins`, which
//! starts the stand-in and exports its URL.

use std::sync::Arc;

use async_trait::async_trait;
use billing_contract::gateway::{Bank, GatewayHarness};
use billing_contract::{gateway_contract, settlement_contract};
use billing_core::ports::gateway::PaymentGateway;
use billing_core::{ClientSecret, PaymentId};
use billing_stripe::StripeGateway;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const URL_VAR: &str = "BILLING_TEST_STRIPE_URL";
const KEY: &str = "sk_test_contract";

fn stand_in_url() -> String {
    std::env::var(URL_VAR).unwrap_or_else(|_| {
        panic!(
            "{URL_VAR} is not set: these tests run against localstripe; run them as \
             `scripts/with-stand-ins cargo test -p billing-stripe`"
        )
    })
}

async fn gateway() -> Arc<dyn PaymentGateway> {
    Arc::new(StripeGateway::new(KEY, Some(&stand_in_url())).expect("a Stripe client"))
}

/// One plain HTTP/1.1 request to the stand-in (for what no Stripe client sends: the
/// cardholder's side and the event list read raw). Returns the status and the body.
async fn request(method: &str, path: &str, form: &str) -> (u16, String) {
    let url = stand_in_url();
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
struct LocalstripeBank;

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

async fn settlement() -> GatewayHarness {
    (gateway().await, Arc::new(LocalstripeBank))
}

mod gateway {
    use super::*;
    gateway_contract!(super::gateway);
}

mod settlement {
    use super::*;
    settlement_contract!(super::settlement);
}
