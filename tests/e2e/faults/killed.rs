//! The charge worker killed at random moments (issue 13, "Faults"): the monthly run of
//! [`super::monthly`] with the worker as a process of its own (`examples/charge_worker.rs`),
//! under the same 20% faults. Each run of the process gets every job not yet done (each
//! message delivered twice) and is sent SIGKILL at a seeded random moment; the jobs it did not
//! report done are delivered again to a new process, a visibility timeout later, as SQS
//! would. Judged as the monthly run is: no double charge, no missed charge, ledger = Stripe.
//!
//! `BILLING_FAULTS_KILLED_ACCOUNTS` sets the number of accounts, `BILLING_FAULTS_SEED` the
//! seed.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use billing_core::ports::queue::ChargeJob;
use chrono::SecondsFormat;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

use super::monthly::{FAULT_RATE, VISIBILITY, arrange_accounts, judge, october, plan, setting};
use super::proxy::Rng;
use super::world::{SENDER, STRIPE_KEY, World};

const DEFAULT_ACCOUNTS: u64 = 30;
/// Worker processes started before the test gives up.
const MAX_RUNS: u32 = 60;
/// A kill comes at a random moment up to this long after the process starts.
const KILL_WITHIN: Duration = Duration::from_millis(3_000);

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
    done: BTreeSet<usize>,
    killed: bool,
}

/// Runs the worker on `jobs` at business time `now`, killing it after `kill_after` if it is
/// still running.
async fn run_worker(
    world: &World,
    jobs: &[ChargeJob],
    now: chrono::DateTime<chrono::Utc>,
    kill_after: Duration,
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
    let deadline = tokio::time::sleep(kill_after);
    tokio::pin!(deadline);
    let mut killed = false;
    loop {
        tokio::select! {
            line = stdout.next_line() => match line {
                Ok(Some(line)) => {
                    if let Some(n) = line.strip_prefix("done ") {
                        done.insert(n.parse::<usize>().unwrap());
                    }
                }
                _ => break,
            },
            () = &mut deadline, if !killed => {
                child.start_kill().expect("SIGKILL sent");
                killed = true;
            }
        }
    }
    let status = child.wait().await.unwrap();
    assert!(
        killed || status.success(),
        "the worker failed by itself: {status}"
    );
    Run { done, killed }
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
    let (mut runs, mut kills, mut deliveries) = (0, 0, 0);
    // Per killed run: (milliseconds after start, jobs it had not reported done of those given).
    let mut kill_points = Vec::new();
    let charge_at = october().charge_at();
    while !pending.is_empty() && runs < MAX_RUNS {
        let kill_after = Duration::from_millis(rng.below(KILL_WITHIN.as_millis() as u64));
        let now = charge_at + VISIBILITY * runs as i32;
        runs += 1;
        deliveries += pending.len();
        let run = run_worker(&world, &pending, now, kill_after).await;
        kills += u32::from(run.killed);
        if run.killed {
            kill_points.push((kill_after.as_millis(), pending.len() - run.done.len()));
        }
        pending = pending
            .into_iter()
            .enumerate()
            .filter(|(n, _)| !run.done.contains(n))
            .map(|(_, job)| job)
            .collect();
    }
    world.set_rate(0);
    let charged = started.elapsed();

    let verdict = judge(&world, &accounts).await;
    eprintln!(
        "faults/killed: seed {seed}, {} accounts, {} messages, {runs} worker runs ({kills} killed), {deliveries} job deliveries, {} left undone; planner failures {planner_failures}; {:.1} s; worker binary {}",
        accounts.len(),
        messages.len(),
        pending.len(),
        charged.as_secs_f64(),
        binary.display()
    );
    eprintln!("  kills (ms after start, jobs left undone): {kill_points:?}");
    world.report_proxies();
    eprintln!(
        "  PaymentIntents {} ({} succeeded); double charges {:?}; missed {:?}; unexpected {:?}; ledger mismatches {:?}; ledger {} micros vs Stripe {} cents",
        verdict.intents.len(),
        verdict.intents.iter().filter(|i| i.succeeded).count(),
        verdict.double_charges,
        verdict.missed,
        verdict.unexpected,
        verdict.ledger_mismatches,
        verdict.ledger_total_micros,
        verdict.stripe_total_cents
    );
    assert!(kills > 0, "the worker was killed at least once");
    assert_eq!(
        pending,
        Vec::<ChargeJob>::new(),
        "every job done within {MAX_RUNS} runs"
    );
    verdict.assert_held();
}
