//! The monthly charge under 20% faults on the production adapters (issue 13, "Faults"):
//! accounts with a card, some with credits, all with October usage, set up without faults;
//! then, with faults on both proxies, the planner run twice at once (the EventBridge event
//! delivered twice), every charge job (SQS message) delivered twice (half of them at once),
//! every PaymentIntent's webhook events delivered twice in a shuffled order, and every failed
//! delivery delivered again as SQS and Stripe do, a visibility timeout later, until it
//! succeeds or the test's bound. Judged on localstripe's PaymentIntents and the store.
//!
//! `BILLING_FAULTS_ACCOUNTS` sets the number of accounts, `BILLING_FAULTS_SEED` the seed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use billing_contract::unique_account;
use billing_core::domain::invoice::InvoiceStatus;
use billing_core::ports::queue::ChargeJob;
use billing_core::ports::store::{InvoiceStore, Store};
use billing_core::rules::period::BillingPeriod;
use billing_core::rules::purchase::{PurchaseLimits, PurchaseStatus};
use billing_core::usecases::card::{Holder, set_card};
use billing_core::usecases::close::invoice_id;
use billing_core::usecases::invoice::{plan_shard, shards};
use billing_core::usecases::purchase::{self, PurchaseAnswer, PurchaseRequest, create_purchase};
use billing_core::usecases::usage::{UsageEvent, record_usage};
use billing_core::{
    AccountId, Cents, Currency, EmailAddress, PaymentMethodId, PurchaseId, UsageEventId,
};
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::proxy::Rng;
use super::redelivery::{Delivery, Harness, IN_FLIGHT, Tally};
use super::world::{Intent, World, events_about, intents_of};

/// Accounts when `BILLING_FAULTS_ACCOUNTS` is not set.
const DEFAULT_ACCOUNTS: usize = 40;
/// Faults per thousand requests while the month is charged.
pub(super) const FAULT_RATE: u32 = 200;
/// Redeliveries of a failed job or webhook before the test gives up on it.
pub(super) const REDELIVERIES: u32 = 25;
/// The charge queue's visibility timeout (infra/template.yaml): how much later SQS delivers a
/// failed message again.
pub(super) const VISIBILITY: TimeDelta = TimeDelta::seconds(181);
/// Stripe's minimum charge, in cents.
const MINIMUM_CENTS: i64 = 50;

pub(super) fn october() -> BillingPeriod {
    BillingPeriod::new(2026, 10).unwrap()
}

fn setup_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap()
}

pub(super) fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What one account was given before the run.
#[derive(Debug, Clone, Default)]
pub(super) struct Given {
    credits_cents: i64,
    october_micros: i64,
    november_micros: i64,
}

impl Given {
    /// The October invoice the close rule must write: what October's usage leaves owing
    /// after the credits, truncated to cents, when at least the minimum charge.
    fn invoice_cents(&self) -> Option<i64> {
        let owed = self.october_micros - self.credits_cents * 10_000;
        let cents = owed.max(0) / 10_000;
        (cents >= MINIMUM_CENTS).then_some(cents)
    }

    /// Micro-units that came into the ledger from outside: credits and invoiced amounts.
    fn paid_in_micros(&self) -> i64 {
        (self.credits_cents + self.invoice_cents().unwrap_or(0)) * 10_000
    }
}

/// `count` accounts arranged at once (at most `IN_FLIGHT` at a time), by account id.
pub(super) async fn arrange_accounts(
    world: &Arc<World>,
    count: usize,
    seed: u64,
) -> BTreeMap<String, (AccountId, Given)> {
    let permits = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut setup = JoinSet::new();
    for n in 0..count {
        let (world, permits) = (world.clone(), permits.clone());
        setup.spawn(async move {
            let _permit = permits.acquire_owned().await.unwrap();
            arrange_account(&world, n, seed).await
        });
    }
    let mut accounts = BTreeMap::new();
    while let Some(joined) = setup.join_next().await {
        let (account, given) = joined.unwrap();
        accounts.insert(account.to_string(), (account, given));
    }
    accounts
}

