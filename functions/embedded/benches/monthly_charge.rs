//! A monthly run over many owing accounts on the embedded adapters (redb store, simulated card
//! network, outbox mailer, redb job queue): the planner pages through the due index into the
//! queue, then workers drain it through `charge_account` (read, close and claim, charge, record
//! and claim the receipt, send it, mark it). Reports accounts per second, CPU time per account
//! and peak memory. A measurement, never a test:
//! `cargo bench -p billing-embedded --bench monthly_charge` (`BENCH_ACCOUNTS`, default 100,000;
//! `BENCH_WORKERS`, default 16).
//!
//! Setup is not measured. Every account has its own record, usage and invoice; they share one
//! simulated customer and card (the network's side of a charge does not depend on whose card it
//! is, and attaching 100,000 cards would only slow the setup).

use std::sync::Arc;
use std::time::Instant;

use billing_contract::PlainLinks;
use billing_core::domain::account::{Account, StoredCard};
use billing_core::ports::gateway::PaymentGateway;
use billing_core::ports::store::{Expect, Record, Store, Transaction, Write};
use billing_core::rules::card::Funding;
use billing_core::rules::period::BillingPeriod;
use billing_core::rules::retry::RetrySchedule;
use billing_core::usecases::invoice::{
    Charged, MonthlySummary, Ports, charge_account, plan_shard, shards,
};
use billing_core::usecases::usage::{UsageEvent, record_usage_batch};
use billing_core::{AccountId, EmailAddress, PaymentMethodId, UsageEventId};
use billing_embedded::{EmbeddedStore, LocalClock, LocalQueue, OutboxMailer, SimulatedCardNetwork};
use chrono::{TimeZone, Utc};

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// User plus system CPU time of this process so far, in microseconds (from /proc).
fn cpu_micros() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .expect("a stat line")
        .1
        .split_whitespace()
        .collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    ticks * 1_000_000 / 100
}

/// Peak resident memory of this process so far, in MiB (from /proc).
fn peak_rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM");
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        / 1024
}

fn main() {
    let accounts = setting("BENCH_ACCOUNTS", 100_000);
    let workers = setting("BENCH_WORKERS", 16);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let dir = tempfile::tempdir().expect("a temp dir");
    let store = EmbeddedStore::open(&dir.path().join("billing.redb")).expect("the store");
    let network = SimulatedCardNetwork::open(&dir.path().join("network.redb"), "http://127.0.0.1/")
        .expect("the network");
    let clock = Arc::new(LocalClock::default());
    let outbox = OutboxMailer::open(&dir.path().join("outbox"), clock).expect("the outbox");
    let queue = LocalQueue::open(&dir.path().join("queue.redb")).expect("the queue");
    let october = BillingPeriod::new(2026, 10).unwrap();
    let used_at = Utc.with_ymd_and_hms(2026, 10, 15, 12, 0, 0).unwrap();

    runtime.block_on(async {
        let setup = Instant::now();
        let owner = AccountId::parse("bench-card-owner").unwrap();
        let customer = network.create_customer(&owner, None).await.unwrap();
        let visa = PaymentMethodId::parse("pm_card_visa").unwrap();
        let card = network.attach(&visa, &customer).await.unwrap();
        let ids: Vec<AccountId> = (0..accounts)
            .map(|n| AccountId::parse(&format!("bench-{n:07}")).unwrap())
            .collect();
        for chunk in ids.chunks(100) {
            let mut records = Transaction::new();
            for id in chunk {
                let mut account = Account::new(
                    id.clone(),
                    Some(EmailAddress::parse(&format!("{id}@example.com")).unwrap()),
                    used_at,
                );
                account.customer = Some(customer.clone());
                account.card = Some(StoredCard {
                    payment_method: card.id.clone(),
                    brand: card.card.brand.clone(),
                    last4: card.card.last4.clone(),
                    exp_month: card.card.exp_month,
                    exp_year: card.card.exp_year,
                    funding: Funding::Credit,
                    fingerprint: card.card.fingerprint.clone(),
                });
                records.push(Write::Put {
                    record: Record::Account(account),
                    expect: Expect::Absent,
                });
            }
            store.commit(records).await.unwrap();
            let usage: Vec<UsageEvent> = chunk
                .iter()
                .map(|id| UsageEvent {
                    id: UsageEventId::parse(&format!("{id}-u")).unwrap(),
                    account_id: id.clone(),
                    amount_micros: 12_345_678,
                    occurred_at: used_at,
                    description: "model calls".into(),
                })
                .collect();
            record_usage_batch(&store, &usage, used_at).await.unwrap();
        }
        println!(
            "setup: {accounts} accounts with a card and usage in {:.1} s",
            setup.elapsed().as_secs_f64()
        );

        let now = october.charge_at();
        let cpu_before = cpu_micros();
        let started = Instant::now();
        let mut planned = 0;
        for shard in shards() {
            planned += plan_shard(&store, &queue, october, shard).await.unwrap();
        }
        let plan_time = started.elapsed();
        let summary = Arc::new(std::sync::Mutex::new(MonthlySummary::default()));
        let drains: Vec<_> = (0..workers)
            .map(|_| {
                let (store, network, outbox, queue, summary) = (
                    store.clone(),
                    network.clone(),
                    outbox.clone(),
                    queue.clone(),
                    summary.clone(),
                );
                tokio::spawn(async move {
                    let gateway: &dyn PaymentGateway = &network;
                    let ports = Ports {
                        store: &store,
                        gateway,
                        mailer: &outbox,
                        links: &PlainLinks,
                        retries: &RetrySchedule::STANDARD,
                    };
                    loop {
                        // A take commits (and fsyncs): off the async workers.
                        let taking = queue.clone();
                        let jobs = tokio::task::spawn_blocking(move || taking.take(10))
                            .await
                            .unwrap()
                            .unwrap();
                        if jobs.is_empty() {
                            return;
                        }
                        for job in &jobs {
                            let charged = charge_account(ports, job, now).await.unwrap();
                            assert!(matches!(charged, Charged::Invoiced { .. }), "{charged:?}");
                            summary.lock().unwrap().add(&charged);
                        }
                    }
                })
            })
            .collect();
        for drain in drains {
            drain.await.unwrap();
        }
        let elapsed = started.elapsed();
        let cpu = cpu_micros() - cpu_before;
        let summary = *summary.lock().unwrap();
        assert_eq!(planned, accounts as u64);
        assert_eq!(summary.paid, accounts as u64, "{summary:?}");
        println!(
            "monthly run: {accounts} accounts ({planned} planned in {:.1} s) with {workers} workers in {:.1} s: \
             {} accounts/s, {} µs CPU per account, peak RSS {} MiB; {summary:?}",
            plan_time.as_secs_f64(),
            elapsed.as_secs_f64(),
            accounts as u128 * 1_000_000 / elapsed.as_micros().max(1),
            cpu / accounts as u64,
            peak_rss_mib(),
        );
    });
}
