//! The one place errors become HTTP responses (PRODUCT.md error shape), built from
//! [`ErrorCode`].

mod code;

use axum::Json;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use billing_core::error::MoneyError;
use billing_core::ports::gateway::GatewayError;
use billing_core::ports::store::StoreError;
use billing_core::rules::card::CardRefusal;
use billing_core::rules::decline::decline_advice;
use billing_core::rules::purchase::AmountRefusal;
use billing_core::usecases::deletion::FinalChargeFailed;
use billing_core::usecases::error::UseCaseError;
use serde::Serialize;
use utoipa::ToSchema;

pub use code::{ErrorCode, ErrorType};

/// An error response: a stable code (which fixes status and type), a message a person can act
/// on, and the optional fields of PRODUCT.md's error object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// `error.code`; also fixes the status and `error.type`.
    pub code: ErrorCode,
    /// `error.message`.
    pub message: String,
    /// `error.param`, when one field is at fault.
    pub param: Option<String>,
    /// `error.decline_code` of a declined card.
    pub decline_code: Option<String>,
    /// `error.retry_after` (and the `Retry-After` header), in seconds.
    pub retry_after: Option<u64>,
    /// `error.invoice`: the invoice a failed final charge is about.
    pub invoice: Option<String>,
    /// `error.authorization_url`: where the cardholder authorizes that invoice's payment.
    pub authorization_url: Option<String>,
    /// What went wrong inside, for a 5xx: logged when the response is sent, never returned.
    cause: Option<String>,
}

/// The error body: `{"error": {...}}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorObject,
}

/// PRODUCT.md's error object.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorObject {
    /// The kind of error.
    #[serde(rename = "type")]
    pub kind: ErrorType,
    /// A stable code.
    pub code: ErrorCode,
    /// What happened and what to do, for a person.
    pub message: String,
    /// The parameter at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub param: Option<String>,
    /// Why the issuer declined the card (`card_declined`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decline_code: Option<String>,
    /// Seconds until the request may succeed (`purchase_in_progress`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// The invoice a failed final charge is about (`DELETE /v1/account`: `authorization_required`,
    /// `card_declined`, `card_required`, `payment_in_progress`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoice: Option<String>,
    /// The page where the cardholder authorizes that invoice's payment
    /// (`authorization_required`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization_url: Option<String>,
}

impl ApiError {
    /// An error with a message and nothing else.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            param: None,
            decline_code: None,
            retry_after: None,
            invoice: None,
            authorization_url: None,
            cause: None,
        }
    }

    /// Names the field at fault.
    #[must_use]
    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    /// 401: no valid credentials.
    pub fn unauthenticated() -> Self {
        Self::new(
            ErrorCode::Unauthenticated,
            "Sign in again: this request carried no valid credentials.",
        )
    }

    /// 404 for an id this account does not have (or another account has).
    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("No such {what}."))
    }

    /// 500; the cause is logged when the response is sent, never returned.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        let mut error = Self::new(
            ErrorCode::InternalError,
            "Something went wrong on our side. Please try again later.",
        );
        error.cause = Some(cause.to_string());
        error
    }

    /// 503; the cause is logged when the response is sent, never returned.
    pub fn unavailable(cause: &dyn std::fmt::Display) -> Self {
        let mut error = Self::new(
            ErrorCode::ServiceUnavailable,
            "The service is temporarily unavailable. Please try again in a moment.",
        );
        error.cause = Some(cause.to_string());
        error
    }

    /// The body this error is answered with.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorObject {
                kind: self.code.kind(),
                code: self.code,
                message: self.message.clone(),
                param: self.param.clone(),
                decline_code: self.decline_code.clone(),
                retry_after: self.retry_after,
                invoice: self.invoice.clone(),
                authorization_url: self.authorization_url.clone(),
            },
        }
    }
}

