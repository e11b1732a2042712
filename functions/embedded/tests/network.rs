//! The simulated card network's own controls (beyond the port contract): what it shows for an
//! account, settling payments later, and the events it records.

use billing_core::ports::gateway::{ChargeOutcome, GatewayError, PaymentGateway};
use billing_core::{AccountId, PaymentMethodId};
use billing_embedded::{AttachedCard, NetworkView, SimulatedCardNetwork, stripe_signature};
use serde_json::{Value, json};
use tempfile::TempDir;

fn network() -> (TempDir, SimulatedCardNetwork) {
    let dir = tempfile::tempdir().unwrap();
    let network =
        SimulatedCardNetwork::open(&dir.path().join("net.redb"), "http://127.0.0.1/").unwrap();
    (dir, network)
}

fn pm(id: &str) -> PaymentMethodId {
    PaymentMethodId::parse(id).unwrap()
}

#[test]
fn an_account_without_a_customer_shows_an_empty_network() {
    let (_dir, network) = network();

    let view = network
        .network_view(&AccountId::parse("nobody").unwrap())
        .unwrap();

    assert_eq!(
        view,
        NetworkView {
            customer: None,
            default_payment_method: None,
            attached: vec![],
        }
    );
    assert_eq!(
        serde_json::to_value(&view).unwrap(),
        serde_json::json!({"customer": null, "default_payment_method": null, "attached": []})
    );
}

#[tokio::test]
async fn the_view_shows_the_customer_its_default_and_every_attached_card() {
    let (_dir, network) = network();
    let account = AccountId::parse("viewer").unwrap();
    let customer = network.create_customer(&account, None).await.unwrap();
    let visa = network
        .attach(&pm("pm_card_visa"), &customer)
        .await
        .unwrap();
    let amex = network
        .attach(&pm("pm_card_amex"), &customer)
        .await
        .unwrap();
    network.set_default(&customer, &amex.id).await.unwrap();

    let view = network.network_view(&account).unwrap();

    assert_eq!(
        view,
        NetworkView {
            customer: Some(customer),
            default_payment_method: Some(amex.id.clone()),
            attached: vec![
                AttachedCard {
                    id: visa.id.clone(),
                    brand: "visa".into(),
                    last4: "4242".into(),
                },
                AttachedCard {
                    id: amex.id.clone(),
                    brand: "amex".into(),
                    last4: "8431".into(),
                },
            ],
        }
    );
    assert_eq!(
        serde_json::to_value(&view).unwrap()["attached"][0],
        serde_json::json!({"id": visa.id.as_str(), "brand": "visa", "last4": "4242"})
    );
}

#[tokio::test]
async fn a_deleted_customer_no_longer_shows() {
    let (_dir, network) = network();
    let account = AccountId::parse("leaver").unwrap();
    let customer = network.create_customer(&account, None).await.unwrap();
    network
        .attach(&pm("pm_card_visa"), &customer)
        .await
        .unwrap();

    network.delete_customer(&customer).await.unwrap();

    let view = network.network_view(&account).unwrap();
    assert_eq!((view.customer, view.attached.len()), (None, 0));
}

async fn charge_with(
    network: &SimulatedCardNetwork,
    card: &str,
    off_session: bool,
) -> ChargeOutcome {
    use billing_core::domain::money::{Cents, Currency};
    use billing_core::ports::gateway::ChargeRequest;

    let account = AccountId::parse(&format!("payer-{card}-{off_session}")).unwrap();
    let customer = network.create_customer(&account, None).await.unwrap();
    let attached = network.attach(&pm(card), &customer).await.unwrap();
    network
        .charge(&ChargeRequest {
            customer,
            payment_method: attached.id,
            amount: Cents::new(2_500),
            currency: Currency::Usd,
            idempotency_key: format!("key-{card}-{off_session}"),
            off_session,
            description: "Credits".into(),
            account,
            reference: "cp_123".into(),
        })
        .await
        .unwrap()
}

fn kinds(network: &SimulatedCardNetwork) -> Vec<String> {
    network
        .pending_events(usize::MAX)
        .unwrap()
        .into_iter()
        .map(|event| event.kind)
        .collect()
}

#[tokio::test]
async fn a_processing_payment_succeeds_later_with_one_event_per_transition() {
    let (_dir, network) = network();
    let held = charge_with(&network, "pm_card_processing", false).await;
    let ChargeOutcome::Processing { payment } = held else {
        panic!("expected processing, got {held:?}")
    };
    assert_eq!(kinds(&network), ["payment_intent.processing"]);

    let settled = network.succeed(&payment).unwrap();

    assert_eq!(
        settled,
        ChargeOutcome::Succeeded {
            payment: payment.clone()
        }
    );
    assert_eq!(network.charge_status(&payment).await.unwrap(), settled);
    assert_eq!(
        kinds(&network),
        ["payment_intent.processing", "payment_intent.succeeded"]
    );
}

