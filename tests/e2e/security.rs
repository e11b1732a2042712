//! Security over HTTP on billing-local (issue 13, "Security"): credentials refused on every
//! operation that needs them, another account's ids, webhook signatures, body limits, and no
//! card number, CVC, secret or token in any log line, email or stored item after a full run.

use std::path::Path;

use billing_api::jwt::{sign_json, sign_with_header};
use billing_embedded::{EmbeddedStore, stripe_signature};
use billing_stripe::webhook::TOLERANCE_SECONDS;
use reqwest::Method;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde_json::{Value, json};

use crate::helpers::{LocalServer, SECRET, call};

/// The webhook signing secret billing-local uses when none is set.
const WEBHOOK_SECRET: &str = "whsec_local";

fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}

/// One operation of the OpenAPI document.
struct Operation {
    method: Method,
    /// The templated path, `/v1/billing/invoices/{id}`.
    path: String,
    needs_token: bool,
    takes_body: bool,
}

impl Operation {
    fn name(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// The path with every `{parameter}` given `value`.
    fn path_with(&self, value: &str) -> String {
        let mut path = String::new();
        let mut rest = self.path.as_str();
        while let Some(open) = rest.find('{') {
            let close = rest[open..].find('}').expect("a closed parameter") + open;
            path.push_str(&rest[..open]);
            path.push_str(value);
            rest = &rest[close + 1..];
        }
        path.push_str(rest);
        path
    }
}

/// Every operation of the document the server serves, with whether it names a security
/// requirement (its own, or the document's) and whether it takes a body.
async fn operations(server: &LocalServer) -> Vec<Operation> {
    let (status, document) = call(server.request(Method::GET, "/v1/openapi.json", None)).await;
    assert_eq!(status, 200, "{document}");
    let global = document.get("security").cloned().unwrap_or(Value::Null);
    let mut found = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("a path item") {
            let Ok(method) = method.to_uppercase().parse::<Method>() else {
                continue;
            };
            let security = operation.get("security").unwrap_or(&global);
            // `security: []`, or a requirement that is `{}`, means "no credentials".
            let needs_token = security
                .as_array()
                .is_some_and(|all| !all.is_empty() && all.iter().all(|r| r != &json!({})));
            found.push(Operation {
                method,
                path: path.clone(),
                needs_token,
                takes_body: operation.get("requestBody").is_some(),
            });
        }
    }
    found
}

fn assert_code(answer: &(u16, Value), status: u16, code: &str, case: &str) {
    assert_eq!(
        (answer.0, answer.1["error"]["code"].as_str()),
        (status, Some(code)),
        "{case}: {}",
        answer.1
    );
}

#[tokio::test]
async fn every_operation_that_needs_a_token_refuses_none_a_forged_an_expired_and_an_alg_none_one() {
    let dir = tempfile::tempdir().unwrap();
    let server = LocalServer::start(dir.path()).await;
    let claims = json!({"sub": "e2e-intruder", "email": "e2e-intruder@example.com"});
    let forged = sign_json(&claims, b"not-the-server-secret");
    let mut expiring = claims.clone();
    expiring["exp"] = json!(now_unix() - 1);
    let expired = sign_json(&expiring, SECRET.as_bytes());
    let signed_none = sign_with_header(&json!({"alg": "none"}), &claims, SECRET.as_bytes());
    let unsigned_none = format!("{}.", signed_none.rsplit_once('.').unwrap().0);
    let credentials = [
        ("no Authorization header", None),
        ("a bad signature", Some(forged)),
        ("an expired token", Some(expired)),
        ("alg none, unsigned", Some(unsigned_none)),
        ("alg none, signed", Some(signed_none)),
    ];

    let protected: Vec<Operation> = operations(&server)
        .await
        .into_iter()
        .filter(|operation| operation.needs_token)
        .collect();
    for operation in &protected {
        for (case, token) in &credentials {
            let mut request = server
                .request(operation.method.clone(), &operation.path_with("x"), None)
                .header(CONTENT_TYPE, "application/json");
            if let Some(token) = token {
                request = request.header(AUTHORIZATION, format!("Bearer {token}"));
            }
            if operation.takes_body {
                request = request.body("{}");
            }
            let answer = call(request).await;
            assert_code(
                &answer,
                401,
                "unauthenticated",
                &format!("{} with {case}", operation.name()),
            );
        }
    }

    // The document must name every route a user's token opens, or the loop above proves less
    // than it says.
    let mut names: Vec<String> = protected.iter().map(Operation::name).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "DELETE /v1/account",
            "DELETE /v1/billing/card",
            "GET /v1/billing",
            "GET /v1/billing/credit-purchases/{id}",
            "GET /v1/billing/invoices",
            "GET /v1/billing/invoices/{id}",
            "POST /v1/billing/credit-purchases",
            "POST /v1/billing/setup-intents",
            "PUT /v1/billing/card",
        ]
    );
    server.stop().await;
}

