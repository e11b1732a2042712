//! Credit purchases: the in-flight rule and the amount limits.

use billing_core::domain::money::Cents;
use billing_core::rules::purchase::{
    self, PurchaseGate, PurchaseLimits, PurchaseStatus, SETTLEMENT_WINDOW,
};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::errors::{amount_refused, invalid};
use crate::time::{instant, type_name};

const STATUSES: [(&str, PurchaseStatus); 4] = [
    ("processing", PurchaseStatus::Processing),
    ("requires_action", PurchaseStatus::RequiresAction),
    ("succeeded", PurchaseStatus::Succeeded),
    ("failed", PurchaseStatus::Failed),
];

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<PyPurchaseGate>()?;
    m.add_function(wrap_pyfunction!(purchase_gate, m)?)?;
    m.add_function(wrap_pyfunction!(check_amount, m)?)?;
    m.add("SETTLEMENT_WINDOW", SETTLEMENT_WINDOW)?;
    m.add(
        "PURCHASE_STATUSES",
        PyTuple::new(py, STATUSES.map(|(name, _)| name))?,
    )?;
    let limits = PurchaseLimits::default();
    m.add("PURCHASE_MINIMUM", limits.minimum.get())?;
    m.add("PURCHASE_MAXIMUM", limits.maximum.get())?;
    Ok(())
}

/// Whether a new purchase may start. `decision` is `"open"` or `"in_flight"`; while in flight,
/// `retry_after` is the whole seconds (at least 1) until the latest purchase stops blocking.
#[pyclass(frozen, eq, name = "PurchaseGate", module = "billing_rules")]
#[derive(PartialEq)]
pub(crate) struct PyPurchaseGate(PurchaseGate);

#[pymethods]
impl PyPurchaseGate {
    /// `"open"` or `"in_flight"`.
    #[getter]
    fn decision(&self) -> &'static str {
        match self.0 {
            PurchaseGate::Open => "open",
            PurchaseGate::InFlight { .. } => "in_flight",
        }
    }

    /// True when a purchase may start now.
    #[getter]
    fn is_open(&self) -> bool {
        self.0 == PurchaseGate::Open
    }

    /// Seconds to wait before trying again, or None when open.
    #[getter]
    fn retry_after(&self) -> Option<u64> {
        match self.0 {
            PurchaseGate::Open => None,
            PurchaseGate::InFlight { retry_after } => Some(retry_after),
        }
    }

    fn __repr__(&self) -> String {
        match self.0 {
            PurchaseGate::Open => "PurchaseGate(decision='open')".to_owned(),
            PurchaseGate::InFlight { retry_after } => {
                format!("PurchaseGate(decision='in_flight', retry_after={retry_after})")
            }
        }
    }
}

fn status(value: &Bound<'_, PyAny>) -> PyResult<PurchaseStatus> {
    let text: String = value
        .extract()
        .map_err(|_| invalid(format!("status: expected a str, got {}", type_name(value))))?;
    STATUSES
        .iter()
        .find(|(name, _)| *name == text)
        .map(|&(_, status)| status)
        .ok_or_else(|| invalid(format!("status: {text:?} is not one of PURCHASE_STATUSES")))
}

/// **The in-flight rule**: `latest` is None or `(status, created_at)` of the account's latest
/// purchase; it blocks a new one while unsettled and younger than `SETTLEMENT_WINDOW`.
#[pyfunction]
fn purchase_gate(
    latest: Option<&Bound<'_, PyAny>>,
    now: &Bound<'_, PyAny>,
) -> PyResult<PyPurchaseGate> {
    let latest = latest
        .map(|pair| {
            let (s, created_at): (Bound<'_, PyAny>, Bound<'_, PyAny>) = pair
                .extract()
                .map_err(|_| invalid("latest: expected None or a (status, created_at) tuple"))?;
            Ok::<_, PyErr>((status(&s)?, instant("created_at", &created_at)?))
        })
        .transpose()?;
    Ok(PyPurchaseGate(purchase::purchase_gate(
        latest,
        instant("now", now)?,
    )))
}

/// Checks a purchase amount (cents) against the limits, inclusive (defaults
/// `PURCHASE_MINIMUM`..`PURCHASE_MAXIMUM`). Returns the amount, or raises `AmountRefused`.
#[pyfunction]
#[pyo3(signature = (amount, *, minimum=None, maximum=None))]
fn check_amount(
    py: Python<'_>,
    amount: i64,
    minimum: Option<i64>,
    maximum: Option<i64>,
) -> PyResult<i64> {
    let defaults = PurchaseLimits::default();
    let limits = PurchaseLimits {
        minimum: minimum.map_or(defaults.minimum, Cents::new),
        maximum: maximum.map_or(defaults.maximum, Cents::new),
    };
    limits
        .check(Cents::new(amount))
        .map(Cents::get)
        .map_err(|r| amount_refused(py, r))
}
