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

/// What one (account, reference) has on each side.
#[derive(Default)]
struct Sides<'a> {
    ledger: Vec<&'a LedgerRow>,
    paid: Vec<&'a StripeRow>,
    unpaid: Vec<&'a StripeRow>,
}

/// The matching: every difference, in order of account, then reference. Rows are grouped by
/// hash, and only the (few) references that differ are sorted.
fn differences(ledger: &[LedgerRow], stripe: &[StripeRow]) -> Vec<PyDifference> {
    let mut out = Vec::new();
    let mut by_key: HashMap<(&str, &str), Sides<'_>> = HashMap::with_capacity(ledger.len());
    for row in ledger {
        by_key
            .entry((&row.account, &row.reference))
            .or_default()
            .ledger
            .push(row);
    }
    for row in stripe {
        match (&row.key, row.succeeded) {
            (Some((account, reference)), true) => by_key
                .entry((account, reference))
                .or_default()
                .paid
                .push(row),
            (Some((account, reference)), false) => {
                if let Some(sides) = by_key.get_mut(&(account.as_str(), reference.as_str())) {
                    sides.unpaid.push(row);
                }
            }
            (None, true) => out.push(PyDifference {
                kind: "payment_without_reference",
                account_id: None,
                reference: None,
                ledger_amount: None,
                stripe_amount: Some(row.amount),
                ledger_currency: None,
                stripe_currency: Some(row.currency.clone()),
                payment_ids: vec![row.id.clone()],
            }),
            (None, false) => {}
        }
    }
    let mut differing = Vec::new();
    for ((account, reference), sides) in by_key {
        let mut found = Vec::new();
        // A duplicate's amounts are summed (amounts are at most `AMOUNT_LIMIT`, so any
        // number of rows a machine can hold sums within int64).
        let ledger_amount =
            (!sides.ledger.is_empty()).then(|| sides.ledger.iter().map(|r| r.amount).sum());
        let stripe_amount =
            (!sides.paid.is_empty()).then(|| sides.paid.iter().map(|r| r.amount).sum());
        let ledger_currency = sides.ledger.first().map(|r| r.currency.as_str());
        let stripe_currency = sides.paid.first().map(|r| r.currency.as_str());
        let ids = |rows: &[&StripeRow]| rows.iter().map(|r| r.id.clone()).collect::<Vec<_>>();
        let mut report = |kind: &'static str, payment_ids: Vec<String>| {
            found.push(PyDifference {
                kind,
                account_id: Some(account.to_owned()),
                reference: Some(reference.to_owned()),
                ledger_amount,
                stripe_amount,
                ledger_currency: ledger_currency.map(str::to_owned),
                stripe_currency: stripe_currency.map(str::to_owned),
                payment_ids,
            })
        };
        let duplicated = sides.ledger.len() > 1 || sides.paid.len() > 1;
        if sides.ledger.len() > 1 {
            report("duplicate_credit", ids(&sides.paid));
        }
        if sides.paid.len() > 1 {
            report("duplicate_payment", ids(&sides.paid));
        }
        match (sides.ledger.first(), sides.paid.first()) {
            (None, None) => {}
            (None, Some(_)) => report("paid_not_credited", ids(&sides.paid)),
            (Some(_), None) => report("credited_not_paid", ids(&sides.unpaid)),
            // A duplicate is reported as such; its amounts are not compared one by one.
            (Some(_), Some(_)) if duplicated => {}
            (Some(credit), Some(payment)) if credit.currency != payment.currency => {
                report("currency_differs", ids(&sides.paid))
            }
            (Some(credit), Some(payment)) if credit.amount != payment.amount => {
                report("amount_differs", ids(&sides.paid))
            }
            (Some(_), Some(_)) => {}
        }
        if !found.is_empty() {
            differing.push(((account, reference), found));
        }
    }
    // Each key is there once, so the unstable sort gives the one order.
    differing.sort_unstable_by_key(|(key, _)| *key);
    out.extend(differing.into_iter().flat_map(|(_, found)| found));
    out
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
