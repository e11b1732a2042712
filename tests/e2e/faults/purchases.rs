//! Credit purchases under 20% faults on the production adapters (issue 13, "Faults"): each
//! client sends its purchase with an `Idempotency-Key` and sends it again, with the same key,
//! on any error (waiting what `retry_after` says, else a second) until it gets an answer; an
//! account's purchases one after another. Then every PaymentIntent's webhook events are
//! delivered twice in a shuffled order, failed deliveries again, and the sweep runs past the
//! settlement window for what is still unsettled. Judged on localstripe's PaymentIntents and
//! the store: every purchase credited exactly once, one succeeded PaymentIntent each, the
//! ledger equal to Stripe.
//!
//! `BILLING_FAULTS_PURCHASES` sets the number of purchases (five per account),
//! `BILLING_FAULTS_SEED` the seed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use billing_contract::unique_account;
use billing_core::domain::purchase::Purchase;
use billing_core::ports::store::{AccountStore, Record, Store};
use billing_core::rules::purchase::{PurchaseLimits, PurchaseStatus};
use billing_core::usecases::card::{Holder, set_card};
use billing_core::usecases::error::UseCaseError;
use billing_core::usecases::purchase::{
    Keyed, Ports, PurchaseAnswer, PurchaseRequest, create_purchase, sweep_purchases,
};
use billing_core::{
    AccountId, Cents, Currency, EmailAddress, IdempotencyKey, PaymentMethodId, PurchaseId,
};
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::proxy::Rng;
use super::redelivery::{Delivery, Harness, IN_FLIGHT, Tally};
use super::world::{World, events_about, intents_of};

/// Purchases when `BILLING_FAULTS_PURCHASES` is not set.
const DEFAULT_PURCHASES: usize = 100;
const PER_ACCOUNT: usize = 5;
const FAULT_RATE: u32 = 200;
/// Sends of one request (the same key) before the test gives up on it.
const CLIENT_TRIES: u32 = 60;
/// Redeliveries of a failed webhook before the test gives up on it.
const REDELIVERIES: u32 = 25;

fn start_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 10, 9, 0, 0).unwrap()
}

/// The amount of an account's `k`-th purchase: each differs, so a mix-up shows.
fn amount(k: usize) -> Cents {
    Cents::new(1_000 + 137 * k as i64)
}

/// What one client saw of one purchase.
#[derive(Debug, Clone)]
struct Bought {
    key: String,
    answer: Option<PurchaseAnswer>,
    sends: u32,
    /// The errors answered before the answer, by kind.
    errors: Vec<String>,
}

/// One account's client: its purchases one after another, each sent until answered, on the
/// account's own clock. Returns what it saw and when it finished.
async fn client(world: &World, account: &AccountId) -> (Vec<Bought>, DateTime<Utc>) {
    let ports = Ports {
        store: &world.store,
        gateway: &world.gateway,
        mailer: &world.mailer,
    };
    let mut now = start_at();
    let mut bought = Vec::new();
    for k in 0..PER_ACCOUNT {
        let key = format!("buy-{k}");
        let mut seen = Bought {
            key: key.clone(),
            answer: None,
            sends: 0,
            errors: Vec::new(),
        };
        while seen.sends < CLIENT_TRIES {
            seen.sends += 1;
            // A new id per request, as the API makes one: only the key ties the sends together.
            let id = PurchaseId::parse(&format!(
                "cp_{}k{k}s{}",
                account.as_str().replace(['-', '.'], ""),
                seen.sends
            ))
            .unwrap();
            let request = PurchaseRequest {
                account,
                amount: amount(k),
                currency: Currency::Usd,
                keyed: Some(Keyed {
                    key: IdempotencyKey::parse(&key).unwrap(),
                    digest: format!("amount={} currency=usd", amount(k).get()),
                }),
                new_id: id,
                limits: PurchaseLimits::default(),
                now,
            };
            match create_purchase(ports, request).await {
                Ok(answer) => {
                    seen.answer = Some(answer);
                    break;
                }
                Err(error) => {
                    let kind = format!("{error:?}");
                    let kind = kind.split([' ', '(', '{']).next().unwrap_or_default();
                    seen.errors.push(kind.to_owned());
                    let wait = match error {
                        UseCaseError::PurchaseInProgress { retry_after }
                        | UseCaseError::IdempotencyKeyInUse { retry_after }
                        | UseCaseError::CardChangeInProgress { retry_after } => retry_after,
                        _ => 1,
                    };
                    now += TimeDelta::seconds(wait as i64);
                }
            }
        }
        bought.push(seen);
        now += TimeDelta::minutes(1);
    }
    (bought, now)
}

