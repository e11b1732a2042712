//! Charging one account for one closed period: the charge worker's job.
//!
//! One strongly consistent read gives the account, the period's invoice and the balance. With
//! no invoice yet, the close rule decides; the invoice is written with its first attempt
//! already claimed (its card and its key), together with the ledger entry that moves the
//! amount off the balance, in one transaction conditioned on the balance version (but for the
//! last tries, so that a busy account is invoiced all the same). Then the
//! charge is sent with the attempt's key, its answer recorded through the collection rule
//! (claiming the email it owes), the email sent and marked. Four store requests for a paid
//! account: the read, the close, the answer, the mark.
//!
//! Stopped after any step, the job run again resumes: an attempt still `Pending` is sent
//! again with the same key and the same card (the network answers the first payment again),
//! and an email claim left behind is taken over once stale. A job whose email is claimed but
//! not sent (the mailer failed, or another worker holds a fresh claim) answers a retryable
//! error, so the queue delivers it again until the email is out.

use chrono::{DateTime, Utc};

use super::Ports;
use super::decide::{Claim, Report, Target, apply, claim};
use super::notices::deliver;
use crate::domain::account::{Account, AccountStatus};
use crate::domain::ids::{AccountId, InvoiceId, PaymentMethodId};
use crate::domain::invoice::{
    AttemptOutcome, AttemptTrigger, ChargeAttempt, Invoice, InvoiceStatus, Notice,
};
use crate::domain::money::{Currency, Micros};
use crate::ports::gateway::ChargeRequest;
use crate::ports::mailer::MailError;
use crate::ports::queue::ChargeJob;
use crate::ports::store::{
    Expect, InvoiceStore, Record, RecordKey, StoreError, Transaction, Versioned, Write,
};
use crate::rules::retry::RetrySchedule;
use crate::usecases::card::{needs_repair, repair_card_change};
use crate::usecases::close::{ATTEMPTS, Closing, carry_over, invoice_id};
use crate::usecases::error::UseCaseError;

/// What one visit of the charge did for an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Charged {
    /// Nothing to invoice: nothing owed, or an amount under the minimum charge (`carried`,
    /// positive) left on the balance for next month.
    NothingOwed {
        /// What carries over.
        carried: Micros,
    },
    /// The period's invoice as it stands after this visit; `created` when this visit wrote it.
    Invoiced {
        /// The invoice.
        invoice: InvoiceId,
        /// Where it stands.
        status: InvoiceStatus,
        /// Whether this visit created it.
        created: bool,
    },
    /// The account is deleted or being deleted (the monthly charge leaves it alone), or the
    /// invoice the job named no longer exists.
    Skipped,
}

/// The idempotency key of an attempt, sent to the network: one payment per attempt.
pub fn attempt_key(account: &AccountId, invoice: &InvoiceId, number: u32) -> String {
    format!("invoice-{account}-{invoice}-{number}")
}

/// Charges `job.account` for `job.period` (see the module docs). Errors are for the job to
/// be delivered again later; every outcome of the charge itself is an answer.
pub async fn charge_account(
    ports: Ports<'_>,
    job: &ChargeJob,
    now: DateTime<Utc>,
) -> Result<Charged, UseCaseError> {
    let account = &job.account;
    let named = job.invoice.is_some();
    let id = job
        .invoice
        .clone()
        .unwrap_or_else(|| invoice_id(job.period));
    let keys = [
        RecordKey::Account(account.clone()),
        RecordKey::Invoice(account.clone(), id.clone()),
    ];
    for attempt in 1..=ATTEMPTS {
        // The last two tries close on the amount read even if the balance moved since (see
        // `Closing::transaction`): a busy account is invoiced rather than left for later.
        let pinned = attempt + 2 <= ATTEMPTS;
        let (records, state) = ports.store.get_with_balance(account, &keys).await?;
        let [record, invoice] = <[_; 2]>::try_from(records)
            .map_err(|_| StoreError::Corrupt("a read of two records gave another number".into()))?;
        let record = typed_account(record)?;
        if record.as_ref().is_some_and(|a| needs_repair(a, now)) {
            // A card change died here: the network is brought back to the record before
            // the card on file is charged, then everything is read again.
            repair_card_change(ports.store, ports.gateway, account, now).await?;
            continue;
        }
        if let Some(invoice) = typed_invoice(invoice)? {
            return resume(ports, invoice, record.as_ref(), None, now).await;
        }
        if named {
            // The invoice named is gone (its account was erased): nothing to collect.
            return Ok(Charged::Skipped);
        }
        if record
            .as_ref()
            .is_some_and(|a| a.status != AccountStatus::Active)
        {
            return Ok(Charged::Skipped);
        }
        let mut closing = Closing::decide(account, job.period, &state, now)?;
        let Some(open) = closing.invoice.take() else {
            if closing.close.carried.is_positive() {
                let mark = Transaction::new().with(carry_over(account, job.period));
                ports.store.commit(mark).await?;
            }
            return Ok(Charged::NothingOwed {
                carried: closing.close.carried,
            });
        };
        let (invoice, claimed_at) = with_first_attempt(
            open,
            AttemptTrigger::Monthly,
            record.as_ref(),
            ports.retries,
            now,
        );
        closing.invoice = Some(invoice);
        let mut transaction = closing.transaction(&state, pinned, now)?;
        if closing.close.carried.is_positive() {
            transaction.push(carry_over(account, job.period));
        }
        match ports.store.commit(transaction).await {
            Ok(()) => {}
            // The invoice was written, or the balance moved, since the read: read again.
            Err(StoreError::Conflict { index: 0 | 1 } | StoreError::EntriesExist { .. }) => {
                continue;
            }
            Err(error) => return Err(error.into()),
        }
        let created = Versioned {
            value: closing.invoice.expect("the invoice just written"),
            version: 1,
        };
        let resumed = resume(ports, created, record.as_ref(), claimed_at, now).await?;
        return Ok(match resumed {
            Charged::Invoiced {
                invoice, status, ..
            } => Charged::Invoiced {
                invoice,
                status,
                created: true,
            },
            other => other,
        });
    }
    Err(UseCaseError::ConcurrentUpdate)
}

