//! The sweep function's handler: EventBridge Scheduler invokes it every five minutes with the
//! schedule's input, a scheduled event. It does two things, each to its end whatever the other
//! did: it resolves every purchase unsettled past the 15-minute window ([`sweep_purchases`]),
//! and it enqueues a charge job for every invoice due a collection visit ([`sweep_invoices`]:
//! a scheduled retry whose time has come, an attempt or email left claimed), which the charge
//! worker then resumes. It answers what it did.
//!
//! Running every five minutes adds no retries: the once-a-day rule is the core's
//! (`billing_core::rules::retry`), and a claimed retry is not due again, so a retry is made at
//! most once a day per invoice however often the sweep runs. A retry is due from 00:00 UTC of
//! its day, so the day's first sweep enqueues it; the short period is what picks up a stalled
//! attempt within minutes.

use billing_core::ports::queue::JobQueue;
use billing_core::usecases::error::UseCaseError;
use billing_core::usecases::invoice::sweep_invoices;
use billing_core::usecases::purchase::{Ports, SweepSummary, sweep_purchases};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

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

/// What one sweep did, as the invocation answers it: `{"purchases": {visited, succeeded,
/// failed, unresolved, errors}, "invoices": {"enqueued": n}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    /// The unsettled purchases it visited and how each ended.
    pub purchases: SweepSummary,
    /// The invoices it sent to the charge worker.
    pub invoices: InvoiceSweep,
}

/// The invoice part of a sweep.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct InvoiceSweep {
    /// Charge jobs enqueued, one per invoice due a visit.
    pub enqueued: u64,
}

/// Why the purchase part of a sweep failed.
#[derive(Debug)]
pub enum PurchasesFailed {
    /// The purchases could not be listed (the store is down or forbidden); none was visited.
    Listing(UseCaseError),
    /// Some purchases could not be resolved (Stripe or the store failed for them); the others
    /// were, and the next sweep visits those again.
    Visits(SweepSummary),
}

/// Why an invocation failed. Failing it is how an operator hears of it: Lambda retries the
/// invocation once, then sends the event to the sweep's dead-letter queue, whose alarm
/// calls someone. Both parts have run to their end by then.
#[derive(Debug)]
pub enum SweepFailed {
    /// The invocation was not the schedule's input; nothing was swept.
    NotScheduled(String),
    /// The purchase part failed; `invoices` is what the invoice part did, or how it failed.
    Purchases {
        /// What went wrong with the purchases.
        failed: PurchasesFailed,
        /// The invoice part's outcome.
        invoices: Result<u64, UseCaseError>,
    },
    /// The purchases were all resolved, but the invoices due a visit could not all be listed
    /// or enqueued (the store or SQS failed); the next sweep lists them again.
    Invoices {
        /// The purchase part, done.
        purchases: SweepSummary,
        /// What went wrong with the invoices.
        error: UseCaseError,
    },
}

impl std::fmt::Display for SweepFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotScheduled(detail_type) => {
                write!(f, "not a scheduled event (detail-type {detail_type:?})")
            }
            Self::Purchases { failed, invoices } => {
                match failed {
                    PurchasesFailed::Listing(error) => {
                        write!(f, "cannot list unsettled purchases: {error}")?;
                    }
                    PurchasesFailed::Visits(summary) => write!(
                        f,
                        "{} of {} purchases could not be resolved; the next sweep visits them again",
                        summary.errors, summary.visited
                    )?,
                }
                match invoices {
                    Ok(enqueued) => write!(f, " ({enqueued} invoices enqueued)"),
                    Err(error) => write!(f, "; and {}", invoices_failed(error)),
                }
            }
            Self::Invoices { error, .. } => f.write_str(&invoices_failed(error)),
        }
    }
}

fn invoices_failed(error: &UseCaseError) -> String {
    format!(
        "cannot enqueue the invoices due a collection visit: {error}; the next sweep lists them again"
    )
}

impl std::error::Error for SweepFailed {}

/// What the Lambda runtime reports for a failed invocation: a type an alarm or a log query can
/// tell apart (the purchase part's when both failed; the message names both), and the message.
impl From<SweepFailed> for lambda_runtime::Diagnostic {
    fn from(error: SweepFailed) -> Self {
        let error_type = match &error {
            SweepFailed::NotScheduled(_) => "SweepFailed.NotScheduled",
            SweepFailed::Purchases {
                failed: PurchasesFailed::Listing(_),
                ..
            } => "SweepFailed.Listing",
            SweepFailed::Purchases {
                failed: PurchasesFailed::Visits(_),
                ..
            } => "SweepFailed.Visits",
            SweepFailed::Invoices { .. } => "SweepFailed.Invoices",
        };
        Self {
            error_type: error_type.to_owned(),
            error_message: error.to_string(),
        }
    }
}

/// Runs one sweep at `now` for a scheduled `event`, sending invoice jobs to `queue` (the
/// charge queue), and logs its summary. Every purchase is visited and every due invoice listed
/// even when some part fails; the invocation fails afterwards if any did, so that something
/// that keeps failing reaches an operator instead of being retried silently forever.
pub async fn run_sweep(
    ports: Ports<'_>,
    queue: &dyn JobQueue,
    event: ScheduledEvent,
    now: DateTime<Utc>,
) -> Result<SweepReport, SweepFailed> {
    if event.detail_type != "Scheduled Event" {
        return Err(SweepFailed::NotScheduled(event.detail_type));
    }
    let purchases = sweep_purchases(ports, now).await;
    let invoices = sweep_invoices(ports.store, queue, now).await;
    let late_ms = (now - event.time).num_milliseconds();
    let purchases = match purchases {
        Ok(summary) if summary.errors == 0 => summary,
        Ok(summary) => {
            log(&summary, &invoices, late_ms);
            return Err(SweepFailed::Purchases {
                failed: PurchasesFailed::Visits(summary),
                invoices,
            });
        }
        Err(error) => {
            log(&SweepSummary::default(), &invoices, late_ms);
            return Err(SweepFailed::Purchases {
                failed: PurchasesFailed::Listing(error),
                invoices,
            });
        }
    };
    log(&purchases, &invoices, late_ms);
    match invoices {
        Ok(enqueued) => Ok(SweepReport {
            purchases,
            invoices: InvoiceSweep { enqueued },
        }),
        Err(error) => Err(SweepFailed::Invoices { purchases, error }),
    }
}

/// One line per sweep: `error` when a part failed, else `info`.
fn log(purchases: &SweepSummary, invoices: &Result<u64, UseCaseError>, late_ms: i64) {
    let SweepSummary {
        visited,
        succeeded,
        failed,
        unresolved,
        errors,
    } = *purchases;
    match invoices {
        Ok(invoices_enqueued) if errors == 0 => tracing::info!(
            visited,
            succeeded,
            failed,
            unresolved,
            invoices_enqueued,
            late_ms,
            "sweep"
        ),
        Ok(invoices_enqueued) => tracing::error!(
            visited,
            succeeded,
            failed,
            unresolved,
            errors,
            invoices_enqueued,
            late_ms,
            "sweep"
        ),
        Err(error) => tracing::error!(
            visited, succeeded, failed, unresolved, errors, %error, late_ms, "sweep"
        ),
    }
}

#[cfg(test)]
mod tests;
