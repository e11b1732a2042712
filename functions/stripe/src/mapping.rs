//! Stripe objects and errors turned into domain values. Pure functions: no I/O, so they are
//! tested on JSON fixtures of real Stripe responses (`tests/mapping.rs`).
//!
//! Error messages built here never carry a Stripe body or Stripe's message (it may quote what
//! was sent): only the HTTP status, Stripe's error `code` and the parameter it names.

use billing_core::ports::gateway::{
    CardDetails, ChargeOutcome, Decline, GatewayError, PaymentMethod,
};
use billing_core::rules::card::{CheckResult, Funding};
use billing_core::{AccountId, ClientSecret, CustomerId, PaymentId, PaymentMethodId};

use crate::failure::Failure;
use crate::objects::{ApiError, Card, Customer, PaymentIntent};

/// The metadata key naming the account, on the customers and PaymentIntents this system
/// creates.
pub const ACCOUNT_KEY: &str = "account_id";

/// The metadata key naming what a PaymentIntent pays for (`cp_…`, `in_…`).
pub const REFERENCE_KEY: &str = "reference";

/// The account a customer was created for, from its metadata; `None` when it names none this
/// system could have written (a customer created elsewhere).
pub fn customer_account(customer: &Customer) -> Option<AccountId> {
    customer
        .metadata
        .as_ref()
        .and_then(|metadata| metadata.account_id.as_deref())
        .and_then(|account| AccountId::parse(account).ok())
}

/// A PaymentMethod as the domain sees it. Only cards are expected (SetupIntents and charges
/// allow `card` only); anything else is refused as invalid.
pub fn payment_method(pm: &crate::objects::PaymentMethod) -> Result<PaymentMethod, GatewayError> {
    let id = pm.id.as_str();
    let card = pm
        .card
        .as_ref()
        .ok_or_else(|| GatewayError::Invalid(format!("payment method {id} is not a card")))?;
    Ok(PaymentMethod {
        id: PaymentMethodId::parse(id).map_err(|e| unexpected("payment method id", e))?,
        customer: pm
            .customer
            .as_ref()
            .map(|c| CustomerId::parse(c.id()))
            .transpose()
            .map_err(|e| unexpected("customer id", e))?,
        card: card_details(id, card)?,
    })
}

/// The customer's `invoice_settings.default_payment_method` (an id, or an expanded object).
pub fn default_payment_method(
    customer: &Customer,
) -> Result<Option<PaymentMethodId>, GatewayError> {
    customer
        .invoice_settings
        .as_ref()
        .and_then(|settings| settings.default_payment_method.as_ref())
        .map(|pm| PaymentMethodId::parse(pm.id()))
        .transpose()
        .map_err(|e| unexpected("default payment method id", e))
}

fn card_details(id: &str, card: &Card) -> Result<CardDetails, GatewayError> {
    let checks = card.checks.as_ref();
    let check = |pick: fn(&crate::objects::CardChecks) -> &Option<String>| {
        CheckResult::from_stripe(checks.and_then(|c| pick(c).as_deref()))
    };
    Ok(CardDetails {
        brand: card.brand.clone(),
        last4: card.last4.clone(),
        exp_month: u32::try_from(card.exp_month).map_err(|e| unexpected("exp_month", e))?,
        exp_year: i32::try_from(card.exp_year).map_err(|e| unexpected("exp_year", e))?,
        funding: Funding::from_stripe(&card.funding),
        // Stripe documents the fingerprint as nullable. Falling back to the PaymentMethod's own
        // id means "a card never seen before": a missing fingerprint can then never make a new
        // card look like the one on file (which would turn a replace into a no-op).
        fingerprint: card
            .fingerprint
            .clone()
            .filter(|f| !f.is_empty())
            .unwrap_or_else(|| format!("unfingerprinted:{id}")),
        cvc_check: check(|c| &c.cvc_check),
        address_line1_check: check(|c| &c.address_line1_check),
        address_postal_code_check: check(|c| &c.address_postal_code_check),
    })
}

/// The state of a charge from its PaymentIntent, read from an API answer or a webhook event
/// (`crate::webhook`) alike: one rule for both, so an event and `charge_status` can never
/// disagree about the same PaymentIntent. A PaymentIntent waiting for the cardholder without
/// a client secret is an error: there would be no way to let them complete it.
pub fn charge_outcome(intent: &PaymentIntent) -> Result<ChargeOutcome, GatewayError> {
    let payment = payment_id(&intent.id)?;
    let client_secret = || client_secret(&intent.id, intent.client_secret.as_deref());
    Ok(match intent.status.as_str() {
        "succeeded" => ChargeOutcome::Succeeded { payment },
        "requires_action" => ChargeOutcome::RequiresAction {
            client_secret: client_secret()?,
            url: intent
                .next_action
                .as_ref()
                .and_then(|action| action.redirect_to_url.as_ref())
                .and_then(|redirect| redirect.url.clone()),
            payment,
        },
        // The attempt failed and the intent waits for another payment method, with the reason
        // in last_payment_error. Off session, a bank asking for authentication fails this way:
        // the cardholder can still complete it with the client secret.
        "requires_payment_method" => match &intent.last_payment_error {
            Some(error) if asks_for_authentication(error) => {
                ChargeOutcome::AuthenticationRequired {
                    client_secret: client_secret()?,
                    url: None,
                    payment,
                }
            }
            error => ChargeOutcome::Declined {
                decline: error.as_ref().map_or_else(
                    || Decline {
                        decline_code: None,
                        network_message: "The payment has no successful attempt.".into(),
                    },
                    decline,
                ),
                payment: Some(payment),
            },
        },
        "canceled" => ChargeOutcome::Canceled { payment },
        // Not final: `processing`, `requires_capture`, `requires_confirmation`. Charges are
        // created with automatic capture and confirm=true, so these are transient; a status
        // Stripe adds later is also reported as not final rather than guessed at: the caller
        // asks again (or the next event tells) instead of settling money on a guess.
        _ => ChargeOutcome::Processing { payment },
    })
}

