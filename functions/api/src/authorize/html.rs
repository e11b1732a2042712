//! The document shell of the authorization pages and the headers every one of them carries:
//! plain markup, one inline style sheet and, with Stripe.js, one inline script, both allowed by
//! their hash in the Content-Security-Policy and by nothing else.

use std::fmt::Write;
use std::sync::LazyLock;

use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

const STYLE: &str = "body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1a1f36}\
main{max-width:30rem;margin:4rem auto;padding:2rem;background:#fff;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.15)}\
h1{font-size:1.4rem;margin:0 0 1rem}.note{color:#5c6470;font-size:.9rem}\
form{display:flex;gap:.75rem;margin-top:1.5rem}\
button{font:inherit;padding:.6rem 1.2rem;border-radius:6px;border:1px solid #b8c0cc;background:#fff;cursor:pointer}\
button[value=approve]{background:#4f46e5;border-color:#4f46e5;color:#fff}";

/// Runs the bank's challenge with Stripe.js, then posts the empty form so the server asks
/// Stripe how the payment stands (whatever Stripe.js answered: the server is the judge). A
/// payment that waits in `requires_action` (a purchase) takes `handleNextAction`; one refused
/// off session (an invoice) is confirmed again with its card (`data-payment-method`) by
/// `confirmCardPayment`. Text only ever goes in through `textContent`.
const STRIPE_SCRIPT: &str = r#"(async function () {
  var main = document.getElementById("challenge");
  var status = document.getElementById("status");
  if (typeof Stripe !== "function") {
    status.textContent = "The secure payment form could not be loaded. Check your connection and reload this page.";
    return;
  }
  try {
    var stripe = Stripe(main.dataset.publishableKey);
    var paymentMethod = main.dataset.paymentMethod;
    var result = paymentMethod
      ? await stripe.confirmCardPayment(main.dataset.clientSecret, { payment_method: paymentMethod })
      : await stripe.handleNextAction({ clientSecret: main.dataset.clientSecret });
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

/// What runs on a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scripts {
    /// Nothing.
    None,
    /// Stripe.js and the page's own script that hands it the challenge.
    StripeJs,
}

/// A complete page. `title` is text; `content` is markup built from escaped values.
pub(super) fn render(status: StatusCode, title: &str, content: &str, scripts: Scripts) -> Response {
    let mut html = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"robots\" content=\"noindex\">\n<title>{}</title>\n<style>{STYLE}</style>\n\
         </head>\n<body>\n{content}\n",
        escape(title)
    );
    let policy = match scripts {
        Scripts::None => &NO_SCRIPT_POLICY,
        Scripts::StripeJs => {
            let _ = write!(
                html,
                "<script src=\"{STRIPE_JS}\"></script>\n<script>{STRIPE_SCRIPT}</script>\n"
            );
            &STRIPE_POLICY
        }
    };
    html.push_str("</body>\n</html>\n");
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
