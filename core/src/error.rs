//! Errors of the rules layer. Each is a plain value; the HTTP layer maps them to codes.

use thiserror::Error;

/// Arithmetic or currency problems with money.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MoneyError {
    /// An amount left the range of a 64-bit integer.
    #[error("amount out of range")]
    Overflow,
    /// A currency the platform does not bill in.
    #[error("currency `{0}` is not supported; use `usd`")]
    UnsupportedCurrency(String),
}

/// A value from outside did not parse into a domain type.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{field}: {reason}")]
pub struct ParseError {
    /// Which field (the API `param`).
    pub field: &'static str,
    /// What is wrong, for a person.
    pub reason: String,
}

impl ParseError {
    pub(crate) fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}
