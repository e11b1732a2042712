//! The simulated card updater: a saved card reissued with a new expiry, read back through the
//! port, and announced with `payment_method.automatically_updated` among the pending events;
//! and the issuer's expiry check that makes such an update matter.

use std::sync::Arc;

use billing_core::domain::money::{Cents, Currency};
use billing_core::ports::gateway::{
    ChargeOutcome, ChargeRequest, GatewayError, PaymentGateway, PaymentMethod,
};
use billing_core::{AccountId, CustomerId, PaymentMethodId};
use billing_embedded::{LocalClock, SimulatedCardNetwork};
use chrono::{TimeZone, Utc};
use serde_json::{Value, json};
use tempfile::TempDir;

fn network() -> (TempDir, SimulatedCardNetwork) {
    let dir = tempfile::tempdir().unwrap();
    let network =
        SimulatedCardNetwork::open(&dir.path().join("net.redb"), "http://127.0.0.1/").unwrap();
    (dir, network)
}

async fn saved_card(network: &SimulatedCardNetwork, card: &str) -> (CustomerId, PaymentMethod) {
    let account = AccountId::parse(&format!("updater-{card}")).unwrap();
    let customer = network.create_customer(&account, None).await.unwrap();
    let attached = network
        .attach(&PaymentMethodId::parse(card).unwrap(), &customer)
        .await
        .unwrap();
    (customer, attached)
}

#[tokio::test]
async fn a_reissued_card_reads_back_with_its_new_expiry_and_nothing_else_changed() {
    let (_dir, network) = network();
    let (customer, before) = saved_card(&network, "pm_card_visa").await;

    network.update_card_expiry(&before.id, 3, 2032).unwrap();

    let after = network.payment_method(&before.id).await.unwrap();
    assert_eq!((after.card.exp_month, after.card.exp_year), (3, 2032));
    assert_eq!(after.customer.as_ref(), Some(&customer));
    assert_eq!(after.card.fingerprint, before.card.fingerprint);
    assert_eq!(after.card.last4, before.card.last4);
    let cards = network.customer_cards(&customer).await.unwrap();
    assert_eq!(cards.attached, vec![after]);
}

#[tokio::test]
async fn the_update_is_announced_with_the_payment_method_as_stripe_sends_it() {
    let (_dir, network) = network();
    let (customer, card) = saved_card(&network, "pm_card_amex").await;

    let event = network.update_card_expiry(&card.id, 9, 2030).unwrap();

    assert_eq!(network.pending_events(10).unwrap(), vec![event.clone()]);
    assert_eq!(event.kind, "payment_method.automatically_updated");
    assert_eq!(event.payment, None);
    let json: Value = serde_json::from_str(&event.payload).unwrap();
    assert_eq!(json["id"], event.id.as_str());
    assert_eq!(json["object"], "event");
    assert_eq!(json["type"], "payment_method.automatically_updated");
    let object = &json["data"]["object"];
    assert_eq!(object["id"], card.id.as_str());
    assert_eq!(object["object"], "payment_method");
    assert_eq!(object["customer"], customer.as_str());
    assert_eq!(
        [&object["card"]["brand"], &object["card"]["last4"]],
        [&json!("amex"), &json!("8431")]
    );
    assert_eq!(
        [&object["card"]["exp_month"], &object["card"]["exp_year"]],
        [&json!(9), &json!(2030)]
    );
    assert_eq!(
        json["data"]["previous_attributes"]["card"],
        json!({"exp_month": 12, "exp_year": card.card.exp_year})
    );
}

