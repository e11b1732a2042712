//! The per-account lease that serialises card changes, kept on the account record itself.
//!
//! Claiming is a version-conditioned write of the account with [`CardChange`] set; of
//! concurrent claims exactly one lands. The holder then writes the account only through
//! [`Lease::update`], which survives unrelated writes to the record (a SetupIntent recording
//! the customer) and notices when the lease was taken over.

use chrono::{DateTime, Utc};

use crate::domain::account::{Account, AccountStatus, CardChange};
use crate::ports::store::{
    AccountStore, Expect, Record, Store, StoreError, Transaction, Versioned, Write,
};
use crate::usecases::card::Holder;
use crate::usecases::card::decide::{LEASE, LeaseState, lease_state};
use crate::usecases::error::UseCaseError;

/// How often a write is tried again when unrelated writes keep moving the record.
const ROUNDS: usize = 3;

/// A held lease: the account as this holder last wrote it.
#[derive(Debug)]
pub(crate) struct Lease {
    /// The account record, with this lease in it.
    pub(crate) account: Account,
    /// Its version in the store.
    version: u64,
    /// The claim (the version the claim wrote), which names this lease.
    claim: u64,
    /// Whether the previous holder died and left a change to repair.
    pub(crate) abandoned: bool,
}

/// Reads the account, refusing a deleted one.
pub(crate) async fn live_account<S: Store + ?Sized>(
    store: &S,
    holder: &Holder<'_>,
) -> Result<Option<Versioned<Account>>, UseCaseError> {
    let account = store.account(holder.account).await?;
    match &account {
        Some(a) if a.value.status != AccountStatus::Active => Err(UseCaseError::AccountDeleted),
        _ => Ok(account),
    }
}

/// The stored account (or a new one) with `change` applied, the holder's e-mail filled in.
pub(crate) fn updated(
    account: Option<&Versioned<Account>>,
    holder: &Holder<'_>,
    now: DateTime<Utc>,
    change: impl FnOnce(&mut Account),
) -> Account {
    let mut next = account.map_or_else(
        || Account::new(holder.account.clone(), holder.email.cloned(), now),
        |a| a.value.clone(),
    );
    // The token's address is the account's: a changed one replaces the one on record.
    if let Some(email) = holder.email {
        next.email = Some(email.clone());
    }
    change(&mut next);
    next
}

pub(crate) fn expect_of(account: Option<&Versioned<Account>>) -> Expect {
    account.map_or(Expect::Absent, |a| Expect::Version(a.version))
}

fn put(account: Account, expect: Expect) -> Transaction {
    Transaction::new().with(Write::Put {
        record: Record::Account(account),
        expect,
    })
}

impl Lease {
    /// Takes the account's lease, or answers [`UseCaseError::CardChangeInProgress`] when a
    /// live change holds it. A lease whose holder died is taken over (`abandoned`). `read` is
    /// the account as the caller just read it (saving a read); later rounds read again.
    pub(crate) async fn claim<S: Store + ?Sized>(
        store: &S,
        holder: &Holder<'_>,
        read: Option<Versioned<Account>>,
        now: DateTime<Utc>,
    ) -> Result<Self, UseCaseError> {
        let mut read = Some(read);
        for _ in 0..ROUNDS {
            let account = match read.take() {
                Some(first) => first,
                None => live_account(store, holder).await?,
            };
            let abandoned = match lease_state(account.as_ref().map(|a| &a.value), now) {
                LeaseState::Held { retry_after } => {
                    return Err(UseCaseError::CardChangeInProgress { retry_after });
                }
                LeaseState::Free => false,
                LeaseState::Abandoned => true,
            };
            let claim = account.as_ref().map_or(1, |a| a.version + 1);
            let record = updated(account.as_ref(), holder, now, |a| {
                a.card_change = Some(CardChange {
                    claim,
                    started_at: now,
                    expires_at: now + LEASE,
                });
            });
            match store
                .commit(put(record.clone(), expect_of(account.as_ref())))
                .await
            {
                Ok(()) => {
                    return Ok(Self {
                        account: record,
                        version: claim,
                        claim,
                        abandoned,
                    });
                }
                // Someone wrote first: read again (a concurrent claim shows up as held).
                Err(StoreError::Conflict { .. }) => {}
                // A claim whose outcome is unknown may have landed; if it did, it is a lease
                // nobody holds, which expires and is taken over like any abandoned one.
                Err(error) => return Err(error.into()),
            }
        }
        Err(UseCaseError::CardChangeInProgress { retry_after: 1 })
    }

    fn is_ours(&self, account: &Account) -> bool {
        account
            .card_change
            .as_ref()
            .is_some_and(|c| c.claim == self.claim)
    }

    /// Applies `change` to the account under this lease. Unrelated writes in between are
    /// absorbed (the change is applied to the newer record); a lease taken over by another
    /// holder is [`UseCaseError::CardChangeInProgress`]; a write whose outcome cannot be known
    /// is the store's error, with the lease still held.
    pub(crate) async fn update<S: Store + ?Sized>(
        &mut self,
        store: &S,
        change: impl Fn(&mut Account),
    ) -> Result<(), UseCaseError> {
        let mut last_error = None;
        for _ in 0..ROUNDS {
            let mut next = self.account.clone();
            change(&mut next);
            let error = match store
                .commit(put(next.clone(), Expect::Version(self.version)))
                .await
            {
                Ok(()) => {
                    self.account = next;
                    self.version += 1;
                    return Ok(());
                }
                Err(error) => error,
            };
            let stored = store.account(&self.account.id).await?;
            match stored {
                Some(stored) if self.is_ours(&stored.value) => {
                    let mut again = stored.value.clone();
                    change(&mut again);
                    self.account = stored.value;
                    self.version = stored.version;
                    if again == self.account {
                        // It applied after all (the error was a lost response).
                        return Ok(());
                    }
                    last_error = Some(error);
                }
                _ => return Err(UseCaseError::CardChangeInProgress { retry_after: 1 }),
            }
        }
        Err(last_error.map_or(
            UseCaseError::CardChangeInProgress { retry_after: 1 },
            Into::into,
        ))
    }

    /// Ends the change: the lease is removed from the account.
    pub(crate) async fn release<S: Store + ?Sized>(
        mut self,
        store: &S,
    ) -> Result<(), UseCaseError> {
        self.update(store, |a| a.card_change = None).await
    }
}
