//! The rate limiter at the wire: 1,000 off-session charges (one per account) through a
//! gateway limited to 20 requests/s, sent by 8 concurrent tasks, against localstripe.
//!
//! ```sh
//! CARGO_PROFILE_BENCH_LTO=off CARGO_PROFILE_BENCH_CODEGEN_UNITS=16 \
//!   scripts/with-stand-ins cargo bench -p billing-stripe --bench rate_limit
//! ```
//!
//! Setup (a customer with a saved card per account, through an unlimited gateway) is timed
//! apart. The figures come from the arrival times the stand-in records for each request
//! (`GET /_compat/requests`): the achieved rate, and the most requests in any one-second
//! window. The same windows are counted at a TCP relay between the gateway and the stand-in,
//! on threads of its own (the gateway opens one connection per request): where the two
//! disagree, the stand-in's clock saw requests late (it runs on the same busy host). A
//! measurement, not a test: it fails only if a charge does not succeed.

#[path = "../tests/stand_in/mod.rs"]
mod stand_in;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use billing_core::domain::money::{Cents, Currency};
use billing_core::ports::gateway::{ChargeOutcome, ChargeRequest, PaymentGateway};
use billing_core::{AccountId, PaymentMethodId};
use billing_stripe::{RateLimit, StripeGateway};
use serde_json::Value;

const ACCOUNTS: usize = 1_000;
const TASKS: usize = 8;
const LIMIT: u32 = 20;

#[tokio::main]
async fn main() {
    let unlimited = StripeGateway::new(stand_in::KEY, Some(&stand_in::url())).unwrap();
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();

    let started = Instant::now();
    let charges = Arc::new(setup(&unlimited, run).await);
    println!(
        "setup: {ACCOUNTS} customers with a card in {:.1?} (unlimited, {TASKS} tasks)",
        started.elapsed()
    );

    let (relay_url, accepted) = relay();
    let limit = RateLimit::per_second(NonZeroU32::new(LIMIT).unwrap());
    let limited = StripeGateway::new(stand_in::KEY, Some(&relay_url))
        .unwrap()
        .with_rate_limit(Some(limit));
    clear_log().await;
    let started = Instant::now();
    let succeeded = in_parallel(Arc::clone(&charges), move |charge| {
        let gateway = limited.clone();
        async move {
            match gateway.charge(&charge).await {
                Ok(ChargeOutcome::Succeeded { .. }) => {}
                other => panic!("charge {} failed: {other:?}", charge.account),
            }
        }
    })
    .await;
    let took = started.elapsed();
    assert_eq!(succeeded, ACCOUNTS);

    let arrivals = arrivals().await;
    report(&arrivals, took);
    let accepted = accepted.lock().unwrap();
    let first = accepted[0];
    let relayed: Vec<u64> = accepted
        .iter()
        .map(|&at| u64::try_from((at - first).as_micros()).unwrap())
        .collect();
    println!(
        "at the relay: {} connections; most in one second: {} in any [t, t+1s), {} in any [t, t+1s]; smallest gap {:?}",
        relayed.len(),
        most_in_one_second(&relayed, false),
        most_in_one_second(&relayed, true),
        smallest_gap(&relayed)
    );
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average at the end: {}", load.trim());
}

/// A TCP relay to the stand-in on threads of its own, recording when each connection
/// arrives. Returns its URL and the arrival times.
fn relay() -> (String, Arc<Mutex<Vec<Instant>>>) {
    let upstream = stand_in::url()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let accepted = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&accepted);
    std::thread::spawn(move || {
        for client in listener.incoming() {
            log.lock().unwrap().push(Instant::now());
            let client = client.unwrap();
            let server = TcpStream::connect(&upstream).unwrap();
            let (client_in, server_out) =
                (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || pipe(client_in, server_out));
            std::thread::spawn(move || pipe(server, client));
        }
    });
    (url, accepted)
}