/// `POST /v1/billing/credit-purchases` as `account`: status and answer.
async fn buy(server: &LocalServer, account: &str, cents: i64, key: &str) -> (u16, Value) {
    call(
        server
            .request(Method::POST, "/v1/billing/credit-purchases", Some(account))
            .header("Idempotency-Key", key)
            .json(&json!({"amount": cents, "currency": "usd"})),
    )
    .await
}

/// What `account` reads of its own billing: the summary, its invoices and one purchase.
async fn own_reads(server: &LocalServer, account: &str, purchase: &str) -> Vec<Value> {
    vec![
        server.get_json("/v1/billing", account).await,
        server.get_json("/v1/billing/invoices", account).await,
        server
            .get_json(&format!("/v1/billing/credit-purchases/{purchase}"), account)
            .await,
    ]
}

/// Account A with a card that asks for authentication: an invoice awaiting authorization (with
/// its link), a purchase awaiting authentication (with its link), a card on the network.
struct Victim {
    purchase: String,
    invoice: String,
    payment_method: String,
}

async fn victim(server: &LocalServer, account: &str, key: &str) -> Victim {
    server.set_clock("2026-12-15T00:00:00Z").await;
    let (status, card) = server
        .put_card(account, "pm_card_authenticationRequired")
        .await;
    assert_eq!(status, 200, "{card}");
    server
        .usage(
            account,
            "e2e-victim-usage",
            12_340_000,
            "2026-12-10T00:00:00Z",
        )
        .await;
    server.set_clock("2027-01-03T03:00:00Z").await;
    let summary = server.monthly_charge("2027-01-03T03:00:00Z").await;
    assert_eq!(summary["requires_authorization"], 1, "{summary}");
    let invoices = server.get_json("/v1/billing/invoices", account).await;
    let invoice = &invoices["data"][0];
    assert!(invoice["authorization_url"].is_string(), "{invoice}");
    let (status, purchase) = buy(server, account, 2_500, key).await;
    assert_eq!(
        (status, &purchase["status"]),
        (201, &json!("requires_action")),
        "{purchase}"
    );
    let network = server.network(account).await;
    Victim {
        purchase: purchase["id"].as_str().unwrap().to_owned(),
        invoice: invoice["id"].as_str().unwrap().to_owned(),
        payment_method: network["default_payment_method"]
            .as_str()
            .unwrap()
            .to_owned(),
    }
}

/// The same answer with `id` written as `ID`: two answers that differ only in the id they
/// were asked for compare equal.
fn without(answer: &(u16, Value), id: &str) -> String {
    format!("{} {}", answer.0, answer.1).replace(id, "ID")
}

