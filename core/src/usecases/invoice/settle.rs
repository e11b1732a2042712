//! Reports about an invoice's payment that arrive after its charge: a webhook, the
//! authorization page asking the network, and the reads of the invoices API.

use chrono::{DateTime, Utc};

use super::Ports;
use super::charge::record;
use super::decide::{Report, Target};
use super::notices::deliver;
use crate::domain::ids::{AccountId, InvoiceId};
use crate::domain::invoice::{AttemptOutcome, Invoice};
use crate::ports::gateway::ChargeOutcome;
use crate::ports::store::{InvoiceStore, Page, Store, Versioned};
use crate::usecases::deletion::refuse_deleted;
use crate::usecases::error::UseCaseError;

/// Most invoices one page of the list holds; the default is [`DEFAULT_PAGE`].
pub const MAX_PAGE: usize = 100;
/// Invoices per page when the caller does not say.
pub const DEFAULT_PAGE: usize = 10;

/// An account's invoice; another account's (or none) is `NotFound`.
pub async fn get_invoice(
    store: &dyn Store,
    account: &AccountId,
    invoice: &InvoiceId,
) -> Result<Invoice, UseCaseError> {
    refuse_deleted(store, account).await?;
    store
        .invoice(account, invoice)
        .await?
        .map(|v| v.value)
        .ok_or(UseCaseError::NotFound)
}

/// One page of an account's invoices, newest first, after `starting_after` (1–100 of them).
pub async fn list_invoices(
    store: &dyn Store,
    account: &AccountId,
    starting_after: Option<InvoiceId>,
    limit: usize,
) -> Result<Page<Invoice>, UseCaseError> {
    refuse_deleted(store, account).await?;
    let limit = limit.clamp(1, MAX_PAGE);
    Ok(store.invoices(account, starting_after, limit).await?)
}

/// Applies what the network says about one of the invoice's payments (a verified event) and
/// delivers the email it owes. `NotFound` when the account has no such invoice.
pub async fn settle_invoice_payment(
    ports: Ports<'_>,
    account: &AccountId,
    invoice: &InvoiceId,
    outcome: &ChargeOutcome,
    now: DateTime<Utc>,
) -> Result<Invoice, UseCaseError> {
    let current = read(ports, account, invoice).await?;
    let Some(payment) = outcome.payment() else {
        return Ok(current.value);
    };
    apply_and_deliver(ports, current, Target::Payment(payment), outcome, now).await
}

/// Asks the network about the latest attempt's payment while it is not final (the cardholder
/// may just have authorized it), records the answer, and delivers an email still owed.
pub async fn refresh_invoice(
    ports: Ports<'_>,
    account: &AccountId,
    invoice: &InvoiceId,
    now: DateTime<Utc>,
) -> Result<Invoice, UseCaseError> {
    let current = read(ports, account, invoice).await?;
    let waiting = current.value.latest().and_then(|attempt| {
        matches!(
            attempt.outcome,
            AttemptOutcome::Processing | AttemptOutcome::RequiresAuthorization
        )
        .then(|| attempt.payment.clone())
        .flatten()
    });
    let Some(payment) = waiting else {
        return Ok(deliver(ports, current, None, None, now).await);
    };
    let outcome = ports.gateway.charge_status(&payment).await?;
    apply_and_deliver(ports, current, Target::Payment(&payment), &outcome, now).await
}

async fn read(
    ports: Ports<'_>,
    account: &AccountId,
    invoice: &InvoiceId,
) -> Result<Versioned<Invoice>, UseCaseError> {
    ports
        .store
        .invoice(account, invoice)
        .await?
        .ok_or(UseCaseError::NotFound)
}

async fn apply_and_deliver(
    ports: Ports<'_>,
    current: Versioned<Invoice>,
    target: Target<'_>,
    outcome: &ChargeOutcome,
    now: DateTime<Utc>,
) -> Result<Invoice, UseCaseError> {
    match record(
        ports,
        current.clone(),
        target,
        Report::Network(outcome),
        now,
    )
    .await?
    {
        Some((recorded, claimed)) => Ok(deliver(ports, recorded, claimed, None, now).await),
        None => Ok(deliver(ports, current, None, None, now).await),
    }
}
