//! The SQS job queue: SendMessageBatch in batches of ten (SQS's limit), JSON bodies.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::{DisplayErrorContext, SdkError};
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use billing_core::ports::queue::{ChargeJob, JobQueue, QueueError};

/// Most messages one SendMessageBatch takes.
pub const BATCH_SIZE: usize = 10;
/// How many times a batch is sent while some of its entries fail on SQS's side.
pub const BATCH_ATTEMPTS: u32 = 3;

/// Enqueues charge jobs on one SQS queue.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: Client,
    queue_url: String,
}

impl SqsQueue {
    /// A queue at `queue_url`, with a client built from the shared config.
    pub fn new(config: &aws_types::SdkConfig, queue_url: impl Into<String>) -> Self {
        Self::from_client(Client::new(config), queue_url)
    }

    /// A queue with a client built by the caller.
    pub fn from_client(client: Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }

    /// Sends one batch, then again only its entries that failed on SQS's side, a bounded
    /// number of times. Entry ids are positions in the batch.
    async fn send_batch(&self, jobs: &[ChargeJob]) -> Result<(), QueueError> {
        let mut pending: Vec<SendMessageBatchRequestEntry> = jobs
            .iter()
            .enumerate()
            .map(|(n, job)| entry(n, job))
            .collect::<Result<_, _>>()?;
        for attempt in 1..=BATCH_ATTEMPTS {
            let output = self
                .client
                .send_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(pending.clone()))
                .send()
                .await
                .map_err(sdk)?;
            let failed = output.failed();
            if failed.is_empty() {
                return Ok(());
            }
            if let Some(ours) = failed.iter().find(|f| f.sender_fault()) {
                // Retrying a request SQS calls wrong cannot help.
                return Err(QueueError::Unavailable(format!(
                    "SendMessageBatch refused an entry: {}: {}",
                    ours.code(),
                    ours.message().unwrap_or("")
                )));
            }
            let codes: Vec<&str> = failed.iter().map(|f| f.code()).collect();
            tracing::warn!(
                attempt,
                failed = failed.len(),
                codes = ?codes,
                "SendMessageBatch: some entries failed"
            );
            if attempt == BATCH_ATTEMPTS {
                return Err(QueueError::Unavailable(format!(
                    "{} of {} jobs not enqueued after {BATCH_ATTEMPTS} attempts: {}",
                    failed.len(),
                    jobs.len(),
                    codes.join(", ")
                )));
            }
            let retry: Vec<&str> = failed.iter().map(|f| f.id()).collect();
            pending.retain(|e| retry.contains(&e.id()));
            tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
        }
        Ok(())
    }
}

fn entry(n: usize, job: &ChargeJob) -> Result<SendMessageBatchRequestEntry, QueueError> {
    let body = serde_json::to_string(job)
        .map_err(|e| QueueError::Unavailable(format!("job does not encode: {e}")))?;
    SendMessageBatchRequestEntry::builder()
        .id(n.to_string())
        .message_body(body)
        .build()
        .map_err(|e| QueueError::Unavailable(format!("batch entry: {e}")))
}

fn sdk<E, R>(error: SdkError<E, R>) -> QueueError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    QueueError::Unavailable(format!("SendMessageBatch: {}", DisplayErrorContext(&error)))
}

#[async_trait]
impl JobQueue for SqsQueue {
    async fn enqueue(&self, jobs: &[ChargeJob]) -> Result<(), QueueError> {
        // Batches go one after another: a failure leaves the earlier ones sent, which
        // at-least-once delivery and idempotent workers make harmless to send again.
        for batch in jobs.chunks(BATCH_SIZE) {
            self.send_batch(batch).await?;
        }
        Ok(())
    }
}
