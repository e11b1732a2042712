//! The local run of PRODUCT.md: `billing-local` as a user starts it.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{LocalServer, call};

#[tokio::test]
async fn billing_needs_a_token_and_answers_for_the_tokens_account() {
    let dir = tempfile::tempdir().unwrap();
    let server = LocalServer::start(dir.path()).await;

    let (status, body) = call(server.request(Method::GET, "/v1/billing", None)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("unauthenticated"))
    );

    let (status, body) = call(server.request(Method::GET, "/v1/billing", Some("e2e-ada"))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["account_id"], "e2e-ada");
    assert_eq!(body["card"], serde_json::Value::Null);
    server.stop().await;
}

#[tokio::test]
async fn usage_is_counted_once_and_kept_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = LocalServer::start(dir.path()).await;
    let event = json!({"id": "evt-1", "account_id": "e2e-bob", "amount_micros": 2_500_000,
                       "occurred_at": "2026-11-20T10:00:00Z", "description": "1M tokens"});
    let (status, body) = call(
        server
            .request(Method::POST, "/_local/usage", None)
            .json(&json!([event, event])),
    )
    .await;
    assert_eq!(
        (status, body),
        (200, json!({"recorded": 1, "duplicates": 1}))
    );
    server.stop().await;

    let server = LocalServer::start(dir.path()).await;
    let (_, body) = call(
        server
            .request(Method::POST, "/_local/usage", None)
            .json(&event),
    )
    .await;
    assert_eq!(body, json!({"recorded": 0, "duplicates": 1}));
    let (_, body) = call(server.request(Method::GET, "/v1/billing", Some("e2e-bob"))).await;
    assert_eq!(body["balance"]["outstanding"], 250);
    server.stop().await;
}

#[tokio::test]
async fn the_local_clock_moves_the_next_charge_date() {
    let dir = tempfile::tempdir().unwrap();
    let server = LocalServer::start(dir.path()).await;
    let (status, body) = call(
        server
            .request(Method::POST, "/_local/clock", None)
            .json(&json!({"now": "2027-02-03T03:00:00Z"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (_, body) = call(server.request(Method::GET, "/v1/billing", Some("e2e-cy"))).await;
    assert_eq!(body["next_charge_at"], "2027-03-03T03:00:00Z");
    let (_, body) = call(server.request(Method::GET, "/_local/outbox", None)).await;
    assert_eq!(body, json!([]));
    server.stop().await;
}

#[tokio::test]
async fn bad_input_gets_a_stable_code_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = LocalServer::start(dir.path()).await;
    let negative = json!({"id": "evt-neg", "account_id": "e2e-dee", "amount_micros": -5,
                          "occurred_at": "2026-11-20T10:00:00Z"});
    let (status, body) = call(
        server
            .request(Method::POST, "/_local/usage", None)
            .json(&negative),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("parameter_invalid"))
    );
    let (status, body) = call(
        server
            .request(Method::POST, "/_local/clock", None)
            .json(&json!({"now": "yesterday"})),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_request"))
    );
    let huge = "x".repeat(64 * 1024);
    let (status, body) = call(
        server
            .request(Method::POST, "/_local/usage", None)
            .header("content-type", "application/json")
            .body(huge),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (413, Some("request_too_large"))
    );
    let (_, body) = call(server.request(Method::GET, "/v1/billing", Some("e2e-dee"))).await;
    assert_eq!(body["balance"]["outstanding"], 0);
    server.stop().await;
}
