//! Edges an outside probe found (issue 13), over HTTP against `billing-local`: the bearer
//! scheme in any case; tokens not valid yet, with `crit` or `alg: none`; malformed `email`
//! claims; wrong methods and foreign `Host`s on every route; the log lines; and dates at the
//! end of four-digit years.

use std::process::Stdio;
use std::time::Duration;

use billing_api::jwt::{sign_json, sign_with_header};
use reqwest::Method;
use reqwest::header::{ALLOW, AUTHORIZATION, HOST};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::Command;

use crate::helpers::{LocalServer, SECRET, binary, call, token};

fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}

/// `GET /v1/billing` with this `Authorization` header: status and body.
async fn billing_with(server: &LocalServer, authorization: &str) -> (u16, Value) {
    call(
        server
            .request(Method::GET, "/v1/billing", None)
            .header(AUTHORIZATION, authorization),
    )
    .await
}

fn assert_unauthenticated(answer: &(u16, Value), case: &str) {
    assert_eq!(
        (answer.0, answer.1["error"]["code"].as_str()),
        (401, Some("unauthenticated")),
        "{case}: {}",
        answer.1
    );
    assert_eq!(answer.1["error"]["type"], "authentication_error", "{case}");
}

#[tokio::test]
async fn the_bearer_scheme_is_accepted_in_any_case() {
    let dir = tempfile::tempdir().unwrap();
    let server = LocalServer::start(dir.path()).await;
    let token = token("e2e-case");

    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let (status, body) = billing_with(&server, &format!("{scheme} {token}")).await;
        assert_eq!(status, 200, "{scheme}: {body}");
        assert_eq!(body["account_id"], "e2e-case");
    }
    let basic = billing_with(&server, &format!("Basic {token}")).await;
    assert_unauthenticated(&basic, "Basic");
    server.stop().await;
}

#[tokio::test]
async fn a_token_not_valid_yet_with_a_crit_header_or_alg_none_is_unauthenticated() {
    let dir = tempfile::tempdir().unwrap();
    let server = LocalServer::start(dir.path()).await;
    let claims = |extra: Value| {
        let mut claims = json!({"sub": "e2e-nbf", "email": "e2e-nbf@example.com"});
        claims
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        claims
    };
    let future = sign_json(
        &claims(json!({"nbf": now_unix() + 3_600})),
        SECRET.as_bytes(),
    );
    let past = sign_json(&claims(json!({"nbf": now_unix() - 60})), SECRET.as_bytes());
    let expired = sign_json(&claims(json!({"exp": now_unix() - 1})), SECRET.as_bytes());
    let crit = sign_with_header(
        &json!({"alg": "HS256", "crit": ["exp"]}),
        &claims(json!({})),
        SECRET.as_bytes(),
    );
    let signed_none = sign_with_header(
        &json!({"alg": "none"}),
        &claims(json!({})),
        SECRET.as_bytes(),
    );
    let unsigned_none = format!("{}.", signed_none.rsplit_once('.').unwrap().0);

    for (case, token) in [
        ("nbf in the future", future),
        ("expired", expired),
        ("crit", crit),
        ("alg none, signed", signed_none),
        ("alg none, unsigned", unsigned_none),
    ] {
        let answer = billing_with(&server, &format!("Bearer {token}")).await;
        assert_unauthenticated(&answer, case);
    }
    let (status, body) = billing_with(&server, &format!("Bearer {past}")).await;
    assert_eq!(status, 200, "nbf in the past: {body}");
    server.stop().await;
}

