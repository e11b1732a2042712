//! Step 2 of a deletion: everything owed is collected before anything is erased.

use chrono::{DateTime, Utc};

use super::{FinalChargeFailed, Ports, put_account, reread, seconds_until};
use crate::domain::account::{Account, AccountStatus, DeletionStep};
use crate::domain::ids::InvoiceId;
use crate::domain::invoice::{Invoice, InvoiceStatus};
use crate::ports::links::INVOICE_LINK_VALIDITY;
use crate::ports::store::{InvoiceStore, Versioned};
use crate::rules::decline::decline_advice;
use crate::usecases::error::UseCaseError;
use crate::usecases::invoice::charge::{card_on_file, resume_invoice, update};
use crate::usecases::invoice::decide::{CARD_REQUIRED, Claim, claim};

/// Charges every unpaid invoice of the account, oldest first (the final one is the newest),
/// then moves the deletion on to erasing. The first invoice that does not pay ends the
/// deletion: the account is active again and the failure is the answer.
pub(super) async fn collect(
    ports: Ports<'_>,
    current: Versioned<Account>,
    now: DateTime<Utc>,
) -> Result<Versioned<Account>, UseCaseError> {
    let account = &current.value;
    let mut unpaid = Vec::new();
    let mut cursor = None;
    loop {
        let page = ports.store.invoices(&account.id, cursor, 100).await?;
        unpaid.extend(
            page.items
                .iter()
                .filter(|invoice| invoice.status != InvoiceStatus::Paid)
                .map(|invoice| invoice.id.clone()),
        );
        cursor = match page.items.last() {
            Some(last) if page.has_more => Some(last.id.clone()),
            _ => break,
        };
    }
    // Listed newest first; paid oldest first.
    for id in unpaid.into_iter().rev() {
        if let Err(failed) = pay(ports, account, &id, now).await? {
            abandon(ports, current).await?;
            return Err(failed.into());
        }
    }
    advance(ports, current, |account| {
        if let Some(deletion) = account.deletion.as_mut() {
            deletion.step = DeletionStep::Erasing;
        }
    })
    .await
}

/// Collects one invoice: a failed one is charged again on the card on file (one attempt, its
/// own key), an attempt in flight is resumed (sent again with its key, never a second
/// payment). `Err` says why it is not paid.
async fn pay(
    ports: Ports<'_>,
    account: &Account,
    id: &InvoiceId,
    now: DateTime<Utc>,
) -> Result<Result<(), FinalChargeFailed>, UseCaseError> {
    let Some(mut current) = ports.store.invoice(&account.id, id).await? else {
        return Ok(Ok(()));
    };
    if matches!(
        current.value.status,
        InvoiceStatus::PaymentFailed | InvoiceStatus::Uncollectible
    ) {
        let Some(card) = card_on_file(Some(account)) else {
            return Ok(Err(FinalChargeFailed::CardRequired {
                invoice: id.clone(),
            }));
        };
        // Not when the same card declined today, or in a way that cannot succeed: the
        // answer is then that decline again (see `claim`).
        let deletion = |invoice: &Invoice| claim(invoice, Claim::Deletion, Some(card), now);
        if let Some(claimed) = update(ports, current.clone(), deletion).await? {
            current = claimed;
        }
    }
    let invoice = resume_invoice(ports, current, Some(account), None, now).await?;
    Ok(outcome(ports, &invoice, now))
}

/// Whether the invoice, as it stands, is paid; why not otherwise.
fn outcome(
    ports: Ports<'_>,
    invoice: &Invoice,
    now: DateTime<Utc>,
) -> Result<(), FinalChargeFailed> {
    let id = invoice.id.clone();
    let latest = invoice.latest();
    match invoice.status {
        InvoiceStatus::Paid => Ok(()),
        InvoiceStatus::RequiresAuthorization => Err(FinalChargeFailed::AuthorizationRequired {
            url: ports
                .links
                .invoice(&invoice.account, &id, now + INVOICE_LINK_VALIDITY),
            invoice: id,
        }),
        InvoiceStatus::PaymentFailed | InvoiceStatus::Uncollectible => {
            match latest.and_then(|a| a.decline_code.clone()) {
                Some(code) if code == CARD_REQUIRED => {
                    Err(FinalChargeFailed::CardRequired { invoice: id })
                }
                code => Err(FinalChargeFailed::Declined {
                    invoice: id,
                    decline_code: decline_advice(code.as_deref()).code.to_owned(),
                }),
            }
        }
        InvoiceStatus::Open => {
            let settles_by = latest.map_or(now, |a| a.updated_at + Invoice::IN_FLIGHT_TIMEOUT);
            Err(FinalChargeFailed::InProgress {
                invoice: id,
                retry_after: seconds_until(settles_by, now),
            })
        }
    }
}

/// Ends a deletion whose charge did not pay: the account is active again, with nothing erased
/// (the final invoice stays, unpaid, and is collected like any other).
async fn abandon(ports: Ports<'_>, current: Versioned<Account>) -> Result<(), UseCaseError> {
    advance(ports, current, |account| {
        account.status = AccountStatus::Active;
        account.deletion = None;
    })
    .await
    .map(|_| ())
}

/// Writes `change` of the account on the version read, reading again while someone else moves
/// it (a webhook updating the card), as long as the deletion is still at the step read.
/// Returns the account as it stands afterwards.
pub(super) async fn advance(
    ports: Ports<'_>,
    mut current: Versioned<Account>,
    change: impl Fn(&mut Account),
) -> Result<Versioned<Account>, UseCaseError> {
    let step = current.value.deletion.as_ref().map(|d| d.step);
    for _ in 0..super::ATTEMPTS {
        let mut next = current.value.clone();
        change(&mut next);
        if let Some(written) = put_account(ports, next, current.version).await? {
            return Ok(written);
        }
        current = reread(ports, &current.value.id).await?;
        if current.value.deletion.as_ref().map(|d| d.step) != step {
            // Another request took over and moved the deletion on: resume from there.
            return Ok(current);
        }
    }
    Err(UseCaseError::ConcurrentUpdate)
}
