//! Credit purchases over HTTP against `billing-local` (PRODUCT.md Behaviour 3).

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{LocalServer, call};

async fn start() -> (LocalServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    (LocalServer::start(dir.path()).await, dir)
}

async fn with_card(server: &LocalServer, account: &str, card: &str) {
    let (status, body) = call(
        server
            .request(Method::PUT, "/v1/billing/card", Some(account))
            .json(&json!({ "payment_method": card })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

fn buy(server: &LocalServer, account: &str, body: Value) -> reqwest::RequestBuilder {
    server
        .request(Method::POST, "/v1/billing/credit-purchases", Some(account))
        .json(&body)
}

fn usd(amount: i64) -> Value {
    json!({ "amount": amount, "currency": "usd" })
}

async fn credits(server: &LocalServer, account: &str) -> Value {
    let (status, body) = call(server.request(Method::GET, "/v1/billing", Some(account))).await;
    assert_eq!(status, 200, "{body}");
    body["balance"]["credits"].clone()
}

async fn receipts_to(server: &LocalServer, account: &str) -> usize {
    let (_, outbox) = call(server.request(Method::GET, "/_local/outbox", None)).await;
    let to = format!("{account}@example.com");
    outbox
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["to"] == to.as_str() && m["subject"].as_str().unwrap().starts_with("Receipt"))
        .count()
}

#[tokio::test]
async fn fifty_concurrent_purchases_for_one_account_charge_once() {
    let (server, _dir) = start().await;
    with_card(&server, "burst", "pm_card_visa").await;

    let answers = futures_join_all(
        (0..50)
            .map(|_| {
                let request = buy(&server, "burst", usd(2_500));
                async move {
                    let response = request.send().await.unwrap();
                    let retry_after = response.headers().get("retry-after").is_some();
                    let status = response.status().as_u16();
                    let body: Value = response.json().await.unwrap();
                    (status, body, retry_after)
                }
            })
            .collect(),
    )
    .await;

    let created: Vec<_> = answers.iter().filter(|(s, _, _)| *s == 201).collect();
    assert_eq!(created.len(), 1, "{answers:?}");
    assert_eq!(created[0].1["status"], "succeeded");
    for (status, body, retry_after) in answers.iter().filter(|(s, _, _)| *s != 201) {
        assert_eq!(*status, 409, "{body}");
        assert_eq!(body["error"]["code"], "purchase_in_progress");
        assert!(body["error"]["retry_after"].as_u64().unwrap() >= 1);
        assert!(retry_after);
    }
    assert_eq!(credits(&server, "burst").await, 2_500);
    assert_eq!(receipts_to(&server, "burst").await, 1);
}

/// Runs the futures concurrently on the test's runtime.
async fn futures_join_all<
    F: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
>(
    futures: Vec<F>,
) -> Vec<T> {
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}

#[tokio::test]
async fn a_client_retrying_with_its_key_gets_the_first_answer_and_one_charge() {
    let (server, _dir) = start().await;
    with_card(&server, "keyed", "pm_card_visa").await;
    let keyed = |body: Value| buy(&server, "keyed", body).header("Idempotency-Key", "order-42");

    let (first_status, first) = call(keyed(usd(2_500))).await;
    let (again_status, again) = call(keyed(usd(2_500))).await;
    let (other_status, other) = call(keyed(usd(3_000))).await;

    assert_eq!((first_status, again_status), (201, 201), "{first} {again}");
    assert_eq!(again, first);
    assert_eq!(other_status, 400);
    assert_eq!(other["error"]["code"], "idempotency_key_reused");
    assert_eq!(credits(&server, "keyed").await, 2_500);
    let (status, read) = call(server.request(
        Method::GET,
        &format!(
            "/v1/billing/credit-purchases/{}",
            first["id"].as_str().unwrap()
        ),
        Some("keyed"),
    ))
    .await;
    assert_eq!((status, read), (200, first.clone()));
    let (status, body) = call(server.request(
        Method::GET,
        &format!(
            "/v1/billing/credit-purchases/{}",
            first["id"].as_str().unwrap()
        ),
        Some("someone-else"),
    ))
    .await;
    assert_eq!((status, &body["error"]["code"]), (404, &json!("not_found")));
}

#[tokio::test]
async fn bad_amounts_currencies_and_no_card_are_refused_with_their_codes() {
    let (server, _dir) = start().await;
    let (status, body) = call(buy(&server, "no-card", usd(2_500))).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (409, &json!("card_required"))
    );
    with_card(&server, "amounts", "pm_card_visa").await;
    let cases = [
        (
            json!({"amount": 10.5, "currency": "usd"}),
            400,
            "parameter_invalid",
        ),
        (
            json!({"amount": "2500", "currency": "usd"}),
            400,
            "parameter_invalid",
        ),
        (
            json!({"amount": null, "currency": "usd"}),
            400,
            "parameter_invalid",
        ),
        (json!({"currency": "usd"}), 400, "parameter_missing"),
        (
            json!({"amount": -500, "currency": "usd"}),
            400,
            "amount_too_small",
        ),
        (
            json!({"amount": 499, "currency": "usd"}),
            400,
            "amount_too_small",
        ),
        (
            json!({"amount": 1_000_001, "currency": "usd"}),
            400,
            "amount_too_large",
        ),
        (
            json!({"amount": 2500, "currency": "eur"}),
            400,
            "currency_not_supported",
        ),
        (
            json!({"amount": 2500, "currency": "usd", "x": 1}),
            400,
            "parameter_unknown",
        ),
    ];
    for (body, expected_status, code) in cases {
        let (status, answer) = call(buy(&server, "amounts", body.clone())).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (expected_status, Some(code)),
            "{body}"
        );
    }
    assert_eq!(credits(&server, "amounts").await, 0);
}

