//! Every error code the API answers with, each with its HTTP status and error `type`: the one
//! table error responses are built from. README.md lists the same codes (checked by a test).

use axum::http::StatusCode;
use serde::{Serialize, Serializer};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

/// The `type` of an error body (PRODUCT.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
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

impl ErrorType {
    /// The wire name, e.g. `invalid_request_error`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequestError => "invalid_request_error",
            Self::CardError => "card_error",
            Self::AuthenticationError => "authentication_error",
            Self::RateLimitError => "rate_limit_error",
            Self::ApiError => "api_error",
        }
    }
}

/// Declares [`ErrorCode`] from one table, so a code, its status and its type are written once.
macro_rules! error_codes {
    ($( $(#[doc = $doc:literal])* $variant:ident = ($code:literal, $status:ident, $kind:ident), )+) => {
        /// A stable error `code`. Every error response is built from one of these.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $( $(#[doc = $doc])* $variant, )+
        }

        impl ErrorCode {
            /// Every code, in declaration order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),+];

            /// The wire `code`.
            pub const fn code(self) -> &'static str {
                match self { $(ErrorCode::$variant => $code,)+ }
            }

            /// The HTTP status it is answered with.
            pub const fn status(self) -> StatusCode {
                match self { $(ErrorCode::$variant => StatusCode::$status,)+ }
            }

            /// The error `type`.
            pub const fn kind(self) -> ErrorType {
                match self { $(ErrorCode::$variant => ErrorType::$kind,)+ }
            }
        }
    };
}

error_codes! {
    // Any route.
    /// No valid credentials (PRODUCT.md).
    Unauthenticated = ("unauthenticated", UNAUTHORIZED, AuthenticationError),
    /// No route has this path.
    RouteNotFound = ("route_not_found", NOT_FOUND, InvalidRequestError),
    /// The path exists but not with this method.
    MethodNotAllowed = ("method_not_allowed", METHOD_NOT_ALLOWED, InvalidRequestError),
    /// The body is not JSON.
    InvalidJson = ("invalid_json", BAD_REQUEST, InvalidRequestError),
    /// The body is JSON but not of the expected shape.
    InvalidRequest = ("invalid_request", BAD_REQUEST, InvalidRequestError),
    /// A parameter has a wrong type or value.
    ParameterInvalid = ("parameter_invalid", BAD_REQUEST, InvalidRequestError),
    /// A parameter is an empty string.
    ParameterInvalidEmpty = ("parameter_invalid_empty", BAD_REQUEST, InvalidRequestError),
    /// A required parameter is absent.
    ParameterMissing = ("parameter_missing", BAD_REQUEST, InvalidRequestError),
    /// A parameter the route does not take.
    ParameterUnknown = ("parameter_unknown", BAD_REQUEST, InvalidRequestError),
    /// The body is not sent as `application/json`.
    UnsupportedMediaType = ("unsupported_media_type", UNSUPPORTED_MEDIA_TYPE, InvalidRequestError),
    /// The body is over the size limit.
    RequestTooLarge = ("request_too_large", PAYLOAD_TOO_LARGE, InvalidRequestError),
    /// An amount in a currency we do not bill in.
    CurrencyNotSupported = ("currency_not_supported", BAD_REQUEST, InvalidRequestError),
    /// An amount out of range.
    AmountInvalid = ("amount_invalid", BAD_REQUEST, InvalidRequestError),
    /// No such object for this account (another account's ids included).
    NotFound = ("not_found", NOT_FOUND, InvalidRequestError),
    /// The account has been deleted.
    AccountDeleted = ("account_deleted", GONE, InvalidRequestError),
    /// Another change to the account happened at the same time.
    ConcurrentUpdate = ("concurrent_update", CONFLICT, InvalidRequestError),
    /// Our fault; details are logged, never returned.
    InternalError = ("internal_error", INTERNAL_SERVER_ERROR, ApiError),
    /// A dependency is unreachable; the same request may succeed later.
    ServiceUnavailable = ("service_unavailable", SERVICE_UNAVAILABLE, ApiError),
    // Cards (PRODUCT.md, `PUT /v1/billing/card`, `DELETE /v1/billing/card`).
    /// A prepaid card.
    CardPrepaidNotSupported = ("card_prepaid_not_supported", UNPROCESSABLE_ENTITY, CardError),
    /// A card whose funding is unknown.
    CardFundingUnsupported = ("card_funding_unsupported", UNPROCESSABLE_ENTITY, CardError),
    /// An expired card.
    CardExpired = ("card_expired", UNPROCESSABLE_ENTITY, CardError),
    /// The issuer reported the CVC as wrong.
    CardCvcCheckFailed = ("card_cvc_check_failed", UNPROCESSABLE_ENTITY, CardError),
    /// The issuer reported the billing address as wrong.
    CardAddressCheckFailed = ("card_address_check_failed", UNPROCESSABLE_ENTITY, CardError),
    /// The issuer declined the card (`decline_code` says why).
    CardDeclined = ("card_declined", PAYMENT_REQUIRED, CardError),
    /// No such PaymentMethod for this customer.
    PaymentMethodNotFound = ("payment_method_not_found", NOT_FOUND, InvalidRequestError),
    /// The account must keep a card on file.
    CardRequired = ("card_required", CONFLICT, InvalidRequestError),
    /// Another change of the account's card is in progress (`retry_after` seconds).
    CardChangeInProgress = ("card_change_in_progress", CONFLICT, RateLimitError),
    // Credit purchases (PRODUCT.md).
    /// A purchase is in flight (`retry_after` seconds).
    PurchaseInProgress = ("purchase_in_progress", CONFLICT, RateLimitError),
    /// Under the smallest purchase.
    AmountTooSmall = ("amount_too_small", BAD_REQUEST, InvalidRequestError),
    /// Over the largest purchase.
    AmountTooLarge = ("amount_too_large", BAD_REQUEST, InvalidRequestError),
    /// An `Idempotency-Key` reused with a different request.
    IdempotencyKeyReused = ("idempotency_key_reused", BAD_REQUEST, InvalidRequestError),
    /// The first request with this `Idempotency-Key` is still running (`retry_after` seconds).
    IdempotencyKeyInUse = ("idempotency_key_in_use", CONFLICT, RateLimitError),
    // Invoices (PRODUCT.md).
    /// `limit` out of range.
    InvalidLimit = ("invalid_limit", BAD_REQUEST, InvalidRequestError),
    /// A monthly trigger whose period (the month before its `time`) has not ended yet.
    PeriodNotEnded = ("period_not_ended", BAD_REQUEST, InvalidRequestError),
    // Account deletion (PRODUCT.md).
    /// `confirm` is not the account id.
    ConfirmationMismatch = ("confirmation_mismatch", BAD_REQUEST, InvalidRequestError),
    /// The final charge needs the bank's authorization (`invoice`, `authorization_url`).
    AuthorizationRequired = ("authorization_required", PAYMENT_REQUIRED, CardError),
    /// Another request is deleting the account (`retry_after` seconds).
    DeletionInProgress = ("deletion_in_progress", CONFLICT, RateLimitError),
    /// The final charge is still being settled by the network (`retry_after` seconds).
    PaymentInProgress = ("payment_in_progress", CONFLICT, RateLimitError),
    // Stripe webhook (PRODUCT.md).
    /// A bad, missing or stale `Stripe-Signature`.
    InvalidSignature = ("invalid_signature", BAD_REQUEST, InvalidRequestError),
    // The local server.
    /// `billing-local`: the request's `Host` is not a loopback name (DNS rebinding).
    HostNotAllowed = ("host_not_allowed", FORBIDDEN, InvalidRequestError),
    // Usage (the local control `POST /_local/usage`, and the usage queue).
    /// A usage event that does not parse.
    InvalidUsageEvent = ("invalid_usage_event", BAD_REQUEST, InvalidRequestError),
    /// A usage event id reused with a different amount, time or account.
    UsageEventConflict = ("usage_event_conflict", CONFLICT, InvalidRequestError),
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

impl PartialSchema for ErrorCode {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some("A stable error code; the README lists them all."))
            .enum_values(Some(Self::ALL.iter().map(|code| code.code())))
            .into()
    }
}

