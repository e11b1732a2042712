//! `POST /_local/events/monthly-charge`: the monthly charge run to completion in one request,
//! with the same code as the planner and the charge worker on Lambda. The planner enqueues a
//! job per owing account of every shard on the local queue (a redb file in the data folder);
//! then the queue is drained, a few jobs at a time, each charged by [`charge_account`].
//!
//! One run at a time per server (the sweep drains the same queue and waits its turn too): a
//! second request waits for the first, then plans and drains again, which the worker makes
//! harmless (an invoice exists once per account and period, and a charge is sent once per
//! attempt), so it shows accounts visited and nothing new. Jobs a stopped server left on the
//! queue are charged first, outside the summary: they belong to the run that planned them. A
//! job taken off the queue and not finished (a request cut short) is planned again by the
//! same event posted again; every step of a job can be re-run.

use std::sync::Arc;

use billing_api::{ApiError, ErrorCode};
use billing_core::ports::clock::Clock;
use billing_core::ports::queue::ChargeJob;
use billing_core::rules::period::BillingPeriod;
use billing_core::usecases::invoice::{
    Charged, MonthlySummary, Ports, charge_account, charged_period, plan_shard, shards,
};
use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::task::JoinSet;

use crate::controls::Controls;

/// Jobs charged at once: enough to overlap the store's commits, few enough for 2 cores.
const CONCURRENT_JOBS: usize = 4;
/// Times one job is run within a request before it is counted as an error (a store conflict
/// that outlasted the use case's own retries clears on the next try).
const JOB_TRIES: usize = 3;

/// What `POST /_local/events/monthly-charge` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MonthlyAnswer {
    /// The month charged, `YYYY-MM`.
    pub period: String,
    /// What the run did ([`MonthlySummary`]), flattened.
    #[serde(flatten)]
    pub summary: MonthlySummary,
    /// Accounts whose job kept failing (the store or the network was unavailable); the same
    /// event posted again plans and visits them again.
    pub errors: u64,
}

/// Runs the monthly charge for a trigger fired at `time`, as of the local clock.
pub async fn run(controls: &Arc<Controls>, time: DateTime<Utc>) -> Result<MonthlyAnswer, ApiError> {
    let period = charged_period(time, controls.clock.now()).map_err(|refused| {
        ApiError::new(
            ErrorCode::PeriodNotEnded,
            format!("The month before `time` has not ended yet: {refused}."),
        )
        .with_param("time")
    })?;
    let _one_run = controls.charge_queue.lock().await;
    drain_leftover(controls).await?;
    plan(controls, period).await?;
    let mut summary = MonthlySummary::default();
    let mut errors = 0;
    drain(controls, |visit| match visit {
        Some(charged) => summary.add(charged),
        None => errors += 1,
    })
    .await?;
    Ok(MonthlyAnswer {
        period: period.to_string(),
        summary,
        errors,
    })
}

/// Enqueues the jobs of every shard.
async fn plan(controls: &Controls, period: BillingPeriod) -> Result<(), ApiError> {
    for shard in shards() {
        plan_shard(controls.store.as_ref(), &controls.queue, period, shard).await?;
    }
    Ok(())
}

/// Charges the jobs a stopped server left on the queue, outside any summary: they belong to
/// the run that enqueued them. The caller holds [`Controls::charge_queue`].
pub(crate) async fn drain_leftover(controls: &Arc<Controls>) -> Result<(), ApiError> {
    let mut jobs = 0_u64;
    drain(controls, |_| jobs += 1).await?;
    if jobs > 0 {
        tracing::info!(jobs, "charged jobs an earlier run left on the queue");
    }
    Ok(())
}

/// Takes jobs off the queue until it is empty, [`CONCURRENT_JOBS`] at a time, and tells
/// `visited` each job's outcome (`None`: it kept failing). The caller holds
/// [`Controls::charge_queue`].
pub(crate) async fn drain(
    controls: &Arc<Controls>,
    mut visited: impl FnMut(Option<&Charged>),
) -> Result<(), ApiError> {
    loop {
        let jobs = controls
            .queue
            .take(CONCURRENT_JOBS)
            .map_err(|e| ApiError::unavailable(&e))?;
        if jobs.is_empty() {
            return Ok(());
        }
        let mut running = JoinSet::new();
        for job in jobs {
            let controls = controls.clone();
            running.spawn(async move { charge(&controls, &job).await });
        }
        while let Some(done) = running.join_next().await {
            visited(done.map_err(|e| ApiError::internal(&e))?.as_ref());
        }
    }
}

/// Charges one job, trying again a few times; `None` when it kept failing.
async fn charge(controls: &Controls, job: &ChargeJob) -> Option<Charged> {
    let ports = Ports {
        store: controls.store.as_ref(),
        gateway: controls.gateway.as_ref(),
        mailer: &controls.outbox,
        links: controls.links.as_ref(),
        retries: &controls.retries,
    };
    let mut failure = None;
    for _ in 0..JOB_TRIES {
        match charge_account(ports, job, controls.clock.now()).await {
            Ok(charged) => return Some(charged),
            Err(error) => failure = Some(error),
        }
    }
    if let Some(error) = failure {
        tracing::warn!(account = %job.account, %error, "charge job failed; the next run visits it again");
    }
    None
}
