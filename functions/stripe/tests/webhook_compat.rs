//! The webhook's pieces against localstripe and our compatibility layer: the events recorded
//! about a succeeded, a declined, a 3-D Secure and a canceled PaymentIntent read (with
//! `parse_event`) as `charge_status` reads the same PaymentIntent; the card updater's event;
//! a webhook localstripe delivers passes `verify_signature`; and `customer_account` of a
//! customer this system did not create. Run through `scripts/with-stand-ins`.

mod stand_in;

use std::time::Duration;

use billing_core::domain::event::{NetworkEvent, NetworkEventKind, UpdatedCard};
use billing_core::domain::money::{Cents, Currency};
use billing_core::ports::gateway::{ChargeOutcome, ChargeRequest, PaymentGateway};
use billing_core::{AccountId, CustomerId, PaymentId, PaymentMethodId};
use billing_stripe::StripeGateway;
use billing_stripe::webhook::{parse_event, verify_signature};
use serde_json::Value;
use stand_in::request;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn gateway() -> StripeGateway {
    StripeGateway::new(stand_in::KEY, Some(&stand_in::url())).unwrap()
}

fn account(label: &str) -> AccountId {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    AccountId::parse(&format!("webhook-{label}-{nanos:x}")).unwrap()
}

/// A customer of `account` with `card` saved.
async fn saved_card(
    gateway: &StripeGateway,
    account: &AccountId,
    card: &str,
) -> (CustomerId, PaymentMethodId) {
    let customer = gateway.create_customer(account, None).await.unwrap();
    let attached = gateway
        .attach(&PaymentMethodId::parse(card).unwrap(), &customer)
        .await
        .unwrap();
    (customer, attached.id)
}

async fn charge(card: &str, off_session: bool) -> (AccountId, ChargeOutcome) {
    let gateway = gateway();
    let account = account(card);
    let (customer, payment_method) = saved_card(&gateway, &account, card).await;
    let outcome = gateway
        .charge(&ChargeRequest {
            customer,
            payment_method,
            amount: Cents::new(1_500),
            currency: Currency::Usd,
            idempotency_key: format!("webhook-{account}"),
            off_session,
            description: "Credits".into(),
            account: account.clone(),
            reference: "cp_webhook".into(),
        })
        .await
        .unwrap();
    (account, outcome)
}

