//! Deliveries as the cloud makes them: charge jobs (SQS messages) and webhook events (Stripe),
//! each acknowledged or failed, the failed ones delivered again later by [`Harness::run`]'s
//! caller.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use billing_api::links::{LinkSigner, SignedLinks};
use billing_api::state::{Services, WebhookState};
use billing_api::{webhook_router, with_fallbacks};
use billing_contract::PlainLinks;
use billing_core::ports::queue::ChargeJob;
use billing_core::rules::retry::RetrySchedule;
use billing_core::usecases::invoice::{Charged, MonthlySummary, Ports, charge_account};
use billing_embedded::stripe_signature;
use chrono::{DateTime, Utc};
use http_body_util::BodyExt;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tower::ServiceExt;

use super::world::{TestClock, World};

/// Deliveries in flight at once, as production runs them: `CHARGE_WORKER_CONCURRENCY` (4)
/// charge-worker invocations, each charging `JOBS_AT_ONCE` (10) jobs of its batch at once.
pub const IN_FLIGHT: usize = 4 * 10;
const WEBHOOK_SECRET: &str = "whsec_faults";

/// One delivery the run makes: a charge job (an SQS message) or a webhook event.
#[derive(Debug, Clone)]
pub enum Delivery {
    Job(ChargeJob),
    Webhook(String),
}

/// What an acknowledged delivery answered.
pub enum Answer {
    /// The charge job's outcome.
    Job(Charged),
    /// The webhook's `result`.
    Webhook(String),
}

/// What the run did, counted.
#[derive(Debug, Default)]
pub struct Tally {
    pub planner_failures: u64,
    pub messages: usize,
    pub deliveries: u64,
    pub failed_deliveries: u64,
    pub webhook_deliveries: u64,
    pub rounds: u32,
    /// Charge messages per account: the planner ran twice, so at least two for each owing one.
    pub jobs_per_account: BTreeMap<String, usize>,
    pub gave_up: Vec<Delivery>,
    pub summary: MonthlySummary,
    /// The webhook's `result` (`applied`, `duplicate`, `ignored`) over acknowledged deliveries.
    pub webhook_results: BTreeMap<String, u64>,
}

pub struct Harness {
    world: Arc<World>,
    pub clock: Arc<TestClock>,
    webhook: Router,
}

impl Harness {
    pub fn new(world: Arc<World>) -> Self {
        let clock = Arc::new(TestClock::default());
        let state = Arc::new(WebhookState {
            services: Services {
                store: Arc::new(world.store.clone()),
                gateway: Arc::new(world.gateway.clone()),
                clock: clock.clone(),
            },
            mailer: Arc::new(world.mailer.clone()),
            links: Arc::new(SignedLinks {
                signer: LinkSigner::new(b"faults-links"),
                base: "http://127.0.0.1".into(),
            }),
            secrets: vec![WEBHOOK_SECRET.to_owned()],
        });
        Self {
            world,
            clock,
            webhook: with_fallbacks(webhook_router(state)),
        }
    }

    /// One delivery at business time `now`: `Ok` when it would be acknowledged.
    pub async fn deliver(&self, delivery: &Delivery, now: DateTime<Utc>) -> Result<Answer, String> {
        match delivery {
            Delivery::Job(job) => {
                let ports = Ports {
                    store: &self.world.store,
                    gateway: &self.world.gateway,
                    mailer: &self.world.mailer,
                    links: &PlainLinks,
                    retries: &RetrySchedule::STANDARD,
                };
                charge_account(ports, job, now)
                    .await
                    .map(Answer::Job)
                    .map_err(|e| e.to_string())
            }
            Delivery::Webhook(payload) => {
                let signature = stripe_signature(WEBHOOK_SECRET, Utc::now().timestamp(), payload);
                let request = Request::post("/v1/webhooks/stripe")
                    .header("content-type", "application/json")
                    .header("stripe-signature", signature)
                    .body(Body::from(payload.clone()))
                    .unwrap();
                let response = self.webhook.clone().oneshot(request).await.unwrap();
                let status = response.status().as_u16();
                let body = response.into_body().collect().await.unwrap().to_bytes();
                let body: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                match status {
                    200 => Ok(Answer::Webhook(
                        body["result"].as_str().unwrap_or_default().to_owned(),
                    )),
                    status => Err(format!("webhook answered {status}")),
                }
            }
        }
    }

    /// Runs `deliveries` at business time `now`, [`IN_FLIGHT`] at once; returns those that
    /// failed.
    pub async fn run(
        self: &Arc<Self>,
        deliveries: Vec<Delivery>,
        now: DateTime<Utc>,
        tally: &mut Tally,
    ) -> Vec<Delivery> {
        self.clock.set(now);
        let permits = Arc::new(Semaphore::new(IN_FLIGHT));
        let mut tasks = JoinSet::new();
        for delivery in deliveries {
            let (harness, permits) = (self.clone(), permits.clone());
            tasks.spawn(async move {
                let _permit = permits.acquire_owned().await.unwrap();
                let result = harness.deliver(&delivery, now).await;
                (delivery, result)
            });
        }
        let mut failed = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            let (delivery, result) = joined.expect("a delivery does not panic");
            tally.deliveries += 1;
            if matches!(delivery, Delivery::Webhook(_)) {
                tally.webhook_deliveries += 1;
            }
            match result {
                Ok(Answer::Job(charged)) => tally.summary.add(&charged),
                Ok(Answer::Webhook(result)) => {
                    *tally.webhook_results.entry(result).or_default() += 1;
                }
                Err(_) => {
                    tally.failed_deliveries += 1;
                    failed.push(delivery);
                }
            }
        }
        failed
    }
}