/// Sets up one account without faults: card, maybe credits, usage.
pub(super) async fn arrange_account(world: &World, n: usize, seed: u64) -> (AccountId, Given) {
    let mut rng = Rng::new(seed ^ (n as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
    let account = unique_account("faults-m");
    let email = EmailAddress::parse(&format!("faults-{n}@example.com")).unwrap();
    let holder = Holder {
        account: &account,
        email: Some(&email),
    };
    let visa = PaymentMethodId::parse("pm_card_visa").unwrap();
    set_card(&world.store, &world.gateway, &holder, &visa, setup_at())
        .await
        .expect("card set without faults");
    let mut given = Given::default();
    let kind = rng.below(10);
    if (1..=2).contains(&kind) {
        given.credits_cents = 2_500;
        let ports = purchase::Ports {
            store: &world.store,
            gateway: &world.gateway,
            mailer: &world.mailer,
        };
        let id =
            PurchaseId::parse(&format!("cp_{}", account.as_str().replace(['-', '.'], ""))).unwrap();
        let answer = create_purchase(
            ports,
            PurchaseRequest {
                account: &account,
                amount: Cents::new(given.credits_cents),
                currency: Currency::Usd,
                keyed: None,
                new_id: id,
                limits: PurchaseLimits::default(),
                now: setup_at(),
            },
        )
        .await
        .expect("credits bought without faults");
        assert!(
            matches!(&answer, PurchaseAnswer::Purchase(p) if p.status == PurchaseStatus::Succeeded),
            "{answer:?}"
        );
    }
    // 0: under the minimum charge (carried over); 1–2: credits cover some or all of it.
    let october_total = match kind {
        0 => 300_000 + rng.below(10_000) as i64,
        1 | 2 => 5_000_000 + rng.below(55_000_000) as i64,
        _ => 500_000 + rng.below(200_000_000) as i64,
    };
    let events = 1 + rng.below(3) as i64;
    let mut left = october_total;
    for e in 0..events {
        let amount = if e + 1 == events { left } else { left / 2 };
        left -= amount;
        let occurred_at = Utc
            .with_ymd_and_hms(2026, 10, 1 + e as u32 * 9, 8, 0, 0)
            .unwrap();
        record(world, &account, &format!("oct-{e}"), amount, occurred_at).await;
    }
    given.october_micros = october_total;
    if rng.below(5) == 0 {
        // Usage after the month ended is never billed with it.
        given.november_micros = 1_234_567;
        let occurred_at = Utc.with_ymd_and_hms(2026, 11, 1, 0, 30, 0).unwrap();
        record(world, &account, "nov", given.november_micros, occurred_at).await;
    }
    (account, given)
}

async fn record(world: &World, account: &AccountId, label: &str, micros: i64, at: DateTime<Utc>) {
    let usage = UsageEvent {
        id: UsageEventId::parse(&format!("{account}-{label}")).unwrap(),
        account_id: account.clone(),
        amount_micros: micros,
        occurred_at: at,
        description: "model calls".into(),
    };
    record_usage(&world.store, &usage, setup_at())
        .await
        .expect("usage recorded without faults");
}

/// Shards the planner plans at once (`SHARDS_AT_ONCE` in functions/lambda/src/monthly_charge.rs).
const SHARDS_AT_ONCE: usize = 8;

/// The planner, as the monthly trigger's function runs it: every shard, [`SHARDS_AT_ONCE`] at
/// a time, each run again (the event delivered again) until it completes. Returns how many
/// shard runs failed.
pub(super) async fn plan(world: Arc<World>) -> u64 {
    let permits = Arc::new(Semaphore::new(SHARDS_AT_ONCE));
    let mut planning = JoinSet::new();
    for shard in shards() {
        let (world, permits) = (world.clone(), permits.clone());
        planning.spawn(async move {
            let _permit = permits.acquire_owned().await.unwrap();
            let mut failures = 0;
            while let Err(error) = plan_shard(&world.store, &world.queue, october(), shard).await {
                failures += 1;
                assert!(
                    failures < u64::from(REDELIVERIES),
                    "the planner never completed shard {shard}: {error}"
                );
            }
            failures
        });
    }
    let mut failures = 0;
    while let Some(shard_failures) = planning.join_next().await {
        failures += shard_failures.expect("a shard's planning does not panic");
    }
    failures
}

async fn charge_the_month(world: Arc<World>, seed: u64) -> Tally {
    let mut tally = Tally::default();
    let mut rng = Rng::new(seed);
    let charge_at = october().charge_at();
    // The monthly event delivered twice, both handled at once.
    let (first, second) = tokio::join!(
        tokio::spawn(plan(world.clone())),
        tokio::spawn(plan(world.clone()))
    );
    tally.planner_failures = first.unwrap() + second.unwrap();

    let jobs: Vec<ChargeJob> = world
        .drain_queue()
        .await
        .iter()
        .map(|body| serde_json::from_str(body).expect("a charge job"))
        .collect();
    tally.messages = jobs.len();
    let accounts = accounts_in(&jobs);
    let harness = Arc::new(Harness::new(world.clone()));
    // Every message delivered twice: half of the duplicates at once with the first delivery,
    // the other half later, among the webhooks.
    let mut now_wave = Vec::new();
    let mut later = Vec::new();
    for (n, job) in jobs.into_iter().enumerate() {
        now_wave.push(Delivery::Job(job.clone()));
        if n % 2 == 0 {
            now_wave.push(Delivery::Job(job));
        } else {
            later.push(Delivery::Job(job));
        }
    }
    rng.shuffle(&mut now_wave);
    let mut failed = harness.run(now_wave, charge_at, &mut tally).await;

    // The PaymentIntents' events as Stripe would post them: each twice, in a shuffled order.
    world.set_rate(0);
    let intents = intents_of(&accounts).await;
    for intent in &intents {
        for event in events_about(&intent.id).await {
            later.push(Delivery::Webhook(event.clone()));
            later.push(Delivery::Webhook(event));
        }
    }
    world.set_rate(FAULT_RATE);
    rng.shuffle(&mut later);
    later.append(&mut failed);
    let mut pending = harness
        .run(later, charge_at + TimeDelta::seconds(30), &mut tally)
        .await;

    for round in 1..=REDELIVERIES {
        if pending.is_empty() {
            break;
        }
        tally.rounds = round;
        rng.shuffle(&mut pending);
        pending = harness
            .run(pending, charge_at + VISIBILITY * round as i32, &mut tally)
            .await;
    }
    tally.gave_up = pending;
    tally.jobs_per_account = accounts;
    tally
}

/// The accounts `jobs` name, with how many jobs name each.
fn accounts_in(jobs: &[ChargeJob]) -> BTreeMap<String, usize> {
    let mut accounts = BTreeMap::new();
    for job in jobs {
        *accounts.entry(job.account.to_string()).or_default() += 1;
    }
    accounts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_monthly_run_under_20_percent_faults_charges_every_owing_account_exactly_once() {
    let count = setting("BILLING_FAULTS_ACCOUNTS", DEFAULT_ACCOUNTS as u64) as usize;
    let seed = setting("BILLING_FAULTS_SEED", 20_261_103);
    let started = Instant::now();
    let world = Arc::new(World::start(seed).await);
    let accounts = arrange_accounts(&world, count, seed).await;
    let arranged = started.elapsed();

    world.set_rate(FAULT_RATE);
    let tally = charge_the_month(world.clone(), seed).await;
    world.set_rate(0);
    let charged = started.elapsed() - arranged;

    let verdict = judge(&world, &accounts).await;
    report(&world, &accounts, &tally, &verdict, arranged, charged, seed);
    assert!(
        world.stripe_proxy.faults().values().sum::<usize>() > 0
            && world.aws_proxy.faults().values().sum::<usize>() > 0,
        "faults were injected on both sides"
    );
    verdict.assert_held();
    for (name, (_, given)) in &accounts {
        if given.invoice_cents().is_some() {
            let jobs = tally.jobs_per_account.get(name).copied().unwrap_or(0);
            assert!(
                jobs >= 2,
                "{name}: {jobs} charge messages, not one per planner run"
            );
        }
    }
    assert!(
        tally.gave_up.is_empty(),
        "every delivery done within the bound: {:?}",
        tally.gave_up
    );
}

#[derive(Debug, Default)]
pub(super) struct Verdict {
    pub intents: Vec<Intent>,
    pub double_charges: Vec<String>,
    pub missed: Vec<String>,
    pub unexpected: Vec<String>,
    pub ledger_mismatches: Vec<String>,
    pub ledger_total_micros: i64,
    pub stripe_total_cents: i64,
}

impl Verdict {
    /// The run's invariants: nothing paid twice, every account that owed paid, nothing
    /// invoiced that was not owed, and the ledger equal to Stripe's succeeded PaymentIntents
    /// per account and in total.
    pub(super) fn assert_held(&self) {
        assert_eq!(
            self.double_charges,
            Vec::<String>::new(),
            "no invoice or purchase paid twice"
        );
        assert_eq!(
            self.missed,
            Vec::<String>::new(),
            "every owing account paid"
        );
        assert_eq!(
            self.unexpected,
            Vec::<String>::new(),
            "nothing invoiced that was not owed"
        );
        assert_eq!(
            self.ledger_mismatches,
            Vec::<String>::new(),
            "ledger = Stripe per account"
        );
        assert_eq!(
            self.ledger_total_micros,
            self.stripe_total_cents * 10_000,
            "ledger = Stripe in total"
        );
    }
}

pub(super) async fn judge(
    world: &World,
    accounts: &BTreeMap<String, (AccountId, Given)>,
) -> Verdict {
    let mut verdict = Verdict {
        intents: intents_of(accounts).await,
        ..Verdict::default()
    };
    let mut paid_per_reference: BTreeMap<(String, String), u32> = BTreeMap::new();
    let mut stripe_per_account: BTreeMap<&str, i64> = BTreeMap::new();
    for intent in verdict.intents.iter().filter(|i| i.succeeded) {
        *paid_per_reference
            .entry((intent.account.clone(), intent.reference.clone()))
            .or_default() += 1;
        *stripe_per_account.entry(&intent.account).or_default() += intent.amount;
        verdict.stripe_total_cents += intent.amount;
    }
    verdict.double_charges = paid_per_reference
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|((account, reference), n)| format!("{account} {reference}: {n} succeeded"))
        .collect();
    let id = invoice_id(october());
    for (name, (account, given)) in accounts {
        let invoice = world
            .store
            .invoice(account, &id)
            .await
            .unwrap()
            .map(|v| v.value);
        let balance = world.store.balance(account).await.unwrap().amount.get();
        match (given.invoice_cents(), &invoice) {
            (Some(cents), Some(invoice))
                if invoice.status == InvoiceStatus::Paid
                    && invoice.amount_due.get() == cents
                    && invoice.amount_paid.get() == cents => {}
            (Some(cents), _) => verdict.missed.push(format!(
                "{name}: owed {cents} cents, invoice {:?}",
                invoice.map(|i| (i.status, i.amount_due, i.amount_paid))
            )),
            (None, Some(invoice)) => verdict.unexpected.push(format!("{name}: {invoice:?}")),
            (None, None) => {}
        }
        // What came in from outside according to the ledger: the balance with the usage
        // drawn from it added back.
        let ledger_in = balance + given.october_micros + given.november_micros;
        verdict.ledger_total_micros += ledger_in;
        let stripe = stripe_per_account.get(name.as_str()).copied().unwrap_or(0);
        if ledger_in != stripe * 10_000 || ledger_in != given.paid_in_micros() {
            verdict.ledger_mismatches.push(format!(
                "{name}: ledger {ledger_in} micros, Stripe {stripe} cents, expected {} micros",
                given.paid_in_micros()
            ));
        }
    }
    verdict
}

pub(super) fn report(
    world: &World,
    accounts: &BTreeMap<String, (AccountId, Given)>,
    tally: &Tally,
    verdict: &Verdict,
    arranged: std::time::Duration,
    charged: std::time::Duration,
    seed: u64,
) {
    let owing = accounts
        .values()
        .filter(|(_, g)| g.invoice_cents().is_some())
        .count();
    let succeeded = verdict.intents.iter().filter(|i| i.succeeded).count();
    let invoice_charges = verdict
        .intents
        .iter()
        .filter(|i| i.succeeded && i.reference.starts_with("in_"))
        .count();
    eprintln!(
        "faults/monthly: seed {seed}, {} accounts ({owing} owing), set up in {:.1} s, charged under faults in {:.1} s",
        accounts.len(),
        arranged.as_secs_f64(),
        charged.as_secs_f64()
    );
    eprintln!(
        "  planner failures {}, messages {}, deliveries {} ({} webhooks), failed deliveries {}, redelivery rounds {}, gave up {}",
        tally.planner_failures,
        tally.messages,
        tally.deliveries,
        tally.webhook_deliveries,
        tally.failed_deliveries,
        tally.rounds,
        tally.gave_up.len()
    );
    eprintln!(
        "  worker outcomes {:?}; webhook results {:?}",
        tally.summary, tally.webhook_results
    );
    for (side, proxy) in [("stripe", &world.stripe_proxy), ("aws", &world.aws_proxy)] {
        let time = proxy.upstream_time();
        eprintln!(
            "  {side}: {} requests, {} ms each at the stand-in; faults {:?}",
            proxy.exchanges().len(),
            time.total_ms / time.forwarded.max(1),
            proxy.faults()
        );
    }
    eprintln!(
        "  PaymentIntents {} ({succeeded} succeeded, {invoice_charges} for invoices); double charges {}, missed {}, unexpected {}, accounts whose ledger differs from Stripe {}; ledger {} micros vs Stripe {} cents: ledger − Stripe {} micros",
        verdict.intents.len(),
        verdict.double_charges.len(),
        verdict.missed.len(),
        verdict.unexpected.len(),
        verdict.ledger_mismatches.len(),
        verdict.ledger_total_micros,
        verdict.stripe_total_cents,
        verdict.ledger_total_micros - verdict.stripe_total_cents * 10_000
    );
}
