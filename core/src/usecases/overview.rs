//! `GET /v1/billing`: what the dashboard shows about an account's billing.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::account::{AccountStatus, StoredCard};
use crate::domain::ids::AccountId;
use crate::domain::money::{Cents, Currency};
use crate::ports::store::{AccountStore, InvoiceStore, PurchaseStore, Store};
use crate::rules::ledger::BalanceView;
use crate::rules::period::next_charge_at;
use crate::rules::purchase::{PurchaseGate, purchase_gate};
use crate::usecases::error::UseCaseError;

/// An account's billing at a glance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BillingOverview {
    /// The account.
    pub account_id: AccountId,
    /// Lifecycle.
    pub status: AccountStatus,
    /// Whether an invoice awaits the user: authorization, or payment after a failed charge.
    pub past_due: bool,
    /// The card on file.
    pub card: Option<StoredCard>,
    /// Prepaid credit left.
    pub credits: Cents,
    /// What is owed: usage not covered by credit plus unpaid invoices.
    pub outstanding: Cents,
    /// Currency of both.
    pub currency: Currency,
    /// When the next monthly charge runs.
    pub next_charge_at: DateTime<Utc>,
    /// Whether a credit purchase is in flight.
    pub purchase_in_flight: bool,
}

/// Reads the overview. An account never seen before is active with nothing on file; reading
/// writes nothing.
pub async fn billing_overview<S: Store + ?Sized>(
    store: &S,
    account: &AccountId,
    now: DateTime<Utc>,
) -> Result<BillingOverview, UseCaseError> {
    let record = store.account(account).await?.map(|v| v.value);
    if record
        .as_ref()
        .is_some_and(|a| a.status == AccountStatus::Deleted)
    {
        // A deleted account's old token learns that it is deleted, and nothing else: no
        // card, no amounts (its invoices and ledger are kept, but not shown to it).
        return Ok(BillingOverview {
            account_id: account.clone(),
            status: AccountStatus::Deleted,
            past_due: false,
            card: None,
            credits: Cents::ZERO,
            outstanding: Cents::ZERO,
            currency: Currency::Usd,
            next_charge_at: next_charge_at(now),
            purchase_in_flight: false,
        });
    }
    let view = BalanceView::of(store.balance(account).await?.amount)?;

    let mut unpaid = Cents::ZERO;
    let mut past_due = false;
    let mut cursor = None;
    loop {
        let page = store.invoices(account, cursor, 100).await?;
        for invoice in page.items.iter().filter(|i| i.status.is_unpaid()) {
            unpaid = unpaid.checked_add(invoice.amount_due.checked_sub(invoice.amount_paid)?)?;
            past_due |= invoice.is_past_due();
        }
        cursor = match page.items.last() {
            Some(last) if page.has_more => Some(last.id.clone()),
            _ => break,
        };
    }

    let slot = store.purchase_slot(account).await?.map(|v| v.value);
    let gate = purchase_gate(slot.map(|s| (s.status, s.created_at)), now);

    Ok(BillingOverview {
        account_id: account.clone(),
        status: record.as_ref().map_or(AccountStatus::Active, |a| a.status),
        past_due,
        card: record.and_then(|a| a.card),
        credits: view.credits,
        outstanding: view.uninvoiced.checked_add(unpaid)?,
        currency: Currency::Usd,
        next_charge_at: next_charge_at(now),
        purchase_in_flight: matches!(gate, PurchaseGate::InFlight { .. }),
    })
}
