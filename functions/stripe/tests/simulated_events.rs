//! The simulated card network's events read as Stripe's: each event's PaymentIntent parses
//! with async-stripe's own type and maps to the outcome the simulator reported, and the
//! webhook parser (`billing_stripe::webhook::parse_event`) reads every event, the card
//! updater's included, as it reads Stripe's, so the webhook works locally unchanged.

use billing_core::domain::event::{NetworkEventKind, UpdatedCard};
use billing_core::domain::money::{Cents, Currency};
use billing_core::ports::gateway::{ChargeOutcome, ChargeRequest, PaymentGateway};
use billing_core::{AccountId, PaymentMethodId};
use billing_embedded::SimulatedCardNetwork;
use billing_stripe::mapping;
use billing_stripe::objects::{PaymentIntent, PaymentMethod};
use billing_stripe::webhook::parse_event;

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
        let _: stripe_shared::PaymentIntent =
            miniserde::json::from_str(&object).unwrap_or_else(|_| {
                panic!("{} does not parse as a PaymentIntent: {object}", event.kind)
            });
        let intent: PaymentIntent = serde_json::from_str(&object).unwrap();
        assert_eq!(
            mapping::charge_outcome(&intent).unwrap(),
            as_stripe_reports(outcome.clone()),
            "{}",
            event.kind
        );
        let parsed = parse_event(event.payload.as_bytes()).unwrap();
        assert_eq!(parsed.id, event.id);
        let NetworkEventKind::Payment {
            account,
            reference,
            outcome: read,
        } = parsed.kind
        else {
            panic!("{} is not read as a payment event", event.kind)
        };
        assert!(account.is_some_and(|a| a.as_str().starts_with("events-")));
        assert_eq!(reference.as_deref(), Some("cp_events"));
        assert_eq!(read, as_stripe_reports(outcome), "{}", event.kind);
    }
}

#[tokio::test]
async fn the_card_updaters_event_parses_as_a_stripe_payment_method_with_the_new_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let network =
        SimulatedCardNetwork::open(&dir.path().join("net.redb"), "http://127.0.0.1/").unwrap();
    let account = AccountId::parse("events-card-updater").unwrap();
    let customer = network.create_customer(&account, None).await.unwrap();
    let card = network
        .attach(
            &PaymentMethodId::parse("pm_card_mastercard").unwrap(),
            &customer,
        )
        .await
        .unwrap();

    let event = network.update_card_expiry(&card.id, 7, 2031).unwrap();

    let json: serde_json::Value = serde_json::from_str(&event.payload).unwrap();
    let object = json["data"]["object"].to_string();
    let _: stripe_shared::PaymentMethod = miniserde::json::from_str(&object)
        .unwrap_or_else(|_| panic!("does not parse as a PaymentMethod: {object}"));
    let method: PaymentMethod = serde_json::from_str(&object).unwrap();
    let read = mapping::payment_method(&method).unwrap();
    assert_eq!(read, network.payment_method(&card.id).await.unwrap());
    assert_eq!((read.card.exp_month, read.card.exp_year), (7, 2031));
    assert_eq!(
        parse_event(event.payload.as_bytes()).unwrap().kind,
        NetworkEventKind::CardUpdated {
            customer: Some(customer),
            payment_method: card.id,
            card: UpdatedCard {
                brand: "mastercard".into(),
                last4: "4444".into(),
                exp_month: 7,
                exp_year: 2031,
            },
        }
    );
}
