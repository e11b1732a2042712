//! The authorization page: where a cardholder whose bank asked for authentication completes a
//! payment (a credit purchase or an invoice's charge) by opening a signed link, without logging in.
//!
//! `GET /authorize/{token}` shows the payment as it stands and changes nothing;
//! `POST /authorize/{token}` is sent once the cardholder has acted (Stripe.js finished the
//! bank's challenge, or, locally, the simulated bank was answered) and settles the payment.
//! The token is the capability ([`crate::links`]): no cookie or session is involved, so there
//! is nothing for a cross-site request to ride on. These are pages, not API: they answer HTML,
//! and the OpenAPI document leaves them out.

mod html;
mod invoices;
mod page;
mod purchases;

pub use invoices::{InvoiceAuthorizations, PaymentAuthorizations, invoice_challenge};
pub use purchases::{PurchaseAuthorizations, challenge_of};

use std::sync::Arc;

use async_trait::async_trait;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use billing_core::ports::clock::Clock;
use billing_core::{Cents, ClientSecret, Currency, PaymentMethodId};

use crate::error::ApiError;
use crate::links::{LinkError, LinkSigner, LinkSubject};

/// A payment waiting for, or done with, the cardholder's authentication, as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// What is being paid, for a person: "Credit purchase", "Invoice for October 2026".
    pub title: String,
    /// How much.
    pub amount: Cents,
    /// In what.
    pub currency: Currency,
    /// The PaymentIntent's client secret, for Stripe.js; required while `Waiting` on a page in
    /// [`PageMode::StripeJs`].
    pub client_secret: Option<ClientSecret>,
    /// How Stripe.js completes it.
    pub stripe_step: StripeStep,
    /// Where the payment stands.
    pub state: ChallengeState,
}

/// How Stripe.js completes a payment the bank asked about, which depends on where the
/// PaymentIntent waits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StripeStep {
    /// An on-session payment (a credit purchase) waits in `requires_action`:
    /// `stripe.handleNextAction({clientSecret})` runs the bank's challenge.
    NextAction,
    /// An off-session payment (an invoice's charge) that needed the cardholder was refused
    /// and waits in `requires_payment_method`: `stripe.confirmCardPayment(clientSecret,
    /// {payment_method})` confirms it again with the same card, the cardholder present.
    ConfirmCard {
        /// The card the attempt charged.
        payment_method: PaymentMethodId,
    },
}

/// Where a payment stands for the cardholder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChallengeState {
    /// The bank waits for the cardholder.
    Waiting,
    /// Paid.
    Succeeded,
    /// Not paid, and this attempt is over.
    Failed {
        /// Why, and what to check, for a person.
        message: String,
    },
}

/// The simulated bank's answer to its question (local runs only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BankAnswer {
    /// The cardholder authorized the payment.
    Approve,
    /// The cardholder declined it.
    Decline,
}

/// The payment flows behind the page: the purchase and invoice use cases
/// ([`PaymentAuthorizations`] picks one by the link's subject).
#[async_trait]
pub trait Authorizations: Send + Sync {
    /// The payment the link is for, as it stands; None when there is none for this subject.
    async fn challenge(&self, subject: &LinkSubject) -> Result<Option<Challenge>, ApiError>;
    /// After the cardholder acted: with `Some(answer)` the simulated bank answers first (local only);
    /// then the network is asked and the payment settled. Returns it as it stands afterwards.
    async fn complete(
        &self,
        subject: &LinkSubject,
        answer: Option<BankAnswer>,
    ) -> Result<Challenge, ApiError>;
}

/// How the page lets the cardholder answer the bank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageMode {
    /// Production: Stripe.js runs the bank's challenge ([`StripeStep`]).
    StripeJs {
        /// Stripe's publishable key (`pk_live_…`), public by design.
        publishable_key: String,
    },
    /// Local: the simulated bank asks, with "Authorize payment" and "Decline" buttons.
    SimulatedBank,
}

/// What the pages run on.
pub struct AuthorizePages {
    /// Verifies the links.
    pub signer: LinkSigner,
    /// Stripe.js or the simulated bank.
    pub mode: PageMode,
    /// The payments.
    pub flow: Arc<dyn Authorizations>,
    /// The time links expire against.
    pub clock: Arc<dyn Clock>,
}

