//! `preview_charge`: what the charge on the 3rd will invoice for one account, from its ledger
//! export, with the invoice lines the close writes and why nothing is charged when it is not.

use billing_core::domain::money::{Cents, Micros};
use billing_core::error::MoneyError;
use billing_core::rules::ledger::{self, BalanceMove, LedgerEntry, PeriodClose};
use billing_core::rules::period::BillingPeriod;
use chrono::{DateTime, Utc};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use super::py_repr;
use crate::args::optional_limit;
use crate::entry::entries_from;
use crate::errors::money_error;
use crate::period::period_arg;

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyInvoiceLine>()?;
    m.add_class::<PyChargePreview>()?;
    m.add_function(wrap_pyfunction!(preview_charge, m)?)?;
    Ok(())
}

/// One line of an invoice: what it is, and its amount in micros.
#[pyclass(frozen, eq, get_all, name = "InvoiceLine", module = "billing_rules")]
#[derive(Clone, PartialEq)]
pub(crate) struct PyInvoiceLine {
    /// What the line is, as the invoice shows it.
    description: String,
    /// Its amount (micros); the lines add up to the invoice's whole cents.
    amount_micros: i64,
}

#[pymethods]
impl PyInvoiceLine {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        py_repr(
            "InvoiceLine",
            &[
                (
                    "description",
                    self.description.clone().into_pyobject(py)?.into_any(),
                ),
                (
                    "amount_micros",
                    self.amount_micros.into_pyobject(py)?.into_any(),
                ),
            ],
        )
    }
}

/// What the charge on the 3rd will do for one account and period.
#[pyclass(frozen, eq, name = "ChargePreview", module = "billing_rules")]
#[derive(PartialEq)]
pub(crate) struct PyChargePreview {
    close: PeriodClose,
    charge_at: DateTime<Utc>,
    lines: Vec<PyInvoiceLine>,
}

#[pymethods]
impl PyChargePreview {
    /// The amount invoiced and charged (cents), 0 when nothing is charged.
    #[getter]
    fn invoice(&self) -> i64 {
        self.close.invoice.get()
    }

    /// Everything owed (micros) for usage up to the end of the period.
    #[getter]
    fn owed(&self) -> i64 {
        self.close.owed.get()
    }

    /// What carries over to the next period (micros).
    #[getter]
    fn carried(&self) -> i64 {
        self.close.carried.get()
    }

    /// When the charge runs: 03:00 UTC on the 3rd of the next month.
    #[getter]
    fn charge_at(&self) -> DateTime<Utc> {
        self.charge_at
    }

    /// How the invoice is made up, as the close writes it (lines of zero left out); they add
    /// up to `invoice` in micros, so to zero when nothing is charged.
    #[getter]
    fn lines<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.lines.iter().cloned())
    }

    /// Why nothing is charged: `"nothing_owed"` or `"under_minimum_charge"`; None when
    /// something is.
    #[getter]
    fn reason(&self) -> Option<&'static str> {
        reason(&self.close)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        py_repr(
            "ChargePreview",
            &[
                ("invoice", self.invoice().into_pyobject(py)?.into_any()),
                ("owed", self.owed().into_pyobject(py)?.into_any()),
                ("carried", self.carried().into_pyobject(py)?.into_any()),
                ("reason", self.reason().into_pyobject(py)?.into_any()),
            ],
        )
    }
}

fn reason(close: &PeriodClose) -> Option<&'static str> {
    match (close.has_invoice(), close.owed.is_positive()) {
        (true, _) => None,
        (false, true) => Some("under_minimum_charge"),
        (false, false) => Some("nothing_owed"),
    }
}

/// The lines the close writes on an invoice (billing-core's `invoice_lines`, the rule
/// `usecases::close` uses): the period's usage, what credits and the earlier balance changed of
/// it, and what carries over.
fn lines(
    period: BillingPeriod,
    entries: &[LedgerEntry],
    close: &PeriodClose,
) -> Result<Vec<PyInvoiceLine>, MoneyError> {
    let usage = BalanceMove::of(entries)?
        .usage
        .get(&period)
        .copied()
        .unwrap_or(Micros::ZERO);
    Ok(ledger::invoice_lines(period, usage, close)?
        .into_iter()
        .map(|line| PyInvoiceLine {
            description: line.description,
            amount_micros: line.amount_micros.get(),
        })
        .collect())
}

/// **What the 3rd will charge** for one account: its ledger `entries` (the forms
/// `close_period` takes), the `period` closed (a `BillingPeriod` or `"YYYY-MM"`), and the
/// minimum charge in cents. The same close rule as `close_period` and the monthly charge.
#[pyfunction]
#[pyo3(signature = (entries, period, minimum_charge=None))]
fn preview_charge(
    py: Python<'_>,
    entries: &Bound<'_, PyAny>,
    period: &Bound<'_, PyAny>,
    minimum_charge: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyChargePreview> {
    let period = period_arg(period)?;
    let minimum = optional_limit("minimum_charge", minimum_charge, "cents")?
        .map_or(ledger::STRIPE_MINIMUM_CHARGE, Cents::new);
    let entries = entries_from(entries)?;
    let money = |e| money_error(py, e);
    let close = ledger::close_period(&entries, period, minimum).map_err(money)?;
    Ok(PyChargePreview {
        lines: lines(period, &entries, &close).map_err(money)?,
        close,
        charge_at: period.charge_at(),
    })
}
