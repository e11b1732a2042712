//! The authorization page's router, driven with `oneshot` over a recording payment flow: what
//! each link shows, what each answer settles, and that nothing else changes anything.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use billing_api::authorize::{
    Authorizations, AuthorizePages, BankAnswer, Challenge, ChallengeState, PageMode, StripeStep,
};
use billing_api::links::{LinkSigner, LinkSubject};
use billing_api::{ApiError, authorize_router};
use billing_core::ports::clock::Clock;
use billing_core::{
    AccountId, Cents, ClientSecret, Currency, InvoiceId, PaymentMethodId, PurchaseId,
};
use chrono::{DateTime, TimeDelta, Utc};
use http_body_util::BodyExt;
use tower::ServiceExt;

const KEY: &[u8] = b"page-test-key";
const STRIPE_SCRIPT_SOURCE: &str = "https://js.stripe.com/v3/";

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-28T09:00:00Z")
        .unwrap()
        .to_utc()
}

struct FixedClock;

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        now()
    }
}

/// A payment flow that holds one payment and records every completion asked of it.
struct RecordingFlow {
    payment: Mutex<Option<Challenge>>,
    failure: Option<ApiError>,
    completions: Mutex<Vec<(LinkSubject, Option<BankAnswer>)>>,
}

#[async_trait]
impl Authorizations for RecordingFlow {
    async fn challenge(&self, _subject: &LinkSubject) -> Result<Option<Challenge>, ApiError> {
        match &self.failure {
            Some(error) => Err(error.clone()),
            None => Ok(self.payment.lock().unwrap().clone()),
        }
    }

    async fn complete(
        &self,
        subject: &LinkSubject,
        answer: Option<BankAnswer>,
    ) -> Result<Challenge, ApiError> {
        self.completions
            .lock()
            .unwrap()
            .push((subject.clone(), answer));
        let mut payment = self.payment.lock().unwrap();
        let payment = payment
            .as_mut()
            .ok_or_else(|| ApiError::not_found("payment"))?;
        payment.state = match answer {
            Some(BankAnswer::Decline) => ChallengeState::Failed {
                message: "Your bank declined the payment.".into(),
            },
            Some(BankAnswer::Approve) | None => ChallengeState::Succeeded,
        };
        Ok(payment.clone())
    }
}

fn waiting(title: &str) -> Challenge {
    Challenge {
        title: title.into(),
        amount: Cents::new(2500),
        currency: Currency::Usd,
        client_secret: Some(ClientSecret::parse("pi_3Qx01_secret_abcDEF").unwrap()),
        stripe_step: StripeStep::NextAction,
        state: ChallengeState::Waiting,
    }
}

fn subject() -> LinkSubject {
    LinkSubject::Purchase {
        account: AccountId::parse("acct_page").unwrap(),
        purchase: PurchaseId::parse("cp_page1").unwrap(),
    }
}

struct Page {
    flow: Arc<RecordingFlow>,
    router: Router,
}

fn page_with(mode: PageMode, payment: Option<Challenge>, failure: Option<ApiError>) -> Page {
    let flow = Arc::new(RecordingFlow {
        payment: Mutex::new(payment),
        failure,
        completions: Mutex::new(Vec::new()),
    });
    let pages = AuthorizePages {
        signer: LinkSigner::new(KEY),
        mode,
        flow: flow.clone(),
        clock: Arc::new(FixedClock),
    };
    Page {
        flow,
        router: authorize_router(Arc::new(pages)),
    }
}

fn simulated(payment: Option<Challenge>) -> Page {
    page_with(PageMode::SimulatedBank, payment, None)
}

fn stripe_js(payment: Option<Challenge>) -> Page {
    let mode = PageMode::StripeJs {
        publishable_key: "pk_test_page".into(),
    };
    page_with(mode, payment, None)
}

fn path(subject: &LinkSubject, expires_at: DateTime<Utc>) -> String {
    format!(
        "/authorize/{}",
        LinkSigner::new(KEY).sign(subject, expires_at)
    )
}

fn valid_path() -> String {
    path(&subject(), now() + TimeDelta::hours(1))
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    html: String,
}