#[tokio::test]
async fn another_accounts_ids_are_404_on_every_route_and_neither_account_sees_the_other() {
    let dir = tempfile::tempdir().unwrap();
    let server = LocalServer::start(dir.path()).await;
    let (a, b) = ("e2e-sec-victim", "e2e-sec-intruder");
    let shared_key = "the-same-key-on-two-accounts";
    let victim = victim(&server, a, shared_key).await;
    let (status, card) = server.put_card(b, "pm_card_visa").await;
    assert_eq!(status, 200, "{card}");
    let (status, own) = buy(&server, b, 1_000, "b-own-purchase").await;
    assert_eq!(
        (status, &own["status"]),
        (201, &json!("succeeded")),
        "{own}"
    );
    let own_id = own["id"].as_str().unwrap().to_owned();
    let victims_reads = own_reads(&server, a, &victim.purchase).await;
    let intruders_reads = own_reads(&server, b, &own_id).await;
    let victims_network = server.network(a).await;

    // Each route that takes an id, asked for A's id with B's token, answers exactly what it
    // answers for an id that never existed: no 403, and nothing that tells the two apart.
    let reads = [
        (
            "/v1/billing/credit-purchases/",
            &victim.purchase,
            "cp_000000000000000000000000",
        ),
        (
            "/v1/billing/invoices/",
            &victim.invoice,
            "in_000000000000000000000000",
        ),
    ];
    for (route, theirs, unknown) in reads {
        let asked = call(server.request(Method::GET, &format!("{route}{theirs}"), Some(b))).await;
        let never = call(server.request(Method::GET, &format!("{route}{unknown}"), Some(b))).await;
        assert_code(&asked, 404, "not_found", &format!("{route}{{A's id}}"));
        assert_eq!(without(&asked, theirs), without(&never, unknown), "{route}");
    }
    let (status, listed) = call(server.request(
        Method::GET,
        &format!("/v1/billing/invoices?starting_after={}", victim.invoice),
        Some(b),
    ))
    .await;
    assert!(
        !listed.to_string().contains(&victim.invoice) || status >= 400,
        "B's listing after A's invoice shows it: {listed}"
    );
    assert_ne!(status, 403, "{listed}");
    // A's attached card, named by its PaymentMethod id, is no card of B's.
    let taken = server.put_card(b, &victim.payment_method).await;
    assert_code(&taken, 404, "payment_method_not_found", "A's PaymentMethod");
    // A's Idempotency-Key is B's own: it replays nothing of A's.
    let (status, replayed) = buy(&server, b, 2_500, shared_key).await;
    assert!(status == 201 || status == 409, "{replayed}");
    assert_ne!(replayed["id"], json!(victim.purchase), "{replayed}");
    assert!(
        !replayed.to_string().contains(&victim.purchase),
        "{replayed}"
    );
    // B cannot delete A by naming A.
    let deletion = server.delete_account(b, a).await;
    assert_code(
        &deletion,
        400,
        "confirmation_mismatch",
        "B confirms with A's id",
    );

    assert_eq!(own_reads(&server, a, &victim.purchase).await, victims_reads);
    assert_eq!(server.network(a).await, victims_network);
    let after = own_reads(&server, b, &own_id).await;
    assert_eq!(after[1], intruders_reads[1], "B's invoices");
    assert_eq!(after[2], intruders_reads[2], "B's purchase");
    assert!(
        !after.iter().any(|read| read.to_string().contains(a)),
        "{after:?}"
    );
    server.stop().await;
}

/// A `payment_intent.succeeded` event for A's purchase awaiting authentication, as Stripe
/// would send it once the bank approved: genuine, it credits A.
fn succeeded_event(event_id: &str, account: &str, purchase: &Value) -> String {
    let secret = purchase["next_action"]["client_secret"].as_str().unwrap();
    let payment = secret.split("_secret_").next().unwrap();
    json!({
        "id": event_id, "object": "event", "created": now_unix(), "type": "payment_intent.succeeded",
        "livemode": false, "pending_webhooks": 1,
        "data": {"object": {
            "id": payment, "object": "payment_intent", "status": "succeeded", "amount": 2_500,
            "amount_received": 2_500, "currency": "usd", "client_secret": secret,
            "metadata": {"account_id": account, "reference": purchase["id"]},
        }},
    })
    .to_string()
}

/// Every stored item of the server's data folder, one line each; the server must be stopped.
fn stored_items(data_dir: &Path) -> Vec<String> {
    EmbeddedStore::open(&data_dir.join("billing.redb"))
        .expect("the store opens once the server is stopped")
        .dump()
        .expect("the store dumps")
}

