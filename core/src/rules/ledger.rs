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
use crate::domain::invoice::InvoiceLine;
use crate::domain::money::{Cents, Micros};
use crate::error::MoneyError;
use crate::rules::period::BillingPeriod;

mod state;

pub use state::{BalanceMove, BalanceState, DUE_SHARDS, LEDGER_LIMIT, due_periods, due_shard};

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

/// How a period's invoice is made up, in micro-units adding up to its whole cents: the
/// period's usage (`usage`, the period's usage as a positive amount owed), what credits or an
/// earlier balance changed of it, and what carries over. Lines of zero are left out, so a close
/// that invoices nothing has no lines.
pub fn invoice_lines(
    period: BillingPeriod,
    usage: Micros,
    close: &PeriodClose,
) -> Result<Vec<InvoiceLine>, MoneyError> {
    let month = |p: BillingPeriod| p.start().format("%B %Y").to_string();
    let lines = [
        (format!("Usage in {}", month(period)), usage),
        (
            "Credits and earlier balance".to_owned(),
            close.owed.checked_sub(usage)?,
        ),
        (
            format!(
                "Carried over to {} (less than a cent, or under the minimum charge)",
                month(period.next())
            ),
            close.carried.checked_neg()?,
        ),
    ];
    Ok(lines
        .into_iter()
        .filter(|(_, amount)| *amount != Micros::ZERO)
        .map(|(description, amount_micros)| InvoiceLine {
            description,
            amount_micros,
        })
        .collect())
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

/// [`close_period`] prepared once for one period and minimum charge, for closing many ledgers
/// whose entries come as `(kind, amount, effective_at)` with `effective_at` in integer
/// microseconds since the Unix epoch (batch inputs such as the Python binding's columns).
///
/// It is the same rule, not a second one: the period's end is computed once and instants are
/// compared as integers, then [`close_from_totals`] decides. For entries whose `effective_at`
/// is `DateTime::from_timestamp_micros(t)`, [`PeriodCloser::close`] returns exactly what
/// [`close_period`] returns, errors included (a property test below checks this).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeriodCloser {
    /// `period.end()` in microseconds since the Unix epoch.
    end_micros: i64,
    minimum_charge: Cents,
}

impl PeriodCloser {
    /// The close rule for `period` with `minimum_charge` (see [`close_period`]).
    pub fn new(period: BillingPeriod, minimum_charge: Cents) -> Self {
        Self {
            end_micros: period.end().timestamp_micros(),
            minimum_charge,
        }
    }

    /// The close rule over one ledger's `(kind, amount, effective_at_micros)` entries.
    pub fn close(
        &self,
        entries: impl IntoIterator<Item = (EntryKind, Micros, i64)>,
    ) -> Result<PeriodClose, MoneyError> {
        let mut balance_now = Micros::ZERO;
        let mut usage_after_end = Micros::ZERO;
        for (kind, amount, effective_at_micros) in entries {
            balance_now = balance_now.checked_add(amount)?;
            // Adding zero for every other entry (rather than branching) keeps a loop over many
            // entries free of unpredictable branches; adding zero cannot overflow.
            let after_end = (kind == EntryKind::Usage) & (effective_at_micros >= self.end_micros);
            usage_after_end = usage_after_end.checked_add(std::hint::select_unpredictable(
                after_end,
                amount,
                Micros::ZERO,
            ))?;
        }
        close_from_totals(
            balance_now,
            usage_after_end.checked_neg()?,
            self.minimum_charge,
        )
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod period_closer_tests {
    use proptest::prelude::*;

    use super::*;

    fn kind() -> impl Strategy<Value = EntryKind> {
        prop_oneof![
            Just(EntryKind::CreditPurchase),
            Just(EntryKind::Usage),
            Just(EntryKind::Invoiced),
            Just(EntryKind::Adjustment),
        ]
    }

    /// Everyday amounts, and amounts near the ends of the range so overflows happen too.
    fn amount() -> impl Strategy<Value = i64> {
        prop_oneof![
            4 => -50_000_000i64..50_000_000,
            1 => any::<i64>(),
            1 => prop_oneof![Just(i64::MIN), Just(i64::MAX), Just(i64::MIN + 1), Just(i64::MAX / 2 + 1)],
        ]
    }

    /// An instant as micros: near the period's end (either side, to the microsecond), or
    /// anywhere chrono can represent.
    fn at(end_micros: i64) -> impl Strategy<Value = i64> {
        let min = DateTime::<Utc>::MIN_UTC.timestamp_micros();
        let max = DateTime::<Utc>::MAX_UTC.timestamp_micros();
        prop_oneof![
            3 => (-3i64..3).prop_map(move |d| end_micros + d),
            3 => (-40 * 86_400_000_000i64..40 * 86_400_000_000).prop_map(move |d| end_micros + d),
            1 => min..=max,
        ]
    }

    fn ledger() -> impl Strategy<Value = (BillingPeriod, i64, Vec<(EntryKind, i64, i64)>)> {
        (1970i32..=9998, 1u32..=12, -100i64..1_000).prop_flat_map(|(year, month, minimum)| {
            let period = BillingPeriod::new(year, month).expect("a valid period");
            let end = period.end().timestamp_micros();
            (
                Just(period),
                Just(minimum),
                prop::collection::vec((kind(), amount(), at(end)), 0..12),
            )
        })
    }

    #[test]
    fn usage_from_the_period_end_on_is_left_for_later_to_the_microsecond() {
        let period = BillingPeriod::new(2026, 10).expect("a valid period");
        let end = period.end().timestamp_micros();
        let closer = PeriodCloser::new(period, STRIPE_MINIMUM_CHARGE);
        let close_with_usage_at = |at| {
            closer
                .close([(EntryKind::Usage, Micros::new(-1_000_000), at)])
                .expect("in range")
        };
        assert_eq!(close_with_usage_at(end - 1).owed, Micros::new(1_000_000));
        assert_eq!(close_with_usage_at(end).owed, Micros::ZERO);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2_048, ..ProptestConfig::default() })]

        #[test]
        fn period_closer_equals_close_period(
            (period, minimum, rows) in ledger()
        ) {
            let minimum = Cents::new(minimum);
            let entries: Vec<LedgerEntry> = rows
                .iter()
                .enumerate()
                .map(|(n, &(kind, amount, at))| LedgerEntry {
                    id: EntryId::adjustment(&n.to_string()),
                    kind,
                    amount: Micros::new(amount),
                    effective_at: DateTime::from_timestamp_micros(at).expect("in range"),
                    description: String::new(),
                })
                .collect();
            let closer = PeriodCloser::new(period, minimum);
            prop_assert_eq!(
                closer.close(rows.iter().map(|&(kind, amount, at)| (kind, Micros::new(amount), at))),
                close_period(&entries, period, minimum)
            );
        }
    }
}
