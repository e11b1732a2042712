//! Step 3 of a deletion: nothing is owed any more; the network forgets the customer, the
//! store forgets the person, and the books stay whole.

use chrono::{DateTime, Utc};

use super::Ports;
use super::collect::advance;
use crate::domain::account::{Account, AccountStatus, DeletionStep};
use crate::domain::ids::AccountId;
use crate::domain::invoice::{Invoice, Notice};
use crate::domain::money::Micros;
use crate::ports::gateway::GatewayError;
use crate::ports::store::{
    AccountStore, Expect, InvoiceStore, Record, StoreError, Transaction, Write,
};
use crate::rules::ledger::{EntryId, EntryKind, LedgerEntry};
use crate::usecases::error::UseCaseError;
use crate::usecases::invoice::charge::update;

/// Records erased per page read.
const PAGE: usize = 100;

/// Detaches every card, deletes the customer, erases the account's records and closes its
/// balance; then empties the account record of personal data and marks it deleted, claiming
/// the confirmation email in the same write. Every part finds its work done when run again.
pub(super) async fn erase(
    ports: Ports<'_>,
    current: crate::ports::store::Versioned<Account>,
    now: DateTime<Utc>,
) -> Result<crate::ports::store::Versioned<Account>, UseCaseError> {
    let account = &current.value;
    let started_at = account
        .deletion
        .as_ref()
        .map_or(now, |deletion| deletion.started_at);
    if let Some(customer) = &account.customer {
        match ports.gateway.customer_cards(customer).await {
            Ok(cards) => {
                for card in &cards.attached {
                    ports.gateway.detach(&card.id).await?;
                }
            }
            // Deleted by a run that stopped before recording it.
            Err(GatewayError::NotFound(_)) => {}
            Err(error) => return Err(error.into()),
        }
        ports.gateway.delete_customer(customer).await?;
    }
    erase_records(ports, &account.id).await?;
    let closed = close_balance(ports, &account.id, started_at, now).await?;
    advance(ports, current, |account| {
        account.status = AccountStatus::Deleted;
        account.email = None;
        account.customer = None;
        account.card = None;
        account.card_change = None;
        if let Some(deletion) = account.deletion.as_mut() {
            deletion.step = DeletionStep::Done;
            deletion.forfeited = closed.checked_neg().unwrap_or(Micros::ZERO).clamp_at_zero();
            deletion.written_off = closed.clamp_at_zero();
            deletion.notice = match deletion.email {
                Some(_) => Notice::Sending { since: now },
                None => Notice::Unaddressed,
            };
        }
    })
    .await
}

/// Erases every record of the account but the account itself and its refused usage: invoices
/// are kept without any Stripe id (amounts, lines, dates and outcomes stay); purchases, the
/// purchase slot, idempotency records, due marks and handled events are deleted (the ledger
/// keeps every credit a purchase made).
async fn erase_records(ports: Ports<'_>, account: &AccountId) -> Result<(), UseCaseError> {
    let mut after = None;
    loop {
        let page = ports.store.account_records(account, after, PAGE).await?;
        for record in &page.items {
            match record {
                Record::Account(_) | Record::RefusedUsage(_) => {}
                Record::Invoice(invoice) => {
                    let Some(current) = ports.store.invoice(account, &invoice.id).await? else {
                        continue;
                    };
                    update(ports, current, anonymised).await?;
                }
                Record::Purchase(_)
                | Record::PurchaseSlot(_)
                | Record::Idempotency(_)
                | Record::Due(_)
                | Record::Event(_) => {
                    let delete = Transaction::new().with(Write::Delete {
                        key: record.key(),
                        expect: Expect::Any,
                    });
                    ports.store.commit(delete).await?;
                }
            }
        }
        after = match page.items.last() {
            Some(last) if page.has_more => Some(last.key()),
            _ => return Ok(()),
        };
    }
}

/// The invoice without anything that names the customer at the network (card, payment,
/// client secret); `None` when it has none left.
pub(crate) fn anonymised(invoice: &Invoice) -> Option<Invoice> {
    let named = invoice
        .attempts
        .iter()
        .any(|a| a.payment_method.is_some() || a.payment.is_some() || a.client_secret.is_some());
    if !named {
        return None;
    }
    let mut next = invoice.clone();
    for attempt in &mut next.attempts {
        attempt.payment_method = None;
        attempt.payment = None;
        attempt.client_secret = None;
    }
    Some(next)
}

/// Closes the balance to zero with one adjustment, named by the deletion so it is made once:
/// credits left are forfeited (a negative adjustment), an amount owed but too small to charge
/// is written off (a positive one). Returns the adjustment's amount, as first recorded.
async fn close_balance(
    ports: Ports<'_>,
    account: &AccountId,
    started_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Micros, UseCaseError> {
    let id = EntryId::adjustment(&format!("deletion-{}", started_at.timestamp_micros()));
    for _ in 0..super::ATTEMPTS {
        let state = ports.store.balance(account).await?;
        let amount = state.amount.checked_neg()?;
        let description = match state.amount.get().signum() {
            1 => "Account deleted: credits left forfeited",
            -1 => "Account deleted: amount too small to charge written off",
            _ => "Account deleted: balance closed",
        };
        let entry = LedgerEntry {
            id: id.clone(),
            kind: EntryKind::Adjustment,
            amount,
            effective_at: now,
            description: description.to_owned(),
        };
        let append = Transaction::new().with(Write::Append {
            account: account.clone(),
            entries: vec![entry],
            balance: match state.version {
                0 => Expect::Absent,
                version => Expect::Version(version),
            },
        });
        match ports.store.commit(append).await {
            Ok(()) => return Ok(amount),
            Err(StoreError::EntriesExist { existing, .. }) => {
                return Ok(existing.first().map_or(amount, |e| e.entry.amount));
            }
            // A usage event that raced the start of the deletion moved the balance.
            Err(StoreError::Conflict { .. }) => continue,
            Err(error) => return Err(error.into()),
        }
    }
    Err(UseCaseError::ConcurrentUpdate)
}
