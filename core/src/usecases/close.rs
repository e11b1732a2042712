//! Closing one account's period: the invoice the monthly charge will collect.
//!
//! Read once, strongly consistent: the balance item (balance, version, usage totals by the
//! period they occurred in). Decide with the close rule. Write the invoice and the entry that
//! moves its amount off the balance in one transaction conditioned on the balance version, so
//! usage or a credit recorded between the read and the write makes the close read again
//! rather than invoice a stale amount. Nothing here reads an index or a ledger entry.

use chrono::{DateTime, Utc};

use crate::domain::ids::{AccountId, InvoiceId};
use crate::domain::invoice::{Invoice, InvoiceLine, InvoiceStatus};
use crate::domain::money::Currency;
use crate::ports::store::{DueMark, Expect, Record, Store, StoreError, Transaction, Write};
use crate::rules::ledger::{LedgerEntry, PeriodClose, STRIPE_MINIMUM_CHARGE};
use crate::rules::period::BillingPeriod;
use crate::usecases::error::UseCaseError;

/// Reads of the balance item one close makes at most while usage keeps moving it.
const ATTEMPTS: usize = 5;

/// What closing an account's period did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClosedPeriod {
    /// The period was closed now: `invoice` is set when there was an amount to invoice.
    Closed {
        /// The close rule's decision.
        close: PeriodClose,
        /// The invoice written, if any.
        invoice: Option<InvoiceId>,
    },
    /// The period's invoice exists: it was closed before, and nothing changed.
    AlreadyInvoiced(InvoiceId),
}

/// The invoice id of an account's period: one per period, so closing twice cannot bill twice.
pub fn invoice_id(period: BillingPeriod) -> InvoiceId {
    InvoiceId::parse(&format!("in_{:04}{:02}", period.year(), period.month()))
        .expect("in_ and six digits is an invoice id")
}

/// Closes `period` for `account` at `now`. An amount carried over (under the minimum charge,
/// or a sub-cent remainder) marks the account due for the next period, so that close visits it.
pub async fn close_account_period<S: Store + ?Sized>(
    store: &S,
    account: &AccountId,
    period: BillingPeriod,
    now: DateTime<Utc>,
) -> Result<ClosedPeriod, UseCaseError> {
    for _ in 0..ATTEMPTS {
        let state = store.balance(account).await?;
        let close = state.close(period, STRIPE_MINIMUM_CHARGE)?;
        let id = invoice_id(period);
        let mut transaction = Transaction::new();
        if close.has_invoice() {
            transaction.push(Write::Put {
                record: Record::Invoice(invoice(account, &id, period, &close, now)?),
                expect: Expect::Absent,
            });
            transaction.push(Write::Append {
                account: account.clone(),
                entries: vec![LedgerEntry::invoiced(&id, period, close.invoice, now)?],
                balance: match state.version {
                    0 => Expect::Absent,
                    version => Expect::Version(version),
                },
            });
        }
        if close.carried.is_positive() {
            transaction.push(Write::Put {
                record: Record::Due(DueMark {
                    account: account.clone(),
                    period: period.next(),
                }),
                expect: Expect::Any,
            });
        }
        if transaction.writes().is_empty() {
            return Ok(ClosedPeriod::Closed {
                close,
                invoice: None,
            });
        }
        match store.commit(transaction).await {
            Ok(()) => {
                let invoice = close.has_invoice().then_some(id);
                return Ok(ClosedPeriod::Closed { close, invoice });
            }
            // The invoice, or its entry, exists (a store may name either first).
            Err(StoreError::Conflict { index: 0 } | StoreError::EntriesExist { .. })
                if close.has_invoice() =>
            {
                return Ok(ClosedPeriod::AlreadyInvoiced(id));
            }
            // The balance moved since it was read: read it again.
            Err(StoreError::Conflict { index: 1 }) => continue,
            Err(other) => return Err(other.into()),
        }
    }
    Err(StoreError::Unavailable("the balance kept moving while the period closed".into()).into())
}

fn invoice(
    account: &AccountId,
    id: &InvoiceId,
    period: BillingPeriod,
    close: &PeriodClose,
    now: DateTime<Utc>,
) -> Result<Invoice, UseCaseError> {
    Ok(Invoice {
        id: id.clone(),
        account: account.clone(),
        period,
        status: InvoiceStatus::Open,
        currency: Currency::Usd,
        amount_due: close.invoice,
        amount_paid: crate::domain::money::Cents::ZERO,
        lines: vec![InvoiceLine {
            description: format!("Usage through {period}, after credits"),
            amount_micros: close.invoice.to_micros()?,
        }],
        attempts: vec![],
        authorization_url: None,
        created_at: now,
    })
}