#[tokio::test]
async fn forged_tampered_and_stale_webhooks_are_400_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = LocalServer::start(dir.path()).await;
    let account = "e2e-sec-hooked";
    let (status, card) = server
        .put_card(account, "pm_card_authenticationRequired")
        .await;
    assert_eq!(status, 200, "{card}");
    let (status, purchase) = buy(&server, account, 2_500, "hooked").await;
    assert_eq!(
        (status, &purchase["status"]),
        (201, &json!("requires_action")),
        "{purchase}"
    );
    let before = server.get_json("/v1/billing", account).await;
    let mails = server.mails_to(account).await.len();
    let event = succeeded_event("evt_refused_every_time", account, &purchase);
    let tampered = event.replace("2500", "250000");
    let now = now_unix();
    // The server reads its own clock, seconds after `now` on a loaded machine: the stale cases
    // stand 10 s past the 300 s tolerance so that they stay outside it. The exact edge is
    // functions/stripe/tests/webhook_signature.rs's.
    let outside = TOLERANCE_SECONDS + 10;
    let post = |body: String, signature: String| {
        call(
            server
                .request(Method::POST, "/v1/webhooks/stripe", None)
                .header(CONTENT_TYPE, "application/json")
                .header("Stripe-Signature", signature)
                .body(body),
        )
    };

    let refusals = [
        (
            "forged: another secret",
            event.clone(),
            stripe_signature("whsec_forged", now, &event),
        ),
        (
            "tampered: body changed after signing",
            tampered.clone(),
            stripe_signature(WEBHOOK_SECRET, now, &event),
        ),
        (
            "stale: 310 s old",
            event.clone(),
            stripe_signature(WEBHOOK_SECRET, now - outside, &event),
        ),
        (
            "stale: 310 s ahead",
            event.clone(),
            stripe_signature(WEBHOOK_SECRET, now + outside, &event),
        ),
        ("no signature", event.clone(), String::new()),
        ("a signature without v1", event.clone(), format!("t={now}")),
    ];
    for (case, body, signature) in refusals {
        let answer = post(body, signature).await;
        assert_code(&answer, 400, "invalid_signature", case);
    }
    let after = server.get_json("/v1/billing", account).await;
    assert_eq!(after, before);
    assert_untouched(&server, account, &purchase).await;
    assert_eq!(server.mails_to(account).await.len(), mails);
    // The same event, signed with the endpoint's secret, is taken: the refusals above were
    // for the signature alone. What it claims is asked of the network, which says the payment
    // still waits for the cardholder: nothing is credited on a body's word.
    let genuine = event.replace("evt_refused_every_time", "evt_genuine");
    let answer = post(
        genuine.clone(),
        stripe_signature(WEBHOOK_SECRET, now, &genuine),
    )
    .await;
    assert_eq!(
        (answer.0, &answer.1["result"]),
        (200, &json!("applied")),
        "{}",
        answer.1
    );
    let taken = server.get_json("/v1/billing", account).await;
    assert_eq!(taken["balance"]["credits"], 0, "{taken}");
    assert_untouched(&server, account, &purchase).await;
    server.stop().await;

    let items = stored_items(dir.path());
    assert!(
        items.iter().any(|item| item.contains("evt_genuine")),
        "the genuine event is recorded"
    );
    let written: Vec<&String> = items
        .iter()
        .filter(|item| item.contains("evt_refused"))
        .collect();
    assert!(written.is_empty(), "a refused event left {written:?}");
}

/// The body limit of each route that takes one, from the code: the API's and the controls'
/// JSON bodies (`billing_api::json::MAX_BODY_BYTES`), a Stripe event
/// (`routes::webhook::MAX_EVENT_BYTES`) and the authorization page's form.
fn limit_of(path: &str) -> usize {
    if path == "/v1/webhooks/stripe" {
        billing_api::routes::webhook::MAX_EVENT_BYTES
    } else if path.starts_with("/authorize/") {
        1024
    } else {
        billing_api::json::MAX_BODY_BYTES
    }
}