impl ToSchema for ErrorCode {}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    type Row = (String, u16, String);

    fn enum_rows() -> BTreeSet<Row> {
        ErrorCode::ALL
            .iter()
            .map(|c| {
                (
                    c.code().to_owned(),
                    c.status().as_u16(),
                    c.kind().as_str().to_owned(),
                )
            })
            .collect()
    }

    /// The rows of README.md's error code table: `| `code` | status | `type` | when |`.
    fn readme_rows() -> BTreeSet<Row> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md");
        let readme = std::fs::read_to_string(path).expect("README.md is readable");
        let table = readme
            .split("### Error codes")
            .nth(1)
            .expect("README.md has an `### Error codes` section");
        table
            .lines()
            .skip_while(|line| !line.starts_with('|'))
            .take_while(|line| line.starts_with('|'))
            .skip(2) // header and separator
            .map(|line| {
                let cells: Vec<&str> = line.split('|').map(str::trim).collect();
                let unquote = |cell: &str| cell.trim_matches('`').to_owned();
                let status = cells[2]
                    .parse()
                    .unwrap_or_else(|_| panic!("status in {line}"));
                (unquote(cells[1]), status, unquote(cells[3]))
            })
            .collect()
    }

    #[test]
    fn the_readme_lists_exactly_the_codes_of_the_enum() {
        let (readme, code) = (readme_rows(), enum_rows());
        let missing_from_readme: Vec<_> = code.difference(&readme).collect();
        let not_in_code: Vec<_> = readme.difference(&code).collect();
        assert!(
            missing_from_readme.is_empty() && not_in_code.is_empty(),
            "in the enum but not README.md: {missing_from_readme:?}; in README.md but not the enum: {not_in_code:?}"
        );
    }

    #[test]
    fn codes_are_unique_and_serialize_as_their_code() {
        let unique: BTreeSet<_> = ErrorCode::ALL.iter().map(|c| c.code()).collect();
        assert_eq!(unique.len(), ErrorCode::ALL.len());
        for code in ErrorCode::ALL {
            assert_eq!(serde_json::to_value(code).unwrap(), code.code());
        }
    }

    #[test]
    fn every_code_is_a_client_or_server_error_of_a_matching_type() {
        for code in ErrorCode::ALL {
            let status = code.status();
            assert!(
                status.is_client_error() || status.is_server_error(),
                "{code:?}"
            );
            assert_eq!(
                status.is_server_error(),
                code.kind() == ErrorType::ApiError,
                "{code:?}: only server errors are api_error"
            );
        }
    }
}
