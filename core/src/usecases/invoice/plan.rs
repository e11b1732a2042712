//! The monthly charge's planner: which period a trigger charges, and the accounts it visits.
//!
//! The accounts owing for a period are found through the due index (one shard at a time, in
//! pages), never by reading accounts that owe nothing. Each page becomes charge jobs on the
//! queue. Planning again enqueues the same jobs again, which the worker makes harmless, so a
//! planner stopped part way is simply run again.

use chrono::{DateTime, Utc};

use crate::ports::queue::{ChargeJob, JobQueue};
use crate::ports::store::{LedgerStore, Store};
use crate::rules::ledger::DUE_SHARDS;
use crate::rules::period::BillingPeriod;
use crate::usecases::error::UseCaseError;

/// Accounts listed (and jobs enqueued) per page.
pub const PLAN_PAGE: usize = 100;

/// Why a trigger does not charge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the period {period} has not ended at {now}: it is charged from {}", period.charge_at())]
pub struct PeriodNotEnded {
    /// The period the trigger names.
    pub period: BillingPeriod,
    /// When it was handled.
    pub now: DateTime<Utc>,
}

/// The period a monthly trigger fired at `time` charges (the calendar month before `time`),
/// refused while that month has not ended at `now`: charging it then would invoice a month
/// whose usage is still arriving.
pub fn charged_period(
    time: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<BillingPeriod, PeriodNotEnded> {
    let period = BillingPeriod::charged_by(time);
    if period.end() > now {
        return Err(PeriodNotEnded { period, now });
    }
    Ok(period)
}

/// Every shard of the due index: the planner may run them concurrently.
pub fn shards() -> impl Iterator<Item = u16> {
    0..DUE_SHARDS
}

/// Enqueues a charge job for every account of one shard owing for `period`; returns how many.
pub async fn plan_shard(
    store: &dyn Store,
    queue: &dyn JobQueue,
    period: BillingPeriod,
    shard: u16,
) -> Result<u64, UseCaseError> {
    let mut after = None;
    let mut planned = 0;
    loop {
        let page = store.due_accounts(period, shard, after, PLAN_PAGE).await?;
        let jobs: Vec<ChargeJob> = page
            .items
            .iter()
            .map(|account| ChargeJob::monthly(account.clone(), period))
            .collect();
        if !jobs.is_empty() {
            queue.enqueue(&jobs).await?;
        }
        planned += jobs.len() as u64;
        after = match page.items.last() {
            Some(last) if page.has_more => Some(last.clone()),
            _ => return Ok(planned),
        };
    }
}
