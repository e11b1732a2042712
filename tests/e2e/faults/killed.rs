//! The charge worker killed at random moments (issue 13, "Faults"): the monthly run of
//! [`super::monthly`] with the worker as a process of its own (`examples/charge_worker.rs`),
//! under the same 20% faults. The jobs not yet done (each message delivered twice) are handed
//! out in batches to [`WORKERS_AT_ONCE`] processes at once, as Lambda runs
//! `CHARGE_WORKER_CONCURRENCY` invocations; most processes are sent SIGKILL once they have
//! reported a seeded random number of their jobs done, fewer than they were given, so they die
//! with jobs in flight; the jobs a process did not report done are delivered again to new
//! processes, a visibility timeout later, as SQS would. Judged as the monthly run is: no double charge, no
//! missed charge, ledger = Stripe.
//!
//! `BILLING_FAULTS_KILLED_ACCOUNTS` sets the number of accounts, `BILLING_FAULTS_SEED` the
//! seed.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Instant;

use billing_core::ports::queue::ChargeJob;
use chrono::SecondsFormat;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;
use tokio::task::JoinSet;

use super::monthly::{FAULT_RATE, VISIBILITY, arrange_accounts, judge, october, plan, setting};
use super::proxy::Rng;
use super::world::{SENDER, STRIPE_KEY, World};

const DEFAULT_ACCOUNTS: u64 = 30;
/// Worker processes running at once (`CHARGE_WORKER_CONCURRENCY` in production).
const WORKERS_AT_ONCE: usize = 4;
/// Jobs one worker process is given at most: two of the Lambda's batches of ten.
const JOBS_PER_RUN: usize = 20;

/// The worker example next to this test binary (`cargo test` builds examples).
fn worker_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let debug = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let path = debug.join("examples").join("charge_worker");
    assert!(
        path.exists(),
        "{} is missing: build it with `cargo build -p billing-e2e --example charge_worker`",
        path.display()
    );
    path
}

/// How one process run ended.
struct Run {
    /// The jobs it reported done, by their place in the jobs it was given.
    done: BTreeSet<usize>,
    /// Jobs reported done when SIGKILL was sent, if it was.
    killed_after: Option<usize>,
}

