//! Getting paid after a failed charge, over HTTP against `billing-local` (issue 10, PRODUCT.md
//! Behaviour 5): the daily sweep (`POST /_local/events/sweep`) retries a declined invoice on its
//! schedule and then gives up, a decline that cannot succeed waits for a new card, a new card
//! pays everything owed at once, and nothing is charged or emailed twice — two sweeps a day, a
//! restarted server, a server killed in the middle of a sweep.
//!
//! Stripe's test cards that decline with a specific code also decline the attach, so no such
//! card can be on file; the simulated network's local-only `pm_card_chargeCustomerFail…` cards
//! attach and then decline every charge with that code.

use chrono::{DateTime, Duration, Utc};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{LocalServer, call, scheduled_event};

const INSUFFICIENT_FUNDS: &str = "pm_card_chargeCustomerFailInsufficientFunds";
const LOST_CARD: &str = "pm_card_chargeCustomerFailLostCard";
const STOLEN_CARD: &str = "pm_card_chargeCustomerFailStolenCard";
const INCORRECT_CVC: &str = "pm_card_chargeCustomerFailIncorrectCvc";
const GOOD_CARD: &str = "pm_card_visa";

/// The trigger that charges October 2026; the clock reads the same instant when it fires.
const NOVEMBER_CHARGE: &str = "2026-11-03T03:00:00Z";
const OCTOBER_INVOICE: &str = "/v1/billing/invoices/in_202610";

async fn start() -> (LocalServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let server = LocalServer::start(dir.path()).await;
    (server, dir)
}

