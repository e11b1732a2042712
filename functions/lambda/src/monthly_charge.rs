//! The monthly-charge planner's handler: EventBridge Scheduler invokes it at 03:00 UTC on the
//! 3rd with a scheduled event; it lists every account owing for the month before the event's
//! `time` through the due index, one shard per task, a few shards at a time, and sends one
//! charge job per account to the charge queue ([`plan_shard`]). The charge worker does the
//! rest.
//!
//! Planning is safe to repeat: the same jobs are sent again, and the worker charges an account
//! once per period whatever it receives. A failed invocation is therefore simply run again
//! (Lambda retries it twice), and an operator may re-invoke it with the same event at any time.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use billing_core::ports::queue::JobQueue;
use billing_core::ports::store::Store;
use billing_core::rules::period::BillingPeriod;
use billing_core::usecases::error::UseCaseError;
use billing_core::usecases::invoice::{PeriodNotEnded, charged_period, plan_shard, shards};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde::Serialize;

/// Shards planned at once. Each shard's task pages through its accounts one request at a time
/// (a Query, then one SendMessageBatch per ten jobs), so this many requests are in flight: at
/// about 20 ms a request, 1,000,000 accounts take about four minutes of the 15 allowed.
pub const SHARDS_AT_ONCE: usize = 8;

/// The `detail-type` of every scheduled event.
pub const SCHEDULED_EVENT: &str = "Scheduled Event";

/// A monthly trigger, parsed from the invocation's payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthlyTrigger {
    /// The event's id (Scheduler's execution id), for the log.
    pub id: Option<String>,
    /// When the schedule fired: the month before it is charged.
    pub time: DateTime<Utc>,
}

impl MonthlyTrigger {
    /// The trigger in an EventBridge scheduled event (the schedule's input in
    /// `infra/template.yaml`, or an EventBridge rule's event); anything else is refused with
    /// what was wrong.
    pub fn parse(payload: serde_json::Value) -> Result<Self, PlanFailed> {
        let event: EventBridgeEvent = serde_json::from_value(payload)
            .map_err(|e| PlanFailed::NotScheduled(format!("not an EventBridge event: {e}")))?;
        if event.detail_type != SCHEDULED_EVENT {
            return Err(PlanFailed::NotScheduled(format!(
                "detail-type {:?}, not {SCHEDULED_EVENT:?}",
                event.detail_type
            )));
        }
        let time = event.time.ok_or_else(|| {
            PlanFailed::NotScheduled("a scheduled event without its time".to_owned())
        })?;
        Ok(Self { id: event.id, time })
    }
}

/// What a planning run did: the answer of a successful invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PlanSummary {
    /// The month charged.
    pub period: BillingPeriod,
    /// Charge jobs sent to the queue (one per owing account).
    pub enqueued: u64,
}

/// Why an invocation failed. Lambda retries it twice, then the event goes to the planner's
/// dead-letter queue, whose alarm calls an operator.
#[derive(Debug)]
pub enum PlanFailed {
    /// The invocation was not a scheduled event.
    NotScheduled(String),
    /// The month before the event's time has not ended: charging it now would invoice usage
    /// still arriving.
    PeriodNotEnded(PeriodNotEnded),
    /// Some shards could not be planned (the index or the queue failed); the others were, and
    /// running the invocation again plans every shard again, harmlessly.
    Shards {
        /// The month charged.
        period: BillingPeriod,
        /// Jobs sent by the shards that completed (a failed shard may have sent some too).
        enqueued: u64,
        /// Each failed shard and why.
        failed: Vec<(u16, UseCaseError)>,
    },
}

impl std::fmt::Display for PlanFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotScheduled(what) => write!(f, "not a monthly trigger: {what}"),
            Self::PeriodNotEnded(error) => error.fmt(f),
            Self::Shards { period, failed, .. } => {
                let shards: Vec<String> = failed.iter().map(|(s, _)| s.to_string()).collect();
                write!(
                    f,
                    "{} shards of {period} could not be planned ({}); first error: {}",
                    failed.len(),
                    shards.join(", "),
                    failed.first().map_or(String::new(), |(_, e)| e.to_string())
                )
            }
        }
    }
}

impl std::error::Error for PlanFailed {}

/// What the Lambda runtime reports for a failed invocation: a type an alarm or a log query can
/// tell apart, and the message.
impl From<PlanFailed> for lambda_runtime::Diagnostic {
    fn from(error: PlanFailed) -> Self {
        let error_type = match &error {
            PlanFailed::NotScheduled(_) => "MonthlyChargeFailed.NotScheduled",
            PlanFailed::PeriodNotEnded(_) => "MonthlyChargeFailed.PeriodNotEnded",
            PlanFailed::Shards { .. } => "MonthlyChargeFailed.Shards",
        };
        Self {
            error_type: error_type.to_owned(),
            error_message: error.to_string(),
        }
    }
}

/// Plans the month a scheduled `payload` names, at `now`: every shard of the due index, at
/// most [`SHARDS_AT_ONCE`] at a time, each to completion even when others fail; fails if any
/// did. Logs one line with the summary.
pub async fn plan_monthly_charge(
    store: &dyn Store,
    queue: &dyn JobQueue,
    payload: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<PlanSummary, PlanFailed> {
    let trigger = MonthlyTrigger::parse(payload)?;
    let period = charged_period(trigger.time, now).map_err(PlanFailed::PeriodNotEnded)?;
    let results: Vec<(u16, Result<u64, UseCaseError>)> = futures_util::stream::iter(shards())
        .map(|shard| async move { (shard, plan_shard(store, queue, period, shard).await) })
        .buffer_unordered(SHARDS_AT_ONCE)
        .collect()
        .await;
    let mut enqueued = 0;
    let mut failed = Vec::new();
    for (shard, result) in results {
        match result {
            Ok(planned) => enqueued += planned,
            Err(error) => {
                tracing::error!(%period, shard, %error, "monthly charge: shard not planned");
                failed.push((shard, error));
            }
        }
    }
    failed.sort_by_key(|(shard, _)| *shard);
    let event = trigger.id.unwrap_or_default();
    let late_ms = (now - trigger.time).num_milliseconds();
    if !failed.is_empty() {
        tracing::error!(%period, enqueued, failed = failed.len(), event = %event, late_ms, "monthly charge planned in part; the invocation fails and is run again");
        return Err(PlanFailed::Shards {
            period,
            enqueued,
            failed,
        });
    }
    tracing::info!(%period, enqueued, event = %event, late_ms, "monthly charge planned");
    Ok(PlanSummary { period, enqueued })
}

#[cfg(test)]
mod tests;