impl Page {
    async fn send(&self, request: Request<Body>) -> Answer {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Answer {
            status,
            headers,
            html: String::from_utf8(bytes.to_vec()).unwrap(),
        }
    }

    async fn get(&self, path: &str) -> Answer {
        self.send(Request::get(path).body(Body::empty()).unwrap())
            .await
    }

    async fn post(&self, path: &str, form: &str) -> Answer {
        let request = Request::post(path)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(form.to_owned()))
            .unwrap();
        self.send(request).await
    }

    fn completions(&self) -> Vec<(LinkSubject, Option<BankAnswer>)> {
        self.flow.completions.lock().unwrap().clone()
    }
}

fn header<'a>(answer: &'a Answer, name: &str) -> &'a str {
    answer
        .headers
        .get(name)
        .unwrap_or_else(|| panic!("{name} is set"))
        .to_str()
        .unwrap()
}

/// The headers every page carries, whatever it shows.
fn assert_private_html(answer: &Answer) {
    assert_eq!(header(answer, "content-type"), "text/html; charset=utf-8");
    assert_eq!(header(answer, "cache-control"), "no-store");
    assert_eq!(header(answer, "referrer-policy"), "no-referrer");
    assert_eq!(header(answer, "x-frame-options"), "DENY");
    assert_eq!(header(answer, "x-content-type-options"), "nosniff");
    assert!(header(answer, "content-security-policy").contains("frame-ancestors 'none'"));
}

fn assert_no_script(answer: &Answer) {
    let policy = header(answer, "content-security-policy");
    assert!(policy.starts_with("default-src 'none';"), "{policy}");
    assert!(!policy.contains("script-src"), "{policy}");
    assert!(!answer.html.contains("<script"), "{}", answer.html);
}

