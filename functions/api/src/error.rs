//! The one place errors become HTTP responses (PRODUCT.md error shape).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use billing_core::error::MoneyError;
use billing_core::ports::gateway::GatewayError;
use billing_core::ports::store::StoreError;
use billing_core::rules::decline::decline_advice;
use billing_core::usecases::error::UseCaseError;
use serde::Serialize;
use serde_json::{Map, Value};

/// The `type` of an error body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorType {
    /// The request is wrong.
    InvalidRequestError,
    /// The card was refused or declined.
    CardError,
    /// No valid credentials.
    AuthenticationError,
    /// Too many requests, or one already in progress.
    RateLimitError,
    /// Our fault; nothing internal is said.
    ApiError,
}

/// An error response: status, stable code, a message a person can act on.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// `error.type`.
    pub kind: ErrorType,
    /// `error.code`: stable, documented.
    pub code: &'static str,
    /// `error.message`.
    pub message: String,
    /// `error.param`, when one field is at fault.
    pub param: Option<String>,
    /// Extra fields of `error` (`retry_after`, `decline_code`).
    pub extra: Map<String, Value>,
}

impl ApiError {
    /// A new error without param or extras.
    pub fn new(
        status: StatusCode,
        kind: ErrorType,
        code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            kind,
            code,
            message: message.into(),
            param: None,
            extra: Map::new(),
        }
    }

    /// 400 invalid request.
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            ErrorType::InvalidRequestError,
            code,
            message,
        )
    }

    /// Names the field at fault.
    #[must_use]
    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    /// Adds an extra field to the error object.
    #[must_use]
    pub fn with_extra(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extra.insert(key.to_owned(), value.into());
        self
    }

    /// 401: no valid credentials.
    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorType::AuthenticationError,
            "unauthenticated",
            "Sign in again: this request carried no valid credentials.",
        )
    }

    /// 404 for an id this account does not have (or another account has).
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            ErrorType::InvalidRequestError,
            "not_found",
            format!("No such {what}."),
        )
    }

    /// 500; the cause is logged, never returned.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorType::ApiError,
            "internal_error",
            "Something went wrong on our side. Please try again later.",
        )
    }

    /// 503; the cause is logged, never returned.
    pub fn unavailable(cause: &dyn std::fmt::Display) -> Self {
        tracing::warn!(%cause, "dependency unavailable");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorType::ApiError,
            "service_unavailable",
            "The service is temporarily unavailable. Please try again in a moment.",
        )
    }
}

impl From<UseCaseError> for ApiError {
    fn from(error: UseCaseError) -> Self {
        match error {
            UseCaseError::Invalid(parse) => ApiError::invalid(
                "parameter_invalid",
                format!("{}: {}", parse.field, parse.reason),
            )
            .with_param(parse.field),
            UseCaseError::Money(MoneyError::UnsupportedCurrency(code)) => ApiError::invalid(
                "currency_not_supported",
                format!("Currency `{code}` is not supported; amounts are billed in `usd`."),
            )
            .with_param("currency"),
            UseCaseError::Money(MoneyError::Overflow) => {
                ApiError::invalid("amount_invalid", "The amount is out of range.")
                    .with_param("amount")
            }
            UseCaseError::AccountDeleted => ApiError::new(
                StatusCode::GONE,
                ErrorType::InvalidRequestError,
                "account_deleted",
                "This account has been deleted.",
            ),
            UseCaseError::UsageEventConflict(_) => ApiError::new(
                StatusCode::CONFLICT,
                ErrorType::InvalidRequestError,
                "usage_event_conflict",
                "This usage event id was recorded before with another account, amount or time.",
            )
            .with_param("id"),
            UseCaseError::NotFound => ApiError::not_found("object"),
            UseCaseError::PaymentMethodNotFound => ApiError::new(
                StatusCode::NOT_FOUND,
                ErrorType::InvalidRequestError,
                "payment_method_not_found",
                "No such payment method. Enter the card details again to get a new one.",
            )
            .with_param("payment_method"),
            UseCaseError::CardRefused(refusal) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorType::CardError,
                refusal.code(),
                refusal.message(),
            )
            .with_param("payment_method"),
            UseCaseError::CardRequired => ApiError::new(
                StatusCode::CONFLICT,
                ErrorType::InvalidRequestError,
                "card_required",
                "A card must stay on file while the account is open. Replace it with another credit or debit card instead, or delete the account to remove payment information.",
            ),
            UseCaseError::Store(store) => store.into(),
            UseCaseError::Gateway(gateway) => gateway.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict { .. } => ApiError::new(
                StatusCode::CONFLICT,
                ErrorType::InvalidRequestError,
                "concurrent_update",
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
                ApiError::new(
                    StatusCode::PAYMENT_REQUIRED,
                    ErrorType::CardError,
                    "card_declined",
                    advice.message(),
                )
                .with_extra("decline_code", advice.code)
            }
            GatewayError::NotFound(_) => ApiError::not_found("object"),
            GatewayError::Unavailable(_) => ApiError::unavailable(&error),
            GatewayError::Invalid(_) => ApiError::internal(&error),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = Map::new();
        error.insert(
            "type".into(),
            serde_json::to_value(self.kind).unwrap_or(Value::Null),
        );
        error.insert("code".into(), self.code.into());
        error.insert("message".into(), self.message.into());
        if let Some(param) = self.param {
            error.insert("param".into(), param.into());
        }
        error.extend(self.extra);
        let retry_after = error.get("retry_after").and_then(Value::as_u64);
        let mut response =
            (self.status, Json(serde_json::json!({ "error": error }))).into_response();
        if let Some(value) = retry_after.and_then(|seconds| seconds.to_string().parse().ok()) {
            response.headers_mut().insert("retry-after", value);
        }
        response
    }
}
