//! `GET /v1/billing`: what the dashboard shows about an account's billing.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::account::{Account, AccountStatus, StoredCard};
use crate::domain::ids::{AccountId, EmailAddress};
use crate::domain::money::{Cents, Currency};
use crate::ports::store::{
    AccountStore, Expect, InvoiceStore, PurchaseStore, Record, Store, StoreError, Transaction,
    Versioned, Write,
};
use crate::rules::ledger::BalanceView;
use crate::rules::period::next_charge_at;
use crate::rules::purchase::{PurchaseGate, purchase_gate};
use crate::usecases::card::needs_repair;
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
    /// A card change died on the account: the caller has
    /// [`repair_card_change`](crate::usecases::card::repair_card_change) bring the network
    /// back to the card shown.
    #[serde(skip)]
    pub card_repair_due: bool,
}

/// Reads the overview. An account never seen before is active with nothing on file.
///
/// The caller's address (`email`, the token's) is where the account's emails go: when the
/// account has none on record, or another one (the user changed it), it is recorded here, the
/// one route the dashboard calls on every visit, so that an invoice's email reaches a user who
/// never added a card (the email asking for one) and follows a changed address. That is the
/// only write, and only then.
pub async fn billing_overview<S: Store + ?Sized>(
    store: &S,
    account: &AccountId,
    email: Option<&EmailAddress>,
    now: DateTime<Utc>,
) -> Result<BillingOverview, UseCaseError> {
    let read = store.account(account).await?;
    if let Some(email) = email {
        remember_address(store, account, read.as_ref(), email, now).await?;
    }
    let record = read.map(|v| v.value);
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
            card_repair_due: false,
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
    let latest = slot.map(|s| (s.status, s.created_at));
    // A purchase that succeeded is settled, even while the burst guard still refuses another.
    let unsettled = latest.is_some_and(|(status, _)| !status.is_settled());
    let gate = purchase_gate(latest, now);

    Ok(BillingOverview {
        account_id: account.clone(),
        status: record.as_ref().map_or(AccountStatus::Active, |a| a.status),
        past_due,
        card: record.as_ref().and_then(|a| a.card.clone()),
        credits: view.credits,
        outstanding: view.uninvoiced.checked_add(unpaid)?,
        currency: Currency::Usd,
        next_charge_at: next_charge_at(now),
        purchase_in_flight: unsettled && matches!(gate, PurchaseGate::InFlight { .. }),
        card_repair_due: record.as_ref().is_some_and(|a| needs_repair(a, now)),
    })
}

/// Records `email` as the account's address when it has none or another one (see
/// [`billing_overview`]). A deleted account, or one being deleted, is left alone (its address
/// is erased, or kept for the confirmation), and so is one whose card is changing. A
/// concurrent write wins: the next visit records the address then.
async fn remember_address<S: Store + ?Sized>(
    store: &S,
    account: &AccountId,
    read: Option<&Versioned<Account>>,
    email: &EmailAddress,
    now: DateTime<Utc>,
) -> Result<(), UseCaseError> {
    let (next, expect) = match read {
        None => (
            Account::new(account.clone(), Some(email.clone()), now),
            Expect::Absent,
        ),
        Some(current) if current.value.status != AccountStatus::Active => return Ok(()),
        // A card change holds the record (its writes are conditioned on its version): the
        // next visit records the address.
        Some(current) if current.value.card_change.is_some() => return Ok(()),
        Some(current) if current.value.email.as_ref() == Some(email) => return Ok(()),
        Some(current) => {
            let mut next = current.value.clone();
            next.email = Some(email.clone());
            (next, Expect::Version(current.version))
        }
    };
    let write = Transaction::new().with(Write::Put {
        record: Record::Account(next),
        expect,
    });
    match store.commit(write).await {
        Ok(()) | Err(StoreError::Conflict { .. }) => Ok(()),
        Err(error) => Err(error.into()),
    }
}
