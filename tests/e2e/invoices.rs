//! The monthly charge and the invoices API over HTTP against `billing-local` (PRODUCT.md
//! Behaviour 5 and 6): `POST /_local/events/monthly-charge`, `GET /v1/billing/invoices`, the
//! emails each outcome sends, and the authorization page of an invoice.

use reqwest::Method;
use serde_json::{Value, json};

use billing_api::jwt::{Claims, sign};

use crate::helpers::{LocalServer, SECRET, call};

/// The local clock of every test: December 2026 has ended, and usage that occurred in it still
/// arrives before its charge date, so it is billed with December (usage arriving after the
/// 3rd is billed with the month it arrives in).
const NOW: &str = "2027-01-02T12:00:00Z";
/// The trigger that charges December 2026.
const DECEMBER_CHARGE: &str = "2027-01-03T03:00:00Z";

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

async fn get(server: &LocalServer, path: &str, account: &str) -> (u16, Value) {
    call(server.request(Method::GET, path, Some(account))).await
}

async fn invoice(server: &LocalServer, account: &str, id: &str) -> Value {
    let path = format!("/v1/billing/invoices/{id}");
    server.get_json(&path, account).await
}

async fn billing_status(server: &LocalServer, account: &str) -> Value {
    server.get_json("/v1/billing", account).await["status"].clone()
}

/// The account's one email, which must have a subject starting `subject`; its text part.
async fn only_mail(server: &LocalServer, account: &str, subject: &str) -> String {
    let mails = server.mails_to(account).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    let got = mails[0]["subject"].as_str().unwrap();
    assert!(got.starts_with(subject), "{got}");
    mails[0]["text"].as_str().unwrap().to_owned()
}

fn summary(period: &str, counts: [u64; 6]) -> Value {
    let [
        accounts,
        invoices,
        paid,
        requires_authorization,
        failed,
        carried,
    ] = counts;
    json!({"period": period, "accounts": accounts, "invoices": invoices, "paid": paid,
           "requires_authorization": requires_authorization, "failed": failed,
           "carried": carried, "errors": 0})
}

#[tokio::test]
async fn a_month_of_usage_is_invoiced_charged_and_listed_with_lines_that_add_up() {
    let (server, _dir) = start().await;
    with_card(&server, "payer", "pm_card_visa").await;
    server
        .usage("payer", "u-1", 12_345_678, "2026-12-10T10:00:00Z")
        .await;
    server
        .usage("payer", "u-2", 2_000_000, "2026-12-31T23:59:59Z")
        .await;
    // January's usage is billed with January, never with December.
    server
        .usage("payer", "u-3", 9_000_000, "2027-01-02T00:00:00Z")
        .await;
    // Under the 0.50 USD minimum: carried over, no invoice.
    server
        .usage("small", "u-4", 300_000, "2026-12-10T10:00:00Z")
        .await;

    let (status, run) = server.fire("monthly-charge", DECEMBER_CHARGE).await;

    assert_eq!((status, run), (200, summary("2026-12", [2, 1, 1, 0, 0, 1])));
    let (status, list) = get(&server, "/v1/billing/invoices", "payer").await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["has_more"], false);
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    let paid = invoice(&server, "payer", "in_202612").await;
    assert_eq!(list["data"][0], paid);
    assert_eq!(paid["status"], "paid");
    assert_eq!(paid["currency"], "usd");
    assert_eq!(
        (&paid["amount_due"], &paid["amount_paid"]),
        (&json!(1_434), &json!(1_434))
    );
    assert_eq!(
        paid["period"],
        json!({"start": "2026-12-01T00:00:00Z", "end": "2027-01-01T00:00:00Z"})
    );
    let lines = paid["lines"].as_array().unwrap();
    let micros: i64 = lines
        .iter()
        .map(|l| l["amount_micros"].as_i64().unwrap())
        .sum();
    let cents: i64 = lines.iter().map(|l| l["amount"].as_i64().unwrap()).sum();
    assert_eq!(micros, 1_434 * 10_000, "{lines:?}");
    assert_eq!(cents, 1_434, "{lines:?}");
    assert_eq!(lines[0]["amount_micros"], 14_345_678);
    assert_eq!(paid["attempts"].as_array().unwrap().len(), 1);
    assert_eq!(paid["attempts"][0]["number"], 1);
    assert_eq!(paid["attempts"][0]["outcome"], "succeeded");
    assert!(paid.get("authorization_url").is_none(), "{paid}");
    assert!(!paid.to_string().contains("secret"), "{paid}");
    let receipt = only_mail(&server, "payer", "Receipt").await;
    assert!(receipt.contains("14.34 USD"), "{receipt}");
    assert_eq!(billing_status(&server, "payer").await, "active");
    let (_, small) = get(&server, "/v1/billing/invoices", "small").await;
    assert_eq!(small, json!({"data": [], "has_more": false}));
}

