//! Cards over HTTP against `billing-local` (PRODUCT.md Behaviour 1–2).

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{LocalServer, call};

async fn put_card(server: &LocalServer, account: &str, payment_method: &str) -> (u16, Value) {
    call(
        server
            .request(Method::PUT, "/v1/billing/card", Some(account))
            .json(&json!({ "payment_method": payment_method })),
    )
    .await
}

async fn card_on_file(server: &LocalServer, account: &str) -> Value {
    let (status, body) = call(server.request(Method::GET, "/v1/billing", Some(account))).await;
    assert_eq!(status, 200, "{body}");
    body["card"].clone()
}

async fn start() -> (LocalServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    (LocalServer::start(dir.path()).await, dir)
}

#[tokio::test]
async fn a_setup_intent_gives_the_browser_a_client_secret() {
    let (server, _dir) = start().await;
    let (status, body) =
        call(server.request(Method::POST, "/v1/billing/setup-intents", Some("si-user"))).await;
    assert_eq!(status, 201, "{body}");
    assert!(body["id"].as_str().unwrap().starts_with("seti_"));
    assert!(
        body["client_secret"]
            .as_str()
            .unwrap()
            .starts_with(body["id"].as_str().unwrap())
    );
}

#[tokio::test]
async fn adding_a_credit_card_puts_it_on_file() {
    let (server, _dir) = start().await;
    let (status, body) = put_card(&server, "add-user", "pm_card_visa").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["brand"], "visa");
    assert_eq!(body["last4"], "4242");
    assert_eq!(body["funding"], "credit");
    assert_eq!(body["exp_month"], 12);
    assert!(body.get("fingerprint").is_none() && body.get("payment_method").is_none());
    assert_eq!(card_on_file(&server, "add-user").await, body);
}

#[tokio::test]
async fn a_debit_card_is_accepted() {
    let (server, _dir) = start().await;
    let (status, body) = put_card(&server, "debit-user", "pm_card_visa_debit").await;
    assert_eq!((status, body["funding"].as_str()), (200, Some("debit")));
}

#[tokio::test]
async fn every_refusal_answers_with_its_code_and_leaves_the_card_on_file() {
    let (server, _dir) = start().await;
    let account = "refusal-user";
    assert_eq!(put_card(&server, account, "pm_card_visa").await.0, 200);
    let cases = [
        (
            "pm_card_mastercard_prepaid",
            422,
            "card_prepaid_not_supported",
            None,
        ),
        (
            "pm_card_fundingUnknown",
            422,
            "card_funding_unsupported",
            None,
        ),
        ("pm_card_cvcCheckFail", 422, "card_cvc_check_failed", None),
        ("pm_card_avsFail", 422, "card_address_check_failed", None),
        (
            "pm_card_avsLine1Fail",
            422,
            "card_address_check_failed",
            None,
        ),
        ("pm_card_avsZipFail", 422, "card_address_check_failed", None),
        (
            "pm_card_chargeDeclined",
            402,
            "card_declined",
            Some("generic_decline"),
        ),
        (
            "pm_card_chargeDeclinedInsufficientFunds",
            402,
            "card_declined",
            Some("insufficient_funds"),
        ),
        (
            "pm_card_chargeDeclinedExpiredCard",
            402,
            "card_declined",
            Some("expired_card"),
        ),
        (
            "pm_card_chargeDeclinedIncorrectCvc",
            402,
            "card_declined",
            Some("incorrect_cvc"),
        ),
        ("pm_doesNotExist", 404, "payment_method_not_found", None),
    ];
    for (payment_method, status, code, decline_code) in cases {
        let (got, body) = put_card(&server, account, payment_method).await;
        assert_eq!(
            (got, body["error"]["code"].as_str()),
            (status, Some(code)),
            "{payment_method}: {body}"
        );
        assert_eq!(
            body["error"]["decline_code"].as_str(),
            decline_code,
            "{payment_method}"
        );
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.len() > 20,
            "{payment_method}: a message a person can act on: {message}"
        );
        assert_eq!(
            card_on_file(&server, account).await["last4"],
            "4242",
            "{payment_method} changed nothing"
        );
    }
}

