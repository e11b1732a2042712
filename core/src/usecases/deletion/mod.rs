//! Account deletion (PRODUCT.md, Behaviour 7; `DELETE /v1/account`).
//!
//! One request runs the steps in order, each recorded on the account ([`Deletion`]) so that a
//! later request (or a retry of the function) resumes where a stopped one left off:
//!
//! 1. **Start** ([`start`]): the confirmation must name the account; a purchase in flight or a
//!    card change under way refuses. One transaction marks the account `deleting`, takes the
//!    lease, captures the address for the confirmation, and closes the balance into a final
//!    invoice (unbilled usage up to now, by the close rule) with its first attempt claimed.
//!    From then on usage is refused and recorded, cards cannot change and purchases cannot
//!    start.
//! 2. **Collect** ([`collect`]): every unpaid invoice, oldest first, the final one last, is
//!    charged on the card on file (an attempt in flight is resumed, never sent twice). The
//!    first that does not pay ends the deletion: the account is active again, nothing is
//!    erased, and the answer is `402` (authorization needed, with the link, or declined, with
//!    the reason).
//! 3. **Erase** ([`erase`]): every payment method detached, the Stripe customer deleted,
//!    every record of the account erased or anonymised (invoices keep their amounts, lines and
//!    outcomes, without any Stripe id), the balance closed to zero by one adjustment (credits
//!    left are forfeited, an amount too small to charge is written off), and the account
//!    record emptied of personal data and marked `deleted`, claiming the confirmation email in
//!    the same write.
//! 4. **Confirm** ([`notice`]): the confirmation is sent to the captured address, which is
//!    then erased too.
//!
//! Nothing is charged twice: each charge is an invoice attempt with its own key, claimed by a
//! conditional write. The lease keeps two requests from running the steps together; a
//! request that dies leaves it to expire ([`Deletion::LEASE`]), and the next one resumes.

mod collect;
mod erase;
mod notice;

use chrono::{DateTime, Utc};
use serde::Serialize;
use thiserror::Error;

pub use notice::deletion_email;

use crate::domain::account::{Account, AccountStatus, Deletion, DeletionStep};
use crate::domain::ids::{AccountId, EmailAddress, InvoiceId};
use crate::domain::invoice::{AttemptTrigger, InvoiceLine, Notice};
use crate::domain::money::Micros;
use crate::ports::store::{
    AccountStore, Expect, PurchaseStore, Record, RecordKey, StoreError, Transaction, Versioned,
    Write,
};
use crate::rules::ledger::PeriodClose;
use crate::rules::period::BillingPeriod;
use crate::rules::purchase::SETTLEMENT_WINDOW;
use crate::usecases::close::Closing;
use crate::usecases::error::UseCaseError;
use crate::usecases::invoice::Ports;
use crate::usecases::invoice::charge::with_first_attempt;

/// Seconds a client is asked to wait when a purchase past its window is still unsettled at
/// the network.
const STALE_PURCHASE_RETRY_AFTER: u64 = 60;

/// Seconds a request finding another one running the deletion is asked to wait at most.
const DELETION_RETRY_AFTER: u64 = 5;

/// Times a step's write is tried again on a fresh read when another writer moved the account.
const ATTEMPTS: usize = 6;

/// A request to delete an account.
#[derive(Debug, Clone, Copy)]
pub struct DeletionRequest<'a> {
    /// The caller's account.
    pub account: &'a AccountId,
    /// The caller's address (the token's), used when the account has none on record.
    pub email: Option<&'a EmailAddress>,
    /// What the caller typed to confirm: must be the account id.
    pub confirm: &'a str,
    /// Now.
    pub now: DateTime<Utc>,
}

/// A deleted account: what its deletion charged, forfeited and wrote off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deleted {
    /// The final invoice, when unbilled usage was charged.
    pub final_invoice: Option<InvoiceId>,
    /// Credits left, forfeited (micro-USD).
    pub forfeited: Micros,
    /// Owed but too little to charge, written off (micro-USD).
    pub written_off: Micros,
}

/// Why the charge of what is owed did not pay; the account stays active, nothing is erased.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FinalChargeFailed {
    /// The bank wants the cardholder to authorize the payment of `invoice` at `url`.
    #[error("the payment of invoice {invoice} needs the cardholder's authorization")]
    AuthorizationRequired {
        /// The invoice waiting.
        invoice: InvoiceId,
        /// The authorization page, signed.
        url: String,
    },
    /// The card was declined for `invoice`.
    #[error("the card was declined for invoice {invoice}")]
    Declined {
        /// The invoice.
        invoice: InvoiceId,
        /// The decline code.
        decline_code: String,
    },
    /// There is no card on file to pay `invoice` with.
    #[error("a card is required to pay invoice {invoice}")]
    CardRequired {
        /// The invoice.
        invoice: InvoiceId,
    },
    /// The payment of `invoice` is still being settled by the network.
    #[error("the payment of invoice {invoice} is in progress")]
    InProgress {
        /// The invoice.
        invoice: InvoiceId,
        /// Seconds after which asking again may find it settled.
        retry_after: u64,
    },
}