#[tokio::test]
async fn the_same_event_again_invoices_and_charges_nothing_new() {
    let (server, _dir) = start().await;
    with_card(&server, "twice", "pm_card_visa").await;
    server
        .usage("twice", "u-1", 25_000_000, "2026-12-10T10:00:00Z")
        .await;
    let (_, first) = server.fire("monthly-charge", DECEMBER_CHARGE).await;
    let before = invoice(&server, "twice", "in_202612").await;

    let (status, again) = server.fire("monthly-charge", DECEMBER_CHARGE).await;

    assert_eq!(first, summary("2026-12", [1, 1, 1, 0, 0, 0]));
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["invoices"], 0, "{again}");
    assert_eq!(invoice(&server, "twice", "in_202612").await, before);
    assert_eq!(before["attempts"].as_array().unwrap().len(), 1);
    assert_eq!(server.mails_to("twice").await.len(), 1);
}

#[tokio::test]
async fn two_runs_at_once_write_one_invoice_and_send_one_receipt() {
    let (server, _dir) = start().await;
    for n in 0..6 {
        let account = format!("both-{n}");
        with_card(&server, &account, "pm_card_visa").await;
        server
            .usage(
                &account,
                &format!("u-{n}"),
                7_000_000,
                "2026-12-10T10:00:00Z",
            )
            .await;
    }

    let (first, second) = tokio::join!(
        server.fire("monthly-charge", DECEMBER_CHARGE),
        server.fire("monthly-charge", DECEMBER_CHARGE)
    );

    assert_eq!((first.0, second.0), (200, 200), "{first:?} {second:?}");
    let written = first.1["invoices"].as_u64().unwrap() + second.1["invoices"].as_u64().unwrap();
    assert_eq!(written, 6, "{first:?} {second:?}");
    for n in 0..6 {
        let account = format!("both-{n}");
        assert_eq!(
            invoice(&server, &account, "in_202612").await["status"],
            "paid"
        );
        assert_eq!(server.mails_to(&account).await.len(), 1);
    }
}

/// `pm_card_chargeDeclinedInsufficientFunds` cannot be put on file (its bank declines the
/// attach, on Stripe as here); `pm_card_chargeCustomerFail` attaches and is declined when charged.
#[tokio::test]
async fn a_declined_charge_fails_the_invoice_and_emails_the_reason() {
    let (server, _dir) = start().await;
    let (refused, _) = call(
        server
            .request(Method::PUT, "/v1/billing/card", Some("broke"))
            .json(&json!({ "payment_method": "pm_card_chargeDeclinedInsufficientFunds" })),
    )
    .await;
    assert_eq!(refused, 402);
    with_card(&server, "broke", "pm_card_chargeCustomerFail").await;
    server
        .usage("broke", "u-1", 25_000_000, "2026-12-10T10:00:00Z")
        .await;

    let (_, run) = server.fire("monthly-charge", DECEMBER_CHARGE).await;

    assert_eq!(run, summary("2026-12", [1, 1, 0, 0, 1, 0]));
    let failed = invoice(&server, "broke", "in_202612").await;
    assert_eq!(failed["status"], "payment_failed");
    assert_eq!(failed["amount_paid"], 0);
    let attempt = &failed["attempts"][0];
    assert_eq!(attempt["outcome"], "declined");
    assert_eq!(attempt["decline_code"], "generic_decline");
    assert!(
        attempt["message"]
            .as_str()
            .unwrap()
            .contains("funds are available")
    );
    assert!(failed.get("authorization_url").is_none());
    assert_eq!(billing_status(&server, "broke").await, "past_due");
    let text = only_mail(&server, "broke", "Payment failed").await;
    assert!(text.contains("Reason: Your card was declined."), "{text}");
    assert!(text.contains("(generic_decline)"), "{text}");
    assert!(text.contains("funds are available on the card"), "{text}");
}

