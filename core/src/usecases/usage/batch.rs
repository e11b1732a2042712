//! The batch path: validate all, group by account, one atomic write per chunk of an account's
//! events, per-event outcomes.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};

use super::refusals::record_refusals;
use super::{UsageEvent, UsageOutcome, UsageRecorded, UsageRefusal};
use crate::domain::account::{Account, AccountStatus};
use crate::domain::ids::AccountId;
use crate::error::ParseError;
use crate::ports::store::{
    AccountStore, DueMark, ExistingEntry, Expect, MAX_TRANSACTION_ITEMS, Record, Store, StoreError,
    Transaction, Write,
};
use crate::rules::ledger::{LedgerEntry, due_periods};
use crate::usecases::error::UseCaseError;

/// Most events one atomic write carries. With the balance item, at most two due marks and a
/// first-seen account record, a chunk is at most [`MAX_TRANSACTION_ITEMS`] items.
pub const EVENTS_PER_WRITE: usize = MAX_TRANSACTION_ITEMS - 4;

/// Rounds of one chunk: each round drops the events the store found recorded already, or
/// learns that a concurrent first event created the account record.
const ROUNDS: usize = 4;

/// Records a batch of usage events and answers one outcome per event, in order.
///
/// An event out of bounds refuses the whole batch before anything is written (the error
/// names the event). Otherwise nothing is an error: an id already recorded is a duplicate when
/// its account, amount and time match and a refused conflict when they do not; an id repeated
/// inside the batch shares the outcome of its first occurrence when they match; each account
/// is read once. Every refused event is then recorded with its reason; when that record cannot
/// be written the event's outcome is the store's failure, so the caller sends it again.
pub async fn record_usage_batch<S: Store + ?Sized>(
    store: &S,
    events: &[UsageEvent],
    now: DateTime<Utc>,
) -> Result<Vec<UsageOutcome>, UseCaseError> {
    let entries = events
        .iter()
        .enumerate()
        .map(|(n, event)| {
            event.entry(now).map_err(|e| ParseError {
                field: e.field,
                reason: format!("usage event {n} ({}): {}", event.id, e.reason),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;

    let mut outcomes: Vec<Option<UsageOutcome>> = vec![None; events.len()];
    let mut first_of_id: HashMap<&str, usize> = HashMap::new();
    let mut repeats: Vec<(usize, usize)> = Vec::new();
    let mut by_account: BTreeMap<&AccountId, Vec<usize>> = BTreeMap::new();
    for (n, event) in events.iter().enumerate() {
        match first_of_id.get(event.id.as_str()) {
            Some(&first) => repeats.push((n, first)),
            None => {
                first_of_id.insert(event.id.as_str(), n);
                by_account.entry(&event.account_id).or_default().push(n);
            }
        }
    }

    for (account, indices) in by_account {
        let mut writer = AccountWriter::open(store, account, now).await;
        for chunk in indices.chunks(EVENTS_PER_WRITE) {
            let pending: Vec<(usize, &LedgerEntry)> =
                chunk.iter().map(|&n| (n, &entries[n])).collect();
            for (n, outcome) in writer.write(events, pending).await {
                outcomes[n] = Some(outcome);
            }
        }
    }
    for (n, first) in repeats {
        let existing = ExistingEntry {
            account: events[first].account_id.clone(),
            entry: entries[first].clone(),
        };
        // A repeat of a refused or failed event is refused or failed with it: only a counted
        // one makes it a duplicate.
        outcomes[n] = Some(match compare(&existing, &events[n], &entries[n]) {
            UsageOutcome::Counted(_) => match outcomes[first].clone().expect("answered") {
                UsageOutcome::Counted(_) => UsageOutcome::Counted(UsageRecorded::Duplicate),
                shared @ (UsageOutcome::Refused(_) | UsageOutcome::Failed(_)) => shared,
            },
            conflict @ (UsageOutcome::Refused(_) | UsageOutcome::Failed(_)) => conflict,
        });
    }
    let mut outcomes: Vec<UsageOutcome> = outcomes
        .into_iter()
        .map(|o| o.expect("every event has an outcome"))
        .collect();
    record_refusals(store, events, &mut outcomes, now).await;
    Ok(outcomes)
}

/// An entry already recorded for the id, against the event now reported under it.
fn compare(existing: &ExistingEntry, event: &UsageEvent, entry: &LedgerEntry) -> UsageOutcome {
    let same = existing.account == event.account_id
        && existing.entry.amount == entry.amount
        && existing.entry.effective_at == entry.effective_at;
    if same {
        UsageOutcome::Counted(UsageRecorded::Duplicate)
    } else {
        // Event ids and account ids only: never amounts a person could be identified by.
        tracing::warn!(
            event = %event.id,
            account = %event.account_id,
            "usage event id reused with another account, amount or time; refused"
        );
        UsageOutcome::Refused(UsageRefusal::EventConflict)
    }
}

/// Writes one account's chunks, knowing from one read whether its record must be created.
struct AccountWriter<'a, S: ?Sized> {
    store: &'a S,
    account: &'a AccountId,
    now: DateTime<Utc>,
    /// `Ok(true)` while the record must be created with the next write.
    state: Result<bool, UsageOutcome>,
}

impl<'a, S: Store + ?Sized> AccountWriter<'a, S> {
    async fn open(store: &'a S, account: &'a AccountId, now: DateTime<Utc>) -> Self {
        let mut writer = Self {
            store,
            account,
            now,
            state: Ok(false),
        };
        writer.read().await;
        writer
    }

    async fn read(&mut self) {
        self.state = match self.store.account(self.account).await {
            // Refused from the moment deletion starts: the final invoice closed the balance.
            Ok(Some(record)) if record.value.status != AccountStatus::Active => {
                tracing::warn!(account = %self.account, "usage for a deleted account refused");
                Err(UsageOutcome::Refused(UsageRefusal::AccountDeleted))
            }
            Ok(Some(_)) => Ok(false),
            Ok(None) => Ok(true),
            Err(error) => Err(UsageOutcome::Failed(error)),
        };
    }

    /// Writes one chunk, answering each of its events.
    async fn write(
        &mut self,
        events: &[UsageEvent],
        mut pending: Vec<(usize, &LedgerEntry)>,
    ) -> Vec<(usize, UsageOutcome)> {
        let mut answered = Vec::with_capacity(pending.len());
        for _ in 0..ROUNDS {
            let create = match &self.state {
                Ok(create) => *create,
                Err(outcome) => {
                    answered.extend(pending.iter().map(|(n, _)| (*n, outcome.clone())));
                    return answered;
                }
            };
            let (transaction, append) = self.transaction(create, &pending);
            match self.store.commit(transaction).await {
                Ok(()) => {
                    self.state = Ok(false);
                    let recorded = UsageOutcome::Counted(UsageRecorded::Recorded);
                    answered.extend(pending.iter().map(|(n, _)| (*n, recorded.clone())));
                    return answered;
                }
                Err(StoreError::EntriesExist { index, existing }) if index == append => {
                    for found in &existing {
                        if let Some(at) = pending.iter().position(|(_, e)| e.id == found.entry.id) {
                            let (n, entry) = pending.remove(at);
                            answered.push((n, compare(found, &events[n], entry)));
                        }
                    }
                    if pending.is_empty() {
                        return answered;
                    }
                }
                // A concurrent first event created the record: read it again (rare).
                Err(StoreError::Conflict { index }) if create && index == 0 => self.read().await,
                Err(StoreError::Conflict { index }) if index == append => {
                    let refused = UsageOutcome::Refused(UsageRefusal::LedgerLimit);
                    answered.extend(pending.iter().map(|(n, _)| (*n, refused.clone())));
                    return answered;
                }
                Err(other) => {
                    let failed = UsageOutcome::Failed(other);
                    answered.extend(pending.iter().map(|(n, _)| (*n, failed.clone())));
                    return answered;
                }
            }
        }
        let gave_up = UsageOutcome::Failed(StoreError::Unavailable(
            "usage kept conflicting with concurrent writes".into(),
        ));
        answered.extend(pending.iter().map(|(n, _)| (*n, gave_up.clone())));
        answered
    }

    /// The chunk's write, and the index of its `Append`.
    fn transaction(&self, create: bool, pending: &[(usize, &LedgerEntry)]) -> (Transaction, usize) {
        let mut transaction = Transaction::new();
        if create {
            transaction.push(Write::Put {
                record: Record::Account(Account::new(self.account.clone(), None, self.now)),
                expect: Expect::Absent,
            });
        }
        let append = transaction.writes().len();
        transaction.push(Write::Append {
            account: self.account.clone(),
            entries: pending.iter().map(|(_, e)| (*e).clone()).collect(),
            balance: Expect::Any,
        });
        let due: BTreeSet<_> = pending
            .iter()
            .flat_map(|(_, e)| due_periods(e.effective_at, self.now))
            .collect();
        for period in due {
            transaction.push(Write::Put {
                record: Record::Due(DueMark {
                    account: self.account.clone(),
                    period,
                }),
                expect: Expect::Any,
            });
        }
        (transaction, append)
    }
}
