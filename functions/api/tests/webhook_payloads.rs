//! `POST /v1/webhooks/stripe` under arbitrary signed bodies (issue 13, "Bad input"). The body
//! is parsed first by `billing_stripe::webhook::parse_event` (itself property-tested in
//! functions/stripe/tests/webhook_events.rs); here the whole route runs on the embedded
//! adapters: whatever a correctly signed body holds (bytes, any JSON, a real event with one
//! field broken), the answer is 200 or `400 invalid_request`, never a 5xx or a panic, and a
//! refused body writes nothing.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use billing_api::clock::SystemClock;
use billing_api::links::{LinkSigner, SignedLinks};
use billing_api::state::{Services, WebhookState};
use billing_api::{webhook_router, with_fallbacks};
use billing_embedded::{
    EmbeddedStore, LocalClock, OutboxMailer, SimulatedCardNetwork, stripe_signature,
};
use http_body_util::BodyExt;
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use tower::ServiceExt;

const SECRET: &str = "whsec_payloads";

struct Endpoint {
    _dir: tempfile::TempDir,
    store: EmbeddedStore,
    router: Router,
}

fn endpoint() -> Endpoint {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(&dir.path().join("billing.redb")).unwrap();
    let network =
        SimulatedCardNetwork::open(&dir.path().join("net.redb"), "http://127.0.0.1/").unwrap();
    let clock = Arc::new(LocalClock::default());
    let state = WebhookState {
        services: Services {
            store: Arc::new(store.clone()),
            gateway: Arc::new(network),
            clock: Arc::new(SystemClock),
        },
        mailer: Arc::new(OutboxMailer::open(&dir.path().join("outbox"), clock).unwrap()),
        links: Arc::new(SignedLinks {
            signer: LinkSigner::new(b"payloads"),
            base: "http://127.0.0.1".into(),
        }),
        secrets: vec![SECRET.to_owned()],
    };
    Endpoint {
        router: with_fallbacks(webhook_router(Arc::new(state))),
        store,
        _dir: dir,
    }
}

/// Posts `body`, signed now with the endpoint's secret: status and JSON answer.
async fn post_signed(router: &Router, body: &[u8]) -> (u16, Value) {
    let signed = String::from_utf8_lossy(body);
    // The signature covers the bytes sent; bodies that are not UTF-8 are sent as their lossy
    // text, which is what gets signed.
    let signature = stripe_signature(SECRET, chrono::Utc::now().timestamp(), &signed);
    let request = Request::post("/v1/webhooks/stripe")
        .header("content-type", "application/json")
        .header("stripe-signature", signature)
        .body(Body::from(signed.into_owned()))
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// A `payment_intent.*` event as Stripe posts it, about a payment of an account of ours.
fn real_event() -> Value {
    json!({
        "id": "evt_payloads", "object": "event", "created": 1_795_600_200,
        "type": "payment_intent.succeeded", "livemode": false, "pending_webhooks": 1,
        "data": {"object": {
            "id": "pi_payloads", "object": "payment_intent", "status": "succeeded",
            "amount": 2_500, "currency": "usd", "client_secret": "pi_payloads_secret_x",
            "metadata": {"account_id": "acct_payloads", "reference": "cp_payloads"},
        }},
    })
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
        prop::sample::select(vec![
            "payment_intent.succeeded",
            "payment_intent.payment_failed",
            "payment_method.automatically_updated",
            "succeeded",
            "requires_action",
            "acct_payloads",
            "cp_payloads",
            "in_payloads",
            "pm_card_visa",
        ])
        .prop_map(Value::from),
        prop::sample::select(vec![i64::MIN, -1, 0, 253_402_300_800, i64::MAX])
            .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(".{0,8}", inner, 0..4)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// The real event with one field of the envelope or of the PaymentIntent removed or replaced.
fn near_event() -> impl Strategy<Value = Value> {
    let fields = prop::sample::select(vec![
        "id",
        "object",
        "created",
        "type",
        "data",
        "status",
        "metadata",
        "client_secret",
        "next_action",
        "last_payment_error",
        "customer",
        "card",
    ]);
    (fields, prop::option::of(any_json())).prop_map(|(field, value)| {
        let mut event = real_event();
        let target: &mut Map<String, Value> =
            if ["id", "object", "created", "type", "data"].contains(&field) {
                event.as_object_mut().unwrap()
            } else {
                event["data"]["object"].as_object_mut().unwrap()
            };
        match value {
            Some(value) => target.insert(field.to_owned(), value),
            None => target.remove(field),
        };
        event
    })
}

fn any_body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        any::<Vec<u8>>(),
        any_json().prop_map(|value| value.to_string().into_bytes()),
        near_event().prop_map(|value| value.to_string().into_bytes()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_signed_body_of_any_shape_is_200_or_400_and_a_refused_one_writes_nothing(body in any_body()) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let endpoint = endpoint();
        let before = endpoint.store.dump().unwrap();

        let (status, answer) = runtime.block_on(post_signed(&endpoint.router, &body));

        match status {
            200 => prop_assert_eq!(&answer["received"], &json!(true)),
            400 => {
                prop_assert_eq!(&answer["error"]["code"], &json!("invalid_request"), "{}", answer);
                prop_assert_eq!(endpoint.store.dump().unwrap(), before, "a refused body wrote");
            }
            other => prop_assert!(false, "{} {}", other, answer),
        }
    }
}

#[tokio::test]
async fn the_real_event_is_received_and_one_without_its_type_is_refused() {
    let endpoint = endpoint();
    let mut broken = real_event();
    broken.as_object_mut().unwrap().remove("type");

    let (received, _) = post_signed(&endpoint.router, real_event().to_string().as_bytes()).await;
    let (refused, answer) = post_signed(&endpoint.router, broken.to_string().as_bytes()).await;

    assert_eq!((received, refused), (200, 400), "{answer}");
}