#[tokio::test]
async fn a_malformed_email_claim_is_unauthenticated_not_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let server = LocalServer::start(dir.path()).await;
    let too_long = format!("{}@example.com", "a".repeat(250));

    for email in [
        json!(42),
        json!(["e2e-mail@example.com"]),
        json!("not an address"),
        json!("e2e-mail@"),
        json!("e2e\u{1b}[31m@example.com"),
        json!("e2e\u{0}@example.com"),
        json!(too_long),
    ] {
        let token = sign_json(
            &json!({"sub": "e2e-mail", "email": email}),
            SECRET.as_bytes(),
        );
        let answer = billing_with(&server, &format!("Bearer {token}")).await;
        assert_unauthenticated(&answer, &email.to_string());
        let message = answer.1["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("`email`"), "{email}: {message}");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_wrong_method_on_any_route_is_a_json_405_naming_the_allowed_ones() {
    let dir = tempfile::tempdir().unwrap();
    let server = LocalServer::start(dir.path()).await;

    let cases = [
        // billing-local's own routes.
        (Method::DELETE, "/_local/clock", "GET,HEAD,POST"),
        (Method::GET, "/_local/usage", "POST"),
        (Method::POST, "/_local/outbox", "GET,HEAD"),
        (Method::DELETE, "/_local/accounts/e2e-x/network", "GET,HEAD"),
        (Method::GET, "/_local/events/sweep", "POST"),
        (Method::PUT, "/_local/events/monthly-charge", "POST"),
        (Method::DELETE, "/authorize/v1.not-a-link", "GET,HEAD,POST"),
        // billing-api's routers, mounted beside them.
        (Method::POST, "/v1/billing", "GET,HEAD"),
        (Method::GET, "/v1/billing/card", "PUT,DELETE"),
        (Method::GET, "/v1/webhooks/stripe", "POST"),
        (Method::PATCH, "/v1/account", "DELETE"),
        (Method::DELETE, "/v1/openapi.json", "GET,HEAD"),
    ];
    for (method, path, allowed) in cases {
        let response = server
            .request(method.clone(), path, Some("e2e-x"))
            .send()
            .await
            .unwrap();
        let allow = response
            .headers()
            .get(ALLOW)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (405, Some("method_not_allowed")),
            "{method} {path}: {body}"
        );
        assert_eq!(body["error"]["type"], "invalid_request_error");
        let mut allow: Vec<String> = allow
            .unwrap_or_default()
            .split(',')
            .map(|m| m.trim().to_owned())
            .collect();
        let mut expected: Vec<String> = allowed.split(',').map(str::to_owned).collect();
        allow.sort();
        expected.sort();
        assert_eq!(allow, expected, "{method} {path}");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_path_segment_that_is_not_utf8_is_answered_like_any_unknown_id() {
    let dir = tempfile::tempdir().unwrap();
    let server = LocalServer::start(dir.path()).await;

    let cases = [
        ("/v1/billing/credit-purchases/%ff", 404, Some("not_found")),
        ("/v1/billing/invoices/%FF%FE", 404, Some("not_found")),
        (
            "/_local/accounts/%ff/network",
            400,
            Some("parameter_invalid"),
        ),
    ];
    for (path, status, code) in cases {
        let response = server
            .request(Method::GET, path, Some("e2e-utf8"))
            .send()
            .await
            .unwrap();
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        let answer = (
            response.status().as_u16(),
            response.json::<Value>().await.ok(),
        );
        let got = answer.1.as_ref().and_then(|b| b["error"]["code"].as_str());
        assert_eq!((answer.0, got), (status, code), "{path}: {answer:?}");
        assert!(
            content_type.starts_with("application/json"),
            "{path}: {content_type}"
        );
    }
    // The authorization page shows it as the bad link it is, in HTML.
    let page = server
        .request(Method::GET, "/authorize/%ff", None)
        .send()
        .await
        .unwrap();
    let content_type = page.headers()["content-type"].to_str().unwrap().to_owned();
    assert_eq!(page.status().as_u16(), 400, "{content_type}");
    assert!(content_type.starts_with("text/html"), "{content_type}");
    server.stop().await;
}

#[tokio::test]
async fn a_request_whose_host_is_not_a_loopback_name_is_refused_on_every_route() {
    let dir = tempfile::tempdir().unwrap();
    let server = LocalServer::start(dir.path()).await;
    let port = server.base.rsplit(':').next().unwrap().to_owned();

    for host in [
        format!("evil.example:{port}"),
        "evil.example".to_owned(),
        format!("127.0.0.1.evil.example:{port}"),
        format!("localhost.evil.example:{port}"),
    ] {
        for (method, path) in [
            (Method::GET, "/_local/outbox"),
            (Method::POST, "/_local/clock"),
            (Method::GET, "/authorize/v1.not-a-link"),
            (Method::GET, "/v1/billing"),
            (Method::POST, "/v1/webhooks/stripe"),
            (Method::GET, "/no/such/route"),
            (Method::DELETE, "/_local/clock"),
        ] {
            let (status, body) = call(
                server
                    .request(method.clone(), path, Some("e2e-host"))
                    .header(HOST, &host)
                    .json(&json!({"now": "2030-01-01T00:00:00Z"})),
            )
            .await;
            assert_eq!(
                (status, body["error"]["code"].as_str()),
                (403, Some("host_not_allowed")),
                "{host} {method} {path}: {body}"
            );
            assert_eq!(body["error"]["type"], "invalid_request_error");
            assert_eq!(body["error"]["param"], "Host");
        }
    }
    // Nothing the refused requests carried was acted on.
    let (_, clock) = call(server.request(Method::GET, "/_local/clock", None)).await;
    assert!(
        !clock["now"].as_str().unwrap().starts_with("2030"),
        "{clock}"
    );

    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("LOCALHOST:{port}"),
        format!("[::1]:{port}"),
        "localhost".to_owned(),
    ] {
        let (status, body) = call(
            server
                .request(Method::GET, "/_local/clock", None)
                .header(HOST, &host),
        )
        .await;
        assert_eq!(status, 200, "{host}: {body}");
    }
    server.stop().await;
}

#[tokio::test]
async fn stdout_is_json_lines_with_one_access_line_per_request_and_nothing_secret() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(binary())
        .args(["--port", &port.to_string(), "--data-dir"])
        .arg(dir.path())
        .env("BILLING_LOCAL_JWT_SECRET", SECRET)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("billing-local starts");
    // Ready once the banner (on stderr) names the address: no request is sent before.
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let listening = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(line) = stderr.next_line().await.unwrap() {
            if line.starts_with("billing-local listening on") {
                return;
            }
        }
        panic!("billing-local exited before listening");
    });
    listening.await.expect("billing-local listens");
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let request = |method: Method, path: &str| client.request(method, format!("{base}{path}"));
    let token = token("e2e-logs");
    let body_marker = "body-marker-7f3a";

    let requests = [
        request(Method::GET, "/v1/billing?secret=query-marker-9c2e").bearer_auth(&token),
        request(Method::PUT, "/v1/billing/card")
            .header(AUTHORIZATION, format!("bearer {token}"))
            .json(&json!({"payment_method": "pm_card_visa"})),
        request(Method::POST, "/_local/usage").json(&json!({
            "id": "e2e-logs-1", "account_id": "e2e-logs", "amount_micros": 1_000,
            "occurred_at": chrono::Utc::now().to_rfc3339(), "description": body_marker})),
        request(Method::GET, "/authorize/v1.token-marker-5d1b"),
        request(Method::DELETE, "/_local/clock"),
        request(Method::GET, "/_local/outbox").header(HOST, "evil.example"),
        request(Method::GET, "/no/such/route"),
    ];
    let sent = requests.len();
    for request in requests {
        request.send().await.expect("answered");
    }
    child.kill().await.unwrap();
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .await
        .unwrap();

    assert!(!stdout.contains('\u{1b}'), "a colour code in:\n{stdout}");
    let lines: Vec<Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    let access: Vec<&Value> = lines
        .iter()
        .filter(|line| line.get("latency_us").is_some())
        .collect();
    assert_eq!(access.len(), sent, "one access line per request:\n{stdout}");
    for line in &access {
        for field in ["method", "route", "status", "request_id", "timestamp"] {
            assert!(line.get(field).is_some(), "{field} missing from {line}");
        }
    }
    let routes: Vec<(&str, &str, u64)> = access
        .iter()
        .map(|l| {
            (
                l["method"].as_str().unwrap(),
                l["route"].as_str().unwrap(),
                l["status"].as_u64().unwrap(),
            )
        })
        .collect();
    for expected in [
        ("GET", "/v1/billing", 200),
        ("PUT", "/v1/billing/card", 200),
        ("POST", "/_local/usage", 200),
        ("GET", "/authorize/{token}", 400),
        ("DELETE", "/_local/clock", 405),
        ("GET", "/_local/outbox", 403),
        ("GET", "unmatched", 404),
    ] {
        assert!(routes.contains(&expected), "{expected:?} not in {routes:?}");
    }
    for secret in [
        token.as_str(),
        "Bearer",
        "bearer",
        "query-marker-9c2e",
        body_marker,
        "token-marker-5d1b",
        "4242",
    ] {
        assert!(!stdout.contains(secret), "{secret} logged:\n{stdout}");
    }
}

