//! The authorization page in production mode (Stripe.js) on 127.0.0.1, over a payment flow
//! that stands in for Stripe, for the browser tests (`tests/browser`): billing-local itself
//! serves the simulated bank, and real Stripe.js cannot run here. It holds one purchase and one
//! invoice waiting for the bank, whose completion succeeds when nobody claims to be the bank;
//! it prints its address, a link to each, an expired link, the client secrets and the
//! invoice's card, then serves until killed.
//!
//! `cargo run -p billing-local --example stripe_page -- [--port N]`

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use billing_api::authorize::{
    Authorizations, AuthorizePages, BankAnswer, Challenge, ChallengeState, PageMode, StripeStep,
};
use billing_api::clock::SystemClock;
use billing_api::links::{LinkSigner, LinkSubject};
use billing_api::{ApiError, authorize_router, telemetry};
use billing_core::{
    AccountId, Cents, ClientSecret, Currency, InvoiceId, PaymentMethodId, PurchaseId,
};
use chrono::{TimeDelta, Utc};

const PUBLISHABLE_KEY: &str = "pk_test_browser";
const CLIENT_SECRET: &str = "pi_3QxBrowser01_secret_page";
const INVOICE_CLIENT_SECRET: &str = "pi_3QxBrowser02_secret_invoice";
const INVOICE_CARD: &str = "pm_card_authenticationRequired";

/// Payments of 25.00 USD, each waiting until it is completed.
struct Payments {
    waiting: Vec<(LinkSubject, Mutex<Challenge>)>,
}

impl Payments {
    fn payment(&self, subject: &LinkSubject) -> Option<&Mutex<Challenge>> {
        self.waiting
            .iter()
            .find(|(waiting, _)| waiting == subject)
            .map(|(_, payment)| payment)
    }
}

#[async_trait]
impl Authorizations for Payments {
    async fn challenge(&self, subject: &LinkSubject) -> Result<Option<Challenge>, ApiError> {
        Ok(self.payment(subject).map(|p| p.lock().unwrap().clone()))
    }

    async fn complete(
        &self,
        subject: &LinkSubject,
        answer: Option<BankAnswer>,
    ) -> Result<Challenge, ApiError> {
        let Some(payment) = self.payment(subject) else {
            return Err(ApiError::not_found("payment"));
        };
        let mut payment = payment.lock().unwrap();
        payment.state = match answer {
            // What Stripe would say once handleNextAction has resolved.
            None => ChallengeState::Succeeded,
            // The page must never let the simulated bank answer in production mode.
            Some(_) => ChallengeState::Failed {
                message: "The simulated bank was asked on a Stripe.js page.".into(),
            },
        };
        Ok(payment.clone())
    }
}

#[tokio::main]
async fn main() {
    let port = match std::env::args().skip(1).collect::<Vec<_>>().as_slice() {
        [] => 0,
        [flag, port] if flag == "--port" => port.parse().expect("--port takes a number"),
        _ => panic!("usage: stripe_page [--port N]"),
    };
    let listener = tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
        .await
        .expect("cannot listen on 127.0.0.1");
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());

    let subject = LinkSubject::Purchase {
        account: AccountId::parse("browser-test").unwrap(),
        purchase: PurchaseId::parse("cp_browser1").unwrap(),
    };
    let invoice = LinkSubject::Invoice {
        account: AccountId::parse("browser-test").unwrap(),
        invoice: InvoiceId::parse("in_202610").unwrap(),
    };
    let waiting = |title: &str, secret: &str, stripe_step| {
        Mutex::new(Challenge {
            title: title.into(),
            amount: Cents::new(2500),
            currency: Currency::Usd,
            client_secret: Some(ClientSecret::parse(secret).unwrap()),
            stripe_step,
            state: ChallengeState::Waiting,
        })
    };
    let flow = Payments {
        waiting: vec![
            (
                subject.clone(),
                waiting("Credit purchase", CLIENT_SECRET, StripeStep::NextAction),
            ),
            (
                invoice.clone(),
                waiting(
                    "Invoice for October 2026",
                    INVOICE_CLIENT_SECRET,
                    StripeStep::ConfirmCard {
                        payment_method: PaymentMethodId::parse(INVOICE_CARD).unwrap(),
                    },
                ),
            ),
        ],
    };
    // A fresh key per run: the links printed below are the only valid ones.
    let key = format!(
        "stripe-page-{:x}",
        Utc::now().timestamp_nanos_opt().unwrap_or(0)
    );
    let signer = LinkSigner::new(key.as_bytes());
    let now = Utc::now();
    println!(
        "stripe page listening on {base}\nlink: {}\nexpired link: {}\npublishable key: {PUBLISHABLE_KEY}\nclient secret: {CLIENT_SECRET}\n\
         invoice link: {}\ninvoice client secret: {INVOICE_CLIENT_SECRET}\ninvoice payment method: {INVOICE_CARD}",
        signer.url(&base, &subject, now + TimeDelta::hours(1)),
        signer.url(&base, &subject, now - TimeDelta::minutes(1)),
        signer.url(&base, &invoice, now + TimeDelta::hours(1)),
    );
    let pages = AuthorizePages {
        signer,
        mode: PageMode::StripeJs {
            publishable_key: PUBLISHABLE_KEY.into(),
        },
        flow: Arc::new(flow),
        clock: Arc::new(SystemClock),
    };
    let router = authorize_router(Arc::new(pages))
        .layer(axum::middleware::from_fn(telemetry::trace_request));
    axum::serve(listener, router).await.expect("server error");
}
