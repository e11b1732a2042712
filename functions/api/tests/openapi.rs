//! The generated OpenAPI document against the routers that serve the API: every route they
//! mount is documented with its methods, and nothing documented is missing from them. The
//! authorization pages (`/authorize/…`) are HTML for people, not API: served, never documented.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use billing_api::authorize::{
    Authorizations, AuthorizePages, BankAnswer, Challenge, PageMode, authorize_router,
};
use billing_api::links::{LinkSigner, LinkSubject, SignedLinks};
use billing_api::state::{Services, WebhookState};
use billing_api::{
    ApiError, AppState, AuthMode, account_router, cards_router, credits_router, finish,
    webhook_router,
};
use billing_embedded::{EmbeddedStore, LocalClock, OutboxMailer, SimulatedCardNetwork};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

const METHODS: [Method; 5] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::DELETE,
    Method::PATCH,
];

/// Every route of PRODUCT.md's HTTP API, built or not: once a router mounts one, the document
/// must list it.
const CONTRACT_PATHS: [&str; 10] = [
    "/v1/billing",
    "/v1/billing/setup-intents",
    "/v1/billing/card",
    "/v1/billing/credit-purchases",
    "/v1/billing/credit-purchases/cp_x",
    "/v1/billing/invoices",
    "/v1/billing/invoices/in_x",
    "/v1/account",
    "/v1/webhooks/stripe",
    "/v1/openapi.json",
];

/// Routes that are pages, exempt from the document.
const PAGE_PREFIXES: [&str; 1] = ["/authorize/"];
/// A page route to probe: its token is not valid, so it shows its refusal and changes nothing.
const PAGE_PATHS: [&str; 1] = ["/authorize/x"];

fn is_page(path: &str) -> bool {
    PAGE_PREFIXES.iter().any(|prefix| path.starts_with(prefix))
}

/// No payment behind any link: the pages are probed with invalid tokens only.
struct NoPayments;

#[async_trait]
impl Authorizations for NoPayments {
    async fn challenge(&self, _: &LinkSubject) -> Result<Option<Challenge>, ApiError> {
        Ok(None)
    }

    async fn complete(
        &self,
        _: &LinkSubject,
        _: Option<BankAnswer>,
    ) -> Result<Challenge, ApiError> {
        Err(ApiError::not_found("payment"))
    }
}

/// Every function's router, mounted together as billing-local mounts them.
fn router(dir: &tempfile::TempDir) -> Router {
    let clock = Arc::new(LocalClock::default());
    let store = EmbeddedStore::open(&dir.path().join("billing.redb")).unwrap();
    let network =
        SimulatedCardNetwork::open(&dir.path().join("net.redb"), "http://127.0.0.1/").unwrap();
    let services = || Services {
        store: Arc::new(store.clone()),
        gateway: Arc::new(network.clone()),
        clock: clock.clone(),
    };
    let state = Arc::new(AppState::new(
        services(),
        AuthMode::local("openapi-test").unwrap(),
    ));
    let webhook = webhook_router(Arc::new(WebhookState {
        services: services(),
        mailer: Arc::new(OutboxMailer::open(&dir.path().join("outbox"), clock.clone()).unwrap()),
        links: Arc::new(SignedLinks {
            signer: LinkSigner::new(b"openapi-test"),
            base: "http://127.0.0.1".into(),
        }),
        secrets: vec!["whsec_openapi".into()],
    }));
    let pages = authorize_router(Arc::new(AuthorizePages {
        signer: LinkSigner::new(b"openapi-test"),
        mode: PageMode::SimulatedBank,
        flow: Arc::new(NoPayments),
        clock: clock.clone(),
    }));
    finish(
        cards_router()
            .merge(credits_router())
            .merge(account_router()),
        state,
    )
    .merge(webhook)
    .merge(pages)
}

fn document() -> Value {
    serde_json::to_value(billing_api::openapi::document()).unwrap()
}

/// A documented path made concrete: each `{param}` segment takes the segment of the contract
/// path that matches it (`/v1/billing/credit-purchases/{id}` → `.../cp_x`).
fn concrete(path: &str) -> String {
    let segments: Vec<&str> = path.split('/').collect();
    CONTRACT_PATHS
        .iter()
        .find(|contract| {
            let theirs: Vec<&str> = contract.split('/').collect();
            theirs.len() == segments.len()
                && theirs
                    .iter()
                    .zip(&segments)
                    .all(|(c, d)| c == d || d.starts_with('{'))
        })
        .map_or_else(|| path.to_owned(), |c| (*c).to_owned())
}