/// Every string of a JSON value that starts like a date is RFC 3339 with a four-digit year.
fn assert_dates_are_rfc3339(value: &Value, context: &str) {
    match value {
        Value::String(text) => {
            let looks_like_a_date = text.starts_with('+')
                || text.starts_with('-')
                || text.chars().take(4).all(|c| c.is_ascii_digit()) && text.get(4..5) == Some("-");
            if looks_like_a_date && text.contains('T') && text.contains(':') {
                assert!(
                    chrono::DateTime::parse_from_rfc3339(text).is_ok(),
                    "{context}: {text} is not RFC 3339"
                );
            }
        }
        Value::Array(items) => items
            .iter()
            .for_each(|v| assert_dates_are_rfc3339(v, context)),
        Value::Object(fields) => fields
            .values()
            .for_each(|v| assert_dates_are_rfc3339(v, context)),
        _ => {}
    }
}

#[tokio::test]
async fn the_clock_and_scheduled_events_refuse_instants_whose_dates_would_pass_9999() {
    let dir = tempfile::tempdir().unwrap();
    let server = LocalServer::start(dir.path()).await;

    for now in [
        "9999-12-31T23:59:59Z",
        "9999-01-01T00:00:00Z",
        "+10000-01-01T00:00:00Z",
        "-0001-01-01T00:00:00Z",
        "1969-12-31T23:59:59Z",
    ] {
        let (status, body) = call(
            server
                .request(Method::POST, "/_local/clock", None)
                .json(&json!({ "now": now })),
        )
        .await;
        assert_eq!(
            (
                status,
                body["error"]["code"].as_str(),
                body["error"]["param"].as_str()
            ),
            (400, Some("parameter_invalid"), Some("now")),
            "{now}: {body}"
        );
    }
    let (_, billing) = call(server.request(Method::GET, "/v1/billing", Some("e2e-y10k"))).await;
    assert_dates_are_rfc3339(&billing, "GET /v1/billing");

    let (status, body) = server
        .fire("monthly-charge", "+10000-02-03T03:00:00Z")
        .await;
    assert_eq!(
        (
            status,
            body["error"]["code"].as_str(),
            body["error"]["param"].as_str()
        ),
        (400, Some("parameter_invalid"), Some("time")),
        "{body}"
    );
    assert!(!body.to_string().contains("+10000"), "{body}");

    let event = json!({"id": "e2e-y10k-1", "account_id": "e2e-y10k", "amount_micros": 1_000,
                       "occurred_at": "9999-12-31T23:59:59Z"});
    let (status, body) = call(
        server
            .request(Method::POST, "/_local/usage", None)
            .json(&event),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("parameter_invalid")),
        "{body}"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_month_charged_at_the_end_of_the_clocks_range_dates_everything_in_rfc3339() {
    let dir = tempfile::tempdir().unwrap();
    let server = LocalServer::start(dir.path()).await;
    let account = "e2e-y9998";
    // The card first (test cards expire a few years from today), then November 9998.
    let (status, body) = server
        .put_card(account, "pm_card_authenticationRequired")
        .await;
    assert_eq!(status, 200, "{body}");
    server.set_clock("9998-11-20T00:00:00Z").await;
    server
        .usage(account, "e2e-y9998-1", 12_345_678, "9998-11-10T12:00:00Z")
        .await;
    server.set_clock("9998-12-31T23:59:59Z").await;

    let summary = server.monthly_charge("9998-12-03T03:00:00Z").await;
    assert_eq!(summary["invoices"], 1, "{summary}");
    let sweep = server.sweep_at("9998-12-31T23:59:59Z").await;
    assert_dates_are_rfc3339(&sweep, "the sweep");

    let billing = server.get_json("/v1/billing", account).await;
    assert_eq!(billing["next_charge_at"], "9999-01-03T03:00:00Z");
    let invoices = server.get_json("/v1/billing/invoices", account).await;
    assert_eq!(invoices["data"][0]["period"]["end"], "9998-12-01T00:00:00Z");
    assert_dates_are_rfc3339(&invoices, "the invoices");
    let (_, clock) = call(server.request(Method::GET, "/_local/clock", None)).await;
    assert_dates_are_rfc3339(&clock, "the clock");
    let mails = server.mails_to(account).await;
    assert!(!mails.is_empty());
    for mail in &mails {
        assert_dates_are_rfc3339(mail, "an email");
        for part in ["subject", "text", "html"] {
            let text = mail[part].as_str().unwrap_or_default();
            assert!(
                !text.contains("+10000") && !text.contains("10000"),
                "{text}"
            );
        }
    }
    server.stop().await;
}