/// The longest answer body read: the simulated bank's form is `answer=decline`.
const MAX_FORM_BYTES: usize = 1024;

/// `GET` and `POST /authorize/{token}`, with their state. Mount it next to the API (it has no
/// fallback of its own) and wrap it in [`crate::telemetry::trace_request`] like any router: the
/// access line names the route, never the token.
pub fn authorize_router(pages: Arc<AuthorizePages>) -> Router {
    Router::new()
        .route("/authorize/{token}", get(show).post(answer))
        .method_not_allowed_fallback(crate::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
        .with_state(pages)
}

/// The link's token; a segment that is not even UTF-8 is none, and refused as a bad link.
fn link_token(token: Result<Path<String>, PathRejection>) -> String {
    token.map(|Path(token)| token).unwrap_or_default()
}

/// `GET /authorize/{token}`: the payment as it stands. Reads only.
async fn show(
    State(pages): State<Arc<AuthorizePages>>,
    token: Result<Path<String>, PathRejection>,
) -> Response {
    let subject = match verified(&pages, &link_token(token)) {
        Ok(subject) => subject,
        Err(refused) => return page::refused_link(refused),
    };
    match pages.flow.challenge(&subject).await {
        Ok(Some(challenge)) => page::challenge(&pages.mode, &challenge),
        Ok(None) => page::no_payment(),
        Err(error) => page::failure(error),
    }
}

/// `POST /authorize/{token}`: the cardholder acted; settle the payment and show the result.
async fn answer(
    State(pages): State<Arc<AuthorizePages>>,
    token: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let subject = match verified(&pages, &link_token(token)) {
        Ok(subject) => subject,
        Err(refused) => return page::refused_link(refused),
    };
    // A body over the limit is refused as such in every mode, as the API's routes refuse
    // theirs (413), rather than read as an unclear answer or ignored.
    if let Err(rejection) = &body
        && rejection.status() == StatusCode::PAYLOAD_TOO_LARGE
    {
        return page::too_large();
    }
    let answer = match (&pages.mode, body) {
        // Whatever a production form carries, the simulated bank is never asked there.
        (PageMode::StripeJs { .. }, _) => None,
        (PageMode::SimulatedBank, Ok(body)) => match bank_answer(&body) {
            Some(answer) => Some(answer),
            None => return page::unreadable_answer(),
        },
        (PageMode::SimulatedBank, Err(_)) => return page::unreadable_answer(),
    };
    match pages.flow.complete(&subject, answer).await {
        Ok(challenge) => page::outcome(&challenge),
        Err(error) => page::failure(error),
    }
}

/// The link's subject; a refusal is logged with its reason, never the token.
fn verified(pages: &AuthorizePages, token: &str) -> Result<LinkSubject, LinkError> {
    pages
        .signer
        .verify(token, pages.clock.now())
        .inspect_err(|refused| tracing::info!(reason = %refused, "authorization link refused"))
}

/// The simulated bank's form, `answer=approve` or `answer=decline` (nothing else in it needs
/// decoding); anything else is no answer.
fn bank_answer(body: &[u8]) -> Option<BankAnswer> {
    let mut answers = body
        .split(|&b| b == b'&')
        .filter_map(|pair| pair.strip_prefix(b"answer="));
    let answer = match answers.next()? {
        b"approve" => BankAnswer::Approve,
        b"decline" => BankAnswer::Decline,
        _ => return None,
    };
    // Two answers in one form is no answer.
    answers.next().is_none().then_some(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bank_form_answers_approve_or_decline_only() {
        assert_eq!(bank_answer(b"answer=approve"), Some(BankAnswer::Approve));
        assert_eq!(bank_answer(b"answer=decline"), Some(BankAnswer::Decline));
        assert_eq!(
            bank_answer(b"x=1&answer=decline"),
            Some(BankAnswer::Decline)
        );
        assert_eq!(bank_answer(b""), None);
        assert_eq!(bank_answer(b"answer=Approve"), None);
        assert_eq!(bank_answer(b"answer=approve&answer=decline"), None);
        assert_eq!(bank_answer(b"not_answer=approve"), None);
    }
}
