//! The simulated card network's events read as Stripe's: each event's PaymentIntent parses
//! with async-stripe's own type and maps to the outcome the simulator reported, so a webhook
//! handler written against Stripe works locally unchanged.

use billing_core::domain::money::{Cents, Currency};
use billing_core::ports::gateway::{ChargeOutcome, ChargeRequest, PaymentGateway};
use billing_core::{AccountId, PaymentMethodId};
use billing_embedded::SimulatedCardNetwork;
use billing_stripe::mapping;
use stripe_shared::PaymentIntent;

async fn charge(network: &SimulatedCardNetwork, card: &str, off_session: bool) -> ChargeOutcome {
    let account = AccountId::parse(&format!("events-{card}-{off_session}")).unwrap();
    let customer = network.create_customer(&account, None).await.unwrap();
    let attached = network
        .attach(&PaymentMethodId::parse(card).unwrap(), &customer)
        .await
        .unwrap();
    network
        .charge(&ChargeRequest {
            customer,
            payment_method: attached.id,
            amount: Cents::new(1_234),
            currency: Currency::Usd,
            idempotency_key: format!("events-{card}-{off_session}"),
            off_session,
            description: "Credits".into(),
            account,
            reference: "cp_events".into(),
        })
        .await
        .unwrap()
}

/// The outcome as Stripe would tell it: the simulator's local bank page is not a Stripe
/// field, so the off-session `url` is not in the event.
fn as_stripe_reports(outcome: ChargeOutcome) -> ChargeOutcome {
    match outcome {
        ChargeOutcome::AuthenticationRequired {
            payment,
            client_secret,
            ..
        } => ChargeOutcome::AuthenticationRequired {
            payment,
            client_secret,
            url: None,
        },
        other => other,
    }
}

#[tokio::test]
async fn every_simulated_event_parses_as_a_stripe_payment_intent_with_the_same_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let network =
        SimulatedCardNetwork::open(&dir.path().join("net.redb"), "http://127.0.0.1/").unwrap();
    let mut reported = vec![
        charge(&network, "pm_card_visa", false).await,
        charge(&network, "pm_card_chargeCustomerFail", true).await,
        charge(&network, "pm_card_authenticationRequired", false).await,
        charge(&network, "pm_card_authenticationRequired", true).await,
        charge(&network, "pm_card_processing", false).await,
    ];
    let waiting_on_session = reported[2].payment().unwrap().clone();
    let kept_off_session = reported[3].payment().unwrap().clone();
    let processing = reported[4].payment().unwrap().clone();
    reported.push(network.approve(&waiting_on_session).unwrap());
    reported.push(network.cancel_payment(&kept_off_session).await.unwrap());
    reported.push(network.fail(&processing, "expired_card").unwrap());

    let events = network.drain_events().unwrap();

    assert_eq!(events.len(), reported.len());
    for (event, outcome) in events.iter().zip(reported) {
        let json: serde_json::Value = serde_json::from_str(&event.payload).unwrap();
        let object = json["data"]["object"].to_string();
        let intent: PaymentIntent = miniserde::json::from_str(&object).unwrap_or_else(|_| {
            panic!("{} does not parse as a PaymentIntent: {object}", event.kind)
        });
        assert_eq!(
            mapping::charge_outcome(&intent).unwrap(),
            as_stripe_reports(outcome),
            "{}",
            event.kind
        );
    }
}
