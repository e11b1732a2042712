//! The charge worker's handler: an SQS batch of charge jobs from the planner, one JSON
//! [`ChargeJob`] per message, each charged by [`charge_account`]; the answer names the
//! messages SQS must deliver again (a partial batch failure, `ReportBatchItemFailures`).

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use billing_core::ports::clock::Clock;
use billing_core::ports::queue::ChargeJob;
use billing_core::usecases::error::UseCaseError;
use billing_core::usecases::invoice::{Charged, MonthlySummary, Ports, charge_account};
use futures_util::StreamExt;

/// Jobs of one batch charged at once: the whole batch (the event source's `BatchSize` is
/// 10). A job spends most of its time waiting for Stripe, so one invocation only reaches its
/// share of the request rate with several jobs in flight; the rate limit, not this, is what
/// paces Stripe.
pub const JOBS_AT_ONCE: usize = 10;

/// Charges the jobs of one invocation and answers which messages must come again.
///
/// A job charged, found already charged (a redelivery, or the planner run twice), carried
/// over or skipped (a deleted account) is done and acknowledged: every outcome of the charge
/// itself (paid, authorization required, declined, no card) is an answer recorded on the
/// invoice. A message is reported as failed, so SQS delivers it again, when:
/// - the charge did not complete and may later (the store, Stripe or SES unavailable, the
///   account busy): logged as a warning; the job run again resumes where it stopped;
/// - the charge did not complete and will not by itself (corrupt data, a refused request,
///   access denied): logged as an error. Acknowledging it would leave the account
///   uncharged with no one told, so it comes again until the queue's `maxReceiveCount`
///   moves it to the dead-letter queue, whose alarm calls an operator; each extra receive
///   is harmless, since a job charges an account once per period;
/// - the body is not a charge job: for the same reason, and logged with the message id and
///   what was wrong, never the body.
///
/// A message without an id (SQS always sends one) is reported with an empty id, which makes
/// Lambda retry the whole batch: nothing is acknowledged that was not done.
pub async fn charge_messages(
    ports: Ports<'_>,
    clock: &dyn Clock,
    event: SqsEvent,
) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    let received = event.records.len();
    let mut jobs = Vec::with_capacity(received);
    for message in event.records {
        match parse(&message) {
            Ok(job) => jobs.push((message.message_id.unwrap_or_default(), job)),
            Err(reason) => {
                let id = message.message_id.unwrap_or_default();
                tracing::warn!(message_id = %id, reason, "charge message unusable; reported failed until it moves to the dead-letter queue");
                response.add_failure(id);
            }
        }
    }
    let unusable = response.batch_item_failures.len();

    let results: Vec<(String, ChargeJob, Result<Charged, UseCaseError>)> =
        futures_util::stream::iter(jobs)
            .map(|(id, job)| async move {
                let result = charge_account(ports, &job, clock.now()).await;
                (id, job, result)
            })
            .buffer_unordered(JOBS_AT_ONCE)
            .collect()
            .await;

    let mut summary = MonthlySummary::default();
    let mut failed = 0;
    for (id, job, result) in results {
        match result {
            Ok(charged) => {
                log_charged(&id, &job, &charged);
                summary.add(&charged);
            }
            Err(error) => {
                log_failed(&id, &job, &error);
                response.add_failure(id);
                failed += 1;
            }
        }
    }
    let MonthlySummary {
        accounts,
        invoices,
        paid,
        requires_authorization,
        failed: payment_failed,
        carried,
    } = summary;
    tracing::info!(
        received,
        unusable,
        accounts,
        invoices,
        paid,
        requires_authorization,
        payment_failed,
        carried,
        failed,
        "charge batch"
    );
    response
}

/// One line per job done: the account, the month and where its invoice stands. Nothing of
/// the card: the invoice's status is all the outcome there is to log.
fn log_charged(message_id: &str, job: &ChargeJob, charged: &Charged) {
    let (account, period) = (&job.account, job.period);
    match charged {
        Charged::Invoiced {
            invoice,
            status,
            created,
        } => {
            let status = serde_json::to_value(status).unwrap_or_default();
            let status = status.as_str().unwrap_or_default();
            tracing::info!(message_id, %account, %period, %invoice, status, created, "charge job: invoiced");
        }
        Charged::NothingOwed { carried } => {
            tracing::info!(message_id, %account, %period, carried_micros = carried.get(), "charge job: nothing to invoice");
        }
        Charged::Skipped => {
            tracing::info!(message_id, %account, %period, "charge job: account deleted, skipped");
        }
    }
}

/// One line per job that must come again: a warning when it may succeed by itself, an error
/// when an operator must act.
fn log_failed(message_id: &str, job: &ChargeJob, error: &UseCaseError) {
    let (account, period) = (&job.account, job.period);
    if error.is_retryable() {
        tracing::warn!(message_id, %account, %period, %error, "charge job: not done; the message comes again");
    } else {
        tracing::error!(message_id, %account, %period, %error, "charge job: cannot be done until an operator acts; the message comes again until it moves to the dead-letter queue");
    }
}

/// The message's charge job, if it is one; else why not, in words that quote nothing of the
/// body.
fn parse(message: &SqsMessage) -> Result<ChargeJob, String> {
    let body = message.body.as_deref().unwrap_or_default();
    serde_json::from_str(body).map_err(|e| {
        // serde's message may quote the body; its category and position do not.
        let what = match e.classify() {
            serde_json::error::Category::Io
            | serde_json::error::Category::Syntax
            | serde_json::error::Category::Eof => "not JSON",
            serde_json::error::Category::Data => "JSON, but not a charge job",
        };
        format!("{what} (line {}, column {})", e.line(), e.column())
    })
}

#[cfg(test)]
mod tests;
