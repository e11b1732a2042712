//! The job queue port: the monthly charge fans out one job per account to the charge worker.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::domain::ids::{AccountId, InvoiceId};
use crate::rules::period::BillingPeriod;

/// Charge one account for one closed period, or collect one of its invoices.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChargeJob {
    /// The account.
    pub account: AccountId,
    /// The closed period.
    pub period: BillingPeriod,
    /// The invoice to collect, when the job is about one that exists (the collection sweep's
    /// jobs name it: an account's final invoice has no period id). Absent, the job closes
    /// `period` and collects its invoice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoice: Option<InvoiceId>,
}

impl ChargeJob {
    /// The monthly charge of `account` for `period`.
    pub fn monthly(account: AccountId, period: BillingPeriod) -> Self {
        Self {
            account,
            period,
            invoice: None,
        }
    }
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
