//! No purchase stuck in flight: the sweep resolves every purchase still unsettled after the
//! 15-minute window by asking the network, never by guessing, and sends receipts still owed.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Ports;
use super::create::charge_request;
use super::receipt::finish_receipt;
use super::settle::settle_purchase;
use crate::domain::ids::{AccountId, PurchaseId};
use crate::domain::purchase::Purchase;
use crate::ports::store::PurchaseStore;
use crate::rules::purchase::{PurchaseStatus, SETTLEMENT_WINDOW};
use crate::usecases::error::UseCaseError;

/// What a sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SweepSummary {
    /// Purchases visited.
    pub visited: u64,
    /// Settled as succeeded (and credited).
    pub succeeded: u64,
    /// Failed (declined, or canceled because nobody completed them).
    pub failed: u64,
    /// Still not final: the network would not let go of them yet; the next sweep asks again.
    pub unresolved: u64,
    /// Visits that failed (a dependency down); the next sweep visits them again.
    pub errors: u64,
}

/// Resolves one purchase: asks the network for its payment (sending the very same charge
/// again when its answer was never received: the network answers with the payment it made,
/// or makes it now), cancels it if it is not final, and settles the result. A settled
/// purchase only gets its owed receipt finished.
pub(crate) async fn resolve(
    ports: Ports<'_>,
    account: &AccountId,
    id: &PurchaseId,
    now: DateTime<Utc>,
) -> Result<Purchase, UseCaseError> {
    let current = ports
        .store
        .purchase(account, id)
        .await?
        .ok_or(UseCaseError::NotFound)?;
    if current.value.status.is_settled() {
        finish_receipt(ports, current, now).await;
        return super::settle::get_purchase(ports.store, account, id).await;
    }
    let purchase = current.value;
    let mut outcome = match &purchase.payment {
        Some(payment) => ports.gateway.charge_status(payment).await?,
        None => ports.gateway.charge(&charge_request(&purchase)).await?,
    };
    if !outcome.is_final()
        && let Some(payment) = outcome.payment().cloned()
    {
        outcome = ports.gateway.cancel_payment(&payment).await?;
    }
    settle_purchase(ports, account, id, &outcome, now).await
}

/// Visits every purchase the store lists as needing the sweep and started more than
/// [`SETTLEMENT_WINDOW`] before `now`, oldest first, a page at a time. One purchase's failure
/// is counted and logged, and the sweep goes on.
pub async fn sweep_purchases(
    ports: Ports<'_>,
    now: DateTime<Utc>,
) -> Result<SweepSummary, UseCaseError> {
    const PAGE: usize = 100;
    let started_before = now - SETTLEMENT_WINDOW;
    let mut summary = SweepSummary::default();
    let mut after = None;
    loop {
        let page = ports
            .store
            .unsettled_purchases(started_before, after.clone(), PAGE)
            .await?;
        for slot in &page.items {
            summary.visited += 1;
            match resolve(ports, &slot.account, &slot.purchase, now).await {
                Ok(purchase) => match purchase.status {
                    PurchaseStatus::Succeeded => summary.succeeded += 1,
                    PurchaseStatus::Failed => summary.failed += 1,
                    PurchaseStatus::Processing | PurchaseStatus::RequiresAction => {
                        summary.unresolved += 1;
                    }
                },
                Err(error) => {
                    summary.errors += 1;
                    tracing::warn!(account = %slot.account, purchase = %slot.purchase, %error, "sweep could not resolve a purchase");
                }
            }
        }
        after = page
            .items
            .last()
            .map(|slot| (slot.created_at, slot.account.clone()));
        if !page.has_more || after.is_none() {
            return Ok(summary);
        }
    }
}