/// Runs the worker on `jobs` at business time `now`, killing it once it has reported
/// `kill_after_done` jobs done (`0`: as soon as it starts; `jobs.len()`: never). Jobs it
/// reports in the moment the signal takes count as done: they were.
async fn run_worker(
    world: &World,
    jobs: &[ChargeJob],
    now: chrono::DateTime<chrono::Utc>,
    kill_after_done: usize,
) -> Run {
    let mut child = Command::new(worker_binary())
        .env("FAULTS_AWS_URL", world.aws_proxy.url())
        .env(
            "FAULTS_STRIPE_URL",
            format!("{}/", world.stripe_proxy.url()),
        )
        .env("FAULTS_STRIPE_KEY", STRIPE_KEY)
        .env("FAULTS_TABLE", world.store.table_name())
        .env("FAULTS_SENDER", SENDER)
        .env("FAULTS_NOW", now.to_rfc3339_opts(SecondsFormat::Secs, true))
        .env("RUST_LOG", "off")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the worker starts");
    let mut stdin = child.stdin.take().unwrap();
    let lines: String = jobs
        .iter()
        .map(|job| serde_json::to_string(job).unwrap() + "\n")
        .collect();
    stdin.write_all(lines.as_bytes()).await.unwrap();
    drop(stdin);
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut done = BTreeSet::new();
    let mut killed_after = None;
    loop {
        if killed_after.is_none() && done.len() >= kill_after_done && kill_after_done < jobs.len() {
            child.start_kill().expect("SIGKILL sent");
            killed_after = Some(done.len());
        }
        match stdout.next_line().await {
            Ok(Some(line)) => {
                if let Some(n) = line.strip_prefix("done ") {
                    done.insert(n.parse::<usize>().unwrap());
                }
            }
            _ => break,
        }
    }
    let status = child.wait().await.unwrap();
    assert!(
        killed_after.is_some() || status.success(),
        "the worker failed by itself: {status}"
    );
    Run { done, killed_after }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_killed_at_random_moments_charges_every_owing_account_exactly_once() {
    let count = setting("BILLING_FAULTS_KILLED_ACCOUNTS", DEFAULT_ACCOUNTS) as usize;
    let seed = setting("BILLING_FAULTS_SEED", 20_261_128);
    let binary = worker_binary();
    let started = Instant::now();
    let world = Arc::new(World::start(seed).await);
    let accounts = arrange_accounts(&world, count, seed).await;

    world.set_rate(FAULT_RATE);
    let (first, second) = tokio::join!(
        tokio::spawn(plan(world.clone())),
        tokio::spawn(plan(world.clone()))
    );
    let planner_failures = first.unwrap() + second.unwrap();
    let messages: Vec<ChargeJob> = world
        .drain_queue()
        .await
        .iter()
        .map(|body| serde_json::from_str(body).expect("a charge job"))
        .collect();
    // Every message delivered twice.
    let mut pending: Vec<ChargeJob> = messages.iter().chain(&messages).cloned().collect();
    let mut rng = Rng::new(seed);
    rng.shuffle(&mut pending);
    // A process must get at least one job done per run on average, or the test gives up.
    let max_runs = 60 + pending.len();
    let (mut runs, mut waves, mut deliveries) = (0, 0, 0);
    // Per run: (jobs given, jobs reported done when it was killed, jobs left undone).
    let mut kill_points = Vec::new();
    let charge_at = october().charge_at();
    while !pending.is_empty() && runs < max_runs {
        let now = charge_at + VISIBILITY * waves;
        waves += 1;
        // The pending jobs shared out evenly among the processes of this wave.
        let per_run = pending.len().div_ceil(WORKERS_AT_ONCE).min(JOBS_PER_RUN);
        let mut batches: Vec<Vec<ChargeJob>> = Vec::new();
        while batches.len() < WORKERS_AT_ONCE && !pending.is_empty() {
            let rest = pending.split_off(pending.len().min(per_run));
            batches.push(std::mem::replace(&mut pending, rest));
        }
        let mut workers = JoinSet::new();
        for batch in batches {
            // Killed after fewer jobs done than it was given (with jobs in flight), or, one
            // time in `batch.len() + 1`, left to finish.
            let kill_after_done = rng.below(batch.len() as u64 + 1) as usize;
            let world = world.clone();
            workers.spawn(async move {
                let run = run_worker(&world, &batch, now, kill_after_done).await;
                (batch, run)
            });
        }
        while let Some(joined) = workers.join_next().await {
            let (batch, run) = joined.expect("a worker run does not panic");
            runs += 1;
            deliveries += batch.len();
            if let Some(reported) = run.killed_after {
                kill_points.push((batch.len(), reported, batch.len() - run.done.len()));
            }
            pending.extend(
                batch
                    .into_iter()
                    .enumerate()
                    .filter(|(n, _)| !run.done.contains(n))
                    .map(|(_, job)| job),
            );
        }
        rng.shuffle(&mut pending);
    }
    world.set_rate(0);
    let charged = started.elapsed();

    let verdict = judge(&world, &accounts).await;
    let kills = kill_points.len();
    let undone: usize = kill_points.iter().map(|(_, _, left)| left).sum();
    eprintln!(
        "faults/killed: seed {seed}, {} accounts, {} messages, {runs} worker runs in {waves} waves of up to {WORKERS_AT_ONCE} ({kills} killed, leaving {undone} jobs undone), {deliveries} job deliveries, {} left undone; planner failures {planner_failures}; {:.1} s; worker binary {}",
        accounts.len(),
        messages.len(),
        pending.len(),
        charged.as_secs_f64(),
        binary.display()
    );
    eprintln!(
        "  first kills (jobs given, reported done when killed, left undone): {:?}",
        &kill_points[..kills.min(12)]
    );
    world.report_proxies();
    eprintln!(
        "  PaymentIntents {} ({} succeeded); double charges {:?}; missed {:?}; unexpected {:?}; accounts whose ledger differs from Stripe {:?}; ledger {} micros vs Stripe {} cents: ledger − Stripe {} micros",
        verdict.intents.len(),
        verdict.intents.iter().filter(|i| i.succeeded).count(),
        verdict.double_charges,
        verdict.missed,
        verdict.unexpected,
        verdict.ledger_mismatches,
        verdict.ledger_total_micros,
        verdict.stripe_total_cents,
        verdict.ledger_total_micros - verdict.stripe_total_cents * 10_000
    );
    assert!(kills > 0, "the worker was killed at least once");
    assert_eq!(
        pending,
        Vec::<ChargeJob>::new(),
        "every job done within {max_runs} runs"
    );
    verdict.assert_held();
}