#[tokio::test]
async fn only_a_card_saved_to_a_customer_is_updated() {
    let (_dir, network) = network();
    let (_customer, detached) = saved_card(&network, "pm_card_visa").await;
    network.detach(&detached.id).await.unwrap();

    let never_attached =
        network.update_card_expiry(&PaymentMethodId::parse("pm_card_visa").unwrap(), 1, 2030);
    let spent = network.update_card_expiry(&detached.id, 1, 2030);
    let unknown =
        network.update_card_expiry(&PaymentMethodId::parse("pm_sim99999999").unwrap(), 1, 2030);

    assert!(
        matches!(never_attached, Err(GatewayError::NotFound(_))),
        "{never_attached:?}"
    );
    assert!(matches!(spent, Err(GatewayError::Invalid(_))), "{spent:?}");
    assert!(
        matches!(unknown, Err(GatewayError::NotFound(_))),
        "{unknown:?}"
    );
    assert_eq!(network.pending_events(10).unwrap(), vec![]);
}

#[tokio::test]
async fn an_expiry_that_is_no_date_is_refused_and_changes_nothing() {
    let (_dir, network) = network();
    let (_customer, card) = saved_card(&network, "pm_card_visa").await;

    for (month, year) in [(0, 2030), (13, 2030), (6, 30), (6, 2100)] {
        let result = network.update_card_expiry(&card.id, month, year);

        assert!(
            matches!(result, Err(GatewayError::Invalid(_))),
            "{month}/{year}: {result:?}"
        );
    }
    assert_eq!(network.payment_method(&card.id).await.unwrap(), card);
    assert_eq!(network.pending_events(10).unwrap(), vec![]);
}

#[tokio::test]
async fn the_new_expiry_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("net.redb");
    let first_run = SimulatedCardNetwork::open(&path, "http://127.0.0.1/").unwrap();
    let (_customer, card) = saved_card(&first_run, "pm_card_visa").await;
    first_run.update_card_expiry(&card.id, 2, 2033).unwrap();
    drop(first_run);

    let network = SimulatedCardNetwork::open(&path, "http://127.0.0.1/").unwrap();

    let read = network.payment_method(&card.id).await.unwrap();
    assert_eq!((read.card.exp_month, read.card.exp_year), (2, 2033));
    assert_eq!(network.pending_events(10).unwrap().len(), 1);
}

/// A charge of `card` (saved for `account`) with `key`.
async fn charge(
    network: &SimulatedCardNetwork,
    customer: &CustomerId,
    card: &PaymentMethodId,
    key: &str,
) -> ChargeOutcome {
    let request = ChargeRequest {
        customer: customer.clone(),
        payment_method: card.clone(),
        amount: Cents::new(1_000),
        currency: Currency::Usd,
        idempotency_key: key.into(),
        off_session: true,
        description: "Usage".into(),
        account: AccountId::parse("expiry").unwrap(),
        reference: "in_203001".into(),
    };
    network.charge(&request).await.unwrap()
}

#[tokio::test]
async fn past_its_expiry_month_a_card_declines_as_expired_until_the_updater_reissues_it() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(LocalClock::default());
    let network = SimulatedCardNetwork::open(&dir.path().join("net.redb"), "http://127.0.0.1/")
        .unwrap()
        .with_clock(clock.clone());
    let (customer, card) = saved_card(&network, "pm_card_visa").await;
    let (month, year) = (card.card.exp_month, card.card.exp_year);
    assert_eq!(month, 12);
    let at = |y: i32, m: u32, d: u32| Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap();

    clock.set(at(year, 12, 31));
    let last_day = charge(&network, &customer, &card.id, "last-day").await;
    clock.set(at(year + 1, 1, 1));
    let expired = charge(&network, &customer, &card.id, "expired").await;
    let replayed = charge(&network, &customer, &card.id, "last-day").await;
    network.update_card_expiry(&card.id, 6, year + 4).unwrap();
    let reissued = charge(&network, &customer, &card.id, "reissued").await;

    assert!(
        matches!(last_day, ChargeOutcome::Succeeded { .. }),
        "good through the last day of its month: {last_day:?}"
    );
    match expired {
        ChargeOutcome::Declined { payment, decline } => {
            assert!(payment.is_some());
            assert_eq!(decline.decline_code.as_deref(), Some("expired_card"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(replayed, last_day, "a key's first answer, whatever the day");
    assert!(
        matches!(reissued, ChargeOutcome::Succeeded { .. }),
        "{reissued:?}"
    );
}