async fn arrange_account(world: &World, n: usize) -> AccountId {
    let account = unique_account("faults-p");
    let email = EmailAddress::parse(&format!("buyer-{n}@example.com")).unwrap();
    let holder = Holder {
        account: &account,
        email: Some(&email),
    };
    let visa = PaymentMethodId::parse("pm_card_visa").unwrap();
    set_card(
        &world.store,
        &world.gateway,
        &holder,
        &visa,
        start_at() - TimeDelta::days(1),
    )
    .await
    .expect("card set without faults");
    account
}

/// Every purchase the store holds for `account`.
async fn purchases_of(world: &World, account: &AccountId) -> Vec<Purchase> {
    let mut purchases = Vec::new();
    let mut after = None;
    loop {
        let page = world
            .store
            .account_records(account, after, 100)
            .await
            .unwrap();
        after = page.items.last().map(Record::key);
        purchases.extend(page.items.into_iter().filter_map(|record| match record {
            Record::Purchase(purchase) => Some(purchase),
            _ => None,
        }));
        if !page.has_more {
            return purchases;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn purchases_retried_by_their_clients_under_20_percent_faults_are_credited_exactly_once() {
    let purchases = std::env::var("BILLING_FAULTS_PURCHASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_PURCHASES);
    let seed = std::env::var("BILLING_FAULTS_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_261_110);
    let started = Instant::now();
    let world = Arc::new(World::start(seed).await);
    let permits = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut setup = JoinSet::new();
    for n in 0..purchases.div_ceil(PER_ACCOUNT) {
        let (world, permits) = (world.clone(), permits.clone());
        setup.spawn(async move {
            let _permit = permits.acquire_owned().await.unwrap();
            arrange_account(&world, n).await
        });
    }
    let mut accounts = Vec::new();
    while let Some(account) = setup.join_next().await {
        accounts.push(account.unwrap());
    }
    let arranged = started.elapsed();

    world.set_rate(FAULT_RATE);
    let mut clients = JoinSet::new();
    for account in accounts.clone() {
        let (world, permits) = (world.clone(), permits.clone());
        clients.spawn(async move {
            let _permit = permits.acquire_owned().await.unwrap();
            let (bought, finished) = client(&world, &account).await;
            (account, bought, finished)
        });
    }
    let mut seen: BTreeMap<String, (AccountId, Vec<Bought>)> = BTreeMap::new();
    let mut last = start_at();
    while let Some(joined) = clients.join_next().await {
        let (account, bought, finished) = joined.unwrap();
        last = last.max(finished);
        seen.insert(account.to_string(), (account, bought));
    }
    let answers_at = started.elapsed();

    // Stripe's webhooks, each event twice, shuffled, failed ones delivered again.
    world.set_rate(0);
    let intents = intents_of(&seen).await;
    let mut deliveries = Vec::new();
    for intent in &intents {
        for event in events_about(&intent.id).await {
            deliveries.push(Delivery::Webhook(event.clone()));
            deliveries.push(Delivery::Webhook(event));
        }
    }
    world.set_rate(FAULT_RATE);
    let mut rng = Rng::new(seed);
    rng.shuffle(&mut deliveries);
    let harness = Arc::new(Harness::new(world.clone()));
    let mut tally = Tally::default();
    let mut pending = harness.run(deliveries, last, &mut tally).await;
    for round in 1..=REDELIVERIES {
        if pending.is_empty() {
            break;
        }
        tally.rounds = round;
        pending = harness
            .run(pending, last + TimeDelta::minutes(round as i64), &mut tally)
            .await;
    }
    world.set_rate(0);
    let mut unsettled_before_sweep = Vec::new();
    for (account, _) in seen.values() {
        for purchase in purchases_of(&world, account).await {
            if !purchase.status.is_settled() {
                unsettled_before_sweep.push(format!(
                    "{} {:?} {:?}",
                    purchase.id, purchase.status, purchase.payment
                ));
            }
        }
    }
    world.set_rate(FAULT_RATE);
    // The sweep, past the settlement window, for what no answer or event settled; run again
    // while it errs, as its schedule would.
    let ports = Ports {
        store: &world.store,
        gateway: &world.gateway,
        mailer: &world.mailer,
    };
    let mut sweeps = Vec::new();
    for run in 1..=REDELIVERIES {
        let at = last + TimeDelta::minutes(16 + run as i64);
        let summary = sweep_purchases(ports, at).await;
        let done = matches!(&summary, Ok(s) if s.errors == 0);
        sweeps.push(summary);
        if done {
            break;
        }
    }
    world.set_rate(0);
    let settled_at = started.elapsed();

    // Judge.
    let intents = intents_of(&seen).await;
    let mut succeeded_per_reference: BTreeMap<String, u32> = BTreeMap::new();
    let mut stripe_per_account: BTreeMap<String, i64> = BTreeMap::new();
    for intent in intents.iter().filter(|i| i.succeeded) {
        *succeeded_per_reference
            .entry(intent.reference.clone())
            .or_default() += 1;
        *stripe_per_account
            .entry(intent.account.clone())
            .or_default() += intent.amount;
    }
    let double_charges: Vec<String> = succeeded_per_reference
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(reference, n)| format!("{reference}: {n} succeeded PaymentIntents"))
        .collect();
    let mut problems = Vec::new();
    let (mut ledger_total, mut stripe_total, mut credited) = (0, 0, 0);
    let unanswered: Vec<String> = seen
        .values()
        .flat_map(|(account, bought)| {
            bought
                .iter()
                .filter(|b| b.answer.is_none())
                .map(move |b| format!("{account} {}", b.key))
        })
        .collect();
    for (name, (account, _)) in &seen {
        let stored = purchases_of(&world, account).await;
        let mut amounts: Vec<i64> = stored
            .iter()
            .filter(|p| p.status == PurchaseStatus::Succeeded)
            .map(|p| p.amount.get())
            .collect();
        amounts.sort_unstable();
        let wanted: Vec<i64> = (0..PER_ACCOUNT).map(|k| amount(k).get()).collect();
        if amounts != wanted {
            problems.push(format!(
                "{name}: succeeded purchases {amounts:?}, want one of each {wanted:?}; all: {:?}",
                stored
                    .iter()
                    .map(|p| (p.id.to_string(), p.status, p.amount))
                    .collect::<Vec<_>>()
            ));
        }
        for purchase in stored
            .iter()
            .filter(|p| p.status == PurchaseStatus::Succeeded)
        {
            if succeeded_per_reference.get(purchase.id.as_str()) != Some(&1) {
                problems.push(format!(
                    "{name}: {} has no single succeeded PaymentIntent",
                    purchase.id
                ));
            }
        }
        credited += amounts.len();
        let balance = world.store.balance(account).await.unwrap().amount.get();
        let stripe = stripe_per_account.get(name).copied().unwrap_or(0);
        ledger_total += balance;
        stripe_total += stripe;
        if balance != stripe * 10_000 || balance != wanted.iter().sum::<i64>() * 10_000 {
            problems.push(format!(
                "{name}: ledger {balance} micros, Stripe {stripe} cents"
            ));
        }
    }
    let statuses: BTreeMap<String, usize> = seen
        .values()
        .flat_map(|(_, bought)| bought.iter())
        .fold(BTreeMap::new(), |mut counts, b| {
            let label = match &b.answer {
                Some(PurchaseAnswer::Purchase(p)) => format!("{:?}", p.status),
                Some(PurchaseAnswer::Declined { decline_code, .. }) => {
                    format!("declined {decline_code}")
                }
                None => "no answer".into(),
            };
            *counts.entry(label).or_default() += 1;
            counts
        });
    let mut errors: BTreeMap<String, usize> = BTreeMap::new();
    for bought in seen.values().flat_map(|(_, b)| b.iter()) {
        for error in &bought.errors {
            *errors.entry(error.clone()).or_default() += 1;
        }
    }
    let sends: u32 = seen
        .values()
        .flat_map(|(_, b)| b.iter())
        .map(|b| b.sends)
        .sum();
    eprintln!(
        "faults/purchases: seed {seed}, {} purchases on {} accounts; set up in {:.1} s, answered in {:.1} s, settled in {:.1} s",
        seen.len() * PER_ACCOUNT,
        seen.len(),
        arranged.as_secs_f64(),
        (answers_at - arranged).as_secs_f64(),
        (settled_at - answers_at).as_secs_f64()
    );
    eprintln!(
        "  client sends {sends}; errors before an answer {errors:?}; answers {statuses:?}; unanswered {}",
        unanswered.len()
    );
    eprintln!(
        "  webhook deliveries {} (failed {}, rounds {}, results {:?}); unsettled before the sweep {:?}; sweeps {:?}",
        tally.deliveries,
        tally.failed_deliveries,
        tally.rounds,
        tally.webhook_results,
        unsettled_before_sweep,
        sweeps
    );
    world.report_proxies();
    eprintln!(
        "  PaymentIntents {} ({} succeeded); credited {credited}; double charges {}; problems {}; ledger {ledger_total} micros vs Stripe {stripe_total} cents: ledger − Stripe {} micros",
        intents.len(),
        intents.iter().filter(|i| i.succeeded).count(),
        double_charges.len(),
        problems.len(),
        ledger_total - stripe_total * 10_000
    );

    assert!(
        world.stripe_proxy.faults().values().sum::<usize>() > 0
            && world.aws_proxy.faults().values().sum::<usize>() > 0,
        "faults were injected on both sides"
    );
    assert_eq!(
        unanswered,
        Vec::<String>::new(),
        "every client got an answer"
    );
    assert_eq!(
        double_charges,
        Vec::<String>::new(),
        "no purchase paid twice"
    );
    assert_eq!(
        problems,
        Vec::<String>::new(),
        "each purchase credited once, ledger = Stripe"
    );
    assert_eq!(ledger_total, stripe_total * 10_000);
    assert_eq!(credited, seen.len() * PER_ACCOUNT);
}