#[tokio::test]
async fn a_body_naming_a_key_twice_is_refused_whichever_value_would_be_read() {
    let (server, _dir) = start().await;
    with_card(&server, "twice", "pm_card_visa").await;
    let bodies = [
        (
            r#"{"amount": 500, "amount": 1000000, "currency": "usd"}"#,
            "amount",
        ),
        (
            r#"{"amount": 1000000, "currency": "usd", "amount": 500}"#,
            "amount",
        ),
        (
            r#"{"amount": 500, "currency": "eur", "currency": "usd"}"#,
            "currency",
        ),
    ];

    for (body, param) in bodies {
        let (status, answer) = call(
            server
                .request(Method::POST, "/v1/billing/credit-purchases", Some("twice"))
                .header("content-type", "application/json")
                .body(body),
        )
        .await;

        assert_eq!(
            (status, &answer["error"]["code"], &answer["error"]["param"]),
            (400, &json!("parameter_invalid"), &json!(param)),
            "{body}: {answer}"
        );
    }
    assert_eq!(credits(&server, "twice").await, 0);
}

#[tokio::test]
async fn a_declined_purchase_answers_402_and_never_blocks_the_next() {
    let (server, _dir) = start().await;
    with_card(&server, "declined", "pm_card_chargeCustomerFail").await;

    let (status, body) = call(buy(&server, "declined", usd(2_500))).await;
    let (next_status, next) = call(buy(&server, "declined", usd(2_500))).await;

    assert_eq!(status, 402, "{body}");
    assert_eq!(body["error"]["code"], "card_declined");
    assert!(body["error"]["decline_code"].is_string());
    assert_eq!(next_status, 402, "{next}");
    assert_eq!(credits(&server, "declined").await, 0);
}

#[tokio::test]
async fn an_abandoned_authentication_is_failed_by_the_sweep_after_fifteen_minutes() {
    let (server, _dir) = start().await;
    with_card(&server, "abandon", "pm_card_authenticationRequired").await;
    let (status, waiting) = call(buy(&server, "abandon", usd(2_500))).await;
    assert_eq!(status, 201, "{waiting}");
    assert_eq!(waiting["status"], "requires_action");
    assert!(waiting["next_action"]["client_secret"].is_string());
    assert!(
        waiting["next_action"]["url"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1")
    );
    let (_, overview) = call(server.request(Method::GET, "/v1/billing", Some("abandon"))).await;
    assert_eq!(overview["purchase_in_flight"], true);
    let scheduled = json!({"detail-type": "Scheduled Event", "source": "aws.events", "time": "2026-11-28T10:00:00Z"});

    let (_, early) = call(
        server
            .request(Method::POST, "/_local/events/sweep", None)
            .json(&scheduled),
    )
    .await;
    let (_, clock) = call(server.request(Method::GET, "/_local/clock", None)).await;
    let later = chrono::DateTime::parse_from_rfc3339(clock["now"].as_str().unwrap()).unwrap()
        + chrono::Duration::minutes(16);
    call(
        server
            .request(Method::POST, "/_local/clock", None)
            .json(&json!({"now": later.to_rfc3339()})),
    )
    .await;
    let (status, swept) = call(
        server
            .request(Method::POST, "/_local/events/sweep", None)
            .json(&scheduled),
    )
    .await;

    assert_eq!(early["purchases"]["visited"], 0, "{early}");
    assert_eq!(status, 200, "{swept}");
    assert_eq!(swept["purchases"]["failed"], 1, "{swept}");
    let path = format!(
        "/v1/billing/credit-purchases/{}",
        waiting["id"].as_str().unwrap()
    );
    let (_, failed) = call(server.request(Method::GET, &path, Some("abandon"))).await;
    assert_eq!(failed["status"], "failed");
    assert_eq!(credits(&server, "abandon").await, 0);
}

#[tokio::test]
async fn a_webhook_without_a_valid_signature_is_refused() {
    let (server, _dir) = start().await;
    let payload = json!({"id": "evt_x", "object": "event", "type": "payment_intent.succeeded", "created": 1, "data": {"object": {}}});
    for signature in [None, Some("t=1,v1=00"), Some("garbage")] {
        let mut request = server
            .request(Method::POST, "/v1/webhooks/stripe", None)
            .json(&payload);
        if let Some(signature) = signature {
            request = request.header("stripe-signature", signature);
        }
        let (status, body) = call(request).await;
        assert_eq!(
            (status, &body["error"]["code"]),
            (400, &json!("invalid_signature")),
            "{signature:?}"
        );
    }
}

#[tokio::test]
async fn a_purchase_that_succeeded_is_not_shown_in_flight() {
    let (server, _dir) = start().await;
    with_card(&server, "settled", "pm_card_visa").await;

    let (status, purchase) = call(buy(&server, "settled", usd(1_000))).await;
    let (_, billing) = call(server.request(Method::GET, "/v1/billing", Some("settled"))).await;

    assert_eq!((status, &purchase["status"]), (201, &json!("succeeded")));
    assert_eq!(billing["purchase_in_flight"], false, "{billing}");
    assert_eq!(billing["balance"]["credits"], 1_000, "{billing}");
}