/// What a deletion answers when the charge of what is owed did not pay (nothing was erased).
fn final_charge(failed: FinalChargeFailed) -> ApiError {
    let (mut error, invoice) = match failed {
        FinalChargeFailed::AuthorizationRequired { invoice, url } => {
            let mut error = ApiError::new(
                ErrorCode::AuthorizationRequired,
                format!(
                    "Your bank needs you to authorize the payment of invoice {invoice} before the account can be deleted: open `authorization_url`, then delete the account again. Nothing was erased."
                ),
            );
            error.authorization_url = Some(url);
            (error, invoice)
        }
        FinalChargeFailed::Declined {
            invoice,
            decline_code,
        } => {
            let advice = decline_advice(Some(&decline_code));
            let mut error = ApiError::new(
                ErrorCode::CardDeclined,
                format!(
                    "{} Invoice {invoice} must be paid before the account can be deleted; nothing was erased.",
                    advice.message()
                ),
            );
            error.decline_code = Some(advice.code.to_owned());
            (error, invoice)
        }
        FinalChargeFailed::CardRequired { invoice } => (
            ApiError::new(
                ErrorCode::CardRequired,
                format!(
                    "Invoice {invoice} must be paid before the account can be deleted: add a credit or debit card first. Nothing was erased."
                ),
            ),
            invoice,
        ),
        FinalChargeFailed::InProgress {
            invoice,
            retry_after,
        } => {
            let mut error = ApiError::new(
                ErrorCode::PaymentInProgress,
                format!(
                    "The payment of invoice {invoice} is still being settled; delete the account again after `retry_after` seconds. Nothing was erased."
                ),
            );
            error.retry_after = Some(retry_after);
            (error, invoice)
        }
    };
    error.invoice = Some(invoice.to_string());
    error
}

/// The API code of each card refusal of the acceptance rule.
fn refusal_code(refusal: CardRefusal) -> ErrorCode {
    match refusal {
        CardRefusal::PrepaidNotSupported => ErrorCode::CardPrepaidNotSupported,
        CardRefusal::FundingUnsupported => ErrorCode::CardFundingUnsupported,
        CardRefusal::Expired => ErrorCode::CardExpired,
        CardRefusal::CvcCheckFailed => ErrorCode::CardCvcCheckFailed,
        CardRefusal::AddressCheckFailed => ErrorCode::CardAddressCheckFailed,
    }
}

