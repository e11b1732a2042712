//! Latency of `POST /v1/billing/credit-purchases` on billing-local: the real router and
//! embedded adapters (durable redb files, fsync on every commit) served on 127.0.0.1, driven
//! over HTTP by one client. Each request is a real purchase with an `Idempotency-Key` on its
//! own account (one purchase per account: the in-flight rule refuses a second one at once),
//! charged to `pm_card_visa`, credited and receipted (outbox file). Prints percentiles.
//!
//! `cargo bench -p billing-local --bench credit_purchase [-- REQUESTS]` (default 1,000).

#![allow(clippy::float_arithmetic, reason = "latency statistics, not money")]

use std::time::Instant;

use billing_api::jwt::{Claims, sign};

mod support;

use support::{SECRET, report, requests, start_server};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let requests = requests();
    let (base, _dir) = start_server().await;

    let warmup = 20;
    let client = reqwest::Client::new();
    let tokens: Vec<String> = (0..requests + warmup)
        .map(|n| {
            let claims = Claims {
                sub: format!("bench-buyer-{n}"),
                email: Some(format!("buyer{n}@example.com")),
                exp: None,
            };
            sign(&claims, SECRET.as_bytes())
        })
        .collect();
    for token in &tokens {
        let response = client
            .put(format!("{base}/v1/billing/card"))
            .bearer_auth(token)
            .json(&serde_json::json!({ "payment_method": "pm_card_visa" }))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
    }
    let buy = |n: usize| {
        client
            .post(format!("{base}/v1/billing/credit-purchases"))
            .bearer_auth(&tokens[n])
            .header("Idempotency-Key", format!("bench-{n}"))
            .json(&serde_json::json!({ "amount": 2500, "currency": "usd" }))
            .send()
    };
    for n in 0..warmup {
        buy(n).await.unwrap().bytes().await.unwrap();
    }

    let mut latencies = Vec::with_capacity(requests);
    let started = Instant::now();
    for n in warmup..warmup + requests {
        let t = Instant::now();
        let response = buy(n).await.unwrap();
        let status = response.status();
        let body: serde_json::Value = response.json().await.unwrap();
        latencies.push(t.elapsed());
        assert_eq!(status.as_u16(), 201, "request {n}: {body}");
        assert_eq!(body["status"], "succeeded", "request {n}: {body}");
    }
    let wall = started.elapsed();
    report(
        &format!(
            "POST /v1/billing/credit-purchases on billing-local, {requests} sequential purchases over loopback HTTP"
        ),
        "purchases",
        latencies,
        wall,
    );
}
