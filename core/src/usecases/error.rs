//! The use-case layer's error: every way a request can fail, before HTTP is involved.

use thiserror::Error;

use crate::domain::ids::UsageEventId;
use crate::error::{MoneyError, ParseError};
use crate::ports::gateway::GatewayError;
use crate::ports::store::StoreError;
use crate::rules::card::CardRefusal;

/// Why a use case did not complete.
#[derive(Debug, Error)]
pub enum UseCaseError {
    /// Input did not parse.
    #[error(transparent)]
    Invalid(#[from] ParseError),
    /// An amount was out of range or in a currency we do not bill in.
    #[error(transparent)]
    Money(#[from] MoneyError),
    /// The account has been deleted.
    #[error("account deleted")]
    AccountDeleted,
    /// A usage event id was recorded before with another account, amount or time.
    #[error("usage event {0} was recorded before with another content")]
    UsageEventConflict(UsageEventId),
    /// The thing asked for does not exist for this account.
    #[error("not found")]
    NotFound,
    /// The PaymentMethod does not exist, or belongs to another customer.
    #[error("payment method not found")]
    PaymentMethodNotFound,
    /// The card failed the acceptance rule.
    #[error(transparent)]
    CardRefused(#[from] CardRefusal),
    /// The account must keep a card on file.
    #[error("a card is required")]
    CardRequired,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The card network failed.
    #[error(transparent)]
    Gateway(#[from] GatewayError),
}
