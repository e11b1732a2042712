//! **The collection rule**: how a report about a charge attempt changes an invoice.
//!
//! Every report goes through [`apply`]: the charge's own answer, a webhook, the authorization
//! page, a later look at the payment. Reports arrive late, twice and out of order, so:
//! - a success always wins: money taken is recorded as paid, whatever was recorded before;
//! - otherwise a failed attempt never changes, and news of an attempt that is not the latest
//!   changes nothing;
//! - an outcome that owes the user an email (receipt, authorization link, decline notice)
//!   claims it in the same write, and only when the outcome is new, so it is sent once;
//! - a failed attempt schedules the next retry, waits for the user, or makes the invoice
//!   uncollectible ([`after_decline`]).
//!
//! New attempts are claimed through [`claim`]: a scheduled retry once it is due, a new card
//! while the invoice waits for payment with another card.

use chrono::{DateTime, Utc};

use crate::domain::ids::{PaymentId, PaymentMethodId};
use crate::domain::invoice::{
    AttemptOutcome, AttemptTrigger, ChargeAttempt, Invoice, InvoiceStatus, Notice,
};
use crate::ports::gateway::ChargeOutcome;
use crate::rules::decline::{RetryPolicy, decline_advice};
use crate::rules::retry::{AfterDecline, after_decline, next_day};

/// The decline code recorded when there was no usable card to charge.
pub const CARD_REQUIRED: &str = "card_required";

/// What is reported about an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Report<'a> {
    /// The network's answer, or its view of the payment.
    Network(&'a ChargeOutcome),
    /// No usable card on file: nothing could be sent.
    CardRequired,
}

/// Which attempt a report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    /// By number: the answer to the charge this worker sent.
    Attempt(u32),
    /// By the payment the network named (events, and looking the payment up).
    Payment(&'a PaymentId),
}

/// The invoice after `report` about `target`, or `None` when it changes nothing.
pub fn apply(
    invoice: &Invoice,
    target: Target<'_>,
    report: Report<'_>,
    now: DateTime<Utc>,
) -> Option<Invoice> {
    let index = invoice.attempts.iter().position(|a| match target {
        Target::Attempt(number) => a.number == number,
        Target::Payment(payment) => a.payment.as_ref() == Some(payment),
    })?;
    let attempt = &invoice.attempts[index];
    let is_latest = index + 1 == invoice.attempts.len();
    let mut next = invoice.clone();
    let changed = &mut next.attempts[index];
    if let Report::Network(ChargeOutcome::Succeeded { payment }) = report {
        if invoice.status == InvoiceStatus::Paid {
            return None;
        }
        record(changed, AttemptOutcome::Succeeded, Some(payment), now);
        changed.decline_code = None;
        next.status = InvoiceStatus::Paid;
        next.amount_paid = next.amount_due;
        next.next_payment_attempt = None;
        return Some(next);
    }
    if !is_latest || attempt.outcome.is_failed() || attempt.outcome == AttemptOutcome::Succeeded {
        return None;
    }
    let status = match report {
        Report::CardRequired => {
            record(changed, AttemptOutcome::CardRequired, None, now);
            changed.decline_code = Some(CARD_REQUIRED.to_owned());
            return Some(after_failure(next));
        }
        Report::Network(ChargeOutcome::Succeeded { .. }) => unreachable!("handled above"),
        Report::Network(ChargeOutcome::Processing { payment }) => {
            if attempt.outcome == AttemptOutcome::Processing {
                return None;
            }
            changed.outcome = AttemptOutcome::Processing;
            changed.payment = Some(payment.clone());
            changed.updated_at = now;
            InvoiceStatus::Open
        }
        Report::Network(
            ChargeOutcome::AuthenticationRequired {
                payment,
                client_secret,
                ..
            }
            | ChargeOutcome::RequiresAction {
                payment,
                client_secret,
                ..
            },
        ) => {
            if attempt.outcome == AttemptOutcome::RequiresAuthorization {
                return None;
            }
            // Asked again after a processing report (reports arrive out of order): the
            // attempt already claimed its authorization email, so it claims none again.
            let asked_before = attempt.notice != Notice::None;
            record(
                changed,
                AttemptOutcome::RequiresAuthorization,
                Some(payment),
                now,
            );
            if asked_before {
                changed.notice = attempt.notice;
            }
            changed.client_secret = Some(client_secret.clone());
            InvoiceStatus::RequiresAuthorization
        }
        Report::Network(ChargeOutcome::Declined { payment, decline }) => {
            record(changed, AttemptOutcome::Declined, payment.as_ref(), now);
            changed.decline_code = Some(
                decline
                    .decline_code
                    .clone()
                    .unwrap_or_else(|| "card_declined".to_owned()),
            );
            changed.client_secret = None;
            return Some(after_failure(next));
        }
        Report::Network(ChargeOutcome::Canceled { payment }) => {
            record(changed, AttemptOutcome::Declined, Some(payment), now);
            changed.decline_code = Some(PAYMENT_CANCELED.to_owned());
            changed.client_secret = None;
            return Some(after_failure(next));
        }
    };
    next.status = status;
    next.next_payment_attempt = None;
    Some(next)
}

/// The decline code of an attempt canceled before it succeeded (by nobody completing it, or
/// because a new card replaced it).
pub const PAYMENT_CANCELED: &str = "payment_canceled";

