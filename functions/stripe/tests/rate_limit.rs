//! Stripe's rate limit at the wire, on localstripe: the compat layer answers 429 (with or
//! without `Retry-After` and `Stripe-Should-Retry`) when told to, and its request log shows
//! what the gateway sent and when. The log and the faults are global to the stand-in, so these
//! cases run one at a time.

mod stand_in;

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use billing_core::domain::money::{Cents, Currency};
use billing_core::ports::gateway::{ChargeOutcome, ChargeRequest, GatewayError, PaymentGateway};
use billing_core::{AccountId, CustomerId, PaymentMethodId};
use billing_stripe::{RateLimit, StripeGateway};
use serde_json::Value;
use stand_in::request;
use tokio::sync::Mutex;

/// One case at a time: the stand-in's log and faults are shared.
static WIRE: Mutex<()> = Mutex::const_new(());

fn gateway() -> StripeGateway {
    StripeGateway::new(stand_in::KEY, Some(&stand_in::url())).unwrap()
}

fn account(label: &str) -> AccountId {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    AccountId::parse(&format!("rate-{label}-{nanos:x}")).unwrap()
}

/// A customer with a chargeable card, and an off-session charge for it.
async fn chargeable(gateway: &StripeGateway, label: &str) -> ChargeRequest {
    let account = account(label);
    let customer: CustomerId = gateway.create_customer(&account, None).await.unwrap();
    let visa = PaymentMethodId::parse("pm_card_visa").unwrap();
    let card = gateway.attach(&visa, &customer).await.unwrap();
    ChargeRequest {
        customer,
        payment_method: card.id,
        amount: Cents::new(1_000),
        currency: Currency::Usd,
        idempotency_key: format!("{account}-charge"),
        off_session: true,
        description: "rate limit".into(),
        account,
        reference: "in_rate_limit".into(),
    }
}

async fn clear_log() {
    assert_eq!(request("DELETE", "/_compat/requests", "").await.0, 204);
}

/// Every request received since the log was cleared, oldest first.
async fn logged() -> Vec<Value> {
    let (status, body) = request("GET", "/_compat/requests", "").await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// The next `times` requests are answered 429, with the headers given.
async fn rate_limit_next(query: &str) {
    let path = format!("/_compat/faults/rate_limit?{query}");
    assert_eq!(request("PUT", &path, "").await.0, 204);
}

fn paths(log: &[Value]) -> Vec<&str> {
    log.iter().map(|r| r["path"].as_str().unwrap()).collect()
}

fn keys(log: &[Value]) -> Vec<Option<&str>> {
    log.iter().map(|r| r["idempotency_key"].as_str()).collect()
}

/// When the stand-in received it.
fn arrival(entry: &Value) -> Duration {
    Duration::from_micros(entry["at"].as_u64().unwrap())
}

#[tokio::test]
async fn a_rate_limited_charge_is_sent_again_after_retry_after_with_the_same_key_and_succeeds() {
    let _one_at_a_time = WIRE.lock().await;
    let gateway = gateway();
    let charge = chargeable(&gateway, "retry-after").await;
    clear_log().await;
    rate_limit_next("times=1&retry_after=1").await;

    let started = Instant::now();
    let outcome = gateway.charge(&charge).await;
    let took = started.elapsed();

    assert!(
        matches!(outcome, Ok(ChargeOutcome::Succeeded { .. })),
        "{outcome:?}"
    );
    assert!(took >= Duration::from_secs(1), "{took:?}");
    let log = logged().await;
    assert_eq!(paths(&log), ["/v1/payment_intents"; 2]);
    let key = Some(charge.idempotency_key.as_str());
    assert_eq!(keys(&log), [key, key]);
    let gap = arrival(&log[1]) - arrival(&log[0]);
    assert!(
        gap >= Duration::from_secs(1),
        "the retry came {gap:?} after the refusal"
    );
}

#[tokio::test]
async fn a_429_with_stripe_should_retry_false_is_not_sent_again() {
    let _one_at_a_time = WIRE.lock().await;
    let gateway = gateway();
    let charge = chargeable(&gateway, "should-not").await;
    clear_log().await;
    // A Retry-After long enough that a loaded machine's one request never takes as long.
    rate_limit_next("times=1&retry_after=5&should_retry=false").await;

    let started = Instant::now();
    let outcome = gateway.charge(&charge).await;
    let took = started.elapsed();

    assert!(
        matches!(&outcome, Err(GatewayError::Unavailable(_))),
        "{outcome:?}"
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert_eq!(paths(&logged().await), ["/v1/payment_intents"]);
}

#[tokio::test]
async fn a_request_refused_again_and_again_gives_up_after_three_retries() {
    let _one_at_a_time = WIRE.lock().await;
    let gateway = gateway();
    let account = account("refused");
    clear_log().await;
    rate_limit_next("times=4&retry_after=0").await;

    let outcome = gateway.create_customer(&account, None).await;

    assert!(
        matches!(&outcome, Err(GatewayError::Unavailable(_))),
        "{outcome:?}"
    );
    let log = logged().await;
    assert_eq!(paths(&log), ["/v1/customers"; 4]);
    let key = format!("customer-{account}");
    assert_eq!(keys(&log), [Some(key.as_str()); 4]);
}

#[tokio::test]
async fn a_retry_after_longer_than_the_budget_gives_up_at_once() {
    let _one_at_a_time = WIRE.lock().await;
    let gateway = gateway();
    clear_log().await;
    rate_limit_next("times=1&retry_after=60").await;

    let started = Instant::now();
    let outcome = gateway.create_customer(&account("too-long"), None).await;

    assert!(
        matches!(&outcome, Err(GatewayError::Unavailable(_))),
        "{outcome:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(paths(&logged().await), ["/v1/customers"]);
}

#[tokio::test]
async fn a_rate_limited_read_without_a_key_is_sent_again_too() {
    let _one_at_a_time = WIRE.lock().await;
    let gateway = gateway();
    let charge = chargeable(&gateway, "read").await;
    clear_log().await;
    rate_limit_next("times=1").await;

    let started = Instant::now();
    let cards = gateway.customer_cards(&charge.customer).await.unwrap();
    let took = started.elapsed();

    assert_eq!(cards.attached.len(), 1);
    // No Retry-After: the first pause is half a second.
    assert!(took >= Duration::from_millis(500), "{took:?}");
    let customer = format!("/v1/customers/{}", charge.customer);
    assert_eq!(
        paths(&logged().await),
        [customer.as_str(), &customer, "/v1/payment_methods"]
    );
}

#[tokio::test]
async fn clones_of_a_limited_gateway_share_its_rate() {
    let _one_at_a_time = WIRE.lock().await;
    let limit = RateLimit::per_second(NonZeroU32::new(5).unwrap());
    let gateway = gateway().with_rate_limit(Some(limit));
    let (first, second) = (gateway.clone(), gateway.clone());
    clear_log().await;

    let make_two = |gateway: StripeGateway, label: &'static str| async move {
        for n in 0..2 {
            let account = account(&format!("{label}{n}"));
            gateway.create_customer(&account, None).await.unwrap();
        }
    };
    tokio::join!(make_two(first, "a"), make_two(second, "b"));

    // 4 requests at 5/s are 3 turns of 205 ms apart: about 615 ms from first to last. Two
    // limiters of their own would have let each clone's pair through in 205 ms.
    let log = logged().await;
    assert_eq!(log.len(), 4);
    let span = arrival(&log[3]) - arrival(&log[0]);
    assert!(
        span >= Duration::from_millis(500),
        "4 requests at 5/s arrived within {span:?}"
    );
}