#[tokio::test]
async fn a_card_past_its_expiry_month_is_refused_as_expired() {
    let (server, _dir) = start().await;
    let (status, _) = call(
        server
            .request(Method::POST, "/_local/clock", None)
            .json(&json!({"now": "2099-01-01T00:00:00Z"})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = put_card(&server, "expired-user", "pm_card_visa").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("card_expired")),
        "{body}"
    );
    assert_eq!(card_on_file(&server, "expired-user").await, Value::Null);
}

#[tokio::test]
async fn replacing_the_card_shows_the_new_one_and_re_adding_it_changes_nothing() {
    let (server, _dir) = start().await;
    let account = "replace-user";
    assert_eq!(put_card(&server, account, "pm_card_visa").await.0, 200);
    let (status, body) = put_card(&server, account, "pm_card_mastercard").await;
    assert_eq!(
        (status, body["brand"].as_str()),
        (200, Some("mastercard")),
        "{body}"
    );
    assert_eq!(card_on_file(&server, account).await["last4"], "4444");

    let (status, again) = put_card(&server, account, "pm_card_mastercard").await;
    assert_eq!((status, &again), (200, &body));
}

#[tokio::test]
async fn the_card_cannot_be_removed_without_deleting_the_account() {
    let (server, _dir) = start().await;
    let account = "keep-user";
    assert_eq!(put_card(&server, account, "pm_card_amex").await.0, 200);
    let (status, body) =
        call(server.request(Method::DELETE, "/v1/billing/card", Some(account))).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("card_required")),
        "{body}"
    );
    assert_eq!(card_on_file(&server, account).await["brand"], "amex");
    let (status, _) = call(server.request(Method::DELETE, "/v1/billing/card", None)).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn another_account_sees_nothing_of_this_card_and_cannot_take_it() {
    let (server, _dir) = start().await;
    assert_eq!(put_card(&server, "owner", "pm_card_visa").await.0, 200);
    assert_eq!(card_on_file(&server, "stranger").await, Value::Null);

    // The owner's attached copy has its own id; using it from another account reveals nothing.
    let (_, intent) =
        call(server.request(Method::POST, "/v1/billing/setup-intents", Some("stranger"))).await;
    assert!(intent["id"].is_string());
    for guess in ["pm_sim00000001", "pm_sim00000002", "pm_sim00000003"] {
        let (status, body) = put_card(&server, "stranger", guess).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (404, Some("payment_method_not_found")),
            "{guess}"
        );
    }
    assert_eq!(card_on_file(&server, "stranger").await, Value::Null);
    assert_eq!(card_on_file(&server, "owner").await["last4"], "4242");
}

