//! Webhooks, locally: the simulated card network's events are posted to this server's own
//! `POST /v1/webhooks/stripe`, signed as Stripe signs them, the way Stripe delivers them to a
//! deployed endpoint. An event is acknowledged once the endpoint answered it (2xx, or a
//! refusal that sending it again cannot change); otherwise it is sent again on the next round.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use billing_embedded::{SimulatedCardNetwork, stripe_signature};
use tower::ServiceExt;

/// How often pending events are looked for.
const ROUND: Duration = Duration::from_millis(200);

/// Delivers pending events forever.
pub async fn deliver(network: SimulatedCardNetwork, webhook: Router, secret: String) {
    loop {
        tokio::time::sleep(ROUND).await;
        if let Err(error) = deliver_pending(&network, &webhook, &secret).await {
            tracing::warn!(%error, "cannot deliver the simulated network's events");
        }
    }
}

/// Delivers what is pending now; returns how many events were acknowledged.
pub async fn deliver_pending(
    network: &SimulatedCardNetwork,
    webhook: &Router,
    secret: &str,
) -> Result<usize, String> {
    let events = network.pending_events(100).map_err(|e| e.to_string())?;
    let mut acknowledged = 0;
    for event in events {
        let signature = stripe_signature(secret, chrono::Utc::now().timestamp(), &event.payload);
        let request = Request::post("/v1/webhooks/stripe")
            .header("content-type", "application/json")
            .header("stripe-signature", signature)
            .body(Body::from(event.payload.clone()))
            .map_err(|e| e.to_string())?;
        let status = webhook
            .clone()
            .oneshot(request)
            .await
            .map_or(StatusCode::INTERNAL_SERVER_ERROR, |r| r.status());
        if status.is_success() || status.is_client_error() {
            if !status.is_success() {
                tracing::warn!(event = %event.id, %status, "simulated event refused by the webhook endpoint");
            }
            network
                .acknowledge_event(&event.id)
                .map_err(|e| e.to_string())?;
            acknowledged += 1;
        }
    }
    Ok(acknowledged)
}
