//! The invoice half of `POST /_local/events/sweep`, with the code the `sweep` Lambda and the
//! charge worker run: every invoice due a visit (a scheduled retry, an attempt left claimed or
//! processing, an email left claimed) gets a job on the local charge queue
//! ([`sweep_invoices`]), and the queue is drained to completion with
//! [`charge_account`](billing_core::usecases::invoice::charge_account), which claims a due
//! retry with its own key. Two sweeps, a sweep posted again and a sweep cut short and posted
//! again make one attempt per invoice and day: the claim is a conditional write, and a
//! claimed retry is not due again.

use std::sync::Arc;

use billing_api::ApiError;
use billing_core::domain::invoice::InvoiceStatus;
use billing_core::ports::clock::Clock;
use billing_core::usecases::invoice::{Charged, sweep_invoices};
use serde::Serialize;

use crate::controls::Controls;
use crate::monthly::{drain, drain_leftover};

/// What the sweep did for invoices: each visited invoice counted once, as it stands after
/// the visit (`visited` is the sum of the other counts).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct InvoicesSwept {
    /// Invoices visited (jobs charged, `errors` included).
    pub visited: u64,
    /// Paid.
    pub paid: u64,
    /// Waiting for the bank's authorization.
    pub requires_authorization: u64,
    /// `payment_failed`: a retry is scheduled, or the invoice waits for a new card.
    pub failed: u64,
    /// `uncollectible`: its last retry failed.
    pub uncollectible: u64,
    /// Still `open`: its payment is processing; an event or a later sweep settles it.
    pub processing: u64,
    /// Jobs that kept failing (the store, the network or the mailer unavailable); the next
    /// sweep lists their invoices again.
    pub errors: u64,
}

impl InvoicesSwept {
    fn add(&mut self, visit: Option<&Charged>) {
        self.visited += 1;
        let status = match visit {
            None => {
                self.errors += 1;
                return;
            }
            Some(Charged::Invoiced { status, .. }) => status,
            // A job names an existing invoice, so the charge resumes it; these cannot occur.
            Some(Charged::NothingOwed { .. } | Charged::Skipped) => return,
        };
        match status {
            InvoiceStatus::Paid => self.paid += 1,
            InvoiceStatus::RequiresAuthorization => self.requires_authorization += 1,
            InvoiceStatus::PaymentFailed => self.failed += 1,
            InvoiceStatus::Uncollectible => self.uncollectible += 1,
            InvoiceStatus::Open => self.processing += 1,
        }
    }
}

/// Enqueues every invoice due a visit as of the local clock and charges them all; jobs a
/// stopped server left on the queue are charged first, outside the count.
pub async fn sweep(controls: &Arc<Controls>) -> Result<InvoicesSwept, ApiError> {
    let _one_run = controls.charge_queue.lock().await;
    drain_leftover(controls).await?;
    sweep_invoices(
        controls.store.as_ref(),
        &controls.queue,
        controls.clock.now(),
    )
    .await?;
    let mut swept = InvoicesSwept::default();
    drain(controls, |visit| swept.add(visit)).await?;
    Ok(swept)
}

#[cfg(test)]
mod tests {
    use billing_core::domain::ids::InvoiceId;

    use super::*;

    fn invoiced(status: InvoiceStatus) -> Charged {
        Charged::Invoiced {
            invoice: InvoiceId::parse("in_202610").unwrap(),
            status,
            created: false,
        }
    }

    #[test]
    fn each_visit_is_counted_once_under_the_status_it_left_the_invoice_in() {
        let mut swept = InvoicesSwept::default();
        let visits = [
            Some(invoiced(InvoiceStatus::Paid)),
            Some(invoiced(InvoiceStatus::RequiresAuthorization)),
            Some(invoiced(InvoiceStatus::PaymentFailed)),
            Some(invoiced(InvoiceStatus::PaymentFailed)),
            Some(invoiced(InvoiceStatus::Uncollectible)),
            Some(invoiced(InvoiceStatus::Open)),
            None,
        ];

        for visit in &visits {
            swept.add(visit.as_ref());
        }

        assert_eq!(
            swept,
            InvoicesSwept {
                visited: 7,
                paid: 1,
                requires_authorization: 1,
                failed: 2,
                uncollectible: 1,
                processing: 1,
                errors: 1,
            }
        );
    }
}
