//! Latency of `POST /v1/billing/credit-purchases` on billing-local: the real router and
//! embedded adapters (durable redb files, fsync on every commit) served on 127.0.0.1, driven
//! over HTTP by one client. Each request is a real purchase with an `Idempotency-Key` on its
//! own account (one purchase per account: the in-flight rule refuses a second one at once),
//! charged to `pm_card_visa`, credited and receipted (outbox file). Prints percentiles.
//!
//! `cargo bench -p billing-local --bench credit_purchase [-- REQUESTS]` (default 1,000).

#![allow(clippy::float_arithmetic, reason = "latency statistics, not money")]

use std::time::{Duration, Instant};

use billing_api::jwt::{Claims, sign};
use billing_local::{LocalConfig, build};

const SECRET: &str = "bench-secret";

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    // Nearest-rank percentile.
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let requests: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().unwrap());
    let config = LocalConfig {
        data_dir: dir.path().to_owned(),
        base_url: base.clone(),
        jwt_secret: SECRET.into(),
        webhook_secret: "whsec_bench".into(),
        link_secret: "bench-link-secret".into(),
    };
    let app = build(&config).expect("local app");
    tokio::spawn(app.deliver_events);
    tokio::spawn(async move { axum::serve(listener, app.router).await.unwrap() });

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
    latencies.sort_unstable();
    println!(
        "POST /v1/billing/credit-purchases on billing-local, {requests} sequential purchases over loopback HTTP"
    );
    for p in [50.0, 90.0, 99.0, 100.0] {
        println!(
            "  p{p:<5} {:>8.2} ms",
            percentile(&latencies, p).as_secs_f64() * 1e3
        );
    }
    println!(
        "  throughput {:.0} purchases/s (one client)",
        requests as f64 / wall.as_secs_f64()
    );
}
