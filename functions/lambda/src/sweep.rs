//! The sweep function's handler: EventBridge Scheduler invokes it every five minutes with the
//! schedule's input, a scheduled event; it resolves every purchase unsettled past the
//! 15-minute window ([`sweep_purchases`]) and answers what it did.

use billing_core::usecases::error::UseCaseError;
use billing_core::usecases::purchase::{Ports, SweepSummary, sweep_purchases};
use chrono::{DateTime, Utc};
use serde::Deserialize;

/// The schedule's input (`infra/template.yaml`): `{"detail-type": "Scheduled Event", "time":
/// "<aws.scheduler.scheduled-time>"}`. Other fields (an EventBridge rule sends more) are
/// ignored; the sweep itself runs on the clock, not on `time`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ScheduledEvent {
    /// Always `Scheduled Event`.
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    /// When the schedule fired.
    pub time: DateTime<Utc>,
}

/// Why an invocation failed. Failing it is how an operator hears of it: Lambda retries the
/// invocation once, then sends the event to the sweep's dead-letter queue, whose alarm
/// calls someone.
#[derive(Debug)]
pub enum SweepFailed {
    /// The invocation was not the schedule's input.
    NotScheduled(String),
    /// The purchases could not be listed (the store is down or forbidden); nothing was
    /// visited.
    Listing(UseCaseError),
    /// Some purchases could not be resolved (Stripe or the store failed for them); the others
    /// were, and the next sweep visits those again.
    Visits(SweepSummary),
}

impl std::fmt::Display for SweepFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotScheduled(detail_type) => {
                write!(f, "not a scheduled event (detail-type {detail_type:?})")
            }
            Self::Listing(error) => write!(f, "cannot list unsettled purchases: {error}"),
            Self::Visits(summary) => write!(
                f,
                "{} of {} purchases could not be resolved; the next sweep visits them again",
                summary.errors, summary.visited
            ),
        }
    }
}

impl std::error::Error for SweepFailed {}

/// What the Lambda runtime reports for a failed invocation: a type an alarm or a log query can
/// tell apart, and the message.
impl From<SweepFailed> for lambda_runtime::Diagnostic {
    fn from(error: SweepFailed) -> Self {
        let error_type = match &error {
            SweepFailed::NotScheduled(_) => "SweepFailed.NotScheduled",
            SweepFailed::Listing(_) => "SweepFailed.Listing",
            SweepFailed::Visits(_) => "SweepFailed.Visits",
        };
        Self {
            error_type: error_type.to_owned(),
            error_message: error.to_string(),
        }
    }
}

/// Runs one sweep at `now` for a scheduled `event` and logs its summary. Every purchase is
/// visited even when some fail; the invocation fails afterwards if any did, so that a
/// purchase that keeps failing reaches an operator instead of being retried silently forever.
pub async fn run_sweep(
    ports: Ports<'_>,
    event: ScheduledEvent,
    now: DateTime<Utc>,
) -> Result<SweepSummary, SweepFailed> {
    if event.detail_type != "Scheduled Event" {
        return Err(SweepFailed::NotScheduled(event.detail_type));
    }
    let summary = sweep_purchases(ports, now)
        .await
        .map_err(SweepFailed::Listing)?;
    let late_ms = (now - event.time).num_milliseconds();
    let SweepSummary {
        visited,
        succeeded,
        failed,
        unresolved,
        errors,
    } = summary;
    if errors > 0 {
        tracing::error!(
            visited, succeeded, failed, unresolved, errors, late_ms, "sweep"
        );
        return Err(SweepFailed::Visits(summary));
    }
    tracing::info!(visited, succeeded, failed, unresolved, late_ms, "sweep");
    Ok(summary)
}

#[cfg(test)]
mod tests;
