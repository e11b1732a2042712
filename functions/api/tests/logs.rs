//! The JSON logs of requests, captured from the real subscriber: every line logged while
//! handling a request carries its `request_id`, and its `account_id` once authenticated.

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use billing_api::jwt::{Claims, sign};
use billing_api::state::Services;
use billing_api::telemetry::{REQUEST_ID_HEADER, filter, subscriber};
use billing_api::{AppState, AuthMode, cards_router, finish};
use billing_contract::instrument::Instrumented;
use billing_embedded::{EmbeddedStore, LocalClock, SimulatedCardNetwork};
use serde_json::Value;
use tower::ServiceExt;
use tracing_subscriber::fmt::MakeWriter;

const SECRET: &str = "logs-secret";

/// Everything the subscriber writes, kept in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Captured {
    /// The lines written so far, each parsed as JSON.
    fn lines(&self) -> Vec<Value> {
        let bytes = self.0.lock().unwrap().clone();
        let text = String::from_utf8(bytes).unwrap();
        assert!(!text.contains('\u{1b}'), "no ANSI escapes: {text}");
        text.lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
            .collect()
    }

    fn clear(&self) {
        self.0.lock().unwrap().clear();
    }
}

struct App {
    router: Router,
    store: Arc<Instrumented<EmbeddedStore>>,
    _dir: tempfile::TempDir,
}

fn app() -> App {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(LocalClock::default());
    let store = Arc::new(Instrumented::new(
        EmbeddedStore::open(&dir.path().join("billing.redb")).unwrap(),
    ));
    let services = Services {
        store: store.clone(),
        gateway: Arc::new(
            SimulatedCardNetwork::open(&dir.path().join("net.redb"), "http://127.0.0.1/").unwrap(),
        ),
        clock,
    };
    let state = Arc::new(AppState::new(services, AuthMode::local(SECRET).unwrap()));
    App {
        router: finish(cards_router(), state),
        store,
        _dir: dir,
    }
}

fn token(sub: &str) -> String {
    let claims = Claims {
        sub: sub.into(),
        email: None,
        exp: None,
    };
    sign(&claims, SECRET.as_bytes())
}

/// Sends a request and returns its status and the request id it was answered with.
async fn send(router: &Router, request: Request<Body>) -> (StatusCode, String) {
    let response = router.clone().oneshot(request).await.unwrap();
    let id = response.headers()[REQUEST_ID_HEADER]
        .to_str()
        .unwrap()
        .to_owned();
    (response.status(), id)
}

#[tokio::test]
async fn every_line_of_a_request_carries_its_request_id_and_account() {
    let captured = Captured::default();
    let _guard =
        tracing::subscriber::set_default(subscriber(captured.clone(), filter(Some("info"))));
    let app = app();

    // An outage makes the handler log its cause before the access line.
    app.store.probe.fail_next("get");
    let request = Request::get("/v1/billing")
        .header("authorization", format!("Bearer {}", token("acct_logs")))
        .header(REQUEST_ID_HEADER, "trace-me-1")
        .body(Body::empty())
        .unwrap();
    let (status, id) = send(&app.router, request).await;

    assert_eq!(
        (status, id.as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, "trace-me-1")
    );
    let lines = captured.lines();
    assert!(
        lines.len() >= 2,
        "the outage and the access line: {lines:?}"
    );
    for line in &lines {
        assert_eq!(line["request_id"], "trace-me-1", "{line}");
        assert_eq!(line["account_id"], "acct_logs", "{line}");
    }
    assert!(
        lines
            .iter()
            .any(|l| l["message"] == "dependency unavailable")
    );
    let access = lines.last().unwrap();
    assert_eq!(
        (
            &access["message"],
            &access["method"],
            &access["route"],
            &access["status"]
        ),
        (
            &Value::from("request"),
            &Value::from("GET"),
            &Value::from("/v1/billing"),
            &Value::from(503)
        )
    );
    assert!(access["latency_us"].is_u64(), "{access}");
}

#[tokio::test]
async fn requests_without_an_account_get_a_generated_id_and_no_account() {
    let captured = Captured::default();
    let _guard =
        tracing::subscriber::set_default(subscriber(captured.clone(), filter(Some("info"))));
    let app = app();

    let mut ids = Vec::new();
    for path in ["/v1/billing", "/v1/no-such-route"] {
        captured.clear();
        let request = Request::get(path)
            .header(REQUEST_ID_HEADER, "not a sane id")
            .body(Body::empty())
            .unwrap();
        let (_, id) = send(&app.router, request).await;
        let lines = captured.lines();
        assert!(!lines.is_empty(), "{path} logged its access line");
        for line in &lines {
            assert_eq!(line["request_id"], id.as_str(), "{line}");
            assert!(line.get("account_id").is_none(), "{line}");
        }
        ids.push(id);
    }

    assert!(ids.iter().all(|id| id.starts_with("req_")), "{ids:?}");
    assert_ne!(ids[0], ids[1]);
}