#[tokio::test]
async fn a_card_past_its_expiry_month_declines_as_expired_for_the_invoice_and_a_purchase() {
    let (server, _dir) = start().await;
    let (status, card) = server.put_card("lapsed", "pm_card_visa").await;
    assert_eq!(status, 200, "{card}");
    let year = card["exp_year"].as_i64().unwrap();
    assert_eq!(card["exp_month"], 12);
    // The last month the card is good in, then the charge of that month, in the next year.
    server.set_clock(&format!("{year}-12-20T12:00:00Z")).await;
    server
        .usage(
            "lapsed",
            "u-1",
            25_000_000,
            &format!("{year}-12-10T10:00:00Z"),
        )
        .await;
    let next_year = year + 1;
    server
        .set_clock(&format!("{next_year}-01-02T12:00:00Z"))
        .await;

    let (_, run) = server
        .fire("monthly-charge", &format!("{next_year}-01-03T03:00:00Z"))
        .await;
    let (purchase, refused) = call(
        server
            .request(Method::POST, "/v1/billing/credit-purchases", Some("lapsed"))
            .json(&json!({"amount": 1_000, "currency": "usd"})),
    )
    .await;

    assert_eq!(run, summary(&format!("{year}-12"), [1, 1, 0, 0, 1, 0]));
    let failed = invoice(&server, "lapsed", &format!("in_{year}12")).await;
    assert_eq!(failed["status"], "payment_failed", "{failed}");
    assert_eq!(failed["attempts"][0]["decline_code"], "expired_card");
    assert_eq!(
        failed["next_payment_attempt"],
        Value::Null,
        "an expired card is not tried again: {failed}"
    );
    let text = only_mail(&server, "lapsed", "Payment failed").await;
    assert!(text.contains("(expired_card)"), "{text}");
    assert_eq!(purchase, 402, "{refused}");
    assert_eq!(
        refused["error"]["decline_code"], "expired_card",
        "{refused}"
    );
}