/// A JSON object of exactly `size` bytes.
fn json_of(size: usize) -> String {
    let padding = size - r#"{"padding":""}"#.len();
    format!(r#"{{"padding":"{}"}}"#, "x".repeat(padding))
}

/// A form of exactly `size` bytes whose answer is no answer the page knows.
fn form_of(size: usize) -> String {
    format!(
        "answer=none&padding={}",
        "x".repeat(size - "answer=none&padding=".len())
    )
}

/// Every route that takes a body, as a request to it: the document's operations with one (a
/// path parameter `x`), the local controls and the authorization page of a purchase that
/// needs authorizing, made for `account` with a card on file. Returns the routes and the
/// purchase, which no refused body may act on.
async fn routes_with_a_body(server: &LocalServer, account: &str) -> (Vec<(Method, String)>, Value) {
    let (status, card) = server
        .put_card(account, "pm_card_authenticationRequired")
        .await;
    assert_eq!(status, 200, "{card}");
    let (status, purchase) = buy(server, account, 2_500, "large").await;
    assert_eq!(status, 201, "{purchase}");
    let link = purchase["next_action"]["url"].as_str().unwrap();
    let authorize = link
        .split_once("/authorize/")
        .map(|(_, token)| format!("/authorize/{token}"))
        .unwrap();
    let mut routes: Vec<(Method, String)> = operations(server)
        .await
        .into_iter()
        .filter(|operation| operation.takes_body)
        .map(|operation| (operation.method.clone(), operation.path_with("x")))
        .collect();
    assert_eq!(
        routes.len(),
        4,
        "the document's routes with a body: {:?}",
        routes
    );
    for control in [
        "/_local/usage",
        "/_local/clock",
        "/_local/events/sweep",
        "/_local/events/monthly-charge",
    ] {
        routes.push((Method::POST, control.to_owned()));
    }
    routes.push((Method::POST, authorize));
    (routes, purchase)
}

/// `purchase` (one waiting for its authorization) still waits: no refused body or event was
/// acted on.
async fn assert_untouched(server: &LocalServer, account: &str, purchase: &Value) {
    let read = server
        .get_json(
            &format!(
                "/v1/billing/credit-purchases/{}",
                purchase["id"].as_str().unwrap()
            ),
            account,
        )
        .await;
    assert_eq!(
        read["status"], "requires_action",
        "no refused body or event was acted on"
    );
}

/// The content type `path` reads and a body of it of any size: the authorization page takes the
/// form its button posts; every other route JSON.
fn body_of(path: &str) -> (&'static str, fn(usize) -> String) {
    if path.starts_with("/authorize/") {
        ("application/x-www-form-urlencoded", form_of)
    } else {
        ("application/json", json_of)
    }
}

#[tokio::test]
async fn a_body_over_its_routes_limit_is_413_on_every_route_that_takes_one() {
    let dir = tempfile::tempdir().unwrap();
    let server = LocalServer::start(dir.path()).await;
    let account = "e2e-sec-large";
    let (routes, purchase) = routes_with_a_body(&server, account).await;

    for (method, path) in &routes {
        let limit = limit_of(path);
        let (content_type, body) = body_of(path);
        let send = |size: usize| {
            call(
                server
                    .request(method.clone(), path, Some(account))
                    .header(CONTENT_TYPE, content_type)
                    .body(body(size)),
            )
        };
        let over = send(limit + 1).await;
        let case = format!("{method} {path}, {} bytes", limit + 1);
        if content_type == "application/json" {
            assert_code(&over, 413, "request_too_large", &case);
        } else {
            // The authorization page answers people, in HTML.
            assert_eq!(over.0, 413, "{case}");
        }
        let at = send(limit).await;
        assert_ne!(at.0, 413, "{method} {path} refused {limit} bytes: {}", at.1);
    }
    assert_untouched(&server, account, &purchase).await;
    server.stop().await;
}

/// Sends `body` to `path` as HTTP/1.1 `Transfer-Encoding: chunked` in 4 KiB chunks, with no
/// `Content-Length`, over a raw connection (a client library would not stream a body of a
/// known size unannounced). A writer thread streams while this thread reads, so an answer
/// sent before the body ends — and the connection closed on the rest — is still read.
/// Returns the status and the raw answer.
fn send_chunked(
    server: &LocalServer,
    method: &Method,
    path: &str,
    account: &str,
    content_type: &str,
    body: String,
) -> (u16, String) {
    use std::io::{Read, Write};

    let address = server.base.trim_start_matches("http://").to_owned();
    let mut stream = std::net::TcpStream::connect(&address).expect("connect");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: {content_type}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        crate::helpers::token(account)
    );
    let mut writer = stream.try_clone().unwrap();
    let streaming = std::thread::spawn(move || {
        writer.write_all(head.as_bytes())?;
        for chunk in body.as_bytes().chunks(4096) {
            write!(writer, "{:x}\r\n", chunk.len())?;
            writer.write_all(chunk)?;
            writer.write_all(b"\r\n")?;
        }
        writer.write_all(b"0\r\n\r\n")
    });
    let mut answer = Vec::new();
    // A connection reset after the answer arrived ends the read, not the test.
    let _ = stream.read_to_end(&mut answer);
    // The server may close on the rest of a body it refused: a failed write is expected then.
    let _ = streaming.join().expect("the writer thread");
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("{method} {path}: no HTTP answer: {answer:?}"));
    (status, answer)
}

