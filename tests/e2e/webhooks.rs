//! `POST /v1/webhooks/stripe` on the production adapters: the webhook router over DynamoDB
//! (moto), Stripe (localstripe) and SES (moto), fed the events localstripe recorded for real
//! PaymentIntents, signed as Stripe signs them. Run through `scripts/with-stand-ins`.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use billing_api::clock::SystemClock;
use billing_api::links::{LinkSigner, SignedLinks};
use billing_api::state::{Services, WebhookState};
use billing_api::{webhook_router, with_fallbacks};
use billing_contract::gateway::Bank;
use billing_contract::unique_account;
use billing_core::ports::store::{PurchaseStore, Store};
use billing_core::rules::purchase::{PurchaseLimits, PurchaseStatus};
use billing_core::usecases::card::{Holder, set_card};
use billing_core::usecases::purchase::{Ports, PurchaseAnswer, PurchaseRequest, create_purchase};
use billing_core::{AccountId, Cents, Currency, EmailAddress, Micros, PaymentMethodId, PurchaseId};
use billing_embedded::stripe_signature;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

use crate::production::{env, production_pair, ses_mailer, stripe_stand_in::LocalstripeBank};

const SECRET: &str = "whsec_e2e";

struct Webhook {
    router: Router,
    state: Arc<WebhookState>,
}

async fn webhook() -> Webhook {
    let (store, gateway) = production_pair().await;
    let state = Arc::new(WebhookState {
        services: Services {
            store: Arc::new(store),
            gateway: Arc::new(gateway),
            clock: Arc::new(SystemClock),
        },
        mailer: Arc::new(ses_mailer().await),
        links: Arc::new(SignedLinks {
            signer: LinkSigner::new(b"e2e-links"),
            base: "http://127.0.0.1".into(),
        }),
        secrets: vec![SECRET.to_owned()],
    });
    Webhook {
        router: with_fallbacks(webhook_router(state.clone())),
        state,
    }
}

impl Webhook {
    fn store(&self) -> &dyn Store {
        self.state.services.store.as_ref()
    }

    /// A 3-D Secure purchase the cardholder approved at Stripe, not yet known here.
    async fn approved_purchase(&self) -> (AccountId, PurchaseId, String) {
        let account = unique_account("hook");
        let email = EmailAddress::parse("hook@example.com").unwrap();
        let services = &self.state.services;
        let holder = Holder {
            account: &account,
            email: Some(&email),
        };
        let card = PaymentMethodId::parse("pm_card_authenticationRequired").unwrap();
        let now = chrono::Utc::now();
        set_card(
            services.store.as_ref(),
            services.gateway.as_ref(),
            &holder,
            &card,
            now,
        )
        .await
        .unwrap();
        let ports = Ports {
            store: services.store.as_ref(),
            gateway: services.gateway.as_ref(),
            mailer: self.state.mailer.as_ref(),
        };
        let id =
            PurchaseId::parse(&format!("cp_{}", account.as_str().replace(['-', '.'], ""))).unwrap();
        let answer = create_purchase(
            ports,
            PurchaseRequest {
                account: &account,
                amount: Cents::new(2_500),
                currency: Currency::Usd,
                keyed: None,
                new_id: id.clone(),
                limits: PurchaseLimits::default(),
                now,
            },
        )
        .await
        .unwrap();
        let PurchaseAnswer::Purchase(waiting) = answer else {
            panic!("expected a purchase")
        };
        let payment = waiting.payment.clone().unwrap();
        let secret = waiting.next_action.clone().unwrap().client_secret;
        LocalstripeBank.authenticate(&payment, &secret, true).await;
        (account, id, payment.to_string())
    }

    async fn post(&self, payload: &str, signature: &str) -> (StatusCode, Value) {
        let request = Request::post("/v1/webhooks/stripe")
            .header("content-type", "application/json")
            .header("stripe-signature", signature)
            .body(Body::from(payload.to_owned()))
            .unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    async fn status_and_balance(
        &self,
        account: &AccountId,
        id: &PurchaseId,
    ) -> (PurchaseStatus, Micros) {
        let purchase = self.store().purchase(account, id).await.unwrap().unwrap();
        let balance = self.store().balance(account).await.unwrap().amount;
        (purchase.value.status, balance)
    }
}

/// The events localstripe recorded about a PaymentIntent, oldest first, as posted bodies.
async fn events_about(payment: &str) -> Vec<(String, String)> {
    let url = format!(
        "{}_compat/events?payment_intent={payment}",
        env("BILLING_TEST_STRIPE_URL")
    );
    let list: Value = reqwest::get(url).await.unwrap().json().await.unwrap();
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| {
            (
                event["type"].as_str().unwrap().to_owned(),
                event.to_string(),
            )
        })
        .collect()
}

fn signed(payload: &str) -> String {
    stripe_signature(SECRET, chrono::Utc::now().timestamp(), payload)
}

const CREDIT: Micros = Micros::new(25_000_000);

#[tokio::test]
async fn a_replayed_and_reordered_webhook_credits_once() {
    let hook = webhook().await;
    let (account, id, payment) = hook.approved_purchase().await;
    let events = events_about(&payment).await;
    let kinds: Vec<&str> = events.iter().map(|(kind, _)| kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["payment_intent.requires_action", "payment_intent.succeeded"]
    );
    let (requires_action, succeeded) = (&events[0].1, &events[1].1);

    let first = hook.post(succeeded, &signed(succeeded)).await;
    let replayed = hook.post(succeeded, &signed(succeeded)).await;
    let stale_state = hook.post(requires_action, &signed(requires_action)).await;

    assert_eq!(
        first,
        (
            StatusCode::OK,
            serde_json::json!({"received": true, "result": "applied"})
        )
    );
    assert_eq!(replayed.1["result"], "duplicate");
    assert_eq!(stale_state.0, StatusCode::OK);
    assert_eq!(
        hook.status_and_balance(&account, &id).await,
        (PurchaseStatus::Succeeded, CREDIT)
    );
}

#[tokio::test]
async fn a_forged_stale_or_tampered_signature_is_refused_and_changes_nothing() {
    let hook = webhook().await;
    let (account, id, payment) = hook.approved_purchase().await;
    let succeeded = events_about(&payment).await.pop().unwrap().1;
    let now = chrono::Utc::now().timestamp();
    let tampered = succeeded.replace("\"amount\":2500", "\"amount\":250000");
    assert_ne!(tampered, succeeded, "the payload names its amount");

    let refusals = [
        hook.post(
            &succeeded,
            &stripe_signature("whsec_forged", now, &succeeded),
        )
        .await,
        hook.post(&succeeded, &stripe_signature(SECRET, now - 301, &succeeded))
            .await,
        hook.post(&tampered, &signed(&succeeded)).await,
        hook.post(&succeeded, "").await,
    ];

    for (status, body) in refusals {
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"]["code"], "invalid_signature");
    }
    assert_eq!(
        hook.status_and_balance(&account, &id).await,
        (PurchaseStatus::RequiresAction, Micros::ZERO)
    );
}

#[tokio::test]
async fn an_event_about_an_unknown_payment_is_acknowledged() {
    let hook = webhook().await;
    let payload = serde_json::json!({
        "id": "evt_unknown_e2e", "object": "event", "created": 1_764_000_000, "type": "payment_intent.succeeded",
        "data": {"object": {"id": "pi_unknown", "object": "payment_intent", "status": "succeeded",
                            "amount": 100, "currency": "usd", "metadata": {}}},
    })
    .to_string();

    let (status, body) = hook.post(&payload, &signed(&payload)).await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["result"], "ignored");
}
