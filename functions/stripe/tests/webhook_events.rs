//! Stripe's event JSON read as `NetworkEvent`s: each PaymentIntent fixture (real Stripe
//! responses) sent as an event gives the outcome `charge_status` gives for it; the card
//! updater's event; every other type ignored; anything that is not an event refused; and no
//! input, however broken or large, makes the parser panic.

use billing_core::domain::event::{NetworkEvent, NetworkEventKind, UpdatedCard};
use billing_core::{AccountId, CustomerId, PaymentMethodId};
use billing_stripe::mapping;
use billing_stripe::objects::PaymentIntent;
use billing_stripe::webhook::{EventError, parse_event};
use chrono::DateTime;
use proptest::prelude::*;
use serde_json::{Value, json};

fn fixture_text(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// An event as Stripe posts it, around `object`.
fn event(event_type: &str, object: Value) -> String {
    json!({
        "id": "evt_1QxWebhookTest0001",
        "object": "event",
        "api_version": "2026-09-30.endive",
        "created": 1_795_600_200,
        "data": {"object": object},
        "livemode": false,
        "pending_webhooks": 1,
        "request": {"id": "req_1", "idempotency_key": "purchase-1"},
        "type": event_type,
    })
    .to_string()
}

fn intent_event(event_type: &str, fixture: &str) -> String {
    event(
        event_type,
        serde_json::from_str(&fixture_text(fixture)).unwrap(),
    )
}

fn parse(payload: &str) -> Result<NetworkEvent, EventError> {
    parse_event(payload.as_bytes())
}

#[test]
fn a_payment_event_reads_as_charge_status_reads_the_same_payment_intent() {
    for (event_type, fixture) in [
        ("payment_intent.succeeded", "payment_intent_succeeded"),
        ("payment_intent.processing", "payment_intent_processing"),
        ("payment_intent.payment_failed", "payment_intent_declined"),
        (
            "payment_intent.payment_failed",
            "payment_intent_authentication_required",
        ),
        (
            "payment_intent.requires_action",
            "payment_intent_requires_action_redirect",
        ),
        (
            "payment_intent.requires_action",
            "payment_intent_requires_action_sdk",
        ),
        ("payment_intent.canceled", "payment_intent_canceled"),
    ] {
        let text = fixture_text(fixture);
        // A PaymentIntent as real Stripe sends it (async-stripe's full type parses it) …
        let _: stripe_shared::PaymentIntent = miniserde::json::from_str(&text).unwrap();
        // … read as the gateway reads an API answer.
        let intent: PaymentIntent = serde_json::from_str(&text).unwrap();

        let parsed = parse(&intent_event(event_type, fixture)).unwrap();

        assert_eq!(
            parsed.kind,
            NetworkEventKind::Payment {
                account: Some(AccountId::parse("acct-42").unwrap()),
                reference: Some("cp_123".into()),
                outcome: mapping::charge_outcome(&intent).unwrap(),
            },
            "{fixture}"
        );
    }
}

#[test]
fn the_event_keeps_its_id_and_creation_time() {
    let parsed = parse(&intent_event(
        "payment_intent.succeeded",
        "payment_intent_succeeded",
    ))
    .unwrap();

    assert_eq!(parsed.id, "evt_1QxWebhookTest0001");
    assert_eq!(
        parsed.created,
        DateTime::from_timestamp(1_795_600_200, 0).unwrap()
    );
}

#[test]
fn a_payment_this_system_did_not_make_has_no_account_or_reference() {
    let mut intent: Value =
        serde_json::from_str(&fixture_text("payment_intent_succeeded")).unwrap();
    for metadata in [
        json!({}),
        Value::Null,
        json!({"account_id": "", "reference": "", "order": "42"}),
        json!({"account_id": "not an account id!"}),
    ] {
        intent["metadata"] = metadata.clone();

        let parsed = parse(&event("payment_intent.succeeded", intent.clone())).unwrap();

        let NetworkEventKind::Payment {
            account, reference, ..
        } = parsed.kind
        else {
            panic!("{metadata}: not a payment event")
        };
        assert_eq!((account, reference), (None, None), "{metadata}");
    }
}

#[test]
fn the_status_decides_the_outcome_not_the_event_type() {
    // Events are delivered late and out of order; the object is the state when sent.
    let parsed = parse(&intent_event(
        "payment_intent.processing",
        "payment_intent_succeeded",
    ))
    .unwrap();

    let NetworkEventKind::Payment { outcome, .. } = parsed.kind else {
        panic!("not a payment event")
    };
    assert!(outcome.is_final(), "{outcome:?}");
}

#[test]
fn a_status_stripe_adds_later_is_not_final() {
    let mut intent: Value =
        serde_json::from_str(&fixture_text("payment_intent_succeeded")).unwrap();
    intent["status"] = json!("requires_reauthorization");

    let parsed = parse(&event("payment_intent.processing", intent)).unwrap();

    let NetworkEventKind::Payment { outcome, .. } = parsed.kind else {
        panic!("not a payment event")
    };
    assert!(!outcome.is_final(), "{outcome:?}");
}

#[test]
fn the_card_updaters_event_reads_as_the_cards_new_details() {
    let parsed = parse(&fixture_text("event_payment_method_automatically_updated")).unwrap();

    assert_eq!(parsed.id, "evt_1QxCardUpdated00001");
    assert_eq!(
        parsed.kind,
        NetworkEventKind::CardUpdated {
            customer: Some(CustomerId::parse("cus_RealStripe00001").unwrap()),
            payment_method: PaymentMethodId::parse("pm_1QxVisaAttached0001").unwrap(),
            card: UpdatedCard {
                brand: "visa".into(),
                last4: "4242".into(),
                exp_month: 11,
                exp_year: 2031,
            },
        }
    );
}

#[test]
fn an_expanded_customer_on_a_card_event_is_read_by_its_id() {
    let mut payload: Value =
        serde_json::from_str(&fixture_text("event_payment_method_automatically_updated")).unwrap();
    payload["data"]["object"]["customer"] =
        json!({"id": "cus_RealStripe00001", "object": "customer", "email": null});

    let parsed = parse(&payload.to_string()).unwrap();

    let NetworkEventKind::CardUpdated { customer, .. } = parsed.kind else {
        panic!("not a card event")
    };
    assert_eq!(customer.unwrap().as_str(), "cus_RealStripe00001");
}

#[test]
fn every_other_event_type_is_ignored_whatever_its_object() {
    for event_type in [
        "payment_intent.created",
        "payment_intent.amount_capturable_updated",
        "charge.succeeded",
        "customer.created",
        "payment_method.attached",
        "invoice.paid",
        "a.type.stripe.adds.tomorrow",
    ] {
        let parsed = parse(&event(event_type, json!({"id": "x", "anything": [1, 2]}))).unwrap();

        assert_eq!(
            parsed.kind,
            NetworkEventKind::Ignored {
                event_type: event_type.into()
            }
        );
    }
}

#[test]
fn what_is_not_an_event_is_refused() {
    let intent = fixture_text("payment_intent_succeeded");
    let mut no_object: Value = serde_json::from_str(&event("customer.created", json!({}))).unwrap();
    no_object["data"] = json!({});
    let mut not_event: Value = serde_json::from_str(&event("customer.created", json!({}))).unwrap();
    not_event["object"] = json!("payment_intent");
    let mut text_created: Value =
        serde_json::from_str(&event("customer.created", json!({}))).unwrap();
    text_created["created"] = json!("yesterday");
    let mut empty_id: Value = serde_json::from_str(&event("customer.created", json!({}))).unwrap();
    empty_id["id"] = json!("");
    let mut long_id: Value = serde_json::from_str(&event("customer.created", json!({}))).unwrap();
    long_id["id"] = json!(format!("evt_{}", "a".repeat(300)));
    let mut far_created: Value =
        serde_json::from_str(&event("customer.created", json!({}))).unwrap();
    far_created["created"] = json!(i64::MAX);
    // 10000-01-01T00:00:00Z and -0001-12-31T23:59:59Z: chrono holds them, RFC 3339 cannot.
    let mut year_10000: Value =
        serde_json::from_str(&event("customer.created", json!({}))).unwrap();
    year_10000["created"] = json!(253_402_300_800_i64);
    let mut year_minus_1: Value =
        serde_json::from_str(&event("customer.created", json!({}))).unwrap();
    year_minus_1["created"] = json!(-62_167_219_201_i64);

    for payload in [
        String::new(),
        "not json".into(),
        "[]".into(),
        "{}".into(),
        "null".into(),
        r#""evt_1""#.into(),
        intent,
        no_object.to_string(),
        not_event.to_string(),
        text_created.to_string(),
        empty_id.to_string(),
        long_id.to_string(),
        far_created.to_string(),
        year_10000.to_string(),
        year_minus_1.to_string(),
    ] {
        let result = parse(&payload);

        assert!(
            matches!(result, Err(EventError::NotAnEvent { .. })),
            "{payload:.80}: {result:?}"
        );
    }
}

#[test]
fn a_handled_event_whose_object_is_unusable_names_the_event() {
    let no_secret = intent_event(
        "payment_intent.requires_action",
        "payment_intent_requires_action_without_secret",
    );
    let mut not_a_card: Value =
        serde_json::from_str(&fixture_text("event_payment_method_automatically_updated")).unwrap();
    not_a_card["data"]["object"]["card"] = Value::Null;
    let mut bad_month = not_a_card.clone();
    bad_month["data"]["object"]["card"] =
        json!({"brand": "visa", "last4": "4242", "exp_month": 13, "exp_year": 2031});
    let no_status = event("payment_intent.succeeded", json!({"id": "pi_1"}));

    for payload in [
        no_secret,
        not_a_card.to_string(),
        bad_month.to_string(),
        no_status,
    ] {
        let result = parse(&payload);

        assert!(
            matches!(&result, Err(EventError::UnusableObject { id, .. }) if id.starts_with("evt_1Qx")),
            "{payload:.80}: {result:?}"
        );
    }
}

#[test]
fn an_error_never_quotes_the_body() {
    let mut intent: Value =
        serde_json::from_str(&fixture_text("payment_intent_succeeded")).unwrap();
    intent["status"] = json!({"email": "someone@example.com"});
    let payloads = [
        event("payment_intent.succeeded", intent),
        r#"{"id": "someone@example.com", "created": "someone@example.com"}"#.into(),
    ];

    for payload in payloads {
        let message = parse(&payload).unwrap_err().to_string();

        assert!(!message.contains("someone@example.com"), "{message}");
    }
}

#[test]
fn a_payload_of_a_megabyte_parses() {
    let mut intent: Value =
        serde_json::from_str(&fixture_text("payment_intent_succeeded")).unwrap();
    intent["description"] = json!("x".repeat(512 * 1024));
    intent["metadata"]["padding"] = json!("y".repeat(500 * 1024));
    let payload = event("payment_intent.succeeded", intent);
    assert!(payload.len() > 1_000_000, "{}", payload.len());

    let parsed = parse(&payload).unwrap();

    assert!(matches!(parsed.kind, NetworkEventKind::Payment { .. }));
}

#[test]
fn deeply_nested_json_never_overflows_the_stack() {
    let deep = format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000));
    let ignored = format!(r#"{{"id":"evt_1","created":1,"type":"x","data":{{"object":{deep}}}}}"#);
    let in_an_unread_field = format!(
        r#"{{"id":"evt_1","created":1,"type":"payment_intent.succeeded",
            "data":{{"object":{{"id":"pi_1","status":"succeeded","extra":{deep}}}}}}}"#
    );
    let as_the_status = format!(
        r#"{{"id":"evt_1","created":1,"type":"payment_intent.succeeded",
            "data":{{"object":{{"id":"pi_1","status":{deep}}}}}}}"#
    );

    let ignored = parse(&ignored).unwrap();
    let payment = parse(&in_an_unread_field).unwrap();
    let refused = parse(&as_the_status);

    assert_eq!(
        ignored.kind,
        NetworkEventKind::Ignored {
            event_type: "x".into()
        }
    );
    assert!(matches!(payment.kind, NetworkEventKind::Payment { .. }));
    assert!(
        matches!(refused, Err(EventError::UnusableObject { .. })),
        "{refused:?}"
    );
}