#[tokio::test]
async fn bad_card_requests_get_a_stable_code_and_write_nothing() {
    let (server, _dir) = start().await;
    let account = "bad-input-user";
    let put = |body: reqwest::Body| {
        server
            .request(Method::PUT, "/v1/billing/card", Some(account))
            .header("content-type", "application/json")
            .body(body)
    };
    let cases: [(&str, u16, &str); 9] = [
        ("{}", 400, "parameter_missing"),
        (
            r#"{"payment_method": "pm_card_visa", "payment_method": "pm_card_amex"}"#,
            400,
            "parameter_invalid",
        ),
        (r#"{"payment_method": ""}"#, 400, "parameter_invalid_empty"),
        (r#"{"payment_method": 42}"#, 400, "parameter_invalid"),
        (
            r#"{"payment_method": "card_4242"}"#,
            400,
            "parameter_invalid",
        ),
        (
            r#"{"payment_method": "pm_card_visa", "number": "4242424242424242"}"#,
            400,
            "parameter_unknown",
        ),
        (r#"{"payment_method": "pm_card_visa""#, 400, "invalid_json"),
        ("[]", 400, "invalid_request"),
        ("", 400, "invalid_json"),
    ];
    for (body, status, code) in cases {
        let (got, answer) = call(put(reqwest::Body::from(body))).await;
        assert_eq!(
            (got, answer["error"]["code"].as_str()),
            (status, Some(code)),
            "{body}: {answer}"
        );
    }
    let huge = format!(r#"{{"payment_method": "pm_{}"}}"#, "x".repeat(40 * 1024));
    let (status, answer) = call(put(reqwest::Body::from(huge))).await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (413, Some("request_too_large"))
    );
    let (status, answer) = call(
        server
            .request(Method::PUT, "/v1/billing/card", Some(account))
            .body(r#"{"payment_method":"pm_card_visa"}"#),
    )
    .await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (415, Some("unsupported_media_type"))
    );
    assert_eq!(card_on_file(&server, account).await, Value::Null);
}

/// What the simulated card network holds for an account, through the local control.
async fn network(server: &LocalServer, account: &str) -> Value {
    let response = server
        .request(
            Method::GET,
            &format!("/_local/accounts/{account}/network"),
            None,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// The invariant, as anyone can see it: one card attached, the default, and on file.
async fn assert_one_card(server: &LocalServer, account: &str) -> Value {
    let on_file = card_on_file(server, account).await;
    let held = network(server, account).await;
    let attached = held["attached"].as_array().unwrap();
    assert_eq!(attached.len(), 1, "one card attached: {held}");
    assert_eq!(
        attached[0]["last4"], on_file["last4"],
        "{held} vs {on_file}"
    );
    assert_eq!(
        held["default_payment_method"], attached[0]["id"],
        "the attached card is the default: {held}"
    );
    on_file
}

const RACING_CARDS: [&str; 4] = [
    "pm_card_visa",
    "pm_card_mastercard",
    "pm_card_amex",
    "pm_card_visa_debit",
];

/// `PUT /v1/billing/card` 25 times at once; every answer is the card or a 409 saying a change
/// is in progress (with `retry_after`).
async fn race_cards(server: &LocalServer, account: &str) -> Vec<Value> {
    let cards: Vec<&str> = (0..25).map(|n| RACING_CARDS[n % 4]).collect();
    let answers = futures_join(server, account, &cards).await;
    let mut winners = Vec::new();
    for (status, body) in answers {
        match status {
            200 => winners.push(body),
            409 => {
                assert_eq!(body["error"]["code"], "card_change_in_progress", "{body}");
                assert!(body["error"]["retry_after"].as_u64().is_some(), "{body}");
            }
            _ => panic!("{status} {body}"),
        }
    }
    assert!(!winners.is_empty());
    winners
}

#[tokio::test]
async fn twenty_five_concurrent_first_cards_leave_one_card_attached_default_and_on_file() {
    let (server, _dir) = start().await;
    let account = "racing-first";

    let winners = race_cards(&server, account).await;

    let on_file = assert_one_card(&server, account).await;
    assert!(
        winners.contains(&on_file),
        "the card on file is one that was accepted"
    );
    assert!(network(&server, account).await["customer"].is_string());
}

#[tokio::test]
async fn twenty_five_concurrent_replaces_leave_one_card_attached_default_and_on_file() {
    let (server, _dir) = start().await;
    let account = "racing-replace";
    assert_eq!(put_card(&server, account, "pm_card_discover").await.0, 200);

    for _ in 0..3 {
        race_cards(&server, account).await;
        assert_one_card(&server, account).await;
    }
}

#[tokio::test]
async fn an_account_never_seen_has_no_customer_on_the_network() {
    let (server, _dir) = start().await;
    let held = network(&server, "nobody-yet").await;
    assert_eq!(
        held,
        json!({"customer": null, "default_payment_method": null, "attached": []})
    );
}

async fn futures_join(server: &LocalServer, account: &str, cards: &[&str]) -> Vec<(u16, Value)> {
    let mut tasks = tokio::task::JoinSet::new();
    for card in cards {
        let request = server
            .request(Method::PUT, "/v1/billing/card", Some(account))
            .json(&json!({ "payment_method": card }));
        tasks.spawn(call(request));
    }
    let mut answers = Vec::new();
    while let Some(answer) = tasks.join_next().await {
        answers.push(answer.unwrap());
    }
    answers
}
