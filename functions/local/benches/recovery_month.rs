//! The simulated month of issue 10 on billing-local: the real router and embedded adapters
//! served on 127.0.0.1 and driven over HTTP, with every request to the card network (what
//! Stripe would receive) counted by a wrapper of the simulated network.
//!
//! 1,000 accounts (by default) with mixed cards (70 % visa, 10 % declined for insufficient
//! funds, 5 % the same but replaced with a visa on November 4th, 5 % lost card, 5 %
//! authentication required, 5 % no card) and usage in October; the monthly charge on
//! November 3rd, then one sweep a day at 04:00 to December 2nd, and a second one at 16:00 on
//! the 6th, 8th, 10th, 15th and 22nd. Prints the attempts made (by trigger and outcome), the
//! emails sent (by kind), the Stripe requests (by phase and operation), the invoices by final
//! status and the wall time of each phase.
//!
//! `cargo bench -p billing-local --bench recovery_month [-- ACCOUNTS]` (default 1,000).

#![allow(clippy::float_arithmetic, reason = "timing statistics, not money")]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use billing_api::jwt::{Claims, sign};
use billing_contract::instrument::{Instrumented, Probe};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

#[allow(
    dead_code,
    reason = "shared by the benches; this one reports its own table"
)]
mod support;

use support::{SECRET, requests, start_server_with};

/// Every operation of the gateway port, as the probe names them.
const OPERATIONS: [&str; 12] = [
    "create_customer",
    "create_setup_intent",
    "payment_method",
    "attach",
    "set_default",
    "customer_cards",
    "detach",
    "charge",
    "charge_status",
    "cancel_payment",
    "customer_account",
    "delete_customer",
];

const MONTHLY_CHARGE: &str = "2026-11-03T03:00:00Z";
/// Days of November with a second sweep, at 16:00.
const EXTRA_SWEEP_DAYS: [u32; 5] = [6, 8, 10, 15, 22];

/// What an account pays with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Visa,
    InsufficientFunds,
    ReplacedOnThe4th,
    LostCard,
    AuthenticationRequired,
    NoCard,
}

impl Kind {
    /// Account `n`'s kind: out of every 20 accounts, 14 visa, 2 insufficient funds, one of each
    /// of the others.
    fn of(n: usize) -> Self {
        match n % 20 {
            0..=13 => Self::Visa,
            14 | 15 => Self::InsufficientFunds,
            16 => Self::ReplacedOnThe4th,
            17 => Self::LostCard,
            18 => Self::AuthenticationRequired,
            _ => Self::NoCard,
        }
    }

    fn card(self) -> Option<&'static str> {
        match self {
            Self::Visa => Some("pm_card_visa"),
            Self::InsufficientFunds | Self::ReplacedOnThe4th => {
                Some("pm_card_chargeCustomerFailInsufficientFunds")
            }
            Self::LostCard => Some("pm_card_chargeCustomerFailLostCard"),
            Self::AuthenticationRequired => Some("pm_card_authenticationRequired"),
            Self::NoCard => None,
        }
    }
}

/// Calls per gateway operation.
type Counts = BTreeMap<&'static str, usize>;

fn snapshot(probe: &Probe) -> Counts {
    OPERATIONS
        .iter()
        .map(|op| (*op, probe.count(op)))
        .filter(|(_, n)| *n > 0)
        .collect()
}

