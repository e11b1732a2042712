//! Closing one account's period: the invoice the monthly charge will collect.
//!
//! Read once, strongly consistent: the balance item (balance, version, usage totals by the
//! period they occurred in). Decide with the close rule. Write the invoice and the entry that
//! moves its amount off the balance in one transaction conditioned on the balance version, so
//! usage or a credit recorded between the read and the write makes the close read again
//! rather than invoice a stale amount. Nothing here reads an index or a ledger entry.

use chrono::{DateTime, Utc};

use crate::domain::ids::{AccountId, InvoiceId};
use crate::domain::invoice::{Invoice, InvoiceStatus};
use crate::domain::money::{Cents, Currency, Micros};
use crate::ports::store::{DueMark, Expect, Record, Store, StoreError, Transaction, Write};
use crate::rules::ledger::{
    BalanceState, LedgerEntry, PeriodClose, STRIPE_MINIMUM_CHARGE, invoice_lines,
};
use crate::rules::period::BillingPeriod;
use crate::usecases::error::UseCaseError;

/// Reads of the balance item one close makes at most while usage keeps moving it.
pub(crate) const ATTEMPTS: usize = 5;

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

/// A close decided from a balance item: the rule's decision, the invoice to write (when there
/// is an amount), and the writes that record it (see [`Closing::transaction`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Closing {
    /// The close rule's decision.
    pub close: PeriodClose,
    /// The invoice, `Open` and without attempts, when there is an amount to invoice.
    pub invoice: Option<Invoice>,
}

impl Closing {
    /// Decides the close of `period` from the account's balance item read at `now`.
    pub fn decide(
        account: &AccountId,
        period: BillingPeriod,
        state: &BalanceState,
        now: DateTime<Utc>,
    ) -> Result<Self, UseCaseError> {
        let close = state.close(period, STRIPE_MINIMUM_CHARGE)?;
        let invoice = match close.has_invoice() {
            true => Some(Invoice {
                id: invoice_id(period),
                account: account.clone(),
                period,
                status: InvoiceStatus::Open,
                currency: Currency::Usd,
                amount_due: close.invoice,
                amount_paid: Cents::ZERO,
                lines: invoice_lines(
                    period,
                    state.usage.get(&period).copied().unwrap_or(Micros::ZERO),
                    &close,
                )?,
                attempts: vec![],
                retry_at: Vec::new(),
                next_payment_attempt: None,
                created_at: now,
            }),
            false => None,
        };
        Ok(Self { close, invoice })
    }

    /// The writes: the invoice (write 0, on its absence) and the entry moving its amount off
    /// the balance (write 1: on the balance version read when `pinned`, else on nothing).
    /// Empty when there is nothing to invoice; the caller adds [`carry_over`] when an amount
    /// carries over.
    ///
    /// Pinned, anything recorded since the read (usage of the new month, a late usage event,
    /// a credit) makes the close read again and decide on fresh totals. Unpinned, the amount
    /// decided is invoiced all the same, and the ledger stays exact: the entry moves that
    /// amount off the balance, and whatever arrived meanwhile stays on it for the next close
    /// (a late event is due with the month it arrived in; a credit pays the next invoice).
    /// The charge unpins its last tries, so an account recording usage many times a second
    /// is still invoiced on the 3rd.
    pub fn transaction(
        &self,
        state: &BalanceState,
        pinned: bool,
        now: DateTime<Utc>,
    ) -> Result<Transaction, UseCaseError> {
        let mut transaction = Transaction::new();
        if let Some(invoice) = &self.invoice {
            let entry =
                LedgerEntry::invoiced(&invoice.id, invoice.period, invoice.amount_due, now)?;
            transaction.push(Write::Put {
                record: Record::Invoice(invoice.clone()),
                expect: Expect::Absent,
            });
            transaction.push(Write::Append {
                account: invoice.account.clone(),
                entries: vec![entry],
                balance: match (pinned, state.version) {
                    (false, _) => Expect::Any,
                    (true, 0) => Expect::Absent,
                    (true, version) => Expect::Version(version),
                },
            });
        }
        Ok(transaction)
    }
}

/// The due mark that makes the next period's close visit an account whose amount carried over.
pub(crate) fn carry_over(account: &AccountId, period: BillingPeriod) -> Write {
    Write::Put {
        record: Record::Due(DueMark {
            account: account.clone(),
            period: period.next(),
        }),
        expect: Expect::Any,
    }
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
        let closing = Closing::decide(account, period, &state, now)?;
        let mut transaction = closing.transaction(&state, true, now)?;
        if closing.close.carried.is_positive() {
            transaction.push(carry_over(account, period));
        }
        if transaction.writes().is_empty() {
            return Ok(ClosedPeriod::Closed {
                close: closing.close,
                invoice: None,
            });
        }
        let invoice = closing.invoice.as_ref().map(|i| i.id.clone());
        match store.commit(transaction).await {
            Ok(()) => {
                return Ok(ClosedPeriod::Closed {
                    close: closing.close,
                    invoice,
                });
            }
            // The invoice, or its entry, exists (a store may name either first).
            Err(StoreError::Conflict { index: 0 } | StoreError::EntriesExist { .. })
                if invoice.is_some() =>
            {
                return Ok(ClosedPeriod::AlreadyInvoiced(invoice_id(period)));
            }
            // The balance moved since it was read: read it again.
            Err(StoreError::Conflict { index: 1 }) => continue,
            Err(other) => return Err(other.into()),
        }
    }
    Err(StoreError::Unavailable("the balance kept moving while the period closed".into()).into())
}