fn payment_id(id: &str) -> Result<PaymentId, GatewayError> {
    PaymentId::parse(id).map_err(|e| unexpected("payment id", e))
}

fn client_secret(payment: &str, raw: Option<&str>) -> Result<ClientSecret, GatewayError> {
    let raw = raw.unwrap_or_default();
    if raw.is_empty() {
        return Err(GatewayError::Unavailable(format!(
            "Stripe asked for authentication on payment {payment} without its client secret"
        )));
    }
    ClientSecret::parse(raw).map_err(|e| unexpected("client secret", e.reason))
}

/// True for Stripe's "the bank requires authentication" failure, which comes as the error
/// `code` (and, on some paths, also as the `decline_code`).
fn asks_for_authentication(error: &ApiError) -> bool {
    error.code.as_deref() == Some("authentication_required")
        || error.decline_code.as_deref() == Some("authentication_required")
}

/// A decline from a Stripe error object: the issuer's `decline_code`, or Stripe's own `code`
/// when the issuer gave none (`authentication_required` comes that way on some paths).
pub fn decline(error: &ApiError) -> Decline {
    Decline {
        decline_code: error.decline_code.clone().or_else(|| error.code.clone()),
        network_message: error
            .message
            .clone()
            .unwrap_or_else(|| "The card was declined.".to_owned()),
    }
}

/// What a failed charge request means: a decline is an outcome, the rest are errors. Off
/// session, "authentication required" is a 402 carrying the PaymentIntent, which is kept for
/// the cardholder to complete (its id and client secret), not reported as a decline.
pub fn charge_failure(failure: &Failure) -> Result<ChargeOutcome, GatewayError> {
    match failure {
        Failure::Refused { error, status: 402 }
            if is_card_error(error) && asks_for_authentication(error) =>
        {
            let intent = error.payment_intent.as_ref().ok_or_else(|| {
                GatewayError::Unavailable(
                    "Stripe asked for authentication without naming the payment".into(),
                )
            })?;
            Ok(ChargeOutcome::AuthenticationRequired {
                payment: payment_id(&intent.id)?,
                client_secret: client_secret(&intent.id, intent.client_secret.as_deref())?,
                url: None,
            })
        }
        Failure::Refused { error, status: 402 } if is_card_error(error) => {
            Ok(ChargeOutcome::Declined {
                payment: error
                    .payment_intent
                    .as_ref()
                    .map(|intent| payment_id(&intent.id))
                    .transpose()?,
                decline: decline(error),
            })
        }
        other => Err(gateway_error(other, "payment")),
    }
}

/// True when Stripe refused to cancel a payment because of the state it is in (it succeeded,
/// or was canceled already): the caller reads the state instead.
pub fn is_unexpected_state(failure: &Failure) -> bool {
    failure.code() == Some("payment_intent_unexpected_state")
        && matches!(failure, Failure::Refused { status: 400, .. })
}

/// True when the same request, sent again shortly with the same idempotency key, should
/// succeed: another request with that key is still running (409). A locked object
/// (`lock_timeout`) is a 429, which the transport has already retried as Stripe asked
/// (`crate::back_off`); retrying it here too would multiply the waits.
pub fn is_busy(failure: &Failure) -> bool {
    failure.code() == Some("idempotency_key_in_use")
}

/// Only `card_error` is a decline.
fn is_card_error(error: &ApiError) -> bool {
    error.type_ == "card_error"
}

/// A failed request as a gateway error. `what` names the object for `NotFound`.
pub fn gateway_error(failure: &Failure, what: &str) -> GatewayError {
    match failure {
        Failure::Refused { error, status } => api_error(error, *status, what),
        Failure::Unreachable(reason) => {
            GatewayError::Unavailable(format!("cannot reach Stripe: {reason}"))
        }
        Failure::Timeout => GatewayError::Unavailable("Stripe did not answer in time".into()),
        // Deliberately without the parser's message: it may quote the body.
        Failure::Unreadable { .. } => {
            GatewayError::Unavailable("Stripe's answer could not be read".into())
        }
        Failure::Config(reason) => {
            GatewayError::Invalid(format!("Stripe client misconfigured: {reason}"))
        }
    }
}

fn api_error(error: &ApiError, status: u16, what: &str) -> GatewayError {
    // Stripe's own message is left out: it may quote what was sent (an e-mail address, for
    // one), and these errors are logged. The code and parameter say what went wrong.
    let message = format!(
        "HTTP {status} {}{}",
        error.code.as_deref().unwrap_or("without code"),
        error
            .param
            .as_deref()
            .map(|param| format!(" on `{param}`"))
            .unwrap_or_default()
    );
    if error.code.as_deref() == Some("resource_missing") || status == 404 {
        return GatewayError::NotFound(what.to_owned());
    }
    match status {
        402 if is_card_error(error) => GatewayError::CardDeclined(decline(error)),
        // 409: a concurrent request holds the idempotency key; 429: rate limit or lock
        // timeout. Both succeed when tried again later.
        409 | 429 => GatewayError::Unavailable(message),
        400..=499 => GatewayError::Invalid(message),
        _ => GatewayError::Unavailable(format!("Stripe failed (HTTP {status}): {message}")),
    }
}

fn unexpected(field: &str, error: impl std::fmt::Display) -> GatewayError {
    GatewayError::Unavailable(format!("Stripe returned an unusable {field}: {error}"))
}