#[tokio::test]
async fn a_processing_payment_can_fail_later_with_a_decline_code() {
    let (_dir, network) = network();
    let held = charge_with(&network, "pm_card_processing", true).await;
    let payment = held.payment().unwrap().clone();

    let failed = network.fail(&payment, "insufficient_funds").unwrap();

    let ChargeOutcome::Declined { decline, .. } = &failed else {
        panic!("expected a decline, got {failed:?}")
    };
    assert_eq!(decline.decline_code.as_deref(), Some("insufficient_funds"));
    assert_eq!(
        kinds(&network),
        ["payment_intent.processing", "payment_intent.payment_failed"]
    );
}

#[tokio::test]
async fn settling_a_final_payment_again_changes_nothing_and_sends_nothing() {
    let (_dir, network) = network();
    let held = charge_with(&network, "pm_card_processing", false).await;
    let payment = held.payment().unwrap().clone();
    let settled = network.succeed(&payment).unwrap();

    assert_eq!(network.succeed(&payment).unwrap(), settled);
    assert_eq!(network.approve(&payment).unwrap(), settled);
    assert_eq!(network.fail(&payment, "generic_decline").unwrap(), settled);
    assert_eq!(kinds(&network).len(), 2);
}

#[tokio::test]
async fn a_settlement_that_does_not_apply_to_the_payment_is_refused() {
    let (_dir, network) = network();
    let waiting = charge_with(&network, "pm_card_authenticationRequired", false).await;
    let payment = waiting.payment().unwrap().clone();

    let result = network.succeed(&payment);

    assert!(
        matches!(result, Err(GatewayError::Invalid(_))),
        "{result:?}"
    );
    assert_eq!(network.charge_status(&payment).await.unwrap(), waiting);
}

#[tokio::test]
async fn an_off_session_payment_kept_for_authentication_succeeds_once_approved() {
    let (_dir, network) = network();
    let kept = charge_with(&network, "pm_card_authenticationRequired", true).await;
    let ChargeOutcome::AuthenticationRequired { payment, url, .. } = &kept else {
        panic!("expected authentication_required, got {kept:?}")
    };
    assert_eq!(
        url.as_deref(),
        Some(format!("http://127.0.0.1/{payment}").as_str()),
        "the local bank page"
    );

    network.approve(payment).unwrap();

    assert_eq!(
        kinds(&network),
        ["payment_intent.payment_failed", "payment_intent.succeeded"]
    );
}

#[tokio::test]
async fn an_event_carries_the_payment_intent_as_stripe_sends_it() {
    let (_dir, network) = network();
    let kept = charge_with(&network, "pm_card_authenticationRequired", true).await;
    let payment = kept.payment().unwrap().clone();

    let event = network.pending_events(1).unwrap().remove(0);

    let json: Value = serde_json::from_str(&event.payload).unwrap();
    assert_eq!(json["id"], event.id.as_str());
    assert_eq!(json["object"], "event");
    assert_eq!(json["type"], "payment_intent.payment_failed");
    let intent = &json["data"]["object"];
    assert_eq!(intent["id"], payment.as_str());
    assert_eq!(intent["object"], "payment_intent");
    assert_eq!(intent["status"], "requires_payment_method");
    assert_eq!(intent["amount"], 2_500);
    assert_eq!(intent["currency"], "usd");
    assert_eq!(intent["client_secret"], format!("{payment}_secret_local"));
    assert_eq!(
        intent["metadata"],
        json!({"account_id": "payer-pm_card_authenticationRequired-true", "reference": "cp_123"})
    );
    assert_eq!(
        intent["last_payment_error"]["code"],
        "authentication_required"
    );
}

#[tokio::test]
async fn events_stay_until_acknowledged_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("net.redb");
    let first_run = SimulatedCardNetwork::open(&path, "http://127.0.0.1/").unwrap();
    let held = charge_with(&first_run, "pm_card_processing", false).await;
    first_run.succeed(held.payment().unwrap()).unwrap();
    drop(first_run);

    let network = SimulatedCardNetwork::open(&path, "http://127.0.0.1/").unwrap();
    let pending = network.pending_events(10).unwrap();
    assert_eq!(pending.len(), 2);
    assert_eq!(
        network.pending_events(10).unwrap(),
        pending,
        "reading removes nothing"
    );

    network.acknowledge_event(&pending[0].id).unwrap();
    network.acknowledge_event(&pending[0].id).unwrap();

    assert_eq!(network.pending_events(10).unwrap(), pending[1..]);
    assert_eq!(network.drain_events().unwrap(), pending[1..]);
    assert_eq!(network.pending_events(10).unwrap(), []);
}

#[test]
fn an_event_is_signed_as_stripe_signs_it() {
    let header = stripe_signature("whsec_local", 1_764_000_000, r#"{"id":"evt_sim1"}"#);

    let (t, v1) = header.split_once(',').unwrap();
    assert_eq!(t, "t=1764000000");
    assert_eq!(v1.len(), "v1=".len() + 64);
}
