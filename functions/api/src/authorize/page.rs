//! The authorization pages: what each link, answer and outcome shows. Every interpolated value
//! is escaped ([`escape`]); the shell and headers are [`super::html`]'s.

use std::fmt::Write;

use axum::http::StatusCode;
use axum::http::header::RETRY_AFTER;
use axum::response::{IntoResponse, Response};

use super::html::{Scripts, escape, render};
use super::{Challenge, ChallengeState, PageMode, StripeStep};
use crate::error::ApiError;
use crate::links::LinkError;

/// "25.00 USD".
fn amount(challenge: &Challenge) -> String {
    format!(
        "{} {}",
        challenge.amount.format_major(),
        challenge.currency.code().to_uppercase()
    )
}

/// A page with a heading and paragraphs of text.
fn message(status: StatusCode, title: &str, paragraphs: &[&str]) -> Response {
    let mut content = format!("<main>\n<h1>{}</h1>\n", escape(title));
    for paragraph in paragraphs {
        let _ = writeln!(content, "<p>{}</p>", escape(paragraph));
    }
    content.push_str("</main>");
    render(status, title, &content, Scripts::None)
}

/// 410 for an expired link, 400 for one that is not ours.
pub(super) fn refused_link(refused: LinkError) -> Response {
    match refused {
        LinkError::Expired => message(
            StatusCode::GONE,
            "This link has expired",
            &[
                "Links to confirm a payment work for a limited time. Open the payment from your dashboard, or from the latest e-mail about it, to get a new link.",
            ],
        ),
        LinkError::Tampered | LinkError::Malformed => message(
            StatusCode::BAD_REQUEST,
            "This link is not valid",
            &[
                "Check that you opened the whole link from your e-mail or dashboard; a link that was cut or changed does not work.",
            ],
        ),
    }
}

/// 404: the link is genuine, but no payment stands behind it.
pub(super) fn no_payment() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "No payment to confirm",
        &[
            "There is no payment waiting for this link. Your dashboard shows your purchases and invoices.",
        ],
    )
}

/// 400: a simulated bank form without one clear answer.
pub(super) fn unreadable_answer() -> Response {
    let content = "<main>\n<h1>Choose Authorize or Decline</h1>\n\
                   <p>Your answer to the bank was not understood. Nothing was changed.</p>\n\
                   <p><a href=\"\">Back to the payment</a></p>\n</main>";
    render(
        StatusCode::BAD_REQUEST,
        "Choose Authorize or Decline",
        content,
        Scripts::None,
    )
}

/// 413: a form larger than any answer to the simulated bank (the page's own form is 14 bytes).
pub(super) fn too_large() -> Response {
    message(
        StatusCode::PAYLOAD_TOO_LARGE,
        "Your answer was too large",
        &["Nothing was changed. Go back to the payment and choose Authorize or Decline."],
    )
}

/// An error of the flow, with its status and its message for people; the response it would
/// have been is built first so that its cause is logged in the one place errors are.
pub(super) fn failure(error: ApiError) -> Response {
    let text = error.message.clone();
    let api = error.into_response();
    let status = api.status();
    let title = if status == StatusCode::NOT_FOUND {
        "No payment to confirm"
    } else if status.is_server_error() {
        "Something went wrong"
    } else {
        "This payment could not be completed"
    };
    let mut page = message(status, title, &[&text]);
    if let Some(seconds) = api.headers().get(RETRY_AFTER) {
        page.headers_mut().insert(RETRY_AFTER, seconds.clone());
    }
    page
}

/// What `GET` shows: the bank's question while it waits, else the outcome.
pub(super) fn challenge(mode: &PageMode, challenge: &Challenge) -> Response {
    if challenge.state != ChallengeState::Waiting {
        return outcome(challenge);
    }
    match mode {
        PageMode::SimulatedBank => simulated_bank(challenge),
        PageMode::StripeJs { publishable_key } => match &challenge.client_secret {
            Some(secret) => stripe_js(challenge, publishable_key, secret.expose()),
            None => failure(ApiError::internal(
                &"a payment waiting for the cardholder has no client secret",
            )),
        },
    }
}

/// The local run's bank: two buttons that post `answer=approve` or `answer=decline`.
fn simulated_bank(challenge: &Challenge) -> Response {
    let content = format!(
        "<main>\n<p class=\"note\">Simulated bank (local run)</p>\n<h1>Confirm your payment</h1>\n\
         <p>Your bank asks you to confirm a payment of {amount}.</p>\n<p>{title}</p>\n\
         <form method=\"post\">\n\
         <button type=\"submit\" name=\"answer\" value=\"approve\">Authorize payment</button>\n\
         <button type=\"submit\" name=\"answer\" value=\"decline\">Decline</button>\n\
         </form>\n</main>",
        amount = escape(&amount(challenge)),
        title = escape(&challenge.title),
    );
    render(
        StatusCode::OK,
        "Confirm your payment",
        &content,
        Scripts::None,
    )
}

/// Production: Stripe.js shows the bank's challenge, then the page posts back. A payment to
/// confirm again with its card carries it in `data-payment-method` ([`StripeStep`]).
fn stripe_js(challenge: &Challenge, publishable_key: &str, client_secret: &str) -> Response {
    let payment_method = match &challenge.stripe_step {
        StripeStep::NextAction => String::new(),
        StripeStep::ConfirmCard { payment_method } => {
            format!(
                " data-payment-method=\"{}\"",
                escape(payment_method.as_str())
            )
        }
    };
    let content = format!(
        "<main id=\"challenge\" data-publishable-key=\"{key}\" data-client-secret=\"{secret}\"{payment_method}>\n\
         <h1>Confirm your payment</h1>\n\
         <p>Your bank asks you to confirm a payment of {amount}.</p>\n<p>{title}</p>\n\
         <p id=\"status\" class=\"note\">Opening your bank's confirmation…</p>\n\
         <noscript><p>This page needs JavaScript to reach your bank.</p></noscript>\n\
         <form id=\"done\" method=\"post\" hidden></form>\n</main>",
        key = escape(publishable_key),
        secret = escape(client_secret),
        amount = escape(&amount(challenge)),
        title = escape(&challenge.title),
    );
    render(
        StatusCode::OK,
        "Confirm your payment",
        &content,
        Scripts::StripeJs,
    )
}

/// What `POST` shows, and `GET` once the payment is settled.
pub(super) fn outcome(challenge: &Challenge) -> Response {
    match &challenge.state {
        ChallengeState::Succeeded => message(
            StatusCode::OK,
            "Payment complete",
            &[
                &format!(
                    "{} for {} has been paid.",
                    amount(challenge),
                    challenge.title
                ),
                "You can close this page.",
            ],
        ),
        ChallengeState::Failed { message: reason } => {
            message(StatusCode::OK, "Payment failed", &[reason])
        }
        ChallengeState::Waiting => {
            let content = format!(
                "<main>\n<h1>Still waiting for your bank</h1>\n\
                 <p>Your bank has not confirmed the payment of {} yet. Nothing was charged.</p>\n\
                 <p><a href=\"\">Try again</a></p>\n</main>",
                escape(&amount(challenge))
            );
            render(
                StatusCode::OK,
                "Still waiting for your bank",
                &content,
                Scripts::None,
            )
        }
    }
}