/// `DELETE /v1/account`: deletes the caller's account, or resumes its deletion (see the module
/// documentation). Deleting a deleted account answers as the first deletion did.
pub async fn delete_account(
    ports: Ports<'_>,
    request: DeletionRequest<'_>,
) -> Result<Deleted, UseCaseError> {
    if request.confirm != request.account.as_str() {
        return Err(UseCaseError::ConfirmationMismatch);
    }
    let now = request.now;
    let mut current = lease(ports, &request).await?;
    // Whether this request's own write claimed the confirmation email.
    let mut claimed = false;
    loop {
        let step = current.value.deletion.as_ref().map(|d| d.step);
        current = match step {
            Some(DeletionStep::Collecting) => collect::collect(ports, current, now).await?,
            Some(DeletionStep::Erasing) => {
                let erased = erase::erase(ports, current, now).await?;
                claimed = erased.value.deletion.as_ref().map(|d| d.notice)
                    == Some(Notice::Sending { since: now });
                erased
            }
            Some(DeletionStep::Done) => {
                return notice::confirm(ports, current, claimed, now).await;
            }
            None if current.value.status == AccountStatus::Deleted => {
                return notice::confirm(ports, current, claimed, now).await;
            }
            // Another request ended the deletion meanwhile (its charge failed): nothing is
            // deleted, and this request says so rather than answer for a deletion it did not
            // see through.
            None => return Err(UseCaseError::ConcurrentUpdate),
        };
    }
}

/// The account with this request holding its deletion: started now, or taken over from a
/// request whose lease expired. A deleted account is returned as it is.
async fn lease(
    ports: Ports<'_>,
    request: &DeletionRequest<'_>,
) -> Result<Versioned<Account>, UseCaseError> {
    let now = request.now;
    for _ in 0..ATTEMPTS {
        let read = ports.store.account(request.account).await?;
        let expect = read
            .as_ref()
            .map_or(Expect::Absent, |v| Expect::Version(v.version));
        let version = read.as_ref().map_or(0, |v| v.version);
        let mut account = read.map_or_else(
            || Account::new(request.account.clone(), request.email.cloned(), now),
            |v| v.value,
        );
        let transaction = match (account.status, account.deletion.as_mut()) {
            (AccountStatus::Deleted, _) => {
                return Ok(Versioned {
                    value: account,
                    version,
                });
            }
            (AccountStatus::Deleting, Some(deletion)) => {
                if deletion.lease_until > now {
                    // A deletion takes a second or two: asking again soon usually finds it
                    // done (and at the latest when the lease ends, it resumes).
                    let lease_ends = seconds_until(deletion.lease_until, now);
                    return Err(UseCaseError::DeletionInProgress {
                        retry_after: lease_ends.min(DELETION_RETRY_AFTER),
                    });
                }
                deletion.lease_until = now + Deletion::LEASE;
                Transaction::new().with(Write::Put {
                    record: Record::Account(account.clone()),
                    expect,
                })
            }
            _ => match start(ports, &mut account, expect, request).await? {
                Some(transaction) => transaction,
                None => continue,
            },
        };
        match ports.store.commit(transaction).await {
            Ok(()) => {
                return Ok(Versioned {
                    value: account,
                    version: version + 1,
                });
            }
            // The account, the purchase slot or the balance moved since the read.
            Err(StoreError::Conflict { .. } | StoreError::EntriesExist { .. }) => continue,
            Err(error) => return Err(error.into()),
        }
    }
    Err(UseCaseError::ConcurrentUpdate)
}

