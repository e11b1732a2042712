//! `reconcile`: the ledger's credit purchases and invoice payments matched against a Stripe
//! export of PaymentIntents, every difference reported as a typed row.
//!
//! Rows match on (account, reference): the functions put `account_id` and `reference` (the
//! `cp_…` purchase or `in_…` invoice id; invoice ids repeat across accounts) in the metadata of
//! every PaymentIntent they create. Only `succeeded` PaymentIntents are payments: a declined
//! or cancelled attempt paid nothing, so it is no difference by itself.

use std::collections::HashMap;

use pyo3::prelude::*;
use pyo3::types::PyTuple;

use self::rows::{LedgerRow, StripeRow};
use super::py_repr;

mod rows;

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyDifference>()?;
    m.add_function(wrap_pyfunction!(reconcile, m)?)?;
    m.add("DIFFERENCE_KINDS", PyTuple::new(m.py(), DIFFERENCE_KINDS)?)?;
    Ok(())
}

/// Every `Difference.kind`, in the order differences of one reference are reported.
const DIFFERENCE_KINDS: [&str; 7] = [
    "payment_without_reference",
    "duplicate_credit",
    "duplicate_payment",
    "paid_not_credited",
    "credited_not_paid",
    "currency_differs",
    "amount_differs",
];

/// One difference between the ledger and Stripe. Amounts are minor units (cents); a side
/// with no row has None.
#[pyclass(frozen, eq, get_all, name = "Difference", module = "billing_rules")]
#[derive(Clone, PartialEq)]
pub(crate) struct PyDifference {
    /// One of `DIFFERENCE_KINDS`.
    kind: &'static str,
    /// The account, None for a payment without our metadata.
    account_id: Option<String>,
    /// The `cp_…` or `in_…` id, None for a payment without our metadata.
    reference: Option<String>,
    /// What the ledger records for the reference (the sum, when duplicated).
    ledger_amount: Option<i64>,
    /// What Stripe collected for the reference (the sum, when duplicated).
    stripe_amount: Option<i64>,
    /// The ledger row's currency.
    ledger_currency: Option<String>,
    /// The succeeded payments' currency.
    stripe_currency: Option<String>,
    /// The PaymentIntents concerned (for `credited_not_paid`: those not succeeded, if any).
    payment_ids: Vec<String>,
}

#[pymethods]
impl PyDifference {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        py_repr(
            "Difference",
            &[
                ("kind", self.kind.into_pyobject(py)?.into_any()),
                (
                    "account_id",
                    self.account_id.clone().into_pyobject(py)?.into_any(),
                ),
                (
                    "reference",
                    self.reference.clone().into_pyobject(py)?.into_any(),
                ),
                (
                    "ledger_amount",
                    self.ledger_amount.into_pyobject(py)?.into_any(),
                ),
                (
                    "stripe_amount",
                    self.stripe_amount.into_pyobject(py)?.into_any(),
                ),
                (
                    "ledger_currency",
                    self.ledger_currency.clone().into_pyobject(py)?.into_any(),
                ),
                (
                    "stripe_currency",
                    self.stripe_currency.clone().into_pyobject(py)?.into_any(),
                ),
                (
                    "payment_ids",
                    self.payment_ids.clone().into_pyobject(py)?.into_any(),
                ),
            ],
        )
    }
}

/// What rows match on: (account, reference).
type Key<'a> = (&'a str, &'a str);

/// The PaymentIntent ids of one reference, in the order of the export.
#[derive(Default)]
struct Attempts {
    paid: Vec<String>,
    unpaid: Vec<String>,
}

/// What one (account, reference) has on each side: counts, sums and the first row of each,
/// so that grouping a million rows allocates nothing per row.
#[derive(Default)]
struct Sides {
    ledger_rows: usize,
    ledger_sum: i64,
    first_ledger: usize,
    paid_rows: usize,
    paid_sum: i64,
    first_paid: usize,
}