#[tokio::test]
async fn an_account_without_a_card_gets_a_failed_invoice_and_an_email_asking_for_one() {
    let (server, _dir) = start().await;
    // A SetupIntent records the account with its address, but no card is added.
    let (status, body) =
        call(server.request(Method::POST, "/v1/billing/setup-intents", Some("cardless"))).await;
    assert_eq!(status, 201, "{body}");
    server
        .usage("cardless", "u-1", 25_000_000, "2026-12-10T10:00:00Z")
        .await;

    let (_, run) = server.fire("monthly-charge", DECEMBER_CHARGE).await;

    assert_eq!(run, summary("2026-12", [1, 1, 0, 0, 1, 0]));
    let failed = invoice(&server, "cardless", "in_202612").await;
    assert_eq!(failed["status"], "payment_failed");
    assert_eq!(failed["attempts"][0]["outcome"], "card_required");
    assert_eq!(failed["attempts"][0]["decline_code"], "card_required");
    assert!(
        failed["attempts"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Add a credit or debit card")
    );
    assert_eq!(billing_status(&server, "cardless").await, "past_due");
    only_mail(&server, "cardless", "Add a card").await;
}

#[tokio::test]
async fn a_user_who_only_opened_the_dashboard_is_emailed_to_add_a_card() {
    let (server, _dir) = start().await;
    let (status, body) = get(&server, "/v1/billing", "looked").await;
    assert_eq!(status, 200, "{body}");
    server
        .usage("looked", "u-1", 25_000_000, "2026-12-10T10:00:00Z")
        .await;

    server.monthly_charge(DECEMBER_CHARGE).await;

    let failed = invoice(&server, "looked", "in_202612").await;
    assert_eq!(failed["attempts"][0]["decline_code"], "card_required");
    only_mail(&server, "looked", "Add a card").await;
}

#[tokio::test]
async fn emails_go_to_the_address_the_latest_token_names() {
    let (server, _dir) = start().await;
    with_card(&server, "moved", "pm_card_visa").await;
    server
        .usage("moved", "u-1", 25_000_000, "2026-12-10T10:00:00Z")
        .await;
    let claims = Claims {
        sub: "moved".into(),
        email: Some("moved-new@example.com".into()),
        exp: None,
    };
    let token = sign(&claims, SECRET.as_bytes());
    let (status, body) = call(
        server
            .request(Method::GET, "/v1/billing", None)
            .bearer_auth(token),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    server.monthly_charge(DECEMBER_CHARGE).await;

    assert!(server.mails_to("moved").await.is_empty());
    let (_, outbox) = call(server.request(Method::GET, "/_local/outbox", None)).await;
    let to_new: Vec<_> = outbox
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["to"] == "moved-new@example.com")
        .collect();
    assert_eq!(to_new.len(), 1, "{outbox}");
    assert!(
        to_new[0]["subject"]
            .as_str()
            .unwrap()
            .starts_with("Receipt")
    );
}

#[tokio::test]
async fn a_charge_the_bank_asks_about_is_authorized_through_the_emailed_link() {
    let (server, _dir) = start().await;
    with_card(&server, "asked", "pm_card_authenticationRequired").await;
    server
        .usage("asked", "u-1", 25_000_000, "2026-12-10T10:00:00Z")
        .await;

    let (_, run) = server.fire("monthly-charge", DECEMBER_CHARGE).await;

    assert_eq!(run, summary("2026-12", [1, 1, 0, 1, 0, 0]));
    let waiting = invoice(&server, "asked", "in_202612").await;
    assert_eq!(waiting["status"], "requires_authorization");
    assert_eq!(waiting["attempts"][0]["outcome"], "requires_authorization");
    let api_link = waiting["authorization_url"].as_str().unwrap();
    assert!(
        api_link.starts_with(&format!("{}/authorize/v1.", server.base)),
        "{api_link}"
    );
    assert_eq!(billing_status(&server, "asked").await, "past_due");
    let text = only_mail(&server, "asked", "Action needed").await;
    let link = text
        .split_whitespace()
        .find(|word| word.starts_with(&format!("{}/authorize/", server.base)))
        .unwrap_or_else(|| panic!("no link in {text}"));

    let browser = reqwest::Client::new();
    let page = browser
        .get(link)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Invoice for December 2026"), "{page}");
    assert!(page.contains("25.00 USD"), "{page}");
    let answer = browser
        .post(link)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("answer=approve")
        .send()
        .await
        .unwrap();

    assert_eq!(answer.status(), 200);
    assert!(answer.text().await.unwrap().contains("Payment complete"));
    let paid = invoice(&server, "asked", "in_202612").await;
    assert_eq!(
        (&paid["status"], &paid["amount_paid"]),
        (&json!("paid"), &json!(2_500))
    );
    assert!(paid.get("authorization_url").is_none());
    assert_eq!(billing_status(&server, "asked").await, "active");
    let receipts = |mails: Vec<Value>| {
        mails
            .iter()
            .filter(|m| m["subject"].as_str().unwrap().starts_with("Receipt"))
            .count()
    };
    assert_eq!(receipts(server.mails_to("asked").await), 1);
    // Answering again, or the event the network sent meanwhile, pays and sends nothing more.
    let again = browser
        .post(link)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("answer=approve")
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200);
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    assert_eq!(receipts(server.mails_to("asked").await), 1);
}

#[tokio::test]
async fn invoices_are_listed_newest_first_in_pages() {
    let (server, _dir) = start().await;
    with_card(&server, "pager", "pm_card_visa").await;
    for (n, (month, charge)) in [
        ("2026-10-10T10:00:00Z", "2026-11-03T03:00:00Z"),
        ("2026-11-10T10:00:00Z", "2026-12-03T03:00:00Z"),
        ("2026-12-10T10:00:00Z", DECEMBER_CHARGE),
    ]
    .into_iter()
    .enumerate()
    {
        server.set_clock(month).await;
        server
            .usage("pager", &format!("u-{n}"), 10_000_000, month)
            .await;
        server.set_clock(charge).await;
        let (status, run) = server.fire("monthly-charge", charge).await;
        assert_eq!((status, &run["invoices"]), (200, &json!(1)), "{run}");
    }
    let ids = |page: &Value| -> Vec<String> {
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_owned())
            .collect()
    };

    let (_, all) = get(&server, "/v1/billing/invoices", "pager").await;
    let (_, first) = get(&server, "/v1/billing/invoices?limit=2", "pager").await;
    let (_, rest) = get(
        &server,
        "/v1/billing/invoices?limit=2&starting_after=in_202611",
        "pager",
    )
    .await;

    assert_eq!(ids(&all), ["in_202612", "in_202611", "in_202610"]);
    assert_eq!(all["has_more"], false);
    assert_eq!(ids(&first), ["in_202612", "in_202611"]);
    assert_eq!(first["has_more"], true);
    assert_eq!(ids(&rest), ["in_202610"]);
    assert_eq!(rest["has_more"], false);
}