/// Decides the start of a deletion of `account` (active) and makes it `deleting` in place;
/// returns the transaction that records it: the account on `expect`, the purchase slot
/// unchanged, and the final invoice with the entry moving its amount off the balance (on the
/// balance version read). `None` when a stale purchase was just resolved and the caller must
/// read again.
async fn start(
    ports: Ports<'_>,
    account: &mut Account,
    expect: Expect,
    request: &DeletionRequest<'_>,
) -> Result<Option<Transaction>, UseCaseError> {
    let now = request.now;
    if let Some(change) = account.card_change.as_ref().filter(|c| c.expires_at > now) {
        return Err(UseCaseError::CardChangeInProgress {
            retry_after: seconds_until(change.expires_at, now),
        });
    }
    let slot = ports.store.purchase_slot(&account.id).await?;
    if let Some(slot) = &slot {
        let in_flight = !slot.value.status.is_settled() || slot.value.receipt_pending;
        let window_ends = slot.value.created_at + SETTLEMENT_WINDOW;
        if in_flight && window_ends > now {
            return Err(UseCaseError::PurchaseInProgress {
                retry_after: seconds_until(window_ends, now),
            });
        }
        if in_flight {
            // Unsettled past its window: ask the network and settle (or cancel) it first, so
            // that nothing is credited or charged after the account is gone.
            let purchases = crate::usecases::purchase::Ports {
                store: ports.store,
                gateway: ports.gateway,
                mailer: ports.mailer,
            };
            let purchase = &slot.value.purchase;
            let resolved =
                crate::usecases::purchase::sweep::resolve(purchases, &account.id, purchase, now)
                    .await?;
            if !resolved.status.is_settled() {
                // The network will not let go of it yet: it still counts as in flight.
                return Err(UseCaseError::PurchaseInProgress {
                    retry_after: STALE_PURCHASE_RETRY_AFTER,
                });
            }
            return Ok(None);
        }
    }
    let state = ports.store.balance(&account.id).await?;
    let period = BillingPeriod::containing(now);
    let closing = Closing::decide(&account.id, period, &state, now)?;
    let final_invoice = closing.invoice.clone().map(|mut invoice| {
        invoice.id = final_invoice_id(period, now);
        invoice.lines = final_lines(&closing.close, now);
        let (invoice, _) = with_first_attempt(
            invoice,
            AttemptTrigger::Deletion,
            Some(account),
            ports.retries,
            now,
        );
        invoice
    });
    account.status = AccountStatus::Deleting;
    account.deletion = Some(Deletion {
        started_at: now,
        step: DeletionStep::Collecting,
        lease_until: now + Deletion::LEASE,
        email: account.email.clone().or_else(|| request.email.cloned()),
        final_invoice: final_invoice.as_ref().map(|i| i.id.clone()),
        forfeited: Micros::ZERO,
        written_off: Micros::ZERO,
        notice: Notice::None,
    });
    let closing = Closing {
        invoice: final_invoice,
        ..closing
    };
    let mut transaction = closing.transaction(&state, true, now)?;
    transaction.push(Write::Put {
        record: Record::Account(account.clone()),
        expect,
    });
    transaction.push(Write::Check {
        key: RecordKey::PurchaseSlot(account.id.clone()),
        expect: slot.map_or(Expect::Absent, |s| Expect::Version(s.version)),
    });
    Ok(Some(transaction))
}

/// Refuses every read of a deleted account (`AccountDeleted`): its old token gets no data.
pub async fn refuse_deleted(
    store: &(impl AccountStore + ?Sized),
    account: &AccountId,
) -> Result<(), UseCaseError> {
    match store.account(account).await? {
        Some(record) if record.value.status == AccountStatus::Deleted => {
            Err(UseCaseError::AccountDeleted)
        }
        _ => Ok(()),
    }
}

/// How a final invoice's amount is made up: everything owed and not yet invoiced when the
/// deletion started, less what is too small to charge (written off when the account is erased).
fn final_lines(close: &PeriodClose, now: DateTime<Utc>) -> Vec<InvoiceLine> {
    let lines = [
        (
            format!(
                "Usage not yet invoiced, after credits, up to {}",
                now.format("%B %-d, %Y %H:%M UTC")
            ),
            close.owed,
        ),
        (
            // Written off only when the deletion completes: one whose charge fails leaves it
            // on the balance, as any other amount too small to charge.
            "Less than a cent, or under the minimum charge: written off when the account is deleted"
                .to_owned(),
            close.carried.checked_neg().unwrap_or(Micros::ZERO),
        ),
    ];
    lines
        .into_iter()
        .filter(|(_, amount)| *amount != Micros::ZERO)
        .map(|(description, amount_micros)| InvoiceLine {
            description,
            amount_micros,
        })
        .collect()
}

/// The id of the final invoice of a deletion started at `at`: the period's, with the instant,
/// so it sorts after the period's own invoice and a later deletion gets its own.
pub fn final_invoice_id(period: BillingPeriod, at: DateTime<Utc>) -> InvoiceId {
    InvoiceId::parse(&format!(
        "in_{:04}{:02}_final_{}",
        period.year(),
        period.month(),
        at.format("%d%H%M%S")
    ))
    .expect("in_, digits and _final_ make an invoice id")
}

/// Writes the account on the version read. `None` when someone else moved it first.
async fn put_account(
    ports: Ports<'_>,
    account: Account,
    version: u64,
) -> Result<Option<Versioned<Account>>, UseCaseError> {
    let write = Transaction::new().with(Write::Put {
        record: Record::Account(account.clone()),
        expect: Expect::Version(version),
    });
    match ports.store.commit(write).await {
        Ok(()) => Ok(Some(Versioned {
            value: account,
            version: version + 1,
        })),
        Err(StoreError::Conflict { .. }) => Ok(None),
        Err(error) => Err(error.into()),
    }
}

/// Re-reads the account after a lost write; it must still exist.
async fn reread(ports: Ports<'_>, account: &AccountId) -> Result<Versioned<Account>, UseCaseError> {
    ports
        .store
        .account(account)
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("account {account} vanished")).into())
}

/// Whole seconds from `now` until `at`, rounded up, at least 1.
fn seconds_until(at: DateTime<Utc>, now: DateTime<Utc>) -> u64 {
    let remaining = at - now;
    let secs = remaining.num_seconds() + i64::from(remaining.subsec_nanos() > 0);
    secs.max(1).unsigned_abs()
}

#[cfg(test)]
mod tests;
