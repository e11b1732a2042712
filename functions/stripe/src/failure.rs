//! [`Failure`]: a Stripe request that did not succeed, as the transport reports it.

use std::fmt;

use crate::objects::ApiError;

/// Why a Stripe request did not succeed. [`crate::mapping::gateway_error`] turns it into the
/// port's error.
pub enum Failure {
    /// Stripe answered `status` with its error object (a 429 only once the transport's own
    /// retries are spent).
    Refused { error: Box<ApiError>, status: u16 },
    /// An answer that could not be read: an error status without Stripe's error object, or a
    /// success whose body is not the object asked for.
    Unreadable { status: u16 },
    /// Stripe could not be reached: the connection, TLS or HTTP failed.
    Unreachable(String),
    /// No answer within the request timeout.
    Timeout,
    /// The request could not be built (a secret key or idempotency key that cannot be sent).
    Config(String),
}

impl Failure {
    /// Stripe's error `code`, when it answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Refused { error, .. } => error.code.as_deref(),
            Self::Unreadable { .. } | Self::Unreachable(_) | Self::Timeout | Self::Config(_) => {
                None
            }
        }
    }
}

/// Never Stripe's message (it may quote what was sent): the status, type, code and parameter.
impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Refused { error, status } => f
                .debug_struct("Refused")
                .field("status", status)
                .field("type", &error.type_)
                .field("code", &error.code)
                .field("decline_code", &error.decline_code)
                .field("param", &error.param)
                .finish_non_exhaustive(),
            Self::Unreadable { status } => f
                .debug_struct("Unreadable")
                .field("status", status)
                .finish(),
            Self::Unreachable(reason) => f.debug_tuple("Unreachable").field(reason).finish(),
            Self::Timeout => f.write_str("Timeout"),
            Self::Config(reason) => f.debug_tuple("Config").field(reason).finish(),
        }
    }
}