/// The events recorded about `payment`, oldest first: their types, and each as the webhook
/// reads it.
async fn events_about(payment: &PaymentId) -> (Vec<String>, Vec<NetworkEvent>) {
    let (status, body) = request(
        "GET",
        &format!("/_compat/events?payment_intent={payment}"),
        "",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let list: Value = serde_json::from_str(&body).unwrap();
    let events = list["data"].as_array().unwrap();
    let types = events
        .iter()
        .map(|event| event["type"].as_str().unwrap().to_owned())
        .collect();
    let parsed = events
        .iter()
        .map(|event| parse_event(event.to_string().as_bytes()).unwrap())
        .collect();
    (types, parsed)
}

/// The outcomes of payment events, checking each names the account and the reference.
fn outcomes(account: &AccountId, events: Vec<NetworkEvent>) -> Vec<ChargeOutcome> {
    events
        .into_iter()
        .map(|event| match event.kind {
            NetworkEventKind::Payment {
                account: Some(named),
                reference: Some(reference),
                outcome,
            } if &named == account && reference == "cp_webhook" => outcome,
            other => panic!("not a payment event of {account} for cp_webhook: {other:?}"),
        })
        .collect()
}

#[tokio::test]
async fn a_succeeded_payments_event_reads_as_its_status() {
    let (account, outcome) = charge("pm_card_visa", false).await;
    let payment = outcome.payment().unwrap().clone();

    let (types, events) = events_about(&payment).await;

    assert_eq!(types, ["payment_intent.succeeded"]);
    let status = gateway().charge_status(&payment).await.unwrap();
    assert_eq!(status, ChargeOutcome::Succeeded { payment });
    assert_eq!(outcomes(&account, events), [status]);
}

#[tokio::test]
async fn a_declined_payments_event_reads_as_its_status() {
    let (account, outcome) = charge("pm_card_chargeCustomerFail", false).await;
    let payment = outcome.payment().unwrap().clone();

    let (types, events) = events_about(&payment).await;

    assert_eq!(types, ["payment_intent.payment_failed"]);
    let status = gateway().charge_status(&payment).await.unwrap();
    assert!(
        matches!(status, ChargeOutcome::Declined { .. }),
        "{status:?}"
    );
    assert_eq!(outcomes(&account, events), [status]);
}

#[tokio::test]
async fn a_3ds_payments_events_read_as_its_status_before_and_after_authentication() {
    let (account, outcome) = charge("pm_card_authenticationRequired", false).await;
    let ChargeOutcome::RequiresAction {
        payment,
        client_secret,
        ..
    } = outcome.clone()
    else {
        panic!("expected requires_action, got {outcome:?}")
    };
    let (types, waiting) = events_about(&payment).await;
    assert_eq!(types, ["payment_intent.requires_action"]);
    assert_eq!(outcomes(&account, waiting), [outcome]);

    let (status, body) = request(
        "POST",
        &format!("/v1/payment_intents/{payment}/_authenticate"),
        &format!("client_secret={}&success=true", client_secret.expose()),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    let (types, events) = events_about(&payment).await;
    assert_eq!(
        types,
        ["payment_intent.requires_action", "payment_intent.succeeded"]
    );
    let status = gateway().charge_status(&payment).await.unwrap();
    assert_eq!(status, ChargeOutcome::Succeeded { payment });
    assert_eq!(outcomes(&account, events).last(), Some(&status));
}

#[tokio::test]
async fn a_canceled_payments_events_read_as_its_status() {
    let (account, kept) = charge("pm_card_authenticationRequired", true).await;
    let payment = kept.payment().unwrap().clone();

    gateway().cancel_payment(&payment).await.unwrap();

    let (types, events) = events_about(&payment).await;
    assert_eq!(
        types,
        ["payment_intent.payment_failed", "payment_intent.canceled"]
    );
    let status = gateway().charge_status(&payment).await.unwrap();
    assert_eq!(status, ChargeOutcome::Canceled { payment });
    assert_eq!(outcomes(&account, events), [kept, status]);
}

async fn card_updater(form: &str) -> (u16, String) {
    request("POST", "/_compat/card_updater", form).await
}

#[tokio::test]
async fn the_card_updaters_event_names_the_card_its_customer_and_the_new_expiry() {
    let gateway = gateway();
    let account = account("updater");
    let (customer, card) = saved_card(&gateway, &account, "pm_card_mastercard").await;

    let (status, body) =
        card_updater(&format!("payment_method={card}&exp_month=7&exp_year=2031")).await;

    assert_eq!(status, 200, "{body}");
    let event = parse_event(body.as_bytes()).unwrap();
    assert_eq!(
        event.kind,
        NetworkEventKind::CardUpdated {
            customer: Some(customer.clone()),
            payment_method: card.clone(),
            card: UpdatedCard {
                brand: "mastercard".into(),
                last4: "4444".into(),
                exp_month: 7,
                exp_year: 2031,
            },
        }
    );
    let read = gateway.payment_method(&card).await.unwrap();
    assert_eq!((read.card.exp_month, read.card.exp_year), (7, 2031));
    assert_eq!(
        gateway.customer_account(&customer).await.unwrap(),
        Some(account),
        "the event's customer leads to the account"
    );
}

#[tokio::test]
async fn the_card_updater_updates_only_saved_cards_with_real_expiries() {
    let gateway = gateway();
    let (_customer, card) = saved_card(&gateway, &account("updater-bad"), "pm_card_visa").await;

    for (form, expected) in [
        (
            "payment_method=pm_card_visa&exp_month=7&exp_year=2031".to_owned(),
            400,
        ),
        (
            "payment_method=pm_doesNotExist123&exp_month=7&exp_year=2031".to_owned(),
            404,
        ),
        (
            format!("payment_method={card}&exp_month=13&exp_year=2031"),
            400,
        ),
        (
            format!("payment_method={card}&exp_month=7&exp_year=31"),
            400,
        ),
        ("exp_month=7&exp_year=2031".to_owned(), 400),
    ] {
        let (status, body) = card_updater(&form).await;

        assert_eq!(status, expected, "{form}: {body}");
    }
    let unchanged = gateway.payment_method(&card).await.unwrap();
    assert_eq!(unchanged.card.exp_month, 12);
}

#[tokio::test]
async fn a_customer_created_elsewhere_names_no_account() {
    let (status, body) = request("POST", "/v1/customers", "email=someone%40example.com").await;
    assert_eq!(status, 200, "{body}");
    let created: Value = serde_json::from_str(&body).unwrap();
    let customer = CustomerId::parse(created["id"].as_str().unwrap()).unwrap();

    assert_eq!(gateway().customer_account(&customer).await.unwrap(), None);
}

/// Reads one HTTP request from `listener`: its `Stripe-Signature` header and its body, and
/// answers 200.
async fn receive(listener: &TcpListener) -> (Option<String>, Vec<u8>) {
    let (mut stream, _) = listener.accept().await.unwrap();
    let mut received = Vec::new();
    let mut buffer = [0u8; 8192];
    loop {
        let n = stream.read(&mut buffer).await.unwrap();
        received.extend_from_slice(&buffer[..n]);
        let text = String::from_utf8_lossy(&received);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let header = |name: &str| {
                head.lines().find_map(|line| {
                    let (key, value) = line.split_once(':')?;
                    key.eq_ignore_ascii_case(name)
                        .then(|| value.trim().to_owned())
                })
            };
            let length: usize = header("content-length").unwrap().parse().unwrap();
            if body.len() >= length || n == 0 {
                let start = head.len() + 4;
                let body = received[start..start + length].to_vec();
                stream
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .await
                    .unwrap();
                return (header("stripe-signature"), body);
            }
        }
    }
}

#[tokio::test]
async fn a_webhook_localstripe_delivers_passes_the_signature_check_and_parses() {
    const SECRET: &str = "whsec_compat_delivery";
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    // Only the card updater's events, which no other test binary triggers.
    let (status, body) = request(
        "POST",
        "/_config/webhooks/wh_webhook_compat",
        &format!(
            "url=http%3A%2F%2F127.0.0.1%3A{port}%2F&secret={SECRET}\
             &events[]=payment_method.automatically_updated"
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let gateway = gateway();
    let (_customer, card) = saved_card(&gateway, &account("delivery"), "pm_card_visa").await;
    let (status, body) =
        card_updater(&format!("payment_method={card}&exp_month=5&exp_year=2032")).await;
    assert_eq!(status, 200, "{body}");

    // Other cases of this binary update cards too: take deliveries until this card's.
    let delivered = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let (signature, payload) = receive(&listener).await;
            let verified = verify_signature(
                &payload,
                signature.as_deref(),
                &[SECRET],
                chrono::Utc::now(),
            );
            assert_eq!(verified, Ok(()));
            let event = parse_event(&payload).unwrap();
            if let NetworkEventKind::CardUpdated {
                payment_method,
                card: updated,
                ..
            } = event.kind
                && payment_method == card
            {
                return updated;
            }
        }
    })
    .await
    .expect("localstripe delivers the event within 10 s");

    assert_eq!((delivered.exp_month, delivered.exp_year), (5, 2032));
}
