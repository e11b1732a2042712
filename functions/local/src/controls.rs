//! Local-only controls (`/_local/...`): feed usage, move the clock, read the outbox. They exist
//! only in this binary; no Lambda function mounts them.

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use billing_api::json::{ApiJson, MAX_BODY_BYTES};
use billing_api::{ApiError, ErrorCode};
use billing_core::AccountId;
use billing_core::ports::store::Store;
use billing_core::usecases::usage::{UsageEvent, UsageRecorded, record_usage};
use billing_embedded::{
    LocalClock, NetworkView, OutboxMailer, OutboxMessage, SimulatedCardNetwork,
};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

/// What the controls act on.
pub struct Controls {
    /// The store usage is recorded in.
    pub store: Arc<dyn Store>,
    /// The clock they move.
    pub clock: Arc<LocalClock>,
    /// The outbox they read.
    pub outbox: OutboxMailer,
    /// The simulated card network they show.
    pub network: SimulatedCardNetwork,
}

/// The `/_local` routes.
pub fn router(controls: Arc<Controls>) -> Router {
    Router::new()
        .route("/_local/usage", post(post_usage))
        .route("/_local/clock", get(get_clock).post(set_clock))
        .route("/_local/outbox", get(get_outbox))
        .route("/_local/accounts/{account}/network", get(get_network))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(controls)
}

fn usage_events(body: Value) -> Result<Vec<UsageEvent>, ApiError> {
    let items = match body {
        Value::Array(items) => items,
        single => vec![single],
    };
    items
        .into_iter()
        .enumerate()
        .map(|(n, item)| {
            serde_json::from_value(item).map_err(|e| {
                ApiError::new(
                    ErrorCode::InvalidUsageEvent,
                    format!("usage event {n}: {e}"),
                )
            })
        })
        .collect()
}

/// `POST /_local/usage`: one usage event or a list of them.
async fn post_usage(
    State(controls): State<Arc<Controls>>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<Value>, ApiError> {
    let events = usage_events(body)?;
    let (mut recorded, mut duplicates) = (0, 0);
    for event in &events {
        match record_usage(
            controls.store.as_ref(),
            event,
            billing_core::ports::clock::Clock::now(controls.clock.as_ref()),
        )
        .await?
        {
            UsageRecorded::Recorded => recorded += 1,
            UsageRecorded::Duplicate => duplicates += 1,
        }
    }
    Ok(Json(
        json!({ "recorded": recorded, "duplicates": duplicates }),
    ))
}

fn clock_json(now: DateTime<Utc>) -> Json<Value> {
    Json(json!({ "now": now.to_rfc3339_opts(SecondsFormat::Millis, true) }))
}

async fn get_clock(State(controls): State<Arc<Controls>>) -> Json<Value> {
    clock_json(billing_core::ports::clock::Clock::now(
        controls.clock.as_ref(),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetClock {
    now: DateTime<Utc>,
}

/// `POST /_local/clock {"now": RFC 3339}`.
async fn set_clock(
    State(controls): State<Arc<Controls>>,
    ApiJson(body): ApiJson<SetClock>,
) -> Json<Value> {
    controls.clock.set(body.now);
    clock_json(body.now)
}

/// `GET /_local/outbox`: the e-mails sent, newest first.
async fn get_outbox(
    State(controls): State<Arc<Controls>>,
) -> Result<Json<Vec<OutboxMessage>>, ApiError> {
    controls
        .outbox
        .messages()
        .map(Json)
        .map_err(|e| ApiError::internal(&e))
}

/// `GET /_local/accounts/{account}/network`: what the simulated card network holds for the
/// account, as Stripe's dashboard would show it.
async fn get_network(
    State(controls): State<Arc<Controls>>,
    Path(account): Path<String>,
) -> Result<Json<NetworkView>, ApiError> {
    let account = AccountId::parse(&account).map_err(|e| {
        ApiError::new(ErrorCode::ParameterInvalid, format!("account: {}", e.reason))
            .with_param("account")
    })?;
    controls
        .network
        .network_view(&account)
        .map(Json)
        .map_err(|e| ApiError::internal(&e))
}
