//! Stripe objects and errors turned into domain values. Pure functions: no I/O, so they are
//! tested on JSON fixtures of real Stripe responses (`tests/mapping.rs`).
//!
//! Error messages built here never carry a Stripe body: `StripeError`'s own `Display` prints
//! the whole error object (embedded PaymentMethod included), so it is never formatted.

use billing_core::ports::gateway::{
    CardDetails, ChargeOutcome, Decline, GatewayError, PaymentMethod,
};
use billing_core::rules::card::{CheckResult, Funding};
use billing_core::{AccountId, ClientSecret, CustomerId, PaymentId, PaymentMethodId};
use stripe::StripeError;
use stripe_shared::{ApiErrors, ApiErrorsCode, ApiErrorsType, PaymentIntent, PaymentMethodCard};

/// The metadata key naming the account, on the customers and PaymentIntents this system
/// creates.
pub const ACCOUNT_KEY: &str = "account_id";

/// The metadata key naming what a PaymentIntent pays for (`cp_…`, `in_…`).
pub const REFERENCE_KEY: &str = "reference";

/// The account a customer was created for, from its metadata; `None` when it names none this
/// system could have written (a customer created elsewhere).
pub fn customer_account(customer: &stripe_shared::Customer) -> Option<AccountId> {
    customer
        .metadata
        .as_ref()
        .and_then(|metadata| metadata.get(ACCOUNT_KEY))
        .and_then(|account| AccountId::parse(account).ok())
}

/// A PaymentMethod as the domain sees it. Only cards are expected (SetupIntents and charges
/// allow `card` only); anything else is refused as invalid.
pub fn payment_method(pm: &stripe_shared::PaymentMethod) -> Result<PaymentMethod, GatewayError> {
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
            .map(|c| CustomerId::parse(c.id().as_str()))
            .transpose()
            .map_err(|e| unexpected("customer id", e))?,
        card: card_details(id, card)?,
    })
}

/// The customer's `invoice_settings.default_payment_method` (an id, or an expanded object).
pub fn default_payment_method(
    customer: &stripe_shared::Customer,
) -> Result<Option<PaymentMethodId>, GatewayError> {
    customer
        .invoice_settings
        .as_ref()
        .and_then(|settings| settings.default_payment_method.as_ref())
        .map(|pm| PaymentMethodId::parse(pm.id().as_str()))
        .transpose()
        .map_err(|e| unexpected("default payment method id", e))
}

fn card_details(id: &str, card: &PaymentMethodCard) -> Result<CardDetails, GatewayError> {
    let checks = card.checks.as_ref();
    let check = |pick: fn(&stripe_shared::PaymentMethodCardChecks) -> &Option<String>| {
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

/// The state of a charge from its PaymentIntent. A PaymentIntent waiting for the cardholder
/// without a client secret is an error: there would be no way to let them complete it.
pub fn charge_outcome(intent: &PaymentIntent) -> Result<ChargeOutcome, GatewayError> {
    intent_outcome(&IntentFacts {
        id: intent.id.as_str(),
        status: intent.status.as_str(),
        client_secret: intent.client_secret.as_deref(),
        redirect_url: intent
            .next_action
            .as_ref()
            .and_then(|action| action.redirect_to_url.as_ref())
            .and_then(|redirect| redirect.url.as_deref()),
        last_error: intent.last_payment_error.as_deref().map(error_facts),
    })
}

/// What the outcome rule reads of a PaymentIntent, whether it came as async-stripe's type (an
/// API response) or as a webhook event's JSON (`crate::webhook`): one rule for both, so an
/// event and `charge_status` can never disagree about the same PaymentIntent.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IntentFacts<'a> {
    pub id: &'a str,
    /// Stripe's `status` string.
    pub status: &'a str,
    pub client_secret: Option<&'a str>,
    /// `next_action.redirect_to_url.url`.
    pub redirect_url: Option<&'a str>,
    /// `last_payment_error`.
    pub last_error: Option<ErrorFacts<'a>>,
}

/// What the outcome rule reads of a Stripe error object.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ErrorFacts<'a> {
    pub code: Option<&'a str>,
    pub decline_code: Option<&'a str>,
    pub message: Option<&'a str>,
}

fn error_facts(error: &ApiErrors) -> ErrorFacts<'_> {
    ErrorFacts {
        code: error.code.as_ref().map(|code| code.as_str()),
        decline_code: error.decline_code.as_deref(),
        message: error.message.as_deref(),
    }
}

