//! Recording metered usage: each event counts exactly once, whatever the delivery, and no
//! event can break an account.
//!
//! A batch is checked whole before anything is written: one event out of bounds refuses the
//! batch and writes nothing. What only the store can tell (the id was seen before, with the
//! same or another content; the account is deleted) is answered per event. Events are grouped
//! by account, and each account's events are written [`EVENTS_PER_WRITE`] at a time, each
//! chunk one atomic write: its entries, one balance-item update, its due marks. Every refused
//! event is then recorded with its reason ([`RefusedUsage`](crate::ports::store::RefusedUsage)),
//! so no refusal is silent.

mod batch;
mod refusals;

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;

use crate::domain::ids::{AccountId, UsageEventId};
use crate::domain::money::Micros;
use crate::error::ParseError;
use crate::ports::store::{Store, StoreError};
use crate::rules::ledger::LedgerEntry;
use crate::usecases::error::UseCaseError;

pub use batch::{EVENTS_PER_WRITE, record_usage_batch};

/// The most one event may cost: 10,000 USD in micro-USD. No single API call of the platform
/// comes near it; anything above is a metering bug, and refusing it keeps one bad event from
/// swamping a balance.
pub const MAX_EVENT_MICROS: i64 = 10_000_000_000;

/// How far after `now` an event may say it occurred: clock skew between metering hosts.
/// Usage dated later could otherwise be billed in a month that has not happened yet.
pub const MAX_FUTURE_SKEW: Duration = Duration::minutes(5);

/// How long before `now` an event may say it occurred. Older usage is still billed (in the
/// period it arrives in), but a year is far beyond any redelivery: older is a broken clock.
pub const MAX_LATENESS: Duration = Duration::days(366);

/// Longest description kept on a ledger line.
const MAX_DESCRIPTION: usize = 500;

/// A usage event as metering reports it (PRODUCT.md, Events).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageEvent {
    /// Unique per event; the same id delivered twice counts once.
    pub id: UsageEventId,
    /// Whose usage.
    pub account_id: AccountId,
    /// Cost in micro-USD, `0..=MAX_EVENT_MICROS`.
    pub amount_micros: i64,
    /// When it happened; decides the billing period.
    pub occurred_at: DateTime<Utc>,
    /// What it was.
    #[serde(default)]
    pub description: String,
}

impl UsageEvent {
    /// The ledger entry of the event, if it is within bounds at `now`.
    pub fn entry(&self, now: DateTime<Utc>) -> Result<LedgerEntry, ParseError> {
        if !(0..=MAX_EVENT_MICROS).contains(&self.amount_micros) {
            return Err(ParseError {
                field: "amount_micros",
                reason: format!("must be 0 to {MAX_EVENT_MICROS} (10,000 USD)"),
            });
        }
        if self.occurred_at > now + MAX_FUTURE_SKEW || self.occurred_at < now - MAX_LATENESS {
            return Err(ParseError {
                field: "occurred_at",
                reason: "must be within the last 366 days and at most 5 minutes from now".into(),
            });
        }
        let description: String = self.description.chars().take(MAX_DESCRIPTION).collect();
        LedgerEntry::usage(
            &self.id,
            Micros::new(self.amount_micros),
            self.occurred_at,
            description,
        )
        .map_err(|_| ParseError {
            field: "amount_micros",
            reason: "is out of range".into(),
        })
    }
}

/// What happened to one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UsageRecorded {
    /// Counted now.
    Recorded,
    /// Already counted before (same id, account, amount and time); nothing changed.
    Duplicate,
}

/// Why the store did not count an event that was within bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UsageRefusal {
    /// The id was recorded before with another account, amount or time.
    EventConflict,
    /// The account is deleted.
    AccountDeleted,
    /// The account's balance or a period's usage total would leave
    /// [`LEDGER_LIMIT`](crate::rules::ledger::LEDGER_LIMIT).
    LedgerLimit,
}

impl UsageRefusal {
    /// The stable code the refusal is recorded and reported under.
    pub fn code(self) -> &'static str {
        match self {
            Self::EventConflict => "usage_event_conflict",
            Self::AccountDeleted => "account_deleted",
            Self::LedgerLimit => "ledger_limit",
        }
    }
}

/// The outcome of one event of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsageOutcome {
    /// Counted now, or counted before.
    Counted(UsageRecorded),
    /// Not counted, and sending it again will not change that; the refusal is recorded.
    Refused(UsageRefusal),
    /// The store failed; sending it again may succeed (when the error is retryable).
    Failed(StoreError),
}

/// Records one usage event: a batch of one. Creates the account record on first sight so
/// the account exists for the monthly charge.
pub async fn record_usage<S: Store + ?Sized>(
    store: &S,
    event: &UsageEvent,
    now: DateTime<Utc>,
) -> Result<UsageRecorded, UseCaseError> {
    let outcome = record_usage_batch(store, std::slice::from_ref(event), now)
        .await?
        .pop()
        .expect("one outcome per event");
    match outcome {
        UsageOutcome::Counted(counted) => Ok(counted),
        UsageOutcome::Refused(UsageRefusal::EventConflict) => {
            Err(UseCaseError::UsageEventConflict(event.id.clone()))
        }
        UsageOutcome::Refused(UsageRefusal::AccountDeleted) => Err(UseCaseError::AccountDeleted),
        UsageOutcome::Refused(UsageRefusal::LedgerLimit) => {
            Err(crate::error::MoneyError::Overflow.into())
        }
        UsageOutcome::Failed(error) => Err(error.into()),
    }
}

#[cfg(test)]
mod tests;
