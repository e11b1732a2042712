//! The use-case layer's error: every way a request can fail, before HTTP is involved.

use thiserror::Error;

use crate::domain::ids::UsageEventId;
use crate::error::{MoneyError, ParseError};
use crate::ports::gateway::GatewayError;
use crate::ports::mailer::MailError;
use crate::ports::queue::QueueError;
use crate::ports::store::StoreError;
use crate::rules::card::CardRefusal;
use crate::rules::purchase::AmountRefusal;

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
    /// Another card change on the account is in progress; it ends within `retry_after`
    /// seconds. Nothing was touched.
    #[error("another card change is in progress")]
    CardChangeInProgress {
        /// Seconds until it ends (or is presumed dead and repaired).
        retry_after: u64,
    },
    /// The account kept changing under the request; nothing was done.
    #[error("the account changed concurrently")]
    ConcurrentUpdate,
    /// The account must keep a card on file (or needs one to pay).
    #[error("a card is required")]
    CardRequired,
    /// A purchase amount outside the limits.
    #[error(transparent)]
    AmountRefused(#[from] AmountRefusal),
    /// Another purchase of the account is in flight; it settles within `retry_after` seconds.
    /// Nothing was charged.
    #[error("a purchase is in flight")]
    PurchaseInProgress {
        /// Seconds until the in-flight purchase's settlement window closes.
        retry_after: u64,
    },
    /// The `Idempotency-Key` was used before with another request.
    #[error("idempotency key reused with another request")]
    IdempotencyKeyReused,
    /// The first request with this `Idempotency-Key` is still running.
    #[error("a request with this idempotency key is in progress")]
    IdempotencyKeyInUse {
        /// Seconds after which a retry is answered (replayed, or resumed).
        retry_after: u64,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The card network failed.
    #[error(transparent)]
    Gateway(#[from] GatewayError),
    /// The mail provider failed.
    #[error(transparent)]
    Mail(#[from] MailError),
    /// The job queue failed.
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// A monthly trigger named a period that has not ended yet.
    #[error(transparent)]
    PeriodNotEnded(#[from] crate::usecases::invoice::PeriodNotEnded),
    /// An account deletion's confirmation did not name the account.
    #[error("the confirmation does not name the account")]
    ConfirmationMismatch,
    /// Another request is running the account's deletion; asking again after `retry_after`
    /// seconds usually finds it done (a request that died is taken over when its lease ends).
    #[error("the account's deletion is in progress")]
    DeletionInProgress {
        /// Seconds to wait before asking again.
        retry_after: u64,
    },
    /// The charge of what is owed, made before an account is deleted, did not pay: the
    /// account stays active and nothing was erased.
    #[error(transparent)]
    FinalCharge(#[from] crate::usecases::deletion::FinalChargeFailed),
}

impl UseCaseError {
    /// Whether running the use case again later may succeed, so a queue worker can tell its
    /// runtime to redeliver the message: when a dependency was unavailable, or other work on
    /// the account was in progress (it ends). Invalid input, refusals, missing things and
    /// failed conditions give the same answer every time.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Store(error) => error.is_retryable(),
            Self::Gateway(error) => error.is_retryable(),
            Self::Mail(error) => matches!(error, MailError::Unavailable(_)),
            Self::Queue(QueueError::Unavailable(_)) => true,
            Self::CardChangeInProgress { .. }
            | Self::ConcurrentUpdate
            | Self::PurchaseInProgress { .. }
            | Self::IdempotencyKeyInUse { .. }
            | Self::DeletionInProgress { .. } => true,
            Self::Invalid(_)
            | Self::Money(_)
            | Self::AccountDeleted
            | Self::NotFound
            | Self::PaymentMethodNotFound
            | Self::CardRefused(_)
            | Self::CardRequired
            | Self::AmountRefused(_)
            | Self::IdempotencyKeyReused
            | Self::PeriodNotEnded(_)
            | Self::UsageEventConflict(_)
            | Self::ConfirmationMismatch
            | Self::FinalCharge(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::gateway::Decline;

    #[test]
    fn only_an_unavailable_dependency_or_work_in_progress_is_worth_retrying() {
        let retryable = [
            UseCaseError::CardChangeInProgress { retry_after: 3 },
            UseCaseError::ConcurrentUpdate,
            UseCaseError::Store(StoreError::Unavailable("timeout".into())),
            UseCaseError::Gateway(GatewayError::Unavailable("503".into())),
        ];
        let final_answers = [
            UseCaseError::Invalid(ParseError::new("id", "must not be empty")),
            UseCaseError::Money(MoneyError::Overflow),
            UseCaseError::AccountDeleted,
            UseCaseError::NotFound,
            UseCaseError::PaymentMethodNotFound,
            UseCaseError::CardRefused(CardRefusal::Expired),
            UseCaseError::CardRequired,
            UseCaseError::Store(StoreError::Conflict { index: 0 }),
            UseCaseError::Store(StoreError::Invalid("bad key".into())),
            UseCaseError::Store(StoreError::Corrupt("bad json".into())),
            UseCaseError::Gateway(GatewayError::NotFound("pm_x".into())),
            UseCaseError::Gateway(GatewayError::Invalid("bad param".into())),
            UseCaseError::Gateway(GatewayError::CardDeclined(Decline {
                decline_code: Some("insufficient_funds".into()),
                network_message: "declined".into(),
            })),
        ];

        assert!(retryable.iter().all(UseCaseError::is_retryable));
        for error in &final_answers {
            assert!(!error.is_retryable(), "{error:?}");
        }
    }
}
