//! The HTML of the authorization page: plain markup, one inline style sheet and, with Stripe.js,
//! one inline script, both allowed by their hash in the page's Content-Security-Policy and by
//! nothing else. Every interpolated value is escaped.

use std::fmt::Write;
use std::sync::LazyLock;

use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, RETRY_AFTER, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use super::{Challenge, ChallengeState, PageMode};
use crate::error::ApiError;
use crate::links::LinkError;

const STYLE: &str = "body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1a1f36}\
main{max-width:30rem;margin:4rem auto;padding:2rem;background:#fff;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.15)}\
h1{font-size:1.4rem;margin:0 0 1rem}.note{color:#5c6470;font-size:.9rem}\
form{display:flex;gap:.75rem;margin-top:1.5rem}\
button{font:inherit;padding:.6rem 1.2rem;border-radius:6px;border:1px solid #b8c0cc;background:#fff;cursor:pointer}\
button[value=approve]{background:#4f46e5;border-color:#4f46e5;color:#fff}";

/// Runs the bank's challenge with Stripe.js, then posts the empty form so the server asks
/// Stripe how the payment stands (whatever Stripe.js answered: the server is the judge).
/// Text only ever goes in through `textContent`.
const STRIPE_SCRIPT: &str = r#"(async function () {
  var main = document.getElementById("challenge");
  var status = document.getElementById("status");
  if (typeof Stripe !== "function") {
    status.textContent = "The secure payment form could not be loaded. Check your connection and reload this page.";
    return;
  }
  try {
    var stripe = Stripe(main.dataset.publishableKey);
    var result = await stripe.handleNextAction({ clientSecret: main.dataset.clientSecret });
    status.textContent = result && result.error ? result.error.message || "Your bank did not confirm the payment." : "Checking the payment…";
  } catch (error) {
    status.textContent = "Checking the payment…";
  }
  document.getElementById("done").submit();
})();"#;

const STRIPE_JS: &str = "https://js.stripe.com/v3/";

/// `'sha256-…'`, the CSP source that allows exactly this inline text.
fn csp_hash(text: &str) -> String {
    format!(
        "'sha256-{}'",
        STANDARD.encode(Sha256::digest(text.as_bytes()))
    )
}

/// Nothing may load, frame this page or be posted elsewhere; only the style sheet applies.
static NO_SCRIPT_POLICY: LazyLock<String> = LazyLock::new(|| {
    format!(
        "default-src 'none'; style-src {}; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        csp_hash(STYLE)
    )
});

/// Stripe.js and its frames, what they call (Stripe's CSP guide), and our one script.
static STRIPE_POLICY: LazyLock<String> = LazyLock::new(|| {
    format!(
        "default-src 'none'; script-src https://js.stripe.com https://*.js.stripe.com {}; \
         frame-src https://js.stripe.com https://*.js.stripe.com https://hooks.stripe.com; \
         connect-src https://api.stripe.com; style-src {}; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'",
        csp_hash(STRIPE_SCRIPT),
        csp_hash(STYLE)
    )
});

/// `&`, `<`, `>`, `"` and `'` as character references, so text stays text in content and in
/// quoted attributes alike.
pub(super) fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// "25.00 USD".
fn amount(challenge: &Challenge) -> String {
    format!(
        "{} {}",
        challenge.amount.format_major(),
        challenge.currency.code().to_uppercase()
    )
}

/// A complete page. `title` is text; `content` is markup built here from escaped values.
fn render(status: StatusCode, title: &str, content: &str, script: Option<&str>) -> Response {
    let mut html = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"robots\" content=\"noindex\">\n<title>{}</title>\n<style>{STYLE}</style>\n\
         </head>\n<body>\n{content}\n",
        escape(title)
    );
    if let Some(script) = script {
        let _ = write!(
            html,
            "<script src=\"{STRIPE_JS}\"></script>\n<script>{script}</script>\n"
        );
    }
    html.push_str("</body>\n</html>\n");
    let policy = if script.is_some() {
        &STRIPE_POLICY
    } else {
        &NO_SCRIPT_POLICY
    };
    let mut response = (status, Html(html)).into_response();
    let headers = response.headers_mut();
    // The token in the URL is a capability: never cached, never sent on as a referrer.
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_str(policy).expect("the policy is ASCII"),
    );
    response
}

/// A page with a heading and paragraphs of text.
fn message(status: StatusCode, title: &str, paragraphs: &[&str]) -> Response {
    let mut content = format!("<main>\n<h1>{}</h1>\n", escape(title));
    for paragraph in paragraphs {
        let _ = writeln!(content, "<p>{}</p>", escape(paragraph));
    }
    content.push_str("</main>");
    render(status, title, &content, None)
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
        None,
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
    render(StatusCode::OK, "Confirm your payment", &content, None)
}

/// Production: Stripe.js shows the bank's challenge, then the page posts back.
fn stripe_js(challenge: &Challenge, publishable_key: &str, client_secret: &str) -> Response {
    let content = format!(
        "<main id=\"challenge\" data-publishable-key=\"{key}\" data-client-secret=\"{secret}\">\n\
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
        Some(STRIPE_SCRIPT),
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
                None,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_leaves_no_markup_and_no_way_out_of_an_attribute() {
        assert_eq!(
            escape(r#"<script>alert("x") & 'y'</script>"#),
            "&lt;script&gt;alert(&quot;x&quot;) &amp; &#39;y&#39;&lt;/script&gt;"
        );
    }

    #[test]
    fn the_policies_allow_the_inline_code_by_hash_only() {
        assert!(STRIPE_POLICY.contains(&csp_hash(STRIPE_SCRIPT)));
        assert!(!STRIPE_POLICY.contains("unsafe-inline"));
        assert!(!NO_SCRIPT_POLICY.contains("script-src"));
        assert!(NO_SCRIPT_POLICY.starts_with("default-src 'none'"));
    }
}