/// The state of a charge from what its PaymentIntent says (see [`charge_outcome`]).
pub(crate) fn intent_outcome(intent: &IntentFacts<'_>) -> Result<ChargeOutcome, GatewayError> {
    let payment = payment_id(intent.id)?;
    Ok(match intent.status {
        "succeeded" => ChargeOutcome::Succeeded { payment },
        "requires_action" => ChargeOutcome::RequiresAction {
            client_secret: client_secret(intent.id, intent.client_secret)?,
            url: intent.redirect_url.map(str::to_owned),
            payment,
        },
        // The attempt failed and the intent waits for another payment method, with the reason
        // in last_payment_error. Off session, a bank asking for authentication fails this way:
        // the cardholder can still complete it with the client secret.
        "requires_payment_method" => match intent.last_error {
            Some(error) if asks_for_authentication(&error) => {
                ChargeOutcome::AuthenticationRequired {
                    client_secret: client_secret(intent.id, intent.client_secret)?,
                    url: None,
                    payment,
                }
            }
            error => ChargeOutcome::Declined {
                decline: error.map_or_else(
                    || Decline {
                        decline_code: None,
                        network_message: "The payment has no successful attempt.".into(),
                    },
                    |error| decline_of(&error),
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
fn asks_for_authentication(error: &ErrorFacts<'_>) -> bool {
    error.code == Some("authentication_required")
        || error.decline_code == Some("authentication_required")
}

/// A decline from a Stripe error object: the issuer's `decline_code`, or Stripe's own `code`
/// when the issuer gave none (`authentication_required` comes that way on some paths).
pub fn decline(error: &ApiErrors) -> Decline {
    decline_of(&error_facts(error))
}

fn decline_of(error: &ErrorFacts<'_>) -> Decline {
    Decline {
        decline_code: error.decline_code.or(error.code).map(str::to_owned),
        network_message: error.message.unwrap_or("The card was declined.").to_owned(),
    }
}

/// What a failed charge request means: a decline is an outcome, the rest are errors. Off
/// session, "authentication required" is a 402 carrying the PaymentIntent, which is kept for
/// the cardholder to complete (its id and client secret), not reported as a decline.
pub fn charge_failure(error: &StripeError) -> Result<ChargeOutcome, GatewayError> {
    match error {
        StripeError::Stripe(api, 402)
            if is_card_error(api) && asks_for_authentication(&error_facts(api)) =>
        {
            let intent = api.payment_intent.as_ref().ok_or_else(|| {
                GatewayError::Unavailable(
                    "Stripe asked for authentication without naming the payment".into(),
                )
            })?;
            Ok(ChargeOutcome::AuthenticationRequired {
                payment: payment_id(intent.id.as_str())?,
                client_secret: client_secret(intent.id.as_str(), intent.client_secret.as_deref())?,
                url: None,
            })
        }
        StripeError::Stripe(api, 402) if is_card_error(api) => Ok(ChargeOutcome::Declined {
            payment: api
                .payment_intent
                .as_ref()
                .map(|intent| payment_id(intent.id.as_str()))
                .transpose()?,
            decline: decline(api),
        }),
        other => Err(gateway_error(other, "payment")),
    }
}

/// True when Stripe refused to cancel a payment because of the state it is in (it succeeded,
/// or was canceled already): the caller reads the state instead.
pub fn is_unexpected_state(error: &StripeError) -> bool {
    match error {
        StripeError::Stripe(api, 400) => {
            matches!(api.code, Some(ApiErrorsCode::PaymentIntentUnexpectedState))
        }
        StripeError::Stripe(..)
        | StripeError::JSONDeserialize(_)
        | StripeError::ClientError(_)
        | StripeError::ConfigError(_)
        | StripeError::Timeout => false,
    }
}

fn is_card_error(error: &ApiErrors) -> bool {
    match &error.type_ {
        ApiErrorsType::CardError => true,
        ApiErrorsType::ApiError
        | ApiErrorsType::IdempotencyError
        | ApiErrorsType::InvalidRequestError
        | ApiErrorsType::Unknown(_)
        // (`_`: the enum is non-exhaustive; only `card_error` is a decline.)
        | _ => false,
    }
}

/// A failed request as a gateway error. `what` names the object for `NotFound`.
pub fn gateway_error(error: &StripeError, what: &str) -> GatewayError {
    match error {
        StripeError::Stripe(api, status) => api_error(api, *status, what),
        StripeError::ClientError(reason) => {
            GatewayError::Unavailable(format!("cannot reach Stripe: {reason}"))
        }
        StripeError::Timeout => GatewayError::Unavailable("Stripe did not answer in time".into()),
        // Deliberately without the parser's message: it may quote the body.
        StripeError::JSONDeserialize(_) => {
            GatewayError::Unavailable("Stripe's answer could not be read".into())
        }
        StripeError::ConfigError(reason) => {
            GatewayError::Invalid(format!("Stripe client misconfigured: {reason}"))
        }
    }
}

fn api_error(api: &ApiErrors, status: u16, what: &str) -> GatewayError {
    // Stripe's own message is left out: it may quote what was sent (an e-mail address, for
    // one), and these errors are logged. The code and parameter say what went wrong.
    let message = format!(
        "HTTP {status} {}{}",
        api.code
            .as_ref()
            .map_or("without code", |code| code.as_str()),
        api.param
            .as_deref()
            .map(|param| format!(" on `{param}`"))
            .unwrap_or_default()
    );
    if matches!(api.code, Some(ApiErrorsCode::ResourceMissing)) || status == 404 {
        return GatewayError::NotFound(what.to_owned());
    }
    match status {
        402 if is_card_error(api) => GatewayError::CardDeclined(decline(api)),
        // 409: a concurrent request holds the idempotency key; 429: rate limit or lock
        // timeout. Both succeed when tried again later.
        409 | 429 => GatewayError::Unavailable(message),
        400..=499 => GatewayError::Invalid(message),
        _ => GatewayError::Unavailable(format!("Stripe failed (HTTP {status}): {message}")),
    }
}

/// True when the same request, sent again shortly with the same idempotency key, should
/// succeed: another request with that key is still running (409). A locked object
/// (`lock_timeout`) is a 429, which the transport has already retried as Stripe asked
/// (`crate::back_off`); retrying it here too would multiply the waits.
pub fn is_busy(error: &StripeError) -> bool {
    match error {
        StripeError::Stripe(api, _) => matches!(api.code, Some(ApiErrorsCode::IdempotencyKeyInUse)),
        StripeError::JSONDeserialize(_)
        | StripeError::ClientError(_)
        | StripeError::ConfigError(_)
        | StripeError::Timeout => false,
    }
}

fn unexpected(field: &str, error: impl std::fmt::Display) -> GatewayError {
    GatewayError::Unavailable(format!("Stripe returned an unusable {field}: {error}"))
}
