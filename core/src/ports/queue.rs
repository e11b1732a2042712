//! The job queue port: the monthly charge fans out one job per account to the charge worker.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::domain::ids::AccountId;
use crate::rules::period::BillingPeriod;

/// Charge one account for one closed period.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChargeJob {
    /// The account.
    pub account: AccountId,
    /// The closed period.
    pub period: BillingPeriod,
}

/// Queue failures.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum QueueError {
    /// The queue could not be reached; the same call may succeed later.
    #[error("queue unavailable: {0}")]
    Unavailable(String),
}

/// The job queue port. Delivery is at least once: workers must be idempotent.
#[async_trait]
pub trait JobQueue: Send + Sync {
    /// Enqueues jobs (any number; adapters batch as their queue requires).
    async fn enqueue(&self, jobs: &[ChargeJob]) -> Result<(), QueueError>;
}