impl From<UseCaseError> for ApiError {
    fn from(error: UseCaseError) -> Self {
        match error {
            UseCaseError::Invalid(parse) => ApiError::new(
                ErrorCode::ParameterInvalid,
                format!("{}: {}", parse.field, parse.reason),
            )
            .with_param(parse.field),
            UseCaseError::Money(MoneyError::UnsupportedCurrency(code)) => ApiError::new(
                ErrorCode::CurrencyNotSupported,
                format!("Currency `{code}` is not supported; amounts are billed in `usd`."),
            )
            .with_param("currency"),
            UseCaseError::Money(MoneyError::Overflow) => {
                ApiError::new(ErrorCode::AmountInvalid, "The amount is out of range.")
                    .with_param("amount")
            }
            UseCaseError::AccountDeleted => {
                ApiError::new(ErrorCode::AccountDeleted, "This account has been deleted.")
            }
            UseCaseError::UsageEventConflict(_) => ApiError::new(
                ErrorCode::UsageEventConflict,
                "This usage event id was recorded before with another account, amount or time.",
            )
            .with_param("id"),
            UseCaseError::NotFound => ApiError::not_found("object"),
            UseCaseError::PaymentMethodNotFound => ApiError::new(
                ErrorCode::PaymentMethodNotFound,
                "No such payment method. Enter the card details again to get a new one.",
            )
            .with_param("payment_method"),
            UseCaseError::CardRefused(refusal) => {
                ApiError::new(refusal_code(refusal), refusal.message()).with_param("payment_method")
            }
            UseCaseError::CardRequired => ApiError::new(
                ErrorCode::CardRequired,
                "A card must stay on file while the account is open. Replace it with another credit or debit card instead, or delete the account to remove payment information.",
            ),
            UseCaseError::CardChangeInProgress { retry_after } => {
                let mut error = ApiError::new(
                    ErrorCode::CardChangeInProgress,
                    "Another change of this account's card is in progress. Try again in a moment.",
                );
                error.retry_after = Some(retry_after);
                error
            }
            UseCaseError::ConcurrentUpdate => ApiError::new(
                ErrorCode::ConcurrentUpdate,
                "Another change to this account happened at the same time. Please try again.",
            ),
            UseCaseError::AmountRefused(refusal) => {
                let code = match refusal {
                    AmountRefusal::TooSmall { .. } => ErrorCode::AmountTooSmall,
                    AmountRefusal::TooLarge { .. } => ErrorCode::AmountTooLarge,
                };
                ApiError::new(code, refusal.to_string()).with_param("amount")
            }
            UseCaseError::PurchaseInProgress { retry_after } => {
                let mut error = ApiError::new(
                    ErrorCode::PurchaseInProgress,
                    "A purchase is in progress and can take up to 15 minutes to settle; nothing more was charged. Do not enter your card details again meanwhile.",
                );
                error.retry_after = Some(retry_after);
                error
            }
            UseCaseError::IdempotencyKeyReused => ApiError::new(
                ErrorCode::IdempotencyKeyReused,
                "This Idempotency-Key was used with a different request. Use a new key for a new request.",
            )
            .with_param("Idempotency-Key"),
            UseCaseError::IdempotencyKeyInUse { retry_after } => {
                let mut error = ApiError::new(
                    ErrorCode::IdempotencyKeyInUse,
                    "The first request with this Idempotency-Key is still running. Retry after `retry_after` seconds to get its answer.",
                );
                error.retry_after = Some(retry_after);
                error
            }
            UseCaseError::Store(store) => store.into(),
            UseCaseError::Gateway(gateway) => gateway.into(),
            UseCaseError::Mail(mail) => ApiError::unavailable(&mail),
            UseCaseError::Queue(queue) => ApiError::unavailable(&queue),
            UseCaseError::PeriodNotEnded(refusal) => {
                ApiError::new(ErrorCode::PeriodNotEnded, refusal.to_string()).with_param("time")
            }
            UseCaseError::ConfirmationMismatch => ApiError::new(
                ErrorCode::ConfirmationMismatch,
                "To delete the account, send its id in `confirm`.",
            )
            .with_param("confirm"),
            UseCaseError::DeletionInProgress { retry_after } => {
                let mut error = ApiError::new(
                    ErrorCode::DeletionInProgress,
                    "The account is being deleted by another request. Try again after `retry_after` seconds to see it done.",
                );
                error.retry_after = Some(retry_after);
                error
            }
            UseCaseError::FinalCharge(failed) => final_charge(failed),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict { .. } => ApiError::new(
                ErrorCode::ConcurrentUpdate,
                "Another change to this account happened at the same time. Please try again.",
            ),
            StoreError::Unavailable(_) => ApiError::unavailable(&error),
            StoreError::Invalid(_)
            | StoreError::Corrupt(_)
            | StoreError::EntriesExist { .. }
            | StoreError::Misconfigured(_) => ApiError::internal(&error),
        }
    }
}

impl From<GatewayError> for ApiError {
    fn from(error: GatewayError) -> Self {
        match error {
            GatewayError::CardDeclined(decline) => {
                let advice = decline_advice(decline.decline_code.as_deref());
                let mut error = ApiError::new(ErrorCode::CardDeclined, advice.message());
                error.decline_code = Some(advice.code.to_owned());
                error
            }
            GatewayError::NotFound(_) => ApiError::not_found("object"),
            GatewayError::Unavailable(_) => ApiError::unavailable(&error),
            GatewayError::Invalid(_) => ApiError::internal(&error),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // Logged here, at the edge, inside the request's span: building an error has no effect.
        match (&self.cause, self.code) {
            (Some(cause), ErrorCode::ServiceUnavailable) => {
                tracing::warn!(%cause, "dependency unavailable");
            }
            (Some(cause), _) => tracing::error!(%cause, "internal error"),
            (None, _) => {}
        }
        let mut response = (self.code.status(), Json(self.body())).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert("retry-after", HeaderValue::from(seconds));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_card_refusal_answers_with_the_code_the_rule_names() {
        for refusal in CardRefusal::ALL {
            let error = ApiError::from(UseCaseError::CardRefused(refusal));
            assert_eq!(error.code.code(), refusal.code());
            assert_eq!(error.code.status().as_u16(), 422);
        }
    }

    #[test]
    fn a_server_error_body_says_nothing_internal() {
        let error = ApiError::internal(&"table billing-prod: AccessDenied for role x");
        let body = serde_json::to_string(&error.body()).unwrap();
        assert!(!body.contains("AccessDenied"), "{body}");
        assert_eq!(error.code.status().as_u16(), 500);
    }
}