/// The operations the document lists, as (METHOD, concrete path).
fn documented(document: &Value) -> BTreeSet<(String, String)> {
    let mut operations = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        let concrete = concrete(path);
        for method in item.as_object().unwrap().keys() {
            operations.insert((method.to_uppercase(), concrete.clone()));
        }
    }
    operations
}

/// Whether the router has a handler for this method and path (unauthenticated, so no
/// handler does anything).
async fn mounted(router: &Router, method: &Method, path: &str) -> bool {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .body(Body::empty())
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let code = serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null)["error"]["code"]
        .as_str()
        .map(str::to_owned);
    // A 405 is unrouted whatever its body (the pages answer axum's plain one); a 404 only when
    // no route matched, since a handler answers 404 for an object it does not find.
    let unrouted = match status {
        StatusCode::METHOD_NOT_ALLOWED => true,
        StatusCode::NOT_FOUND => code.as_deref() == Some("route_not_found"),
        _ => false,
    };
    !unrouted
}

#[tokio::test]
async fn the_document_lists_exactly_the_routes_the_routers_mount() {
    let dir = tempfile::tempdir().unwrap();
    let router = router(&dir);
    let document = document();
    let documented = documented(&document);
    let paths: BTreeSet<String> = documented
        .iter()
        .map(|(_, path)| path.clone())
        .chain(CONTRACT_PATHS.iter().map(|p| (*p).to_owned()))
        .chain(PAGE_PATHS.iter().map(|p| (*p).to_owned()))
        .collect();

    let mut served = BTreeSet::new();
    for path in &paths {
        for method in &METHODS {
            if mounted(&router, method, path).await {
                served.insert((method.to_string(), path.clone()));
            }
        }
    }
    let (pages, api): (BTreeSet<_>, BTreeSet<_>) =
        served.into_iter().partition(|(_, path)| is_page(path));

    assert_eq!(api, documented);
    assert!(documented.iter().all(|(_, path)| !is_page(path)));
    assert_eq!(
        pages,
        BTreeSet::from([
            ("GET".to_owned(), "/authorize/x".to_owned()),
            ("POST".to_owned(), "/authorize/x".to_owned()),
        ])
    );
    assert!(documented.contains(&("PUT".to_owned(), "/v1/billing/card".to_owned())));
}

#[test]
fn the_document_is_openapi_3_1_with_every_error_status_the_routes_answer() {
    let document = document();
    assert_eq!(document["openapi"], "3.1.0");
    let status_of = |method: &str, path: &str| -> BTreeSet<String> {
        document["paths"][path][method]["responses"]
            .as_object()
            .unwrap_or_else(|| panic!("{method} {path} is documented"))
            .keys()
            .cloned()
            .collect()
    };
    let set = |codes: &[&str]| codes.iter().map(|c| (*c).to_owned()).collect();
    assert_eq!(
        status_of("put", "/v1/billing/card"),
        set(&[
            "200", "400", "401", "402", "404", "405", "409", "410", "413", "415", "422", "500",
            "503"
        ])
    );
    assert_eq!(
        status_of("get", "/v1/billing"),
        set(&["200", "401", "405", "500", "503"])
    );
    assert_eq!(
        status_of("delete", "/v1/billing/card"),
        set(&["401", "405", "409", "410", "503"])
    );
    assert_eq!(
        status_of("get", "/v1/billing/invoices"),
        set(&["200", "400", "401", "405", "410", "500", "503"])
    );
    assert_eq!(
        status_of("get", "/v1/billing/invoices/{id}"),
        set(&["200", "401", "404", "405", "410", "500", "503"])
    );
    assert_eq!(
        status_of("delete", "/v1/account"),
        set(&[
            "200", "400", "401", "402", "405", "409", "413", "415", "500", "503"
        ])
    );
    let limit = document["paths"]["/v1/billing/invoices"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "limit")
        .expect("`limit` is documented");
    assert_eq!(
        (
            &limit["in"],
            &limit["schema"]["minimum"],
            &limit["schema"]["maximum"]
        ),
        (&Value::from("query"), &Value::from(1), &Value::from(100))
    );
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            for (status, response) in operation["responses"].as_object().unwrap() {
                if !status.starts_with('2') {
                    assert_eq!(
                        response["content"]["application/json"]["schema"]["$ref"],
                        "#/components/schemas/ErrorBody",
                        "{method} {path} {status}"
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn the_document_is_served_without_authentication() {
    let dir = tempfile::tempdir().unwrap();
    let request = Request::get("/v1/openapi.json")
        .body(Body::empty())
        .unwrap();
    let response = router(&dir).oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap(), document());
}