/// Copies until the sender closes, then closes the receiver's side for writing.
fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let mut buffer = [0; 16 * 1024];
    while let Ok(n @ 1..) = from.read(&mut buffer) {
        if to.write_all(&buffer[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

fn smallest_gap(arrivals: &[u64]) -> Duration {
    Duration::from_micros(arrivals.windows(2).map(|w| w[1] - w[0]).min().unwrap())
}

/// A customer and an attached card per account, and the charge to make for it.
async fn setup(gateway: &StripeGateway, run: u64) -> Vec<ChargeRequest> {
    let accounts: Arc<Vec<AccountId>> = Arc::new(
        (0..ACCOUNTS)
            .map(|n| AccountId::parse(&format!("bench-{run}-{n}")).unwrap())
            .collect(),
    );
    let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel();
    let gateway = gateway.clone();
    in_parallel(accounts, move |account| {
        let (gateway, sender) = (gateway.clone(), sender.clone());
        async move {
            let customer = gateway.create_customer(&account, None).await.unwrap();
            let visa = PaymentMethodId::parse("pm_card_visa").unwrap();
            let card = gateway.attach(&visa, &customer).await.unwrap();
            let charge = ChargeRequest {
                customer,
                payment_method: card.id,
                amount: Cents::new(1_500),
                currency: Currency::Usd,
                idempotency_key: format!("{account}-2026-10-1"),
                off_session: true,
                description: "Usage, October 2026".into(),
                reference: format!("in_{account}"),
                account,
            };
            sender.send(charge).unwrap();
        }
    })
    .await;
    let mut charges = Vec::with_capacity(ACCOUNTS);
    while let Ok(charge) = receiver.try_recv() {
        charges.push(charge);
    }
    charges
}

/// Runs `work` on every item, `TASKS` at a time, each task taking the next item left.
/// Returns how many were done.
async fn in_parallel<T, F, Fut>(items: Arc<Vec<T>>, work: F) -> usize
where
    T: Clone + Send + Sync + 'static,
    F: Fn(T) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let (items, next, work) = (Arc::clone(&items), Arc::clone(&next), work.clone());
            tokio::spawn(async move {
                let mut done = 0;
                while let Some(item) = items.get(next.fetch_add(1, Ordering::Relaxed)) {
                    work(item.clone()).await;
                    done += 1;
                }
                done
            })
        })
        .collect();
    let mut done = 0;
    for task in tasks {
        done += task.await.unwrap();
    }
    done
}

async fn clear_log() {
    assert_eq!(
        stand_in::request("DELETE", "/_compat/requests", "").await.0,
        204
    );
}

/// Arrival times at the stand-in of every request since the log was cleared, in
/// microseconds, sorted.
async fn arrivals() -> Vec<u64> {
    let (status, body) = stand_in::request("GET", "/_compat/requests", "").await;
    assert_eq!(status, 200, "{body}");
    let log: Vec<Value> = serde_json::from_str(&body).unwrap();
    let mut arrivals: Vec<u64> = log
        .iter()
        .map(|entry| {
            assert_eq!(
                entry["path"], "/v1/payment_intents",
                "only charges were sent"
            );
            entry["at"].as_u64().unwrap()
        })
        .collect();
    arrivals.sort_unstable();
    arrivals
}

/// The most arrivals in any window of one second: `closed` counts `[t, t + 1 s]`, the
/// stricter reading; otherwise `[t, t + 1 s)`.
fn most_in_one_second(arrivals: &[u64], closed: bool) -> usize {
    const SECOND: u64 = 1_000_000;
    let mut most = 0;
    let mut end = 0;
    for (start, &from) in arrivals.iter().enumerate() {
        while end < arrivals.len()
            && (arrivals[end] - from < SECOND || closed && arrivals[end] - from == SECOND)
        {
            end += 1;
        }
        most = most.max(end - start);
    }
    most
}

fn report(arrivals: &[u64], took: Duration) {
    let requests = arrivals.len();
    let span = arrivals[requests - 1] - arrivals[0];
    // Requests per second over the run, in thousandths: (n - 1) intervals over the span.
    let milli_rate = (requests as u64 - 1) * 1_000_000_000 / span;
    let tenths_of_percent = milli_rate / u64::from(LIMIT);
    println!(
        "charges: {ACCOUNTS} off-session, {TASKS} tasks, limit {LIMIT} requests/s, took {took:.2?}"
    );
    println!("requests at the wire: {requests}");
    println!(
        "achieved rate at the wire: {}.{:03} requests/s = {}.{}% of the limit (first to last arrival: {:.3?})",
        milli_rate / 1_000,
        milli_rate % 1_000,
        tenths_of_percent / 10,
        tenths_of_percent % 10,
        Duration::from_micros(span)
    );
    println!(
        "most requests in one second at the wire: {} in any [t, t+1s), {} in any [t, t+1s]",
        most_in_one_second(arrivals, false),
        most_in_one_second(arrivals, true)
    );
    println!(
        "smallest gap between two arrivals: {:?} (the limiter spaces them {:?})",
        smallest_gap(arrivals),
        RateLimit::per_second(NonZeroU32::new(LIMIT).unwrap()).spacing()
    );
}