#[tokio::test]
async fn the_simulated_bank_asks_with_two_buttons_and_no_script() {
    let page = simulated(Some(waiting("Credit purchase")));

    let answer = page.get(&valid_path()).await;

    assert_eq!(answer.status, StatusCode::OK);
    assert!(
        answer
            .html
            .contains("Your bank asks you to confirm a payment of 25.00 USD"),
        "{}",
        answer.html
    );
    assert!(answer.html.contains("Credit purchase"));
    assert!(answer.html.contains(
        r#"<button type="submit" name="answer" value="approve">Authorize payment</button>"#
    ));
    assert!(
        answer
            .html
            .contains(r#"<button type="submit" name="answer" value="decline">Decline</button>"#)
    );
    assert_private_html(&answer);
    assert_no_script(&answer);
    assert!(!answer.html.contains("abcDEF"), "no client secret locally");
    assert!(page.completions().is_empty());
}

#[tokio::test]
async fn authorizing_at_the_simulated_bank_completes_the_payment_once() {
    let page = simulated(Some(waiting("Credit purchase")));

    let answer = page.post(&valid_path(), "answer=approve").await;

    assert_eq!(answer.status, StatusCode::OK);
    assert!(answer.html.contains("<h1>Payment complete</h1>"));
    assert!(
        answer
            .html
            .contains("25.00 USD for Credit purchase has been paid.")
    );
    assert_private_html(&answer);
    assert_eq!(
        page.completions(),
        vec![(subject(), Some(BankAnswer::Approve))]
    );
}

#[tokio::test]
async fn declining_at_the_simulated_bank_shows_why_the_payment_failed() {
    let page = simulated(Some(waiting("Credit purchase")));

    let answer = page.post(&valid_path(), "answer=decline").await;

    assert_eq!(answer.status, StatusCode::OK);
    assert!(answer.html.contains("<h1>Payment failed</h1>"));
    assert!(answer.html.contains("Your bank declined the payment."));
    assert_eq!(
        page.completions(),
        vec![(subject(), Some(BankAnswer::Decline))]
    );
}

#[tokio::test]
async fn a_simulated_bank_form_without_an_answer_changes_nothing() {
    let page = simulated(Some(waiting("Credit purchase")));

    for form in ["", "answer=maybe", "answer=approve&answer=decline"] {
        let answer = page.post(&valid_path(), form).await;

        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{form}");
        assert!(answer.html.contains("Choose Authorize or Decline"));
        assert_private_html(&answer);
    }
    assert!(page.completions().is_empty());
}

#[tokio::test]
async fn an_expired_link_shows_its_page_and_changes_nothing() {
    let page = simulated(Some(waiting("Credit purchase")));
    let expired = path(&subject(), now());

    let shown = page.get(&expired).await;
    let posted = page.post(&expired, "answer=approve").await;

    for answer in [&shown, &posted] {
        assert_eq!(answer.status, StatusCode::GONE);
        assert!(answer.html.contains("<h1>This link has expired</h1>"));
        assert_private_html(answer);
        assert_no_script(answer);
    }
    assert!(page.completions().is_empty());
}

#[tokio::test]
async fn a_tampered_or_malformed_link_is_not_valid_and_changes_nothing() {
    let page = simulated(Some(waiting("Credit purchase")));
    let genuine = valid_path();
    let flipped = if genuine.ends_with('A') { 'B' } else { 'A' };
    let tampered = format!("{}{flipped}", &genuine[..genuine.len() - 1]);
    let foreign = format!(
        "/authorize/{}",
        LinkSigner::new(b"another key").sign(&subject(), now() + TimeDelta::hours(1))
    );

    for link in [&tampered, &foreign, "/authorize/v1.nothing", "/authorize/x"] {
        for answer in [
            page.get(link).await,
            page.post(link, "answer=approve").await,
        ] {
            assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{link}");
            assert!(answer.html.contains("<h1>This link is not valid</h1>"));
            assert_private_html(&answer);
        }
    }
    assert!(page.completions().is_empty());
}

#[tokio::test]
async fn a_link_with_no_payment_behind_it_is_not_found() {
    let page = simulated(None);
    let invoice = LinkSubject::Invoice {
        account: AccountId::parse("acct_page").unwrap(),
        invoice: InvoiceId::parse("in_202610").unwrap(),
    };

    let answer = page.get(&path(&invoice, now() + TimeDelta::hours(1))).await;

    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert!(answer.html.contains("<h1>No payment to confirm</h1>"));
    assert_private_html(&answer);
    assert!(page.completions().is_empty());
}

#[tokio::test]
async fn a_settled_payment_shows_its_outcome_instead_of_the_question() {
    let mut paid = waiting("Credit purchase");
    paid.state = ChallengeState::Succeeded;
    let mut failed = waiting("Credit purchase");
    failed.state = ChallengeState::Failed {
        message: "Your card has insufficient funds.".into(),
    };

    let paid_page = simulated(Some(paid)).get(&valid_path()).await;
    let failed_page = stripe_js(Some(failed)).get(&valid_path()).await;

    assert!(paid_page.html.contains("<h1>Payment complete</h1>"));
    assert!(!paid_page.html.contains("Authorize payment"));
    assert!(failed_page.html.contains("<h1>Payment failed</h1>"));
    assert!(
        failed_page
            .html
            .contains("Your card has insufficient funds.")
    );
    assert_no_script(&failed_page);
}

#[tokio::test]
async fn every_interpolated_value_is_escaped() {
    let mut hostile = waiting(r#"<script>alert(1)</script>" onload="x"#);
    hostile.client_secret = Some(ClientSecret::parse("pi_1_secret_a").unwrap());
    let mode = PageMode::StripeJs {
        publishable_key: r#"pk_"><img src=x onerror=alert(1)>"#.into(),
    };

    let local = simulated(Some(hostile.clone())).get(&valid_path()).await;
    let production = page_with(mode, Some(hostile), None)
        .get(&valid_path())
        .await;

    for answer in [&local, &production] {
        assert!(!answer.html.contains("<script>alert"), "{}", answer.html);
        assert!(!answer.html.contains("<img"), "{}", answer.html);
        assert!(
            answer
                .html
                .contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot; onload=&quot;x")
        );
    }
    assert!(
        production
            .html
            .contains("data-publishable-key=\"pk_&quot;&gt;&lt;img src=x onerror=alert(1)&gt;\"")
    );
}

#[tokio::test]
async fn the_stripe_page_runs_the_bank_challenge_with_the_client_secret_and_posts_back() {
    let page = stripe_js(Some(waiting("Credit purchase")));

    let answer = page.get(&valid_path()).await;

    assert_eq!(answer.status, StatusCode::OK);
    assert!(answer.html.contains(&format!(
        r#"<script src="{STRIPE_SCRIPT_SOURCE}"></script>"#
    )));
    assert!(answer.html.contains(
        r#"data-publishable-key="pk_test_page" data-client-secret="pi_3Qx01_secret_abcDEF""#
    ));
    assert!(
        answer
            .html
            .contains("stripe.handleNextAction({ clientSecret: main.dataset.clientSecret })")
    );
    assert!(
        answer
            .html
            .contains(r#"<form id="done" method="post" hidden></form>"#)
    );
    assert!(!answer.html.contains("Authorize payment"));
    assert_private_html(&answer);
    let policy = header(&answer, "content-security-policy");
    assert!(
        policy.contains("script-src https://js.stripe.com https://*.js.stripe.com 'sha256-"),
        "{policy}"
    );
    assert!(policy.contains(
        "frame-src https://js.stripe.com https://*.js.stripe.com https://hooks.stripe.com"
    ));
    assert!(policy.contains("connect-src https://api.stripe.com;"));
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    assert!(page.completions().is_empty());
}

#[tokio::test]
async fn an_invoice_s_stripe_page_confirms_the_payment_again_with_its_card() {
    let invoice = Challenge {
        stripe_step: StripeStep::ConfirmCard {
            payment_method: PaymentMethodId::parse("pm_card_authenticationRequired").unwrap(),
        },
        ..waiting("Invoice for October 2026")
    };
    let purchase_page = stripe_js(Some(waiting("Credit purchase")));
    let page = stripe_js(Some(invoice));

    let answer = page.get(&valid_path()).await;
    let purchase = purchase_page.get(&valid_path()).await;

    assert_eq!(answer.status, StatusCode::OK);
    assert!(answer.html.contains(
        r#"data-client-secret="pi_3Qx01_secret_abcDEF" data-payment-method="pm_card_authenticationRequired">"#
    ));
    assert!(answer.html.contains(
        "stripe.confirmCardPayment(main.dataset.clientSecret, { payment_method: paymentMethod })"
    ));
    assert!(answer.html.contains("Invoice for October 2026"));
    assert!(!purchase.html.contains("data-payment-method"));
    // One script for both: the policy allows the same hash.
    assert_eq!(
        header(&answer, "content-security-policy"),
        header(&purchase, "content-security-policy")
    );
}

#[tokio::test]
async fn in_production_a_posted_bank_answer_is_ignored_and_stripe_is_asked() {
    let page = stripe_js(Some(waiting("Credit purchase")));

    let answer = page.post(&valid_path(), "answer=decline").await;

    assert!(answer.html.contains("<h1>Payment complete</h1>"));
    assert_eq!(page.completions(), vec![(subject(), None)]);
}

#[tokio::test]
async fn a_waiting_payment_without_a_client_secret_cannot_be_shown_in_production() {
    let mut secretless = waiting("Credit purchase");
    secretless.client_secret = None;

    let answer = stripe_js(Some(secretless)).get(&valid_path()).await;

    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(answer.html.contains("<h1>Something went wrong</h1>"));
    assert!(!answer.html.contains("client secret"), "{}", answer.html);
}

#[tokio::test]
async fn a_flow_that_is_unavailable_says_so_without_details() {
    let failure = ApiError::unavailable(&"table billing-prod: throttled");
    let page = page_with(
        PageMode::SimulatedBank,
        Some(waiting("Credit purchase")),
        Some(failure),
    );

    let answer = page.get(&valid_path()).await;

    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(answer.html.contains("temporarily unavailable"));
    assert!(!answer.html.contains("throttled"), "{}", answer.html);
    assert_private_html(&answer);
}
