//! `POST /v1/webhooks/stripe`: the card network's events, verified, handled once.
//!
//! No JWT: the caller is Stripe, and the `Stripe-Signature` header (an HMAC of the exact body
//! bytes with the endpoint's signing secret, at most 300 s old) is the authentication. The
//! body is read raw, up to [`MAX_EVENT_BYTES`] (Stripe's events can be far larger than the
//! API's 16 KiB bodies), and never parsed before it is verified.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use billing_core::usecases::purchase::{EventHandled, Ports, handle_network_event};
use billing_stripe::webhook::{parse_event, verify_signature};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::state::WebhookState;

/// The largest event body read.
pub const MAX_EVENT_BYTES: usize = 1024 * 1024;

/// What handling the event did (Stripe only reads the status).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookReceived {
    /// Always true: the event was received.
    pub received: bool,
    /// `applied`, `duplicate` (seen before) or `ignored` (nothing to do).
    pub result: &'static str,
}

// The document's description of the body. The handler never deserializes into this type: it
// verifies the raw bytes first, then `parse_event` reads them.
/// A Stripe event's envelope: `data.object` is the PaymentIntent or PaymentMethod of the
/// types acted on, any object otherwise. Other fields Stripe sends are allowed and ignored.
#[derive(ToSchema)]
#[schema(examples(json!({
    "id": "evt_1QExample",
    "object": "event",
    "created": 1_764_558_000,
    "type": "customer.created",
    "data": {"object": {"id": "cus_QExample", "object": "customer"}}
})))]
#[allow(dead_code)] // a description of the wire, never built
pub struct StripeEventBody {
    /// The event's id; it is handled once.
    #[schema(min_length = 1, max_length = 255)]
    id: String,
    /// `event`, when present.
    #[schema(examples("event"))]
    object: Option<String>,
    /// Unix seconds; years 0000 to 9999.
    #[schema(minimum = -62_167_219_200_i64, maximum = 253_402_300_799_i64)]
    created: i64,
    /// The event type, e.g. `payment_intent.succeeded`; types not acted on are received and
    /// ignored.
    #[schema(rename = "type")]
    event_type: String,
    /// `{"object": …}`: the object the event is about.
    data: StripeEventData,
}

/// An event's `data`.
#[derive(ToSchema)]
#[allow(dead_code)] // a description of the wire, never built
pub struct StripeEventData {
    /// The PaymentIntent, PaymentMethod or other object the event is about.
    object: serde_json::Map<String, serde_json::Value>,
}

/// `POST /v1/webhooks/stripe`.
#[utoipa::path(
    post,
    path = "/v1/webhooks/stripe",
    tag = "webhooks",
    operation_id = "receive_stripe_event",
    params(
        ("Stripe-Signature" = String, Header, description = "`t=<unix seconds>,v1=<hex HMAC-SHA256 of \"t.body\">`, as Stripe signs; at most 300 s old."),
    ),
    request_body(content = StripeEventBody, description = "A Stripe event, as Stripe posts it (read as raw bytes, verified, then parsed).", content_type = "application/json"),
    responses(
        (status = 200, description = "Received (also for event types and payments this system does not act on).", body = WebhookReceived),
        (status = 400, description = "`invalid_signature`: a bad, missing or stale `Stripe-Signature`; `invalid_request`: a signed body that is not an event.", body = ErrorBody),
        (status = 405, description = "`method_not_allowed`.", body = ErrorBody),
        (status = 413, description = "`request_too_large` (bodies over 1 MiB).", body = ErrorBody),
        (status = 500, description = "`internal_error` (Stripe delivers it again).", body = ErrorBody),
        (status = 503, description = "`service_unavailable` (Stripe delivers it again).", body = ErrorBody),
    )
)]
pub async fn post_stripe_event(
    State(state): State<Arc<WebhookState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<WebhookReceived>, ApiError> {
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                ErrorCode::RequestTooLarge,
                format!("The event is larger than {MAX_EVENT_BYTES} bytes."),
            )
        } else {
            ApiError::new(ErrorCode::InvalidRequest, "The body could not be read.")
        }
    })?;
    // Freshness is a property of the delivery, checked against real time; the business clock
    // (movable on billing-local) decides everything else.
    let delivered_at = chrono::Utc::now();
    let now = state.services.clock.now();
    let signature = headers
        .get("stripe-signature")
        .and_then(|value| value.to_str().ok());
    let secrets: Vec<&str> = state.secrets.iter().map(String::as_str).collect();
    if let Err(refusal) = verify_signature(&body, signature, &secrets, delivered_at) {
        tracing::warn!(reason = %refusal, "webhook refused: signature");
        return Err(ApiError::new(
            ErrorCode::InvalidSignature,
            "The Stripe-Signature header is missing, malformed, stale or does not match this endpoint's signing secret.",
        ));
    }
    let event = parse_event(&body).map_err(|error| {
        tracing::warn!(%error, "webhook refused: not an event");
        ApiError::new(ErrorCode::InvalidRequest, "The body is not a Stripe event.")
    })?;
    let ports = Ports {
        store: state.services.store.as_ref(),
        gateway: state.services.gateway.as_ref(),
        mailer: state.mailer.as_ref(),
    };
    let result = match handle_network_event(ports, state.links.as_ref(), &event, now).await? {
        EventHandled::Applied => "applied",
        EventHandled::Duplicate => "duplicate",
        EventHandled::Ignored(why) => {
            tracing::info!(event = %event.id, why, "webhook event ignored");
            "ignored"
        }
    };
    tracing::info!(event = %event.id, result, "webhook event handled");
    Ok(Json(WebhookReceived {
        received: true,
        result,
    }))
}