#[tokio::test]
async fn a_chunked_body_without_a_length_is_413_past_its_routes_limit_and_read_at_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = LocalServer::start(dir.path()).await;
    let account = "e2e-sec-chunked";
    let (routes, purchase) = routes_with_a_body(&server, account).await;

    for (method, path) in &routes {
        let limit = limit_of(path);
        let (content_type, body) = body_of(path);
        // Streamed well past the limit, as a client that never stops would send it.
        let (status, answer) = send_chunked(
            &server,
            method,
            path,
            account,
            content_type,
            body(limit * 2),
        );
        assert_eq!(
            status,
            413,
            "{method} {path}, chunked, {} bytes: {answer}",
            limit * 2
        );
        let (status, answer) = send_chunked(
            &server,
            method,
            path,
            account,
            content_type,
            body(limit + 1),
        );
        assert_eq!(
            status,
            413,
            "{method} {path}, chunked, {} bytes: {answer}",
            limit + 1
        );
        if content_type == "application/json" {
            assert!(
                answer.contains("\"request_too_large\""),
                "{method} {path}: {answer}"
            );
        }
        let (status, answer) =
            send_chunked(&server, method, path, account, content_type, body(limit));
        assert_ne!(
            status, 413,
            "{method} {path} refused a chunked body of {limit} bytes: {answer}"
        );
    }
    assert_untouched(&server, account, &purchase).await;
    server.stop().await;
}

/// Stripe's test card numbers: none of them ever reaches this API (the browser sends them to
/// Stripe), so none may appear anywhere.
const TEST_CARD_NUMBERS: [&str; 12] = [
    "4242424242424242",
    "4000056655665556",
    "5555555555554444",
    "2223003122003222",
    "5200828282828210",
    "5105105105105100",
    "378282246310005",
    "6011111111111117",
    "4000002500003155",
    "4000002760003184",
    "4000000000000341",
    "4000000000009995",
];

/// The webhook and link secrets of the full run (the banner names the defaults, as
/// documentation: these are set instead, so that a secret written anywhere is found).
const RUN_WEBHOOK_SECRET: &str = "whsec_e2e_never_written";
const RUN_LINK_SECRET: &str = "e2e-link-secret-never-written";

/// The secrets the server of the full run holds: none may be written anywhere.
const SECRETS: [&str; 3] = [SECRET, RUN_WEBHOOK_SECRET, RUN_LINK_SECRET];

