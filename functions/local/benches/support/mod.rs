//! What the billing-local benches share: a server on a fresh data folder, the request count
//! from the command line, and the percentile report.

use std::sync::Arc;
use std::time::Duration;

use billing_core::ports::gateway::PaymentGateway;
use billing_embedded::SimulatedCardNetwork;
use billing_local::{LocalConfig, build_with_gateway};

/// The HS256 secret the benches sign their tokens with.
pub const SECRET: &str = "bench-secret";

/// The number of timed requests: the first numeric argument, default 1,000.
pub fn requests() -> usize {
    std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1_000)
}

/// billing-local served on a free 127.0.0.1 port, with its simulated network's events
/// delivered to its webhook endpoint; returns its base URL and the data folder to keep.
pub async fn start_server() -> (String, tempfile::TempDir) {
    start_server_with(|network| Arc::new(network)).await
}

/// [`start_server`], with the card network reached through the gateway `wrap` makes of it
/// ([`billing_local::build_with_gateway`]).
pub async fn start_server_with(
    wrap: impl FnOnce(SimulatedCardNetwork) -> Arc<dyn PaymentGateway>,
) -> (String, tempfile::TempDir) {
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
        retries: billing_core::rules::retry::RetrySchedule::default(),
    };
    let app = build_with_gateway(&config, wrap).expect("local app");
    tokio::spawn(app.deliver_events);
    tokio::spawn(async move { axum::serve(listener, app.router).await.unwrap() });
    (base, dir)
}

/// Prints p50, p90, p99 and the maximum of `latencies` (nearest rank), and the throughput.
pub fn report(title: &str, unit: &str, mut latencies: Vec<Duration>, wall: Duration) {
    latencies.sort_unstable();
    let percentile = |p: f64| {
        let rank = ((p / 100.0) * latencies.len() as f64).ceil() as usize;
        latencies[rank.clamp(1, latencies.len()) - 1]
    };
    println!("{title}");
    for p in [50.0, 90.0, 99.0, 100.0] {
        println!("  p{p:<5} {:>8.2} ms", percentile(p).as_secs_f64() * 1e3);
    }
    println!(
        "  throughput {:.0} {unit}/s (one client)",
        latencies.len() as f64 / wall.as_secs_f64()
    );
}
