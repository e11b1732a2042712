//! The usage function's handler: an SQS batch of messages, each one usage event (PRODUCT.md,
//! Events), recorded by one `record_usage_batch`; the answer names the messages SQS must
//! deliver again (a partial batch failure, `ReportBatchItemFailures`).

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use billing_core::ports::store::Store;
use billing_core::usecases::usage::{UsageEvent, UsageOutcome, record_usage_batch};
use chrono::{DateTime, Utc};

/// Records the usage events of one invocation and answers which messages must come again.
///
/// Every message that parses and is within bounds goes into one batch. An event counted now,
/// counted before (a redelivery) or refused (recorded as refused, with its reason) is done and
/// acknowledged. A message is reported as failed, so SQS delivers it again, when:
/// - the store failed: a retryable failure clears up by itself; one that does not (access
///   denied, a missing table) is logged as an error and keeps failing until an operator acts;
/// - it is not a usage event, or the event is out of bounds: delivering it again cannot help,
///   but acknowledging it would drop usage silently, so it fails until the queue's
///   `maxReceiveCount` moves it to the dead-letter queue, whose alarm calls an operator. A
///   `warn` line names the message id and what was wrong, never the body.
///
/// A message without an id (SQS always sends one) is reported with an empty id, which makes
/// Lambda retry the whole batch: nothing is acknowledged that was not recorded.
pub async fn record_usage_messages<S: Store + ?Sized>(
    store: &S,
    event: SqsEvent,
    now: DateTime<Utc>,
) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    let received = event.records.len();
    let mut ids = Vec::with_capacity(received);
    let mut events = Vec::with_capacity(received);
    for message in event.records {
        match parse(&message, now) {
            Ok(event) => {
                ids.push(message.message_id.unwrap_or_default());
                events.push(event);
            }
            Err(reason) => {
                let id = message.message_id.unwrap_or_default();
                tracing::warn!(message_id = %id, reason, "usage message unusable; reported failed until it moves to the dead-letter queue");
                response.add_failure(id);
            }
        }
    }
    let unusable = response.batch_item_failures.len();
    if events.is_empty() {
        tracing::info!(received, unusable, "usage batch");
        return response;
    }

    let outcomes = match record_usage_batch(store, &events, now).await {
        Ok(outcomes) => outcomes,
        Err(error) => {
            // Every event was checked against the same `now` above, so the batch cannot be
            // refused as a whole; if it is, nothing was written and all of it comes again.
            tracing::error!(%error, "usage batch refused whole; every message comes again");
            response.set_failures(ids);
            return response;
        }
    };
    let mut counted = 0;
    let mut refused = 0;
    let mut failed = Vec::new();
    for (id, outcome) in ids.into_iter().zip(outcomes) {
        match outcome {
            UsageOutcome::Counted(_) => counted += 1,
            UsageOutcome::Refused(_) => refused += 1,
            UsageOutcome::Failed(error) => {
                response.add_failure(id);
                failed.push(error);
            }
        }
    }
    match failed.first() {
        None => tracing::info!(received, counted, refused, unusable, "usage batch"),
        Some(error) if error.is_retryable() => {
            tracing::warn!(received, counted, refused, unusable, failed = failed.len(), %error, "usage batch: the store failed; those messages come again");
        }
        Some(error) => {
            tracing::error!(received, counted, refused, unusable, failed = failed.len(), %error, "usage batch: the store cannot record usage until an operator acts");
        }
    }
    response
}

/// The message's usage event, if it is one and within bounds at `now`; else why not, in words
/// that quote nothing of the body.
fn parse(message: &SqsMessage, now: DateTime<Utc>) -> Result<UsageEvent, String> {
    let body = message.body.as_deref().unwrap_or_default();
    let event: UsageEvent = serde_json::from_str(body).map_err(|e| {
        // serde's message may quote the body; its category and position do not.
        let what = match e.classify() {
            serde_json::error::Category::Io
            | serde_json::error::Category::Syntax
            | serde_json::error::Category::Eof => "not JSON",
            serde_json::error::Category::Data => "JSON, but not a usage event",
        };
        format!("{what} (line {}, column {})", e.line(), e.column())
    })?;
    event
        .entry(now)
        .map_err(|e| format!("{} out of bounds", e.field))?;
    Ok(event)
}

#[cfg(test)]
mod tests;
