//! Getting paid after a failed charge (Behaviour 5).
//!
//! - [`sweep_invoices`]: the sweep lists the invoices due a visit (a scheduled retry, an
//!   attempt left claimed or processing, an email left claimed) from a sparse index and
//!   enqueues a charge job for each; the worker's [`charge_account`](super::charge_account)
//!   resumes the invoice, claiming a due retry with its own key. Claims are conditional
//!   writes, and a claimed retry is not due again that day: two sweeps, a sweep run again, and
//!   a job delivered twice make one attempt.
//! - [`pay_with_card_on_file`]: a card added or replaced charges every invoice waiting for
//!   payment with another card at once, oldest first, even an uncollectible one.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Ports;
use super::charge::{card_on_file, record, resume_invoice, update};
use super::decide::{Claim, NewCardCharge, Report, Target, claim, new_card_charge};
use super::plan::PLAN_PAGE;
use crate::domain::ids::{AccountId, InvoiceId};
use crate::domain::invoice::{Invoice, InvoiceStatus};
use crate::ports::gateway::ChargeOutcome;
use crate::ports::queue::{ChargeJob, JobQueue};
use crate::ports::store::{AccountStore, InvoiceStore, Store};
use crate::usecases::error::UseCaseError;

/// Enqueues a charge job for every invoice whose collection visit is due at `now`, earliest
/// first; returns how many.
pub async fn sweep_invoices(
    store: &dyn Store,
    queue: &dyn JobQueue,
    now: DateTime<Utc>,
) -> Result<u64, UseCaseError> {
    let mut after = None;
    let mut enqueued = 0;
    loop {
        let page = store.invoices_to_visit(now, after, PLAN_PAGE).await?;
        let jobs: Vec<ChargeJob> = page
            .items
            .iter()
            .map(|invoice| ChargeJob {
                account: invoice.account.clone(),
                period: invoice.period,
                invoice: Some(invoice.id.clone()),
            })
            .collect();
        if !jobs.is_empty() {
            queue.enqueue(&jobs).await?;
        }
        enqueued += jobs.len() as u64;
        after = match page.items.last() {
            Some(last) if page.has_more => last
                .visit_at()
                .map(|at| (at, last.account.clone(), last.id.clone())),
            _ => None,
        };
        if after.is_none() {
            return Ok(enqueued);
        }
    }
}

/// An invoice the card on file was charged for, as it stands afterwards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Collected {
    /// The invoice.
    pub invoice: InvoiceId,
    /// Where it stands.
    pub status: InvoiceStatus,
}

/// Charges the account's card on file for every invoice that waits for payment with another
/// card (or none), oldest first: one attempt each, with its own key, its answer recorded and
/// its email sent. An invoice waiting for the bank's authorization on the old card has that
/// payment canceled first (if it succeeded meanwhile, it is recorded paid instead). Stops at
/// the first invoice the card does not pay: charging a declining card again for the next one
/// would only decline again. Run again (the same card put again), it charges only what is
/// still waiting for this card.
pub async fn pay_with_card_on_file(
    ports: Ports<'_>,
    account: &AccountId,
    now: DateTime<Utc>,
) -> Result<Vec<Collected>, UseCaseError> {
    let Some(holder) = ports.store.account(account).await?.map(|v| v.value) else {
        return Ok(Vec::new());
    };
    let Some(card) = card_on_file(Some(&holder)).cloned() else {
        return Ok(Vec::new());
    };
    let mut waiting = Vec::new();
    let mut cursor = None;
    loop {
        let page = ports.store.invoices(account, cursor, 100).await?;
        waiting.extend(
            page.items
                .iter()
                .filter(|invoice| new_card_charge(invoice, &card).is_some())
                .map(|invoice| invoice.id.clone()),
        );
        cursor = match page.items.last() {
            Some(last) if page.has_more => Some(last.id.clone()),
            _ => break,
        };
    }
    let mut collected = Vec::new();
    // Listed newest first; charged oldest first.
    for id in waiting.into_iter().rev() {
        let Some(current) = ports.store.invoice(account, &id).await? else {
            continue;
        };
        let canceled = match new_card_charge(&current.value, &card) {
            None => continue,
            Some(NewCardCharge::Now) => None,
            Some(NewCardCharge::AfterCanceling(payment)) => {
                match ports.gateway.cancel_payment(&payment).await? {
                    ChargeOutcome::Canceled { .. } => Some(payment),
                    outcome => {
                        // It can no longer be canceled: it succeeded (or is settling), and is
                        // recorded as such.
                        let target = Target::Payment(&payment);
                        let report = Report::Network(&outcome);
                        let invoice = match record(ports, current.clone(), target, report, now)
                            .await?
                        {
                            Some((recorded, claimed)) => {
                                resume_invoice(ports, recorded, Some(&holder), claimed, now).await?
                            }
                            None => current.value,
                        };
                        let paid = invoice.status == InvoiceStatus::Paid;
                        collected.push(collected_of(&invoice));
                        if paid {
                            continue;
                        }
                        break;
                    }
                }
            }
        };
        let claimed = update(ports, current, |invoice| {
            claim(
                invoice,
                Claim::NewCard {
                    canceled: canceled.as_ref(),
                },
                Some(&card),
                now,
            )
        })
        .await?;
        let Some(claimed) = claimed else {
            continue;
        };
        let invoice = resume_invoice(ports, claimed, Some(&holder), None, now).await?;
        collected.push(collected_of(&invoice));
        if invoice.status != InvoiceStatus::Paid {
            break;
        }
    }
    Ok(collected)
}

fn collected_of(invoice: &Invoice) -> Collected {
    Collected {
        invoice: invoice.id.clone(),
        status: invoice.status,
    }
}
