//! Recording metered usage: each event counts exactly once, whatever the delivery.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::domain::account::{Account, AccountStatus};
use crate::domain::ids::{AccountId, UsageEventId};
use crate::domain::money::Micros;
use crate::error::ParseError;
use crate::ports::store::{AccountStore, Expect, Record, Store, StoreError, Transaction, Write};
use crate::rules::ledger::LedgerEntry;
use crate::usecases::error::UseCaseError;

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
    /// Cost in micro-USD, zero or more.
    pub amount_micros: i64,
    /// When it happened; decides the billing period.
    pub occurred_at: DateTime<Utc>,
    /// What it was.
    #[serde(default)]
    pub description: String,
}

/// What happened to one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UsageRecorded {
    /// Counted now.
    Recorded,
    /// Already counted before; nothing changed.
    Duplicate,
}

/// Records one usage event. Creates the account record on first sight so the monthly charge
/// finds every account that has usage.
pub async fn record_usage<S: Store + ?Sized>(
    store: &S,
    event: &UsageEvent,
    now: DateTime<Utc>,
) -> Result<UsageRecorded, UseCaseError> {
    if event.amount_micros < 0 {
        return Err(ParseError {
            field: "amount_micros",
            reason: "must not be negative".into(),
        }
        .into());
    }
    let description: String = event.description.chars().take(MAX_DESCRIPTION).collect();
    let entry = LedgerEntry::usage(
        &event.id,
        Micros::new(event.amount_micros),
        event.occurred_at,
        description,
    )?;
    let append = Write::Append {
        account: event.account_id.clone(),
        entry,
    };

    // Two rounds at most: a concurrent first event for the same account may create the record.
    for _ in 0..2 {
        let mut transaction = Transaction::new();
        match store.account(&event.account_id).await? {
            Some(account) if account.value.status == AccountStatus::Deleted => {
                return Err(UseCaseError::AccountDeleted);
            }
            Some(_) => {}
            None => transaction.push(Write::Put {
                record: Record::Account(Account::new(event.account_id.clone(), None, now)),
                expect: Expect::Absent,
            }),
        }
        let append_index = transaction.writes().len();
        transaction.push(append.clone());
        match store.commit(transaction).await {
            Ok(()) => return Ok(UsageRecorded::Recorded),
            Err(StoreError::Conflict { index }) if index == append_index => {
                return Ok(UsageRecorded::Duplicate);
            }
            Err(StoreError::Conflict { .. }) => continue,
            Err(other) => return Err(other.into()),
        }
    }
    Err(StoreError::Unavailable("account record kept changing while recording usage".into()).into())
}
