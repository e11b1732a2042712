//! Account deletion over HTTP against `billing-local` (issue 11, PRODUCT.md Behaviour 7):
//! `DELETE /v1/account` as a client sees it — the final charge and its 402s, the refusals that
//! change nothing, the confirmation email, the card gone from the network, and an old token
//! that gets no data afterwards.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{LocalServer, call};

/// The local clock of every test, set when its server starts: mid-January 2027, so the usage
/// of the month is not invoiced yet and a deletion closes it into a final invoice.
const NOW: &str = "2027-01-15T12:00:00Z";
/// When the usage of the tests occurred: this month.
const USED_AT: &str = "2027-01-10T10:00:00Z";
/// The final invoice of a deletion is named `in_YYYYMM_final_DDHHMMSS` after the instant it
/// started; the local clock runs on from [`NOW`], so a test's deletion starts within its first
/// minute.
const FINAL_IN_THE_FIRST_MINUTE: &str = "in_202701_final_151200";
/// The subject of the confirmation email.
const CONFIRMATION: &str = "Your billing account has been deleted";

async fn start() -> (LocalServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let server = LocalServer::start(dir.path()).await;
    server.set_clock(NOW).await;
    (server, dir)
}

async fn with_card(server: &LocalServer, account: &str, card: &str) {
    let (status, body) = server.put_card(account, card).await;
    assert_eq!(status, 200, "{body}");
}

/// An account with `card` on file and `micros` of usage this month, not invoiced yet.
async fn owing(server: &LocalServer, account: &str, card: &str, micros: i64) {
    with_card(server, account, card).await;
    server
        .usage(account, &format!("{account}-used"), micros, USED_AT)
        .await;
}

/// The id of a final invoice a test's deletion wrote: January's, named after an instant in the
/// first minute after [`NOW`].
fn final_invoice(id: &Value) -> String {
    let id = id
        .as_str()
        .unwrap_or_else(|| panic!("no final invoice: {id}"));
    let seconds = id
        .strip_prefix(FINAL_IN_THE_FIRST_MINUTE)
        .unwrap_or_default();
    assert!(
        seconds.len() == 2 && seconds.bytes().all(|b| b.is_ascii_digit()),
        "{id}"
    );
    id.to_owned()
}

/// What a deletion answers when it is done.
fn deleted(final_invoice: Option<&str>, forfeited: i64, written_off: i64) -> Value {
    json!({"status": "deleted", "final_invoice": final_invoice, "forfeited_credits": forfeited,
           "written_off": written_off, "currency": "usd"})
}

/// What a client sees of an answer: status, body, and the `Retry-After` header in seconds.
#[derive(Debug)]
struct Answer {
    status: u16,
    body: Value,
    retry_after: Option<u64>,
}

async fn send(request: reqwest::RequestBuilder) -> Answer {
    let response = request.send().await.expect("request sent");
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().unwrap());
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    Answer {
        status,
        body,
        retry_after,
    }
}

/// `DELETE /v1/account` as `account` with any body.
fn delete(server: &LocalServer, account: &str, body: &Value) -> reqwest::RequestBuilder {
    server
        .request(Method::DELETE, "/v1/account", Some(account))
        .json(body)
}

/// Asserts a 409 with `code`, a `retry_after` between 1 and `at_most` seconds, and the same
/// number in the `Retry-After` header.
fn assert_retry_later(answer: &Answer, code: &str, at_most: u64) {
    assert_eq!(answer.status, 409, "{answer:?}");
    assert_eq!(answer.body["error"]["code"], code, "{answer:?}");
    let seconds = answer.body["error"]["retry_after"].as_u64().unwrap();
    assert!((1..=at_most).contains(&seconds), "{answer:?}");
    assert_eq!(answer.retry_after, Some(seconds), "{answer:?}");
}

/// The texts of the account's confirmation emails.
async fn confirmations(server: &LocalServer, account: &str) -> Vec<String> {
    server
        .mails_to(account)
        .await
        .iter()
        .filter(|m| m["subject"] == CONFIRMATION)
        .map(|m| m["text"].as_str().unwrap().to_owned())
        .collect()
}

/// The texts of the account's receipts.
async fn receipts(server: &LocalServer, account: &str) -> Vec<String> {
    server
        .mails_to(account)
        .await
        .iter()
        .filter(|m| m["subject"].as_str().unwrap().starts_with("Receipt"))
        .map(|m| m["text"].as_str().unwrap().to_owned())
        .collect()
}