/// The calls made between two snapshots.
fn since(before: &Counts, after: &Counts) -> Counts {
    after
        .iter()
        .map(|(op, n)| (*op, n - before.get(op).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect()
}

fn add(total: &mut Counts, more: &Counts) {
    for (op, n) in more {
        *total.entry(op).or_default() += n;
    }
}

struct Driver {
    base: String,
    client: reqwest::Client,
    tokens: Vec<String>,
}

impl Driver {
    async fn send(&self, request: reqwest::RequestBuilder, what: &str) -> Value {
        let response = request.send().await.expect("request sent");
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{what}: {status} {body}");
        body
    }

    async fn control(&self, path: &str, body: Value) -> Value {
        let request = self.client.post(format!("{}{path}", self.base)).json(&body);
        self.send(request, path).await
    }

    async fn set_clock(&self, now: &str) {
        self.control("/_local/clock", json!({ "now": now })).await;
    }

    async fn sweep(&self, now: &str) -> (Value, Duration) {
        self.set_clock(now).await;
        let started = Instant::now();
        let event = json!({"detail-type": "Scheduled Event", "time": now});
        let answer = self.control("/_local/events/sweep", event).await;
        (answer, started.elapsed())
    }

    async fn as_account(&self, n: usize, method: reqwest::Method, path: &str) -> Value {
        let request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.tokens[n]);
        self.send(request, path).await
    }

    async fn put_card(&self, n: usize, card: &str) {
        let request = self
            .client
            .put(format!("{}/v1/billing/card", self.base))
            .bearer_auth(&self.tokens[n])
            .json(&json!({ "payment_method": card }));
        self.send(request, "PUT /v1/billing/card").await;
    }
}

fn at(day: DateTime<Utc>, hour: u32) -> String {
    day.date_naive()
        .and_hms_opt(hour, 0, 0)
        .expect("an hour of the day")
        .and_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn print_counts(label: &str, counts: &Counts) {
    let total: usize = counts.values().sum();
    let each: Vec<String> = counts.iter().map(|(op, n)| format!("{op} {n}")).collect();
    println!("  {label:<28} {total:>6}  {}", each.join(", "));
}

fn seconds(d: Duration) -> f64 {
    d.as_secs_f64()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let accounts = requests();
    let probe = Arc::new(Probe::default());
    let (base, _dir) = start_server_with({
        let probe = probe.clone();
        move |network| Arc::new(Instrumented::with_probe(network, probe))
    })
    .await;
    let tokens = (0..accounts)
        .map(|n| {
            let claims = Claims {
                sub: format!("acct-{n:05}"),
                email: Some(format!("acct-{n:05}@example.com")),
                exp: None,
            };
            sign(&claims, SECRET.as_bytes())
        })
        .collect();
    let driver = Driver {
        base,
        client: reqwest::Client::new(),
        tokens,
    };

    // Cards and October's usage (5.00 to 54.00 USD an account).
    driver.set_clock("2026-10-01T10:00:00Z").await;
    for n in 0..accounts {
        match Kind::of(n).card() {
            Some(card) => driver.put_card(n, card).await,
            None => {
                driver
                    .as_account(n, reqwest::Method::POST, "/v1/billing/setup-intents")
                    .await;
            }
        }
    }
    driver.set_clock("2026-10-31T12:00:00Z").await;
    let events: Vec<Value> = (0..accounts)
        .map(|n| {
            json!({"id": format!("october-{n}"), "account_id": format!("acct-{n:05}"),
                   "amount_micros": 5_000_000 + (n % 50) as i64 * 1_000_000,
                   "occurred_at": format!("2026-10-{:02}T10:00:00Z", 1 + n % 28)})
        })
        .collect();
    for batch in events.chunks(100) {
        driver.control("/_local/usage", json!(batch)).await;
    }
    let mut stripe: Vec<(&str, Counts)> = vec![("setup (cards, not timed)", snapshot(&probe))];

    // The month.
    let month = Instant::now();
    driver.set_clock(MONTHLY_CHARGE).await;
    let mut before = snapshot(&probe);
    let started = Instant::now();
    let monthly = driver
        .control(
            "/_local/events/monthly-charge",
            json!({"detail-type": "Scheduled Event", "time": MONTHLY_CHARGE}),
        )
        .await;
    let monthly_wall = started.elapsed();
    let after = snapshot(&probe);
    stripe.push(("monthly charge (Nov 3)", since(&before, &after)));
    before = after;

    let mut sweeps = Vec::new();
    let mut swept = BTreeMap::<String, u64>::new();
    let mut sweep_requests = Counts::new();
    let mut replace_wall = Duration::ZERO;
    let first: DateTime<Utc> = MONTHLY_CHARGE.parse().expect("an instant");
    for offset in 0..30 {
        let day = first + chrono::Duration::days(offset);
        let mut times = vec![at(day, 4)];
        if day.format("%m").to_string() == "11"
            && EXTRA_SWEEP_DAYS.contains(&day.format("%d").to_string().parse().unwrap())
        {
            times.push(at(day, 16));
        }
        for now in times {
            let (answer, took) = driver.sweep(&now).await;
            sweeps.push(took);
            for (key, value) in answer["invoices"].as_object().expect("invoice counts") {
                *swept.entry(key.clone()).or_default() += value.as_u64().unwrap_or(0);
            }
            let after = snapshot(&probe);
            add(&mut sweep_requests, &since(&before, &after));
            before = after;
        }
        if offset == 1 {
            // November 4th, 10:00: the cards that failed on the 3rd are replaced.
            driver.set_clock(&at(day, 10)).await;
            let started = Instant::now();
            for n in (0..accounts).filter(|n| Kind::of(*n) == Kind::ReplacedOnThe4th) {
                driver.put_card(n, "pm_card_visa").await;
            }
            replace_wall = started.elapsed();
            let after = snapshot(&probe);
            stripe.push(("new cards (Nov 4)", since(&before, &after)));
            before = after;
        }
    }
    let month_wall = month.elapsed();
    stripe.push(("sweeps", sweep_requests));
    // The network's events reach the webhook endpoint every 200 ms; each success they report
    // is looked up at the network before it counts (one `charge_status`) unless the invoice is
    // paid already, as the charge's own answer has made each one here.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let after = snapshot(&probe);
    stripe.push(("after the month (webhooks)", since(&before, &after)));

    // What the month left.
    let mut attempts = BTreeMap::<(String, String), usize>::new();
    let mut statuses = BTreeMap::<(Kind, String), usize>::new();
    let mut past_due = 0;
    let mut charged_attempts = 0;
    for n in 0..accounts {
        let invoice = driver
            .as_account(n, reqwest::Method::GET, "/v1/billing/invoices/in_202610")
            .await;
        let list = invoice["attempts"].as_array().expect("attempts");
        let mut last_day = String::new();
        for attempt in list {
            let trigger = attempt["trigger"].as_str().unwrap().to_owned();
            let outcome = attempt["outcome"].as_str().unwrap().to_owned();
            let day = attempt["attempted_at"].as_str().unwrap()[..10].to_owned();
            assert!(
                trigger != "retry" || day != last_day,
                "account {n}: two attempts on {day}"
            );
            charged_attempts += usize::from(outcome != "card_required");
            *attempts.entry((trigger, outcome)).or_default() += 1;
            last_day = day;
        }
        let status = invoice["status"].as_str().unwrap().to_owned();
        *statuses.entry((Kind::of(n), status)).or_default() += 1;
        let billing = driver
            .as_account(n, reqwest::Method::GET, "/v1/billing")
            .await;
        past_due += usize::from(billing["status"] == "past_due");
    }
    let outbox = driver
        .send(
            driver.client.get(format!("{}/_local/outbox", driver.base)),
            "outbox",
        )
        .await;
    let mut emails = BTreeMap::<&str, usize>::new();
    for mail in outbox.as_array().expect("a list") {
        let subject = mail["subject"].as_str().unwrap();
        let kind = if subject.starts_with("Receipt") {
            "receipt"
        } else if subject.starts_with("Action needed") {
            "authorization needed"
        } else if subject.starts_with("Add a card") {
            "add a card"
        } else if subject.ends_with("is uncollectible") {
            "payment failed, uncollectible"
        } else if subject.starts_with("Payment failed for") {
            "payment failed"
        } else {
            "other"
        };
        *emails.entry(kind).or_default() += 1;
    }

    let charges: usize = stripe[1..]
        .iter()
        .map(|(_, c)| c.get("charge").copied().unwrap_or(0))
        .sum();
    println!(
        "Simulated month on billing-local: {accounts} accounts, monthly charge {MONTHLY_CHARGE}, \
         {} sweeps (daily at 04:00 Nov 3 - Dec 2, and 16:00 on Nov {EXTRA_SWEEP_DAYS:?})",
        sweeps.len()
    );
    println!("monthly charge answered {monthly}");
    println!("sweeps summed: {swept:?}");
    println!("attempts (trigger, outcome):");
    let total_attempts: usize = attempts.values().sum();
    for ((trigger, outcome), n) in &attempts {
        println!("  {trigger:<10} {outcome:<24} {n:>6}");
    }
    println!("  {:<35} {total_attempts:>6}", "total");
    println!("emails by kind:");
    for (kind, n) in &emails {
        println!("  {kind:<35} {n:>6}");
    }
    println!("  {:<35} {:>6}", "total", emails.values().sum::<usize>());
    println!("Stripe requests (counted at the gateway), by phase:");
    for (label, counts) in &stripe {
        print_counts(label, counts);
    }
    println!(
        "  charges in the month {charges}, attempts that reached the network {charged_attempts}"
    );
    println!("invoices by card kind and final status:");
    for ((kind, status), n) in &statuses {
        println!("  {:<24} {status:<24} {n:>6}", format!("{kind:?}"));
    }
    println!("accounts past_due at the end: {past_due}");
    let mut sorted = sweeps.clone();
    sorted.sort_unstable();
    let sweep_total: Duration = sweeps.iter().sum();
    println!(
        "wall: month {:.2} s (monthly charge {:.2} s; {} sweeps {:.2} s, median {:.1} ms, max {:.1} ms; \
         {} card replacements {:.2} s)",
        seconds(month_wall),
        seconds(monthly_wall),
        sweeps.len(),
        seconds(sweep_total),
        seconds(sorted[sorted.len() / 2]) * 1e3,
        seconds(*sorted.last().expect("sweeps")) * 1e3,
        (0..accounts)
            .filter(|n| Kind::of(*n) == Kind::ReplacedOnThe4th)
            .count(),
        seconds(replace_wall),
    );
}
