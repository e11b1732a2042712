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

mod stand_in;

use stand_in::request;

async fn gateway() -> Arc<dyn PaymentGateway> {
    Arc::new(StripeGateway::new(stand_in::KEY, Some(&stand_in::url())).expect("a Stripe client"))
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