/// The network as it holds a customer with one card attached, `last4`, as the default.
fn assert_one_card_held(held: &Value, last4: &str) {
    assert!(held["customer"].is_string(), "{held}");
    let attached = held["attached"].as_array().unwrap();
    assert_eq!(attached.len(), 1, "{held}");
    assert_eq!(attached[0]["last4"], last4, "{held}");
    assert_eq!(held["default_payment_method"], attached[0]["id"], "{held}");
}

#[tokio::test]
async fn deleting_an_owing_account_charges_a_final_invoice_forgets_the_card_and_confirms_once() {
    let (server, _dir) = start().await;
    owing(&server, "leaver", "pm_card_visa", 12_345_678).await;
    assert_one_card_held(&server.network("leaver").await, "4242");

    let (status, answer) = server.delete_account("leaver", "leaver").await;

    assert_eq!(status, 200, "{answer}");
    let final_id = final_invoice(&answer["final_invoice"]);
    // 12.34 USD is charged; the 0.005678 USD rounding left is written off, under a cent.
    assert_eq!(answer, deleted(Some(&final_id), 0, 0));
    let receipts = receipts(&server, "leaver").await;
    assert_eq!(receipts.len(), 1, "{receipts:?}");
    assert!(receipts[0].contains("12.34 USD"), "{}", receipts[0]);
    assert!(receipts[0].contains(&format!("Invoice {final_id} is paid")));
    let confirmations = confirmations(&server, "leaver").await;
    assert_eq!(confirmations.len(), 1, "{confirmations:?}");
    assert!(confirmations[0].contains(&final_id), "{}", confirmations[0]);
    assert!(confirmations[0].contains("No credits were left"));
    assert_eq!(server.mails_to("leaver").await.len(), 2);
    // The customer is deleted at the network: it shows no customer, default or card.
    assert_eq!(
        server.network("leaver").await,
        json!({"customer": null, "default_payment_method": null, "attached": []})
    );

    let (again, same) = server.delete_account("leaver", "leaver").await;

    assert_eq!((again, same), (200, answer));
    assert_eq!(server.mails_to("leaver").await.len(), 2);
}

#[tokio::test]
async fn afterwards_the_overview_says_deleted_the_rest_is_410_usage_is_refused_and_no_charge() {
    let (server, _dir) = start().await;
    owing(&server, "gone", "pm_card_visa", 12_345_678).await;
    // A neighbour owing for the same month shows the monthly charge does run.
    owing(&server, "stays", "pm_card_visa", 10_000_000).await;
    let (status, answer) = server.delete_account("gone", "gone").await;
    assert_eq!(status, 200, "{answer}");
    let mails = server.mails_to("gone").await.len();
    let final_path = format!(
        "/v1/billing/invoices/{}",
        final_invoice(&answer["final_invoice"])
    );
    let purchase = json!({"amount": 2_500, "currency": "usd"});
    let card = json!({"payment_method": "pm_card_visa"});
    let overview = server.get_json("/v1/billing", "gone").await;
    assert_eq!(overview["status"], "deleted", "{overview}");
    assert_eq!(
        (
            &overview["card"],
            &overview["balance"]["credits"],
            &overview["balance"]["outstanding"]
        ),
        (&Value::Null, &json!(0), &json!(0)),
        "only the status: {overview}"
    );
    let reads = [
        (Method::GET, "/v1/billing/invoices", None),
        (Method::GET, final_path.as_str(), None),
        (Method::PUT, "/v1/billing/card", Some(&card)),
        (Method::DELETE, "/v1/billing/card", None),
        (Method::POST, "/v1/billing/setup-intents", None),
        (
            Method::POST,
            "/v1/billing/credit-purchases",
            Some(&purchase),
        ),
    ];

    for (method, path, body) in reads {
        let mut request = server.request(method.clone(), path, Some("gone"));
        if let Some(body) = body {
            request = request.json(body);
        }
        let (status, refused) = call(request).await;

        assert_eq!(
            (status, &refused["error"]["code"]),
            (410, &json!("account_deleted")),
            "{method} {path}: {refused}"
        );
        assert!(!refused.to_string().contains("4242"), "{refused}");
    }
    let late = json!({"id": "gone-late", "account_id": "gone", "amount_micros": 1_000_000,
                      "occurred_at": NOW, "description": "tokens"});
    let (one, one_refused) = call(
        server
            .request(Method::POST, "/_local/usage", None)
            .json(&late),
    )
    .await;
    assert_eq!(
        (one, &one_refused["error"]["code"]),
        (410, &json!("account_deleted")),
        "{one_refused}"
    );
    let (list, list_refused) = call(
        server
            .request(Method::POST, "/_local/usage", None)
            .json(&json!([late])),
    )
    .await;
    assert_eq!(
        (list, list_refused),
        (
            200,
            json!({"recorded": 0, "duplicates": 0,
                   "refused": [{"index": 0, "id": "gone-late", "code": "account_deleted"}]})
        )
    );
    let february = "2027-02-03T03:00:00Z";
    server.set_clock(february).await;
    let january = server.monthly_charge(february).await;
    assert_eq!(
        january,
        json!({"period": "2027-01", "accounts": 1, "invoices": 1, "paid": 1,
               "requires_authorization": 0, "failed": 0, "carried": 0, "errors": 0})
    );
    assert_eq!(server.mails_to("gone").await.len(), mails);
    assert_eq!(receipts(&server, "stays").await.len(), 1);
}