/// The matching: every difference, in order of account, then reference. Rows are grouped by
/// hash; only the (few) references that differ are sorted, and their payment ids gathered.
fn differences(ledger: &[LedgerRow], stripe: &[StripeRow]) -> Vec<PyDifference> {
    let mut out = Vec::new();
    let mut by_key: HashMap<Key<'_>, Sides> = HashMap::with_capacity(ledger.len());
    for (i, row) in ledger.iter().enumerate() {
        let sides = by_key.entry((&row.account, &row.reference)).or_default();
        if sides.ledger_rows == 0 {
            sides.first_ledger = i;
        }
        sides.ledger_rows += 1;
        // Amounts are at most `AMOUNT_LIMIT`, so any number of rows a machine can hold sums
        // within int64.
        sides.ledger_sum += row.amount;
    }
    for (i, row) in stripe.iter().enumerate() {
        match (&row.key, row.succeeded) {
            (Some((account, reference)), true) => {
                let sides = by_key.entry((account, reference)).or_default();
                if sides.paid_rows == 0 {
                    sides.first_paid = i;
                }
                sides.paid_rows += 1;
                sides.paid_sum += row.amount;
            }
            (None, true) => out.push(PyDifference {
                kind: "payment_without_reference",
                account_id: None,
                reference: None,
                ledger_amount: None,
                stripe_amount: Some(row.amount),
                ledger_currency: None,
                stripe_currency: Some(row.currency.as_str().to_owned()),
                payment_ids: vec![row.id.clone()],
            }),
            // A payment that did not succeed matters only as the attempt behind a credit
            // never paid: gathered below, for those.
            (_, false) => {}
        }
    }
    let mut differing: Vec<(Key<'_>, Vec<&'static str>, &Sides)> = by_key
        .iter()
        .filter_map(|(&key, sides)| {
            let kinds = kinds(ledger, stripe, sides);
            (!kinds.is_empty()).then_some((key, kinds, sides))
        })
        .collect();
    // Each key is there once, so the unstable sort gives the one order.
    differing.sort_unstable_by_key(|(key, _, _)| *key);
    // The payment ids of the references that differ, in the order of the export: those that
    // succeeded, and those that did not (reported for a credit never paid).
    let mut ids: HashMap<Key<'_>, Attempts> = differing
        .iter()
        .map(|(key, _, _)| (*key, Attempts::default()))
        .collect();
    for row in stripe {
        if let Some((account, reference)) = &row.key
            && let Some(attempts) = ids.get_mut(&(account.as_str(), reference.as_str()))
        {
            match row.succeeded {
                true => attempts.paid.push(row.id.clone()),
                false => attempts.unpaid.push(row.id.clone()),
            }
        }
    }
    for ((account, reference), kinds, sides) in differing {
        let Attempts { paid, unpaid } = &ids[&(account, reference)];
        for kind in kinds {
            let has_ledger = sides.ledger_rows > 0;
            let has_paid = sides.paid_rows > 0;
            out.push(PyDifference {
                kind,
                account_id: Some(account.to_owned()),
                reference: Some(reference.to_owned()),
                ledger_amount: has_ledger.then_some(sides.ledger_sum),
                stripe_amount: has_paid.then_some(sides.paid_sum),
                ledger_currency: has_ledger
                    .then(|| ledger[sides.first_ledger].currency.as_str().to_owned()),
                stripe_currency: has_paid
                    .then(|| stripe[sides.first_paid].currency.as_str().to_owned()),
                payment_ids: match kind {
                    "credited_not_paid" => unpaid.clone(),
                    _ => paid.clone(),
                },
            });
        }
    }
    out
}

/// The differences of one reference, in the order they are reported.
fn kinds(ledger: &[LedgerRow], stripe: &[StripeRow], sides: &Sides) -> Vec<&'static str> {
    let mut kinds = Vec::new();
    if sides.ledger_rows > 1 {
        kinds.push("duplicate_credit");
    }
    if sides.paid_rows > 1 {
        kinds.push("duplicate_payment");
    }
    match (sides.ledger_rows, sides.paid_rows) {
        (0, 0) => {}
        (0, _) => kinds.push("paid_not_credited"),
        (_, 0) => kinds.push("credited_not_paid"),
        // A duplicate is reported as such; its amounts are not compared one by one.
        (1, 1) => {
            let (credit, payment) = (&ledger[sides.first_ledger], &stripe[sides.first_paid]);
            if credit.currency != payment.currency {
                kinds.push("currency_differs");
            } else if credit.amount != payment.amount {
                kinds.push("amount_differs");
            }
        }
        _ => {}
    }
    kinds
}

/// **Matches the ledger against a Stripe export** and returns every difference, by account
/// and reference (`payment_without_reference` first).
///
/// `ledger_rows`: dicts (a `csv.DictReader` over our ledger export, or built in code) with
/// `account_id`; `reference` (`cp_…` credit purchase or `in_…` invoice) or the ledger entry
/// `id` (`purchase:cp_…`, `invoice:in_…`); `amount` (cents) or `amount_micros` (whole cents);
/// optionally `kind` (rows of `usage` and `adjustment` are skipped) and `currency` (default
/// usd). A row of 0 (an unpaid invoice) is skipped. `stripe_rows`: dicts with the
/// PaymentIntent fields `id`, `amount` (minor units as an int or digits, or `"20.00"` with two
/// decimals), `currency`, `status` (exact), and `metadata` (a dict or its JSON text) or the
/// dashboard's `account_id (metadata)` / `reference (metadata)` columns; other keys are
/// ignored. Every refusal names the row and field (`stripe_rows[3].amount`).
#[pyfunction]
fn reconcile(
    ledger_rows: &Bound<'_, PyAny>,
    stripe_rows: &Bound<'_, PyAny>,
) -> PyResult<Vec<PyDifference>> {
    let ledger = rows::ledger_rows(ledger_rows)?;
    let stripe = rows::stripe_rows(stripe_rows)?;
    Ok(differences(&ledger, &stripe))
}
