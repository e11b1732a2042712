//! **The collection rule**: how a report about a charge attempt changes an invoice.
//!
//! Every report goes through [`apply`]: the charge's own answer, a webhook, the authorization
//! page, a later look at the payment. Reports arrive late, twice and out of order, so:
//! - a success always wins: money taken is recorded as paid, whatever was recorded before;
//! - otherwise a failed attempt never changes, and news of an attempt that is not the latest
//!   changes nothing;
//! - an outcome that owes the user an email (receipt, authorization link, decline notice)
//!   claims it in the same write, and only when the outcome is new, so it is sent once.

use chrono::{DateTime, Utc};

use crate::domain::ids::PaymentId;
use crate::domain::invoice::{AttemptOutcome, ChargeAttempt, Invoice, InvoiceStatus, Notice};
use crate::ports::gateway::ChargeOutcome;

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
        return Some(next);
    }
    if !is_latest || attempt.outcome.is_failed() || attempt.outcome == AttemptOutcome::Succeeded {
        return None;
    }
    let status = match report {
        Report::CardRequired => {
            record(changed, AttemptOutcome::CardRequired, None, now);
            changed.decline_code = Some(CARD_REQUIRED.to_owned());
            InvoiceStatus::PaymentFailed
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
            InvoiceStatus::PaymentFailed
        }
        Report::Network(ChargeOutcome::Canceled { payment }) => {
            record(changed, AttemptOutcome::Declined, Some(payment), now);
            changed.decline_code = Some("payment_canceled".to_owned());
            changed.client_secret = None;
            InvoiceStatus::PaymentFailed
        }
    };
    next.status = status;
    Some(next)
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