#[tokio::test]
async fn a_confirmation_that_does_not_name_the_account_is_refused_and_changes_nothing() {
    let (server, _dir) = start().await;
    owing(&server, "keeper", "pm_card_visa", 12_345_678).await;
    let cases = [
        (json!({"confirm": "someone-else"}), "confirmation_mismatch"),
        (json!({"confirm": ""}), "confirmation_mismatch"),
        (json!({"confirm": "KEEPER"}), "confirmation_mismatch"),
        (json!({"confirm": " keeper"}), "confirmation_mismatch"),
        (json!({}), "parameter_missing"),
        (json!({"confirm": 42}), "parameter_invalid"),
        (json!({"confirm": null}), "parameter_invalid"),
        (json!({"confirm": ["keeper"]}), "parameter_invalid"),
    ];

    for (body, code) in cases {
        let refused = send(delete(&server, "keeper", &body)).await;

        assert_eq!(refused.status, 400, "{body}: {refused:?}");
        assert_eq!(refused.body["error"]["code"], code, "{body}");
        assert_eq!(refused.body["error"]["param"], "confirm", "{body}");
    }
    let unknown = send(delete(
        &server,
        "keeper",
        &json!({"confirm": "keeper", "force": true}),
    ))
    .await;
    assert_eq!(
        (unknown.status, &unknown.body["error"]["code"]),
        (400, &json!("parameter_unknown"))
    );
    let twice = send(
        server
            .request(Method::DELETE, "/v1/account", Some("keeper"))
            .header("content-type", "application/json")
            .body(r#"{"confirm": "someone-else", "confirm": "keeper"}"#),
    )
    .await;
    assert_eq!(
        (
            twice.status,
            &twice.body["error"]["code"],
            &twice.body["error"]["param"]
        ),
        (400, &json!("parameter_invalid"), &json!("confirm"))
    );
    let anonymous = send(
        server
            .request(Method::DELETE, "/v1/account", None)
            .json(&json!({"confirm": "keeper"})),
    )
    .await;
    assert_eq!(anonymous.status, 401, "{anonymous:?}");
    let billing = server.get_json("/v1/billing", "keeper").await;
    assert_eq!(billing["status"], "active");
    assert_eq!(billing["card"]["last4"], "4242");
    assert_one_card_held(&server.network("keeper").await, "4242");
    // No final invoice was written, nothing was charged or emailed.
    let invoices = server.get_json("/v1/billing/invoices", "keeper").await;
    assert_eq!(invoices, json!({"data": [], "has_more": false}));
    assert!(server.mails_to("keeper").await.is_empty());
}

#[tokio::test]
async fn a_declined_final_charge_erases_nothing_and_a_new_card_lets_the_deletion_finish() {
    let (server, _dir) = start().await;
    owing(
        &server,
        "declined",
        "pm_card_chargeCustomerFail",
        12_345_678,
    )
    .await;

    let refused = send(delete(&server, "declined", &json!({"confirm": "declined"}))).await;

    assert_eq!(refused.status, 402, "{refused:?}");
    let error = &refused.body["error"];
    assert_eq!(error["code"], "card_declined");
    let final_path = format!("/v1/billing/invoices/{}", final_invoice(&error["invoice"]));
    assert_eq!(error["decline_code"], "generic_decline");
    assert_eq!(refused.retry_after, None);
    let billing = server.get_json("/v1/billing", "declined").await;
    assert_eq!(billing["status"], "past_due", "{billing}");
    assert_eq!(billing["card"]["last4"], "0341");
    assert_one_card_held(&server.network("declined").await, "0341");
    let unpaid = server.get_json(&final_path, "declined").await;
    assert_eq!(
        (&unpaid["status"], &unpaid["amount_due"]),
        (&json!("payment_failed"), &json!(1_234))
    );
    assert!(confirmations(&server, "declined").await.is_empty());

    // A card that pays settles the final invoice at once; the deletion can then finish.
    with_card(&server, "declined", "pm_card_visa").await;
    let paid = server.get_json(&final_path, "declined").await;
    assert_eq!(paid["status"], "paid", "{paid}");
    let (status, answer) = server.delete_account("declined", "declined").await;

    // The usage was invoiced by the first request; this one had nothing left to invoice.
    assert_eq!((status, answer), (200, deleted(None, 0, 0)));
    assert_eq!(confirmations(&server, "declined").await.len(), 1);
    assert_eq!(receipts(&server, "declined").await.len(), 1);
    assert_eq!(
        server.network("declined").await,
        json!({"customer": null, "default_payment_method": null, "attached": []})
    );
}

#[tokio::test]
async fn a_refused_deletion_asked_again_the_same_day_charges_nothing_and_emails_nothing_more() {
    let (server, _dir) = start().await;
    owing(&server, "again", "pm_card_chargeCustomerFail", 12_345_678).await;
    let first = send(delete(&server, "again", &json!({"confirm": "again"}))).await;
    assert_eq!(first.status, 402, "{first:?}");
    let final_path = format!(
        "/v1/billing/invoices/{}",
        final_invoice(&first.body["error"]["invoice"])
    );
    let attempts = |invoice: &Value| invoice["attempts"].as_array().unwrap().len();
    let mails = server.mails_to("again").await.len();
    assert_eq!(attempts(&server.get_json(&final_path, "again").await), 1);

    // A careless client asking again and again, the same day.
    for _ in 0..3 {
        let repeated = send(delete(&server, "again", &json!({"confirm": "again"}))).await;
        assert_eq!(repeated.status, 402, "{repeated:?}");
        assert_eq!(repeated.body["error"], first.body["error"]);
    }

    let invoice = server.get_json(&final_path, "again").await;
    assert_eq!(
        attempts(&invoice),
        1,
        "the card was charged again: {invoice}"
    );
    assert_eq!(server.mails_to("again").await.len(), mails);
    // The next day the deletion may try the card once more: once.
    server.set_clock("2027-01-16T09:00:00Z").await;
    for _ in 0..2 {
        let next_day = send(delete(&server, "again", &json!({"confirm": "again"}))).await;
        assert_eq!(next_day.status, 402, "{next_day:?}");
    }
    let invoice = server.get_json(&final_path, "again").await;
    assert_eq!(attempts(&invoice), 2, "{invoice}");
    assert_eq!(invoice["attempts"][1]["trigger"], "deletion", "{invoice}");
    assert_eq!(server.mails_to("again").await.len(), mails + 1);
}

#[tokio::test]
async fn a_final_charge_the_bank_asks_about_answers_402_with_a_page_that_authorizes_it() {
    let (server, _dir) = start().await;
    owing(
        &server,
        "asked",
        "pm_card_authenticationRequired",
        25_000_000,
    )
    .await;

    let refused = send(delete(&server, "asked", &json!({"confirm": "asked"}))).await;

    assert_eq!(refused.status, 402, "{refused:?}");
    let error = &refused.body["error"];
    assert_eq!(error["code"], "authorization_required");
    let final_path = format!("/v1/billing/invoices/{}", final_invoice(&error["invoice"]));
    let link = error["authorization_url"].as_str().unwrap();
    assert!(
        link.starts_with(&format!("{}/authorize/", server.base)),
        "{link}"
    );
    assert!(confirmations(&server, "asked").await.is_empty());
    let browser = reqwest::Client::new();
    let page = browser.get(link).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(html.starts_with("text/html"), "{html}");
    assert!(page.text().await.unwrap().contains("25.00 USD"));
    let approved = browser
        .post(link)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("answer=approve")
        .send()
        .await
        .unwrap();
    assert_eq!(approved.status(), 200);
    assert!(approved.text().await.unwrap().contains("Payment complete"));
    let paid = server.get_json(&final_path, "asked").await;
    assert_eq!(paid["status"], "paid", "{paid}");

    let (status, answer) = server.delete_account("asked", "asked").await;

    // The usage was invoiced by the first request, and paid once authorized.
    assert_eq!((status, answer), (200, deleted(None, 0, 0)));
    assert_eq!(receipts(&server, "asked").await.len(), 1);
    assert_eq!(confirmations(&server, "asked").await.len(), 1);
}

#[tokio::test]
async fn a_purchase_in_flight_refuses_the_deletion_with_retry_after() {
    let (server, _dir) = start().await;
    with_card(&server, "buying", "pm_card_authenticationRequired").await;
    let (status, purchase) = call(
        server
            .request(Method::POST, "/v1/billing/credit-purchases", Some("buying"))
            .json(&json!({"amount": 2_500, "currency": "usd"})),
    )
    .await;
    assert_eq!(
        (status, &purchase["status"]),
        (201, &json!("requires_action"))
    );

    let refused = send(delete(&server, "buying", &json!({"confirm": "buying"}))).await;

    // The purchase has 15 minutes to settle.
    assert_retry_later(&refused, "purchase_in_progress", 15 * 60);
    let billing = server.get_json("/v1/billing", "buying").await;
    assert_eq!(billing["status"], "active");
    assert_eq!(billing["purchase_in_flight"], true);
    assert_one_card_held(&server.network("buying").await, "3184");
    assert!(confirmations(&server, "buying").await.is_empty());
}

#[tokio::test]
async fn credits_left_are_forfeited_and_the_email_says_how_much() {
    let (server, _dir) = start().await;
    with_card(&server, "saver", "pm_card_visa").await;
    let (status, purchase) = call(
        server
            .request(Method::POST, "/v1/billing/credit-purchases", Some("saver"))
            .json(&json!({"amount": 2_500, "currency": "usd"})),
    )
    .await;
    assert_eq!((status, &purchase["status"]), (201, &json!("succeeded")));
    server
        .usage("saver", "saver-used", 5_000_000, USED_AT)
        .await;

    let (status, answer) = server.delete_account("saver", "saver").await;

    // The credits paid for the usage: no final invoice.
    assert_eq!((status, answer), (200, deleted(None, 2_000, 0)));
    let confirmations = confirmations(&server, "saver").await;
    assert_eq!(confirmations.len(), 1, "{confirmations:?}");
    assert!(
        confirmations[0].contains("Credits left on your balance, 20.00 USD, were forfeited."),
        "{}",
        confirmations[0]
    );
    assert!(!confirmations[0].contains("final invoice"));
}

#[tokio::test]
async fn an_amount_too_small_to_charge_is_written_off_and_the_email_says_how_much() {
    let (server, _dir) = start().await;
    // 0.30 USD is under the 0.50 USD minimum charge.
    owing(&server, "small", "pm_card_visa", 300_000).await;

    let (status, answer) = server.delete_account("small", "small").await;

    assert_eq!((status, answer), (200, deleted(None, 0, 30)));
    assert!(receipts(&server, "small").await.is_empty());
    let confirmations = confirmations(&server, "small").await;
    assert_eq!(confirmations.len(), 1, "{confirmations:?}");
    assert!(
        confirmations[0].contains("An amount too small to charge, 0.30 USD, was written off."),
        "{}",
        confirmations[0]
    );
}

#[tokio::test]
async fn twenty_five_deletions_at_once_charge_once_and_confirm_once() {
    let (server, _dir) = start().await;
    owing(&server, "rushed", "pm_card_visa", 12_345_678).await;
    let confirm = json!({"confirm": "rushed"});

    let running: Vec<_> = (0..25)
        .map(|_| tokio::spawn(send(delete(&server, "rushed", &confirm))))
        .collect();
    let mut answers = Vec::new();
    for answer in running {
        answers.push(answer.await.unwrap());
    }

    let done: Vec<_> = answers.iter().filter(|a| a.status == 200).collect();
    assert!(!done.is_empty(), "{answers:?}");
    let final_id = final_invoice(&done[0].body["final_invoice"]);
    for answer in &done {
        assert_eq!(answer.body, deleted(Some(&final_id), 0, 0));
    }
    for answer in answers.iter().filter(|a| a.status != 200) {
        // Another request holds the deletion's lease, for two minutes at most.
        assert_retry_later(answer, "deletion_in_progress", 120);
    }
    assert_eq!(receipts(&server, "rushed").await.len(), 1);
    assert_eq!(confirmations(&server, "rushed").await.len(), 1);
    let (status, after) = server.delete_account("rushed", "rushed").await;
    assert_eq!((status, after), (200, deleted(Some(&final_id), 0, 0)));
    assert_eq!(server.mails_to("rushed").await.len(), 2);
}