#[tokio::test]
async fn a_bad_limit_or_cursor_is_refused_with_its_code() {
    let (server, _dir) = start().await;

    for limit in ["0", "101", "-1", "2.5", "ten", ""] {
        let (status, body) = get(
            &server,
            &format!("/v1/billing/invoices?limit={limit}"),
            "anyone",
        )
        .await;
        assert_eq!(status, 400, "{limit}: {body}");
        assert_eq!(body["error"]["code"], "invalid_limit", "{limit}");
        assert_eq!(body["error"]["param"], "limit");
    }
    let (status, body) = get(
        &server,
        "/v1/billing/invoices?starting_after=cp_1",
        "anyone",
    )
    .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (400, &json!("parameter_invalid"))
    );
    assert_eq!(body["error"]["param"], "starting_after");
    let (status, body) = get(&server, "/v1/billing/invoices?limit=100", "anyone").await;
    assert_eq!(
        (status, body),
        (200, json!({"data": [], "has_more": false}))
    );
}

#[tokio::test]
async fn another_account_s_invoice_is_not_found() {
    let (server, _dir) = start().await;
    with_card(&server, "owner", "pm_card_visa").await;
    server
        .usage("owner", "u-1", 25_000_000, "2026-12-10T10:00:00Z")
        .await;
    server.fire("monthly-charge", DECEMBER_CHARGE).await;

    let (status, body) = get(&server, "/v1/billing/invoices/in_202612", "stranger").await;
    let (malformed, _) = get(&server, "/v1/billing/invoices/not%20an%20id", "owner").await;
    let (missing, _) = get(&server, "/v1/billing/invoices/in_202611", "owner").await;
    let (unauthenticated, _) =
        call(server.request(Method::GET, "/v1/billing/invoices", None)).await;

    assert_eq!((status, &body["error"]["code"]), (404, &json!("not_found")));
    assert!(!body.to_string().contains("2500"), "{body}");
    assert_eq!((malformed, missing, unauthenticated), (404, 404, 401));
}

#[tokio::test]
async fn a_trigger_for_a_month_not_ended_or_not_scheduled_is_refused_and_charges_nothing() {
    let (server, _dir) = start().await;
    with_card(&server, "early", "pm_card_visa").await;
    server
        .usage("early", "u-1", 25_000_000, "2027-01-02T10:00:00Z")
        .await;

    let (status, body) = server.fire("monthly-charge", "2027-02-03T03:00:00Z").await;
    let (no_time, no_time_body) = call(
        server
            .request(Method::POST, "/_local/events/monthly-charge", None)
            .json(&json!({"detail-type": "Scheduled Event"})),
    )
    .await;
    let (not_scheduled, _) = call(
        server
            .request(Method::POST, "/_local/events/monthly-charge", None)
            .json(&json!({"detail-type": "Object Created", "time": DECEMBER_CHARGE})),
    )
    .await;
    let (bad_time, bad_time_body) = call(
        server
            .request(Method::POST, "/_local/events/monthly-charge", None)
            .json(&json!({"detail-type": "Scheduled Event", "time": "yesterday"})),
    )
    .await;

    assert_eq!(
        (status, &body["error"]["code"]),
        (400, &json!("period_not_ended"))
    );
    assert_eq!(body["error"]["param"], "time");
    assert_eq!(
        (no_time, &no_time_body["error"]["code"]),
        (400, &json!("parameter_missing"))
    );
    assert_eq!(not_scheduled, 400);
    assert_eq!(
        (bad_time, &bad_time_body["error"]["code"]),
        (400, &json!("parameter_invalid"))
    );
    let (_, list) = get(&server, "/v1/billing/invoices", "early").await;
    assert_eq!(list, json!({"data": [], "has_more": false}));
    assert!(server.mails_to("early").await.is_empty());
}