/// The invoice with its first attempt: claimed with the card on file, or failed at once for
/// want of one (claiming the email that asks for a card, at the instant returned).
pub(crate) fn with_first_attempt(
    mut invoice: Invoice,
    trigger: AttemptTrigger,
    account: Option<&Account>,
    retries: &RetrySchedule,
    now: DateTime<Utc>,
) -> (Invoice, Option<DateTime<Utc>>) {
    let card = account.and_then(|a| a.customer.as_ref().and(a.card.as_ref()));
    invoice.retry_at = retries.instants(now);
    invoice.attempts.push(ChargeAttempt::pending(
        1,
        trigger,
        card.map(|c| c.payment_method.clone()),
        now,
    ));
    if card.is_some() {
        return (invoice, None);
    }
    match apply(&invoice, Target::Attempt(1), Report::CardRequired, now) {
        Some(failed) => (failed, Some(now)),
        None => (invoice, None),
    }
}

/// Carries an existing invoice forward ([`resume_invoice`]); the job is done once the email
/// it owes is out.
async fn resume(
    ports: Ports<'_>,
    current: Versioned<Invoice>,
    account: Option<&Account>,
    claimed_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<Charged, UseCaseError> {
    let invoice = resume_invoice(ports, current, account, claimed_at, now).await?;
    if matches!(
        invoice.latest().map(|a| a.notice),
        Some(Notice::Sending { .. })
    ) {
        // The email is claimed but not sent (the mailer failed, or another worker holds the
        // claim): the job is not done until it is, so it is delivered again, and resumes by
        // taking the claim over once it is stale.
        return Err(MailError::Unavailable(format!(
            "the email of invoice {} is not sent yet",
            invoice.id
        ))
        .into());
    }
    Ok(Charged::Invoiced {
        invoice: invoice.id.clone(),
        status: invoice.status,
        created: false,
    })
}

/// Carries an existing invoice forward: claims a scheduled retry that is due, sends a
/// `Pending` attempt's charge (again), asks the network about an attempt processing for too
/// long, and delivers an email still owed (an email not sent is left claimed, for the sweep).
/// Returns the invoice as it stands afterwards.
pub(crate) async fn resume_invoice(
    ports: Ports<'_>,
    mut current: Versioned<Invoice>,
    account: Option<&Account>,
    mut claimed_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<Invoice, UseCaseError> {
    let retry_due = current
        .value
        .next_payment_attempt
        .is_some_and(|at| at <= now);
    if retry_due {
        let card = card_on_file(account);
        let retry = |invoice: &Invoice| claim(invoice, Claim::Retry, card, now);
        if let Some(claimed) = update(ports, current.clone(), retry).await? {
            current = claimed;
        }
    }
    let latest = current.value.latest().cloned();
    match latest {
        Some(attempt) if attempt.outcome == AttemptOutcome::Pending => {
            let answer = send_charge(ports, &current.value, &attempt, account).await?;
            let report = answer
                .as_ref()
                .map_or(Report::CardRequired, Report::Network);
            let target = Target::Attempt(attempt.number);
            if let Some((recorded, claimed)) =
                record(ports, current.clone(), target, report, now).await?
            {
                claimed_at = claimed.or(claimed_at);
                current = recorded;
            }
        }
        Some(ChargeAttempt {
            outcome: AttemptOutcome::Processing,
            payment: Some(payment),
            updated_at,
            ..
        }) if now - updated_at >= Invoice::IN_FLIGHT_TIMEOUT => {
            let outcome = ports.gateway.charge_status(&payment).await?;
            let target = Target::Payment(&payment);
            if let Some((recorded, claimed)) = record(
                ports,
                current.clone(),
                target,
                Report::Network(&outcome),
                now,
            )
            .await?
            {
                claimed_at = claimed.or(claimed_at);
                current = recorded;
            }
        }
        _ => {}
    }
    Ok(deliver(ports, current, claimed_at, account, now).await)
}

/// The card the account has on file, when it can be charged (it has a customer).
pub(crate) fn card_on_file(account: Option<&Account>) -> Option<&PaymentMethodId> {
    account
        .and_then(|a| a.customer.as_ref().and(a.card.as_ref()))
        .map(|card| &card.payment_method)
}

/// Sends the attempt's charge with its key and card; `None` when there is no card to send.
async fn send_charge(
    ports: Ports<'_>,
    invoice: &Invoice,
    attempt: &ChargeAttempt,
    account: Option<&Account>,
) -> Result<Option<crate::ports::gateway::ChargeOutcome>, UseCaseError> {
    let customer = account.and_then(|a| a.customer.clone());
    let (Some(customer), Some(payment_method)) = (customer, attempt.payment_method.clone()) else {
        return Ok(None);
    };
    let request = ChargeRequest {
        customer,
        payment_method,
        amount: invoice.amount_remaining(),
        currency: Currency::Usd,
        idempotency_key: attempt_key(&invoice.account, &invoice.id, attempt.number),
        off_session: true,
        description: format!("Usage in {}", invoice.period.start().format("%B %Y")),
        account: invoice.account.clone(),
        reference: invoice.id.to_string(),
    };
    Ok(Some(ports.gateway.charge(&request).await?))
}

/// Applies a report through the collection rule and writes it on the version read, reading
/// again while someone else moves the invoice. Returns the invoice as written and, when the
/// write claimed the email the new outcome owes, the instant of that claim; `None` when the
/// report changed nothing.
pub(super) async fn record(
    ports: Ports<'_>,
    current: Versioned<Invoice>,
    target: Target<'_>,
    report: Report<'_>,
    now: DateTime<Utc>,
) -> Result<Option<(Versioned<Invoice>, Option<DateTime<Utc>>)>, UseCaseError> {
    let notice = |invoice: &Invoice| invoice.latest().map(|a| a.notice);
    let mut before = None;
    let written = update(ports, current, |invoice| {
        before = Some(notice(invoice));
        apply(invoice, target, report, now)
    })
    .await?;
    Ok(written.map(|written| {
        let claimed = match notice(&written.value) {
            Some(Notice::Sending { since }) if before != Some(notice(&written.value)) => {
                Some(since)
            }
            _ => None,
        };
        (written, claimed)
    }))
}

/// Writes `change` of the invoice on the version read, reading again (and deciding again)
/// while someone else moves it. `None` when the change, decided on the latest version, is
/// nothing.
pub(crate) async fn update(
    ports: Ports<'_>,
    mut current: Versioned<Invoice>,
    mut change: impl FnMut(&Invoice) -> Option<Invoice>,
) -> Result<Option<Versioned<Invoice>>, UseCaseError> {
    for _ in 0..ATTEMPTS {
        let Some(next) = change(&current.value) else {
            return Ok(None);
        };
        let write = Transaction::new().with(Write::Put {
            record: Record::Invoice(next.clone()),
            expect: Expect::Version(current.version),
        });
        match ports.store.commit(write).await {
            Ok(()) => {
                return Ok(Some(Versioned {
                    value: next,
                    version: current.version + 1,
                }));
            }
            Err(StoreError::Conflict { .. }) => {
                current = ports
                    .store
                    .invoice(&current.value.account, &current.value.id)
                    .await?
                    .ok_or(UseCaseError::NotFound)?;
            }
            Err(error) => return Err(error.into()),
        }
    }
    Err(UseCaseError::ConcurrentUpdate)
}

fn typed_account(record: Option<Versioned<Record>>) -> Result<Option<Account>, StoreError> {
    match record.map(|r| r.value) {
        None => Ok(None),
        Some(Record::Account(account)) => Ok(Some(account)),
        Some(other) => Err(StoreError::Corrupt(format!(
            "{:?} is not an account",
            other.key()
        ))),
    }
}

fn typed_invoice(
    record: Option<Versioned<Record>>,
) -> Result<Option<Versioned<Invoice>>, StoreError> {
    match record {
        None => Ok(None),
        Some(Versioned {
            value: Record::Invoice(invoice),
            version,
        }) => Ok(Some(Versioned {
            value: invoice,
            version,
        })),
        Some(other) => Err(StoreError::Corrupt(format!(
            "{:?} is not an invoice",
            other.value.key()
        ))),
    }
}
