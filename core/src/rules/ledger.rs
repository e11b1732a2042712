//! The ledger: every movement of an account's balance, and the rules that read it.
//!
//! The balance is one signed number in micro-units: credit purchases and adjustments raise it,
//! usage lowers it (it may go below zero), and an invoice raises it by the amount moved onto
//! the invoice (from then on the invoice, not the balance, carries that debt and its payment).
//! Each entry has a deterministic id derived from what caused it, so a store that refuses a
//! second entry with the same id makes every cause count exactly once.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::ids::{InvoiceId, PurchaseId, UsageEventId};
use crate::domain::money::{Cents, Micros};
use crate::error::MoneyError;
use crate::rules::period::BillingPeriod;

/// Stripe's minimum charge for USD; smaller amounts carry over to the next period.
pub const STRIPE_MINIMUM_CHARGE: Cents = Cents::new(50);

/// What moved the balance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A settled credit purchase (positive).
    CreditPurchase,
    /// Metered usage (negative).
    Usage,
    /// Debt moved onto an invoice when a period closed (positive).
    Invoiced,
    /// A manual correction by staff, or a write-off (either sign).
    Adjustment,
}

/// The deterministic id of a ledger entry: one per cause.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EntryId(String);

impl EntryId {
    /// The entry for a usage event.
    pub fn usage(event: &UsageEventId) -> Self {
        Self(format!("usage:{event}"))
    }

    /// The entry for a settled credit purchase.
    pub fn purchase(purchase: &PurchaseId) -> Self {
        Self(format!("purchase:{purchase}"))
    }

    /// The entry moving a period's debt onto its invoice.
    pub fn invoice(invoice: &InvoiceId) -> Self {
        Self(format!("invoice:{invoice}"))
    }

    /// An adjustment, named by whoever makes it.
    pub fn adjustment(reference: &str) -> Self {
        Self(format!("adjustment:{reference}"))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One movement of the balance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// Deterministic id (see [`EntryId`]).
    pub id: EntryId,
    /// What moved the balance.
    pub kind: EntryKind,
    /// Signed effect on the balance.
    pub amount: Micros,
    /// When it happened (usage: `occurred_at`; others: when recorded).
    pub effective_at: DateTime<Utc>,
    /// A line a person can read.
    pub description: String,
}

impl LedgerEntry {
    /// A usage entry; `amount_micros` is the positive cost, stored as a negative movement.
    pub fn usage(
        event: &UsageEventId,
        amount_micros: Micros,
        occurred_at: DateTime<Utc>,
        description: impl Into<String>,
    ) -> Result<Self, MoneyError> {
        Ok(Self {
            id: EntryId::usage(event),
            kind: EntryKind::Usage,
            amount: amount_micros.checked_neg()?,
            effective_at: occurred_at,
            description: description.into(),
        })
    }

    /// A settled credit purchase.
    pub fn credit_purchase(
        purchase: &PurchaseId,
        amount: Cents,
        settled_at: DateTime<Utc>,
    ) -> Result<Self, MoneyError> {
        Ok(Self {
            id: EntryId::purchase(purchase),
            kind: EntryKind::CreditPurchase,
            amount: amount.to_micros()?,
            effective_at: settled_at,
            description: format!("Credit purchase {purchase}"),
        })
    }

    /// The movement of a closed period's debt onto its invoice.
    pub fn invoiced(
        invoice: &InvoiceId,
        period: BillingPeriod,
        amount: Cents,
        at: DateTime<Utc>,
    ) -> Result<Self, MoneyError> {
        Ok(Self {
            id: EntryId::invoice(invoice),
            kind: EntryKind::Invoiced,
            amount: amount.to_micros()?,
            effective_at: at,
            description: format!("Invoiced {invoice} for {period}"),
        })
    }
}

/// The balance after a set of entries.
pub fn balance(entries: &[LedgerEntry]) -> Result<Micros, MoneyError> {
    Micros::checked_sum(entries.iter().map(|e| e.amount))
}

/// The balance split for display: credits available and debt not yet invoiced, in whole cents
/// by the crate's rounding rule (toward zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BalanceView {
    /// Prepaid credit left, zero when the balance is negative.
    pub credits: Cents,
    /// Usage not yet invoiced and not covered by credit, zero when the balance is positive.
    pub uninvoiced: Cents,
}

impl BalanceView {
    /// Splits a signed balance.
    pub fn of(balance: Micros) -> Result<Self, MoneyError> {
        Ok(Self {
            credits: balance.clamp_at_zero().whole_cents(),
            uninvoiced: balance.checked_neg()?.clamp_at_zero().whole_cents(),
        })
    }
}

/// What closing a period decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeriodClose {
    /// Everything owed for usage up to the end of the period, after every credit, adjustment
    /// and earlier invoice recorded so far.
    pub owed: Micros,
    /// The amount to invoice and charge: whole cents, at least the minimum charge, or zero.
    pub invoice: Cents,
    /// What stays on the balance and carries into the next period (`owed - invoice`):
    /// a sub-cent remainder, or the whole of an amount under the minimum charge.
    pub carried: Micros,
}

impl PeriodClose {
    /// True when there is something to invoice.
    pub fn has_invoice(&self) -> bool {
        self.invoice.is_positive()
    }
}

/// **The close rule**, from aggregates: `balance_now` is the running balance of every entry
/// recorded so far; `usage_after_end` is the (positive) sum of usage that occurred at or after
/// the period's end and so belongs to later periods. Credits bought after the period closed but
/// before the charge runs do pay for it: the user sees one balance, and it is what is charged.
pub fn close_from_totals(
    balance_now: Micros,
    usage_after_end: Micros,
    minimum_charge: Cents,
) -> Result<PeriodClose, MoneyError> {
    let basis = balance_now.checked_add(usage_after_end)?;
    let owed = basis.checked_neg()?.clamp_at_zero();
    let split = owed.split_cents();
    let invoice = if split.cents >= minimum_charge && split.cents.is_positive() {
        split.cents
    } else {
        Cents::ZERO
    };
    let carried = owed.checked_sub(invoice.to_micros()?)?;
    Ok(PeriodClose {
        owed,
        invoice,
        carried,
    })
}

/// The close rule over the entries themselves.
pub fn close_period(
    entries: &[LedgerEntry],
    period: BillingPeriod,
    minimum_charge: Cents,
) -> Result<PeriodClose, MoneyError> {
    let end = period.end();
    let usage_after_end = Micros::checked_sum(
        entries
            .iter()
            .filter(|e| e.kind == EntryKind::Usage && e.effective_at >= end)
            .map(|e| e.amount),
    )?
    .checked_neg()?;
    close_from_totals(balance(entries)?, usage_after_end, minimum_charge)
}

#[cfg(test)]
mod tests;
