//! Latency of `PUT /v1/billing/card` on billing-local: the real router and embedded adapters
//! (durable redb files, fsync on every commit) served on 127.0.0.1, driven over HTTP by one
//! client, each request a real replace (visa and mastercard alternate). Prints percentiles.
//!
//! `cargo bench -p billing-local --bench put_card [-- REQUESTS]` (default 1,000).

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
        link_secret: "bench-link-secret".into(),
        webhook_secret: "whsec_bench".into(),
    };
    let app = build(&config).expect("local app");
    tokio::spawn(async move { axum::serve(listener, app.router).await.unwrap() });

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
    latencies.sort_unstable();
    println!(
        "PUT /v1/billing/card on billing-local, {requests} sequential replaces over loopback HTTP"
    );
    for p in [50.0, 90.0, 99.0, 100.0] {
        println!(
            "  p{p:<5} {:>8.2} ms",
            percentile(&latencies, p).as_secs_f64() * 1e3
        );
    }
    println!(
        "  throughput {:.0} replaces/s (one client)",
        requests as f64 / wall.as_secs_f64()
    );
}