/// Whether a run of digits passes the Luhn check.
fn luhn_valid(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, digit)| {
            let d = u32::from(digit - b'0');
            if i % 2 == 1 {
                if d > 4 { 2 * d - 9 } else { 2 * d }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Every number of 13–19 digits in `text` that could be a card number: a word of digits only
/// (digits inside a word of letters and digits, as in a hex request id, are part of that word),
/// Luhn-valid and starting with a card network's major industry identifier (2 for Mastercard's
/// 2221–2720, 3 to 6). Epoch milli- and microseconds start with 1 and are not mistaken for one.
/// The known test card numbers are also looked for anywhere (`leaks`).
fn card_like_numbers(text: &str) -> Vec<String> {
    text.as_bytes()
        .split(|byte| !byte.is_ascii_alphanumeric())
        .filter(|word| word.iter().all(u8::is_ascii_digit))
        .filter(|run| (13..=19).contains(&run.len()) && luhn_valid(run))
        .filter(|run| match run[0] {
            b'3'..=b'6' => true,
            b'2' => (b"2221".as_slice()..=b"2720".as_slice()).contains(&&run[..4]),
            _ => false,
        })
        .map(|run| String::from_utf8_lossy(run).into_owned())
        .collect()
}

/// What in `text` (from `source`) is a card number, a CVC, a secret or a JWT.
fn leaks(source: &str, text: &str) -> Vec<String> {
    let mut found: Vec<String> = card_like_numbers(text)
        .into_iter()
        .map(|number| {
            let mut at = text.find(&number).unwrap_or(0).saturating_sub(60);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            let context: String = text[at..].chars().take(120 + number.len()).collect();
            format!("{source}: a card number {number} in …{context}…")
        })
        .collect();
    for secret in SECRETS
        .iter()
        .chain(&["sk_test_", "sk_live_", "rk_test_", "rk_live_"])
    {
        if text.contains(secret) {
            found.push(format!("{source}: the secret {secret}"));
        }
    }
    for number in TEST_CARD_NUMBERS {
        if text.contains(number) {
            found.push(format!("{source}: the test card {number}"));
        }
    }
    // A CVC would come as a field.
    for marker in ["\"cvc\"", "cvc=", "\"cvv\""] {
        if text.contains(marker) {
            found.push(format!("{source}: {marker}"));
        }
    }
    found.extend(jwt_like(text).map(|token| format!("{source}: a JWT {token}")));
    found
}

/// Every JWT in `text`: a header, which is base64url JSON and so starts `eyJ`, a dot and a
/// payload. It starts a base64url word: a random id may hold `eyJ` inside it (one of moto's
/// request ids did, on CI on 29 Nov 2026) and is no token.
fn jwt_like(text: &str) -> impl Iterator<Item = &str> {
    let base64url = |byte: &u8| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_');
    let bytes = text.as_bytes();
    text.match_indices("eyJ").filter_map(move |(start, _)| {
        if start > 0 && base64url(&bytes[start - 1]) {
            return None;
        }
        let header = start + bytes[start..].iter().take_while(|b| base64url(b)).count();
        if bytes.get(header) != Some(&b'.') {
            return None;
        }
        let payload = bytes[header + 1..]
            .iter()
            .take_while(|b| base64url(b))
            .count();
        (payload > 0).then(|| &text[start..header + 1 + payload])
    })
}

#[test]
fn the_leak_scan_finds_what_it_looks_for() {
    let planted = "card 4242424242424242, 5105-1051-0510-5100 no, eyJhbGciOi.x.y, whsec_e2e_never_written, \"cvc\": \"123\", 4000000000009995";
    let found = leaks("planted", planted);
    assert_eq!(found.len(), 7, "{found:?}");
    assert_eq!(
        jwt_like("Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0. and ?t=eyJh.eyJ9.s")
            .collect::<Vec<_>>(),
        // A payload that is JSON and has a signature after it reads as one too.
        ["eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0", "eyJh.eyJ9", "eyJ9.s"]
    );
    assert!(
        leaks(
            "clean",
            "at 1795514400000000 µs, 17955144000000 ms, in_0123456789012345, \
             request_id=XhOqaqTfHXaiYIMVqseyJiNcT4oi7vbQq08cawBoJd9nrquAlNsq, eyJ, eyJx., eyJx"
        )
        .is_empty()
    );
    assert_eq!(
        card_like_numbers("pan=4111111111111111;"),
        ["4111111111111111"]
    );
    assert!(
        card_like_numbers("req_ad4111111111111111de").is_empty(),
        "digits inside a hex id"
    );
}

#[tokio::test]
async fn after_a_full_run_no_log_line_email_or_stored_item_holds_a_card_number_cvc_secret_or_token()
{
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let stdout = std::fs::File::create(dir.path().join("stdout.log")).unwrap();
    let stderr = std::fs::File::create(dir.path().join("stderr.log")).unwrap();
    let server = LocalServer::start_with_output(
        &data,
        &[
            ("RUST_LOG", "debug"),
            ("BILLING_LOCAL_STRIPE_WEBHOOK_SECRET", RUN_WEBHOOK_SECRET),
            ("BILLING_LOCAL_LINK_SECRET", RUN_LINK_SECRET),
        ],
        stdout.into(),
        stderr.into(),
    )
    .await;
    server.set_clock("2026-12-03T00:00:00Z").await;
    let cards = [
        ("e2e-leak-paid", "pm_card_visa"),
        (
            "e2e-leak-declined",
            "pm_card_chargeCustomerFailInsufficientFunds",
        ),
        ("e2e-leak-authorize", "pm_card_authenticationRequired"),
        ("e2e-leak-deleted", "pm_card_mastercard"),
    ];
    for (account, card) in cards {
        let (status, body) = server.put_card(account, card).await;
        assert_eq!(status, 200, "{account}: {body}");
        server
            .usage(
                account,
                &format!("{account}-usage"),
                23_450_000,
                "2026-12-02T00:00:00Z",
            )
            .await;
    }
    for (refused, account) in [
        ("pm_card_cvcCheckFail", "e2e-leak-paid"),
        ("pm_card_visa_debit", "e2e-leak-deleted"),
    ] {
        server.put_card(account, refused).await;
    }
    let (status, purchase) = buy(&server, "e2e-leak-paid", 2_500, "leak-1").await;
    assert_eq!(status, 201, "{purchase}");
    let (status, purchase) = buy(&server, "e2e-leak-authorize", 2_500, "leak-2").await;
    assert_eq!(status, 201, "{purchase}");
    server.set_clock("2027-01-03T03:00:00Z").await;
    let summary = server.monthly_charge("2027-01-03T03:00:00Z").await;
    // The paid account's credits cover its usage: three accounts owe.
    assert_eq!(summary["invoices"], 3, "{summary}");
    server.sweep_at("2027-01-06T04:00:00Z").await;
    let (status, deleted) = server
        .delete_account("e2e-leak-deleted", "e2e-leak-deleted")
        .await;
    assert_eq!(status, 200, "{deleted}");
    let outbox = call(server.request(Method::GET, "/_local/outbox", None))
        .await
        .1;
    assert!(
        outbox.as_array().unwrap().len() >= 6,
        "receipts, a decline, a link, a deletion: {outbox}"
    );
    server.stop().await;

    let logs = std::fs::read_to_string(dir.path().join("stdout.log")).unwrap();
    assert!(logs.lines().count() > 20, "the run logged its requests");
    let banner = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap();
    // The banner's ready token is the local server's documented start-up output (PRODUCT.md,
    // "Local run"), printed once, before any request: every other line is scanned.
    let mut lines = banner.lines();
    let mut banner = Vec::new();
    while let Some(line) = lines.next() {
        banner.push(line);
        if line.starts_with("Token for account") {
            lines.next();
        }
    }
    let mut found = leaks("stdout", &logs);
    found.extend(leaks(
        "stderr (without the ready token)",
        &banner.join("\n"),
    ));
    found.extend(leaks("outbox", &outbox.to_string()));
    for entry in std::fs::read_dir(data.join("outbox")).unwrap() {
        let path = entry.unwrap().path();
        found.extend(leaks(
            &path.display().to_string(),
            &std::fs::read_to_string(&path).unwrap(),
        ));
    }
    found.extend(leaks("store", &stored_items(&data).join("\n")));
    // Every byte of every file of the data folder, the redb files included.
    for entry in std::fs::read_dir(&data).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            found.extend(leaks(
                &path.display().to_string(),
                &String::from_utf8_lossy(&bytes),
            ));
        }
    }
    assert!(found.is_empty(), "{found:#?}");
}
