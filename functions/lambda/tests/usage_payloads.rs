//! The usage function's parser under arbitrary input (issue 13, "Bad input"). SQS hands the
//! function a body it parses first in `usage::record_usage_messages`; whatever that body is
//! (bytes, JSON of any shape, a real event with one field broken), the handler never panics,
//! acknowledges a message only once it is recorded (counted, or refused with its reason), and
//! reports every other one as failed with nothing written, so SQS brings it back and finally
//! moves it to the dead-letter queue. One bad message never holds up a good one.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use billing_embedded::EmbeddedStore;
use billing_lambda::usage::record_usage_messages;
use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap()
}

/// A usage event as metering sends it.
fn real_event(id: &str) -> Value {
    json!({
        "id": id,
        "account_id": "acct_fuzzed",
        "amount_micros": 1_000,
        "occurred_at": "2026-11-20T11:59:00Z",
        "description": "tokens",
    })
}

fn batch(bodies: &[(&str, &str)]) -> SqsEvent {
    let mut event = SqsEvent::default();
    for (id, body) in bodies {
        let mut message = SqsMessage::default();
        message.message_id = Some((*id).to_owned());
        message.body = Some((*body).to_owned());
        event.records.push(message);
    }
    event
}

fn failed(response: &SqsBatchResponse) -> Vec<&str> {
    response
        .batch_item_failures
        .iter()
        .map(|failure| failure.item_identifier.as_str())
        .collect()
}

/// Any JSON value, small.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,16}".prop_map(Value::from),
        prop::sample::select(vec![
            "2026-11-20T11:59:00Z",
            "2026-11-20T11:59:00+14:00",
            "+10000-01-01T00:00:00Z",
            "1969-12-31T23:59:59Z",
            "acct_fuzzed",
            "",
            "\u{0}",
        ])
        .prop_map(Value::from),
        prop::sample::select(vec![i64::MIN, -1, 0, 10_000_000_000, i64::MAX]).prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(".{0,8}", inner, 0..4)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// A real event with one field removed, replaced by any JSON, or one field added.
fn near_event() -> impl Strategy<Value = Value> {
    let fields = prop::sample::select(vec![
        "id",
        "account_id",
        "amount_micros",
        "occurred_at",
        "description",
        "extra",
    ]);
    (fields, prop::option::of(any_json())).prop_map(|(field, value)| {
        let mut event: Map<String, Value> = real_event("evt_near").as_object().unwrap().clone();
        match value {
            Some(value) => event.insert(field.to_owned(), value),
            None => event.remove(field),
        };
        Value::Object(event)
    })
}

/// What a message body may be: any text, any bytes read as SQS would hand them over, any
/// JSON, or a real event with one field broken.
fn any_body() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        any::<Vec<u8>>().prop_map(|bytes| String::from_utf8_lossy(&bytes).into_owned()),
        any_json().prop_map(|value| value.to_string()),
        near_event().prop_map(|value| value.to_string()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_body_is_recorded_or_reported_failed_with_nothing_written(body in any_body()) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(&dir.path().join("store.redb")).unwrap();
        let before = store.dump().unwrap();

        let alone = runtime.block_on(record_usage_messages(&store, batch(&[("fuzz", &body)]), now()));
        let written = store.dump().unwrap() != before;
        let good = real_event("evt_good").to_string();
        let beside = runtime.block_on(record_usage_messages(
            &store,
            batch(&[("fuzz", &body), ("good", &good)]),
            now(),
        ));

        let acknowledged = failed(&alone).is_empty();
        prop_assert_eq!(acknowledged, written, "acknowledged only what was recorded: {}", body);
        prop_assert_eq!(failed(&alone).len() + usize::from(acknowledged), 1);
        prop_assert_eq!(
            failed(&beside),
            if acknowledged { vec![] } else { vec!["fuzz"] },
            "the good message beside it is acknowledged, the fuzzed one as before"
        );
    }
}

#[test]
fn the_real_event_is_acknowledged_and_a_broken_one_is_not() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(&dir.path().join("store.redb")).unwrap();
    let good = real_event("evt_real").to_string();
    let broken = good.replace("1000", "\"1000\"");

    let answer = runtime.block_on(record_usage_messages(
        &store,
        batch(&[("good", &good), ("broken", &broken)]),
        now(),
    ));

    assert_eq!(failed(&answer), ["broken"]);
}
