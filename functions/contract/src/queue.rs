//! The job queue contract.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use billing_core::ports::queue::{ChargeJob, JobQueue, QueueError};
use billing_core::rules::period::BillingPeriod;

/// An in-memory job queue that keeps what it is given, for a test to read (what a sweep or
/// the planner enqueued).
#[derive(Debug, Default)]
pub struct Jobs(Mutex<Vec<ChargeJob>>);

impl Jobs {
    /// Removes and returns every job kept so far, oldest first.
    pub fn take(&self) -> Vec<ChargeJob> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

#[async_trait]
impl JobQueue for Jobs {
    async fn enqueue(&self, jobs: &[ChargeJob]) -> Result<(), QueueError> {
        self.0.lock().unwrap().extend_from_slice(jobs);
        Ok(())
    }
}

/// Reads what an adapter queued.
#[async_trait]
pub trait QueueInspector: Send + Sync {
    /// Removes and returns every job waiting.
    async fn drain(&self) -> Vec<ChargeJob>;
}

/// A queue and its inspector, as the cases take them (each case gets a fresh, empty queue).
pub type QueueHarness = (Arc<dyn JobQueue>, Arc<dyn QueueInspector>);

/// Every job enqueued is delivered, however many are sent at once.
pub async fn every_enqueued_job_is_delivered((queue, inspector): QueueHarness) {
    let period = BillingPeriod::new(2026, 10).unwrap();
    let jobs: Vec<_> = (0..25)
        .map(|n| ChargeJob::monthly(crate::unique_account(&format!("job{n}")), period))
        .collect();
    queue.enqueue(&jobs).await.unwrap();
    let mut delivered = inspector.drain().await;
    let mut expected = jobs.clone();
    delivered.sort_by(|a, b| a.account.cmp(&b.account));
    expected.sort_by(|a, b| a.account.cmp(&b.account));
    assert_eq!(delivered, expected);
}

/// Enqueuing nothing is not an error and delivers nothing.
pub async fn enqueuing_nothing_delivers_nothing((queue, inspector): QueueHarness) {
    queue.enqueue(&[]).await.unwrap();
    assert!(inspector.drain().await.is_empty());
}

/// Stamps out the queue contract. `$make` is an async fn returning a [`QueueHarness`].
#[macro_export]
macro_rules! queue_contract {
    ($make:path) => {
        $crate::queue_contract!(@cases $make; every_enqueued_job_is_delivered, enqueuing_nothing_delivers_nothing);
    };
    (@cases $make:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                $crate::queue::$case($make().await).await;
            }
        )*
    };
}
