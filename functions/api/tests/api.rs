//! The routers, driven with `oneshot` over the embedded adapters.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use billing_api::jwt::{Claims, sign};
use billing_api::state::Services;
use billing_api::{AppState, AuthMode, AuthorizerClaims, billing_router, finish};
use billing_core::usecases::usage::{UsageEvent, record_usage};
use billing_core::{AccountId, UsageEventId};
use billing_embedded::{EmbeddedStore, LocalClock, SimulatedCardNetwork};
use chrono::{DateTime, Utc};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

const SECRET: &str = "test-secret";

struct TestApp {
    state: Arc<AppState>,
    _dir: tempfile::TempDir,
}

fn app(auth: AuthMode) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(LocalClock::default());
    clock.set(
        DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc),
    );
    let services = Services {
        store: Arc::new(EmbeddedStore::open(&dir.path().join("billing.redb")).unwrap()),
        gateway: Arc::new(
            SimulatedCardNetwork::open(&dir.path().join("net.redb"), "http://127.0.0.1:3000/")
                .unwrap(),
        ),
        clock,
    };
    let state = Arc::new(AppState::new(services, auth));
    TestApp { state, _dir: dir }
}

impl TestApp {
    fn router(&self) -> Router {
        finish(billing_router(), self.state.clone())
    }
}

fn token(sub: &str) -> String {
    sign(
        &Claims {
            sub: sub.into(),
            email: Some("ada@example.com".into()),
            exp: None,
        },
        SECRET.as_bytes(),
    )
}

async fn send(router: Router, request: Request<Body>) -> (StatusCode, Value) {
    let response = router.oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn get(path: &str, bearer: Option<&str>) -> Request<Body> {
    let mut builder = Request::get(path);
    if let Some(token) = bearer {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    builder.body(Body::empty()).unwrap()
}

fn local() -> TestApp {
    app(AuthMode::local(SECRET).unwrap())
}

#[tokio::test]
async fn billing_without_a_token_is_unauthenticated() {
    let (status, body) = send(local().router(), get("/v1/billing", None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "unauthenticated");
    assert_eq!(body["error"]["type"], "authentication_error");
}

#[tokio::test]
async fn a_token_signed_with_another_secret_is_unauthenticated() {
    let forged = sign(
        &Claims {
            sub: "acct_1".into(),
            email: None,
            exp: None,
        },
        b"guess",
    );
    let (status, _) = send(local().router(), get("/v1/billing", Some(&forged))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_new_account_has_no_card_no_balance_and_a_next_charge_date() {
    let (status, body) = send(
        local().router(),
        get("/v1/billing", Some(&token("acct_new"))),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["account_id"], "acct_new");
    assert_eq!(body["status"], "active");
    assert_eq!(body["card"], Value::Null);
    assert_eq!(
        body["balance"],
        serde_json::json!({"credits": 0, "outstanding": 0, "currency": "usd"})
    );
    assert_eq!(body["next_charge_at"], "2026-12-03T03:00:00Z");
    assert_eq!(body["purchase_in_flight"], false);
}

#[tokio::test]
async fn recorded_usage_shows_as_outstanding_and_counts_once() {
    let app = local();
    let event = UsageEvent {
        id: UsageEventId::parse("evt_1").unwrap(),
        account_id: AccountId::parse("acct_usage").unwrap(),
        amount_micros: 12_345_678,
        occurred_at: app.state.clock.now(),
        description: "tokens".into(),
    };
    for _ in 0..2 {
        record_usage(app.state.store.as_ref(), &event, app.state.clock.now())
            .await
            .unwrap();
    }
    let (_, body) = send(app.router(), get("/v1/billing", Some(&token("acct_usage")))).await;
    assert_eq!(body["balance"]["outstanding"], 1_234);
    assert_eq!(body["balance"]["credits"], 0);
}

#[tokio::test]
async fn on_lambda_a_valid_local_token_is_not_enough() {
    let app = app(AuthMode::ApiGateway);
    let (status, _) = send(app.router(), get("/v1/billing", Some(&token("acct_1")))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let mut request = get("/v1/billing", None);
    request.extensions_mut().insert(AuthorizerClaims {
        sub: "acct_1".into(),
        email: None,
    });
    let (status, body) = send(app.router(), request).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["account_id"], "acct_1");
}

#[tokio::test]
async fn a_sub_that_is_not_a_valid_account_id_is_unauthenticated() {
    let (status, _) = send(local().router(), get("/v1/billing", Some(&token("a#b")))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_the_error_shape() {
    let app = local();
    let (status, body) = send(
        app.router(),
        get("/v1/nothing-here", Some(&token("acct_1"))),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("route_not_found"))
    );
    let request = Request::delete("/v1/billing").body(Body::empty()).unwrap();
    let (status, body) = send(app.router(), request).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, Some("method_not_allowed"))
    );
}
