//! Local-only controls (`/_local/...`): feed usage, move the clock, read the outbox, run the
//! scheduled events. They exist only in this binary; no Lambda function mounts them.

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use billing_api::json::{ApiJson, MAX_BODY_BYTES};
use billing_api::state::AuthorizationLinks;
use billing_api::{ApiError, ErrorCode};
use billing_core::AccountId;
use billing_core::ports::clock::Clock;
use billing_core::ports::gateway::PaymentGateway;
use billing_core::ports::store::Store;
use billing_core::rules::retry::RetrySchedule;
use billing_core::usecases::purchase::{Ports, SweepSummary, sweep_purchases};
use billing_core::usecases::usage::{
    UsageEvent, UsageOutcome, UsageRecorded, UsageRefusal, record_usage, record_usage_batch,
};
use billing_embedded::{
    LocalClock, LocalQueue, NetworkView, OutboxMailer, OutboxMessage, SimulatedCardNetwork,
};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::sweep::InvoicesSwept;

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
    /// How the sweeps and the monthly charge reach the network: the network itself, or a
    /// wrapper of it (a bench's counter).
    pub gateway: Arc<dyn PaymentGateway>,
    /// Links to the authorization page, for the monthly charge's emails.
    pub links: Arc<dyn AuthorizationLinks>,
    /// The monthly charge's job queue.
    pub queue: LocalQueue,
    /// The retries of the invoices the monthly charge creates.
    pub retries: RetrySchedule,
    /// Held while the charge queue is filled and drained (the monthly charge, the sweep): one
    /// at a time, so that each answer counts the jobs its own request enqueued.
    pub charge_queue: tokio::sync::Mutex<()>,
}

/// The `/_local` routes.
pub fn router(controls: Arc<Controls>) -> Router {
    Router::new()
        .route("/_local/usage", post(post_usage))
        .route("/_local/clock", get(get_clock).post(set_clock))
        .route("/_local/outbox", get(get_outbox))
        .route("/_local/accounts/{account}/network", get(get_network))
        .route("/_local/events/sweep", post(post_sweep))
        .route("/_local/events/monthly-charge", post(post_monthly_charge))
        .method_not_allowed_fallback(billing_api::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(controls)
}

/// The body of `POST /_local/usage`: one event, or a list of them.
enum UsageBody {
    One(UsageEvent),
    List(Vec<UsageEvent>),
}

fn usage_events(body: Value) -> Result<UsageBody, ApiError> {
    let parse = |n: usize, item: Value| {
        serde_json::from_value(item).map_err(|e| {
            ApiError::new(
                ErrorCode::InvalidUsageEvent,
                format!("usage event {n}: {e}"),
            )
        })
    };
    match body {
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(n, item)| parse(n, item))
            .collect::<Result<_, _>>()
            .map(UsageBody::List),
        single => parse(0, single).map(UsageBody::One),
    }
}

/// One event of a list that was not counted.
#[derive(Serialize)]
struct NotCounted {
    /// Its position in the list.
    index: usize,
    /// Its id.
    id: String,
    /// A stable code: `usage_event_conflict`, `account_deleted`, `amount_invalid` (the
    /// balance would leave the ledger's range), or `service_unavailable` (send it again).
    code: ErrorCode,
}

/// What `POST /_local/usage` answers. `refused` is present only when some event of a list was
/// not counted; those events were left out, every other one is counted.
#[derive(Serialize, Default)]
struct UsageAnswer {
    recorded: usize,
    duplicates: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    refused: Vec<NotCounted>,
}

impl UsageAnswer {
    fn count(&mut self, recorded: UsageRecorded) {
        match recorded {
            UsageRecorded::Recorded => self.recorded += 1,
            UsageRecorded::Duplicate => self.duplicates += 1,
        }
    }
}

