//! Latency of `PUT /v1/billing/card` on billing-local: the real router and embedded adapters
//! (durable redb files, fsync on every commit) served on 127.0.0.1, driven over HTTP by one
//! client, each request a real replace (visa and mastercard alternate). Prints percentiles.
//!
//! `cargo bench -p billing-local --bench put_card [-- REQUESTS]` (default 1,000).

#![allow(clippy::float_arithmetic, reason = "latency statistics, not money")]

use std::time::Instant;

use billing_api::jwt::{Claims, sign};

mod support;

use support::{SECRET, report, requests, start_server};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let requests = requests();
    let (base, _dir) = start_server().await;

    let token = sign(
        &Claims {
            sub: "bench-user".into(),
            email: None,
            exp: None,
        },
        SECRET.as_bytes(),
    );
    let client = reqwest::Client::new();
    let put = |card: &'static str| {
        client
            .put(format!("{base}/v1/billing/card"))
            .bearer_auth(&token)
            .json(&serde_json::json!({ "payment_method": card }))
            .send()
    };
    for _ in 0..20 {
        put("pm_card_visa").await.unwrap();
        put("pm_card_mastercard").await.unwrap();
    }

    let mut latencies = Vec::with_capacity(requests);
    let started = Instant::now();
    for n in 0..requests {
        let card = if n % 2 == 0 {
            "pm_card_visa"
        } else {
            "pm_card_mastercard"
        };
        let t = Instant::now();
        let response = put(card).await.unwrap();
        let status = response.status();
        response.bytes().await.unwrap();
        latencies.push(t.elapsed());
        assert!(status.is_success(), "request {n}: {status}");
    }
    let wall = started.elapsed();
    report(
        &format!(
            "PUT /v1/billing/card on billing-local, {requests} sequential replaces over loopback HTTP"
        ),
        "replaces",
        latencies,
        wall,
    );
}