/// The invoice after its latest attempt failed: the next retry scheduled, waiting for the
/// user, or uncollectible (the retry rule).
fn after_failure(mut invoice: Invoice) -> Invoice {
    let Some(latest) = invoice.latest() else {
        return invoice;
    };
    let policy = match latest.outcome {
        AttemptOutcome::CardRequired => RetryPolicy::Never,
        _ => decline_advice(latest.decline_code.as_deref()).retry,
    };
    let after = after_decline(&invoice.retry_at, invoice.retries_made(), policy, latest.at);
    (invoice.status, invoice.next_payment_attempt) = match after {
        AfterDecline::RetryAt(at) => (InvoiceStatus::PaymentFailed, Some(at)),
        AfterDecline::WaitForUser => (InvoiceStatus::PaymentFailed, None),
        AfterDecline::Uncollectible => (InvoiceStatus::Uncollectible, None),
    };
    invoice
}

/// A new attempt to claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim<'a> {
    /// The scheduled retry, once [`Invoice::next_payment_attempt`] has come.
    Retry,
    /// A card added or replaced since the latest attempt.
    NewCard {
        /// The latest attempt's payment, confirmed canceled at the network, when it was
        /// waiting for the bank's authorization: the new card replaces it, and nothing can
        /// then collect the invoice twice.
        canceled: Option<&'a PaymentId>,
    },
    /// The account's deletion charges the card on file (the same card too) for an invoice
    /// whose latest attempt failed.
    Deletion,
}

/// What charging the card on file requires of an invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewCardCharge {
    /// Claim the attempt now.
    Now,
    /// Cancel this payment, waiting for the bank's authorization on the old card, first.
    AfterCanceling(PaymentId),
}

/// Whether an invoice wants the card on file charged at once: it waits for payment
/// (declined, no card, uncollectible, or for authorization) and its latest attempt was made
/// with another card or none.
pub fn new_card_charge(invoice: &Invoice, card: &PaymentMethodId) -> Option<NewCardCharge> {
    let latest = invoice.latest()?;
    if latest.payment_method.as_ref() == Some(card) {
        return None;
    }
    match (invoice.status, latest.outcome) {
        (InvoiceStatus::PaymentFailed | InvoiceStatus::Uncollectible, outcome)
            if outcome.is_failed() =>
        {
            Some(NewCardCharge::Now)
        }
        (InvoiceStatus::RequiresAuthorization, AttemptOutcome::RequiresAuthorization) => {
            latest.payment.clone().map(NewCardCharge::AfterCanceling)
        }
        _ => None,
    }
}

/// The invoice with a new `Pending` attempt charging `card`, or `None` when the claim does
/// not hold: a retry that is not due, a new card the invoice does not want (see
/// [`new_card_charge`]; a payment waiting for authorization must be the one `canceled`).
/// Claiming clears the scheduled retry: the sweep does not visit the invoice for it while the
/// attempt is under way.
pub fn claim(
    invoice: &Invoice,
    claim: Claim<'_>,
    card: Option<&PaymentMethodId>,
    now: DateTime<Utc>,
) -> Option<Invoice> {
    let latest = invoice.latest()?;
    // Decided before anything is copied: the charge asks this of every invoice it resumes.
    let (trigger, supersedes) = match claim {
        Claim::Retry => {
            let due = invoice.status == InvoiceStatus::PaymentFailed
                && latest.outcome.is_failed()
                && invoice.next_payment_attempt.is_some_and(|at| at <= now);
            if !due {
                return None;
            }
            (AttemptTrigger::Retry, false)
        }
        Claim::NewCard { canceled } => match new_card_charge(invoice, card?)? {
            NewCardCharge::Now => (AttemptTrigger::NewCard, false),
            NewCardCharge::AfterCanceling(payment) if canceled == Some(&payment) => {
                (AttemptTrigger::NewCard, true)
            }
            NewCardCharge::AfterCanceling(_) => return None,
        },
        Claim::Deletion => {
            let failed = matches!(
                invoice.status,
                InvoiceStatus::PaymentFailed | InvoiceStatus::Uncollectible
            ) && latest.outcome.is_failed();
            if !failed || card.is_none() || !worth_another_try(latest, card?, now) {
                return None;
            }
            (AttemptTrigger::Deletion, false)
        }
    };
    let mut next = invoice.clone();
    if supersedes {
        let superseded = next.attempts.last_mut().expect("latest exists");
        superseded.outcome = AttemptOutcome::Declined;
        superseded.decline_code = Some(PAYMENT_CANCELED.to_owned());
        superseded.client_secret = None;
        superseded.updated_at = now;
    }
    next.attempts.push(ChargeAttempt::pending(
        latest.number + 1,
        trigger,
        card.cloned(),
        now,
    ));
    next.status = InvoiceStatus::Open;
    next.next_payment_attempt = None;
    Some(next)
}

/// Whether charging `card` again may end otherwise than the failed `latest` attempt: always
/// with another card; with the same card, not after a decline that cannot succeed, and not on
/// the day (UTC) it declined, as for scheduled retries. A client repeating a refused deletion
/// then gets the same answer without the card being charged, or the user emailed, again.
fn worth_another_try(latest: &ChargeAttempt, card: &PaymentMethodId, now: DateTime<Utc>) -> bool {
    if latest.payment_method.as_ref() != Some(card) {
        return true;
    }
    let retry = decline_advice(latest.decline_code.as_deref()).retry == RetryPolicy::Retry;
    retry && next_day(latest.at) <= now
}

/// Records a new outcome that owes the user an email, and claims that email.
fn record(
    attempt: &mut ChargeAttempt,
    outcome: AttemptOutcome,
    payment: Option<&PaymentId>,
    now: DateTime<Utc>,
) {
    attempt.outcome = outcome;
    if let Some(payment) = payment {
        attempt.payment = Some(payment.clone());
    }
    attempt.notice = Notice::Sending { since: now };
    attempt.updated_at = now;
}

#[cfg(test)]
mod tests;