/// Any JSON value, up to a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
        prop::sample::select(vec![
            "payment_intent.succeeded",
            "payment_method.automatically_updated",
            "requires_action",
            "succeeded",
            "evt_1",
            "pi_1",
            "card",
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "id",
                    "object",
                    "created",
                    "type",
                    "data",
                    "status",
                    "card",
                    "customer",
                    "metadata",
                    "client_secret",
                    "next_action",
                    "last_payment_error",
                    "exp_month",
                    "exp_year",
                    "brand",
                    "last4",
                    "redirect_to_url",
                    "url",
                ])
                .prop_map(str::to_owned),
                inner,
                0..8,
            )
            .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// The real payloads the mutation test starts from.
fn real_payloads() -> Vec<String> {
    vec![
        intent_event("payment_intent.succeeded", "payment_intent_succeeded"),
        intent_event("payment_intent.payment_failed", "payment_intent_declined"),
        intent_event(
            "payment_intent.requires_action",
            "payment_intent_requires_action_redirect",
        ),
        fixture_text("event_payment_method_automatically_updated"),
    ]
}

proptest! {
    #[test]
    fn any_bytes_are_answered_without_panicking(payload in any::<Vec<u8>>()) {
        let _ = parse_event(&payload);
    }

    #[test]
    fn any_json_is_answered_without_panicking(value in any_json()) {
        let _ = parse_event(value.to_string().as_bytes());
    }

    #[test]
    fn any_json_object_in_an_event_is_answered_without_panicking(
        object in any_json(),
        event_type in prop::sample::select(vec![
            "payment_intent.succeeded",
            "payment_intent.requires_action",
            "payment_intent.payment_failed",
            "payment_method.automatically_updated",
            "customer.created",
        ]),
    ) {
        let result = parse(&event(event_type, object));

        prop_assert!(!matches!(result, Err(EventError::NotAnEvent { .. })), "{result:?}");
    }

    #[test]
    fn mutated_real_payloads_are_answered_without_panicking(
        which in 0usize..4,
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..8),
    ) {
        let mut payload = real_payloads().swap_remove(which).into_bytes();
        for (index, byte, how) in edits {
            let at = index.index(payload.len());
            match how {
                0 => payload[at] = byte,
                1 => payload.insert(at, byte),
                _ => payload.truncate(at),
            }
            if payload.is_empty() {
                break;
            }
        }

        let _ = parse_event(&payload);
    }
}