/// 04:00 UTC on each day from November 4th to December 2nd: the daily sweep of a month.
fn sweep_days() -> Vec<String> {
    let first: DateTime<Utc> = "2026-11-04T04:00:00Z".parse().unwrap();
    (0..29)
        .map(|n| (first + Duration::days(n)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .collect()
}

/// Puts `card` on file (or only records the account and its address, when `None`).
async fn account_with(server: &LocalServer, account: &str, card: Option<&str>) {
    let (status, body) = match card {
        Some(card) => server.put_card(account, card).await,
        None => {
            call(server.request(Method::POST, "/v1/billing/setup-intents", Some(account))).await
        }
    };
    assert!(status == 200 || status == 201, "{account}: {body}");
}

/// Accounts with 25.00 USD of October usage and their card, charged on November 3rd.
async fn charged_for_october(server: &LocalServer, accounts: &[(&str, Option<&str>)]) -> Value {
    server.set_clock("2026-10-20T10:00:00Z").await;
    for (account, card) in accounts {
        account_with(server, account, *card).await;
        let id = format!("{account}-october");
        server
            .usage(account, &id, 25_000_000, "2026-10-15T10:00:00Z")
            .await;
    }
    server.set_clock(NOVEMBER_CHARGE).await;
    server.monthly_charge(NOVEMBER_CHARGE).await
}

/// Each attempt as `(trigger, day, outcome)`.
fn attempts(invoice: &Value) -> Vec<(String, String, String)> {
    invoice["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["trigger"].as_str().unwrap().to_owned(),
                a["attempted_at"].as_str().unwrap()[..10].to_owned(),
                a["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn attempt(trigger: &str, day: &str, outcome: &str) -> (String, String, String) {
    (trigger.to_owned(), day.to_owned(), outcome.to_owned())
}

/// The attempts of an October invoice whose card kept declining until it was given up: the
/// charge on November 3rd, then the retries of days 3, 5 and 7.
fn declined_on_the_charge_and_every_retry_day() -> [(String, String, String); 4] {
    [
        attempt("monthly", "2026-11-03", "declined"),
        attempt("retry", "2026-11-06", "declined"),
        attempt("retry", "2026-11-08", "declined"),
        attempt("retry", "2026-11-10", "declined"),
    ]
}

/// The sweep's invoice counts with everything zero but `counts`.
fn invoices_swept(counts: Value) -> Value {
    let mut swept = json!({"visited": 0, "paid": 0, "requires_authorization": 0, "failed": 0,
                           "uncollectible": 0, "processing": 0, "errors": 0});
    for (key, value) in counts.as_object().unwrap() {
        swept[key] = value.clone();
    }
    swept
}

/// Subjects of the account's emails, oldest first.
async fn subjects(server: &LocalServer, account: &str) -> Vec<String> {
    let mut mails = server.mails_to(account).await;
    mails.reverse();
    mails
        .iter()
        .map(|m| m["subject"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_failing_card_is_retried_on_the_6th_8th_and_10th_then_uncollectible() {
    let (server, _dir) = start().await;
    let run = charged_for_october(&server, &[("broke", Some(INSUFFICIENT_FUNDS))]).await;
    assert_eq!(run["failed"], 1, "{run}");
    let failed = server.get_json(OCTOBER_INVOICE, "broke").await;
    assert_eq!(failed["status"], "payment_failed");
    assert_eq!(
        failed["next_payment_attempt"], "2026-11-06T00:00:00Z",
        "due from the start of the third day after the charge date: {failed}"
    );

    let mut visits = Vec::new();
    for day in sweep_days() {
        let swept = server.sweep_at(&day).await;
        if swept["invoices"]["visited"] != 0 {
            visits.push((day[..10].to_owned(), swept["invoices"].clone()));
        }
    }

    assert_eq!(
        visits,
        [
            (
                "2026-11-06".into(),
                invoices_swept(json!({"visited": 1, "failed": 1}))
            ),
            (
                "2026-11-08".into(),
                invoices_swept(json!({"visited": 1, "failed": 1}))
            ),
            (
                "2026-11-10".into(),
                invoices_swept(json!({"visited": 1, "uncollectible": 1}))
            ),
        ]
    );
    let given_up = server.get_json(OCTOBER_INVOICE, "broke").await;
    assert_eq!(given_up["status"], "uncollectible");
    assert!(given_up.get("next_payment_attempt").is_none(), "{given_up}");
    assert_eq!(
        attempts(&given_up),
        declined_on_the_charge_and_every_retry_day()
    );
    assert!(
        given_up["attempts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["decline_code"] == "insufficient_funds"),
        "{given_up}"
    );
    let mut mails = server.mails_to("broke").await;
    mails.reverse();
    let texts: Vec<&str> = mails.iter().map(|m| m["text"].as_str().unwrap()).collect();
    assert_eq!(
        subjects(&server, "broke").await,
        [
            "Payment failed for your October 2026 invoice",
            "Payment failed for your October 2026 invoice",
            "Payment failed for your October 2026 invoice",
            "Payment failed: your October 2026 invoice is uncollectible",
        ]
    );
    for (text, next) in texts.iter().zip([
        "We will try the card again on November 6, 2026.",
        "We will try the card again on November 8, 2026.",
        "We will try the card again on November 10, 2026.",
        "We tried the card 4 times and will not try it again",
    ]) {
        assert!(
            text.contains("Reason: Your card was declined for insufficient funds."),
            "{text}"
        );
        assert!(text.contains("- funds are available on the card"), "{text}");
        assert!(text.contains(next), "{next} not in {text}");
    }
    // November's usage is not invoiced before December 3rd, and is owed all the same.
    server
        .usage("broke", "broke-november", 3_000_000, "2026-11-20T10:00:00Z")
        .await;
    let billing = server.get_json("/v1/billing", "broke").await;
    assert_eq!(billing["status"], "past_due");
    assert_eq!(billing["balance"]["outstanding"], 2_500 + 300);
}

#[tokio::test]
async fn a_decline_that_cannot_succeed_waits_all_month_for_a_new_card_that_pays_at_once() {
    let (server, _dir) = start().await;
    let accounts = [
        ("lost", Some(LOST_CARD), "lost_card"),
        ("stolen", Some(STOLEN_CARD), "stolen_card"),
        ("wrong-cvc", Some(INCORRECT_CVC), "incorrect_cvc"),
        ("cardless", None, "card_required"),
    ];
    let cards: Vec<_> = accounts.iter().map(|(a, c, _)| (*a, *c)).collect();
    let run = charged_for_october(&server, &cards).await;
    assert_eq!(run["failed"], 4, "{run}");

    let mut visited = 0;
    for day in sweep_days() {
        visited += server.sweep_at(&day).await["invoices"]["visited"]
            .as_u64()
            .unwrap();
    }

    assert_eq!(visited, 0);
    for (account, _, code) in accounts {
        let waiting = server.get_json(OCTOBER_INVOICE, account).await;
        assert_eq!(waiting["status"], "payment_failed", "{waiting}");
        assert_eq!(
            waiting["attempts"].as_array().unwrap().len(),
            1,
            "{waiting}"
        );
        assert_eq!(waiting["attempts"][0]["decline_code"], code);
        assert!(waiting.get("next_payment_attempt").is_none(), "{waiting}");
        assert_eq!(server.mails_to(account).await.len(), 1, "{account}");
        let billing = server.get_json("/v1/billing", account).await;
        assert_eq!(
            (&billing["status"], &billing["balance"]["outstanding"]),
            (&json!("past_due"), &json!(2_500))
        );

        let (status, card) = server.put_card(account, GOOD_CARD).await;

        assert_eq!((status, &card["last4"]), (200, &json!("4242")), "{card}");
        let paid = server.get_json(OCTOBER_INVOICE, account).await;
        assert_eq!(paid["status"], "paid", "{account}: {paid}");
        assert_eq!(paid["amount_paid"], 2_500);
        assert_eq!(
            attempts(&paid)[1..],
            [attempt("new_card", "2026-12-02", "succeeded")]
        );
        let mails = subjects(&server, account).await;
        assert_eq!(mails.len(), 2, "{mails:?}");
        assert_eq!(mails[1], "Receipt: your October 2026 invoice is paid");
        let billing = server.get_json("/v1/billing", account).await;
        assert_eq!(
            (&billing["status"], &billing["balance"]["outstanding"]),
            (&json!("active"), &json!(0))
        );
    }
    let lost = server.mails_to("lost").await;
    let notice = lost[1]["text"].as_str().unwrap();
    assert!(notice.contains("(lost_card)"), "{notice}");
    assert!(
        notice.contains("This card will not be charged again"),
        "{notice}"
    );
}

#[tokio::test]
async fn a_replaced_card_pays_every_unpaid_invoice_at_once_oldest_first() {
    let (server, _dir) = start().await;
    server.set_clock("2026-09-20T10:00:00Z").await;
    account_with(&server, "late", Some(INSUFFICIENT_FUNDS)).await;
    server
        .usage("late", "late-september", 10_000_000, "2026-09-15T10:00:00Z")
        .await;
    server.set_clock("2026-10-03T03:00:00Z").await;
    server.monthly_charge("2026-10-03T03:00:00Z").await;
    for day in 4..=12 {
        server
            .sweep_at(&format!("2026-10-{day:02}T04:00:00Z"))
            .await;
    }
    let september = "/v1/billing/invoices/in_202609";
    assert_eq!(
        server.get_json(september, "late").await["status"],
        "uncollectible"
    );
    server.set_clock("2026-10-20T10:00:00Z").await;
    server
        .usage("late", "late-october", 20_000_000, "2026-10-15T10:00:00Z")
        .await;
    server.set_clock(NOVEMBER_CHARGE).await;
    server.monthly_charge(NOVEMBER_CHARGE).await;
    server.set_clock("2026-11-04T12:00:00Z").await;
    let before = server.mails_to("late").await.len();

    let (status, answer) = server.put_card("late", GOOD_CARD).await;

    assert_eq!(status, 200, "{answer}");
    let billing = server.get_json("/v1/billing", "late").await;
    assert_eq!(answer, billing["card"], "the answer is the card on file");
    for (path, amount) in [(september, 1_000), (OCTOBER_INVOICE, 2_000)] {
        let paid = server.get_json(path, "late").await;
        assert_eq!(
            (&paid["status"], &paid["amount_paid"]),
            (&json!("paid"), &json!(amount)),
            "{paid}"
        );
        let last = attempts(&paid).pop().unwrap();
        assert_eq!(last, attempt("new_card", "2026-11-04", "succeeded"));
    }
    assert_eq!(
        subjects(&server, "late").await[before..],
        [
            "Receipt: your September 2026 invoice is paid",
            "Receipt: your October 2026 invoice is paid",
        ]
    );
    assert_eq!(
        (&billing["status"], &billing["balance"]["outstanding"]),
        (&json!("active"), &json!(0))
    );
}

#[tokio::test]
async fn two_sweeps_on_the_same_day_make_one_attempt() {
    let (server, _dir) = start().await;
    charged_for_october(&server, &[("twice", Some(INSUFFICIENT_FUNDS))]).await;

    let (first, second) = tokio::join!(
        server.sweep_at("2026-11-06T04:00:00Z"),
        server.sweep_at("2026-11-06T04:00:00Z")
    );
    let late = server.sweep_at("2026-11-06T23:59:00Z").await;
    let next_day = server.sweep_at("2026-11-07T04:00:00Z").await;

    let visited: Vec<_> = [&first, &second, &late, &next_day]
        .iter()
        .map(|s| s["invoices"]["visited"].as_u64().unwrap())
        .collect();
    assert_eq!(visited.iter().sum::<u64>(), 1, "{visited:?}");
    let invoice = server.get_json(OCTOBER_INVOICE, "twice").await;
    assert_eq!(
        attempts(&invoice),
        [
            attempt("monthly", "2026-11-03", "declined"),
            attempt("retry", "2026-11-06", "declined"),
        ]
    );
    assert_eq!(server.mails_to("twice").await.len(), 2);
}

#[tokio::test]
async fn a_declined_credit_purchase_is_never_retried_by_the_sweep() {
    let (server, _dir) = start().await;
    server.set_clock("2026-11-10T10:00:00Z").await;
    account_with(&server, "buyer", Some(INSUFFICIENT_FUNDS)).await;
    let (status, refused) = call(
        server
            .request(Method::POST, "/v1/billing/credit-purchases", Some("buyer"))
            .json(&json!({"amount": 2_500, "currency": "usd"})),
    )
    .await;
    assert_eq!(status, 402, "{refused}");
    assert_eq!(refused["error"]["decline_code"], "insufficient_funds");
    let mails = server.mails_to("buyer").await.len();

    let mut swept = Vec::new();
    for at in [
        "2026-11-10T10:16:00Z",
        "2026-11-11T04:00:00Z",
        "2026-11-13T04:00:00Z",
        "2026-11-17T04:00:00Z",
    ] {
        swept.push(server.sweep_at(at).await);
    }

    for answer in &swept {
        assert_eq!(answer["purchases"]["visited"], 0, "{answer}");
        assert_eq!(answer["invoices"], invoices_swept(json!({})), "{answer}");
    }
    let billing = server.get_json("/v1/billing", "buyer").await;
    assert_eq!(billing["balance"]["credits"], 0);
    assert_eq!(billing["purchase_in_flight"], false);
    assert_eq!(server.mails_to("buyer").await.len(), mails);
    let invoices = server.get_json("/v1/billing/invoices", "buyer").await;
    assert_eq!(invoices, json!({"data": [], "has_more": false}));
}

#[tokio::test]
async fn a_server_restarted_between_sweeps_makes_each_attempt_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = LocalServer::start(dir.path()).await;
    charged_for_october(&server, &[("restarted", Some(INSUFFICIENT_FUNDS))]).await;

    for day in ["06", "08", "10"] {
        server.sweep_at(&format!("2026-11-{day}T04:00:00Z")).await;
        server.stop().await;
        server = LocalServer::start(dir.path()).await;
        let again = server.sweep_at(&format!("2026-11-{day}T05:00:00Z")).await;
        assert_eq!(again["invoices"], invoices_swept(json!({})), "{again}");
    }
    server.sweep_at("2026-11-11T04:00:00Z").await;

    let invoice = server.get_json(OCTOBER_INVOICE, "restarted").await;
    assert_eq!(invoice["status"], "uncollectible");
    assert_eq!(
        attempts(&invoice),
        declined_on_the_charge_and_every_retry_day()
    );
    assert_eq!(server.mails_to("restarted").await.len(), 4);
    server.stop().await;
}

#[tokio::test]
async fn a_sweep_killed_midway_and_run_again_makes_each_attempt_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = LocalServer::start(dir.path()).await;
    let names: Vec<String> = (0..30).map(|n| format!("killed-{n:02}")).collect();
    let accounts: Vec<_> = names
        .iter()
        .map(|n| (n.as_str(), Some(INSUFFICIENT_FUNDS)))
        .collect();
    charged_for_october(&server, &accounts).await;
    server.set_clock("2026-11-06T04:00:00Z").await;
    let sweep = server
        .request(Method::POST, "/_local/events/sweep", None)
        .json(&scheduled_event("2026-11-06T04:00:00Z"))
        .send();
    let running = tokio::spawn(sweep);
    // Invoices are visited in account order: once the first has its retry, the sweep is
    // under way, and the server is killed (SIGKILL) there.
    for _ in 0..200 {
        let first = server.get_json(OCTOBER_INVOICE, &names[0]).await;
        if first["attempts"].as_array().unwrap().len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    server.stop().await;
    let cut_short = running.await.unwrap().is_err();

    let server = LocalServer::start(dir.path()).await;
    // An attempt or an email left claimed is picked up once its claim is stale (15 minutes).
    server.sweep_at("2026-11-06T04:16:00Z").await;
    server.sweep_at("2026-11-06T23:00:00Z").await;

    // Money moves once per attempt. An email is sent at least once: a process killed after
    // handing it to the mailer and before marking it sent leaves the claim, and the next
    // visitor sends the same email again.
    for account in &names {
        let invoice = server.get_json(OCTOBER_INVOICE, account).await;
        assert_eq!(
            attempts(&invoice),
            [
                attempt("monthly", "2026-11-03", "declined"),
                attempt("retry", "2026-11-06", "declined"),
            ],
            "{account} (sweep cut short: {cut_short})"
        );
        let mut texts: Vec<String> = server
            .mails_to(account)
            .await
            .iter()
            .map(|m| m["text"].as_str().unwrap().to_owned())
            .collect();
        texts.dedup();
        assert_eq!(texts.len(), 2, "{account}: {texts:?}");
    }
    server.stop().await;
}
