//! The charge worker as a process of its own, for the fault tests that kill it (`kill -9`) at
//! random moments: it runs `charge_account` (the charge-worker Lambda's use case) on the charge
//! jobs it reads from stdin, one JSON job per line, ten at a time as the Lambda runs a batch,
//! and prints `done N` or `failed N` (N the job's line, from 0) as each finishes. Whatever it
//! did not report done, the caller delivers again, as SQS would.
//!
//! Environment: `FAULTS_AWS_URL` (DynamoDB and SES, a fault proxy in front of moto),
//! `FAULTS_STRIPE_URL` (a fault proxy in front of localstripe), `FAULTS_STRIPE_KEY`,
//! `FAULTS_TABLE`, `FAULTS_SENDER`, `FAULTS_NOW` (RFC 3339: the business time of this run).

use std::io::BufRead;
use std::sync::Arc;

use aws_config::{BehaviorVersion, Region};
use aws_sdk_dynamodb::config::Credentials;
use billing_aws::{DynamoStore, SesMailer};
use billing_contract::PlainLinks;
use billing_core::ports::queue::ChargeJob;
use billing_core::rules::retry::RetrySchedule;
use billing_core::usecases::invoice::{Ports, charge_account};
use billing_stripe::StripeGateway;
use tokio::sync::Semaphore;

/// Jobs charged at once, as the Lambda's `JOBS_AT_ONCE`.
const JOBS_AT_ONCE: usize = 10;

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let config = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(var("FAULTS_AWS_URL"))
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "worker"))
        .load()
        .await;
    let store = Arc::new(DynamoStore::new(&config, var("FAULTS_TABLE")));
    let mailer = Arc::new(SesMailer::new(&config, var("FAULTS_SENDER")));
    let gateway = Arc::new(
        StripeGateway::new(var("FAULTS_STRIPE_KEY"), Some(&var("FAULTS_STRIPE_URL")))
            .expect("Stripe client"),
    );
    let now = chrono::DateTime::parse_from_rfc3339(&var("FAULTS_NOW"))
        .expect("FAULTS_NOW is RFC 3339")
        .to_utc();
    let jobs: Vec<ChargeJob> = std::io::stdin()
        .lock()
        .lines()
        .map(|line| serde_json::from_str(&line.expect("stdin")).expect("a charge job"))
        .collect();
    let permits = Arc::new(Semaphore::new(JOBS_AT_ONCE));
    let mut tasks = tokio::task::JoinSet::new();
    for (n, job) in jobs.into_iter().enumerate() {
        let (store, gateway, mailer, permits) = (
            store.clone(),
            gateway.clone(),
            mailer.clone(),
            permits.clone(),
        );
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await.unwrap();
            let ports = Ports {
                store: store.as_ref(),
                gateway: gateway.as_ref(),
                mailer: mailer.as_ref(),
                links: &PlainLinks,
                retries: &RetrySchedule::STANDARD,
            };
            let result = charge_account(ports, &job, now).await;
            // One line per job, written whole, so a kill leaves no half-reported job.
            println!("{} {n}", if result.is_ok() { "done" } else { "failed" });
        });
    }
    while tasks.join_next().await.is_some() {}
}