/// `POST /_local/usage`: one usage event (its refusal is an error with its code), or a list of
/// them (checked whole first: one event out of bounds refuses the list and writes nothing;
/// then answered per event).
async fn post_usage(
    State(controls): State<Arc<Controls>>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<UsageAnswer>, ApiError> {
    let now = billing_core::ports::clock::Clock::now(controls.clock.as_ref());
    let mut answer = UsageAnswer::default();
    match usage_events(body)? {
        UsageBody::One(event) => {
            answer.count(record_usage(controls.store.as_ref(), &event, now).await?);
        }
        UsageBody::List(events) => {
            let outcomes = record_usage_batch(controls.store.as_ref(), &events, now).await?;
            for (index, (event, outcome)) in events.iter().zip(outcomes).enumerate() {
                let code = match outcome {
                    UsageOutcome::Counted(recorded) => {
                        answer.count(recorded);
                        continue;
                    }
                    UsageOutcome::Refused(UsageRefusal::EventConflict) => {
                        ErrorCode::UsageEventConflict
                    }
                    UsageOutcome::Refused(UsageRefusal::AccountDeleted) => {
                        ErrorCode::AccountDeleted
                    }
                    // The account's balance would leave the ledger's range.
                    UsageOutcome::Refused(UsageRefusal::LedgerLimit) => ErrorCode::AmountInvalid,
                    UsageOutcome::Failed(_) => ErrorCode::ServiceUnavailable,
                };
                answer.refused.push(NotCounted {
                    index,
                    id: event.id.to_string(),
                    code,
                });
            }
        }
    }
    Ok(Json(answer))
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

/// `POST /_local/clock {"now": RFC 3339}`, from 1970 to the end of 9998 ([`crate::instants`]).
async fn set_clock(
    State(controls): State<Arc<Controls>>,
    ApiJson(body): ApiJson<SetClock>,
) -> Result<Json<Value>, ApiError> {
    let now = crate::instants::in_range(body.now, "now")?;
    controls.clock.set(now);
    Ok(clock_json(now))
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
    account: Result<Path<String>, PathRejection>,
) -> Result<Json<NetworkView>, ApiError> {
    // A segment that is not even UTF-8 is refused as any other bad account id.
    let account = account.map(|Path(account)| account).unwrap_or_default();
    let account = AccountId::parse(&account).map_err(|e| {
        ApiError::new(
            ErrorCode::ParameterInvalid,
            format!("account: {}", e.reason),
        )
        .with_param("account")
    })?;
    controls
        .network
        .network_view(&account)
        .map(Json)
        .map_err(|e| ApiError::internal(&e))
}

/// The body of the scheduled-event controls: an EventBridge scheduled event. Only its
/// `detail-type` is checked; the local sweep runs as of the local clock.
#[derive(Deserialize)]
struct ScheduledEvent {
    #[serde(rename = "detail-type")]
    detail_type: String,
}

fn scheduled_event(body: &Value) -> Result<(), ApiError> {
    let event: ScheduledEvent = serde_json::from_value(body.clone()).map_err(|e| {
        ApiError::new(
            ErrorCode::InvalidRequest,
            format!("expected an EventBridge scheduled event: {e}"),
        )
    })?;
    if event.detail_type != "Scheduled Event" {
        return Err(ApiError::new(
            ErrorCode::ParameterInvalid,
            "`detail-type` must be `Scheduled Event`.",
        )
        .with_param("detail-type"));
    }
    Ok(())
}

/// The body of `POST /_local/events/monthly-charge`: a scheduled event whose `time` names the
/// month charged (the one before it). Other fields of an EventBridge event are ignored.
#[derive(Deserialize)]
struct MonthlyTrigger {
    time: DateTime<Utc>,
}

/// `POST /_local/events/monthly-charge`: runs the monthly charge to completion (plan every
/// shard, drain the queue) and answers its summary.
async fn post_monthly_charge(
    State(controls): State<Arc<Controls>>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<crate::monthly::MonthlyAnswer>, ApiError> {
    scheduled_event(&body)?;
    if body.get("time").is_none() {
        return Err(ApiError::new(
            ErrorCode::ParameterMissing,
            "`time` is required: the month before it is charged.",
        )
        .with_param("time"));
    }
    let trigger: MonthlyTrigger = serde_json::from_value(body).map_err(|e| {
        ApiError::new(
            ErrorCode::ParameterInvalid,
            format!("`time` must be an RFC 3339 instant: {e}"),
        )
        .with_param("time")
    })?;
    let time = crate::instants::in_range(trigger.time, "time")?;
    crate::monthly::run(&controls, time).await.map(Json)
}

/// What `POST /_local/events/sweep` did.
#[derive(Serialize)]
struct SweepAnswer {
    /// As of the local clock.
    now: String,
    /// Purchases unsettled past their 15-minute window, and receipts still owed.
    purchases: SweepSummary,
    /// Invoices due a retry, or left with an attempt or an email unfinished.
    invoices: InvoicesSwept,
}

/// `POST /_local/events/sweep`: runs the scheduled sweeps to completion as of the local clock:
/// purchases, then invoices ([`crate::sweep`]).
async fn post_sweep(
    State(controls): State<Arc<Controls>>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<SweepAnswer>, ApiError> {
    scheduled_event(&body)?;
    let now = controls.clock.now();
    let ports = Ports {
        store: controls.store.as_ref(),
        gateway: controls.gateway.as_ref(),
        mailer: &controls.outbox,
    };
    let purchases = sweep_purchases(ports, now).await?;
    let invoices = crate::sweep::sweep(&controls).await?;
    Ok(Json(SweepAnswer {
        now: now.to_rfc3339_opts(SecondsFormat::Secs, true),
        purchases,
        invoices,
    }))
}
