//! Credit purchases: the in-flight rule and the amount limits.

use billing_core::domain::money::Cents;
use billing_core::rules::purchase::{
    self, PurchaseGate, PurchaseLimits, PurchaseStatus, SETTLEMENT_WINDOW,
};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::args::{money, one_of, optional_limit, text};
use crate::errors::{amount_refused, invalid_type, invalid_value};
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
    let field = "latest.status";
    let name = text(field, value)?.to_cow()?;
    one_of(value.py(), field, &name, &STATUSES, "PURCHASE_STATUSES")
}

/// **The in-flight rule**: `latest` is None or `(status, created_at)` of the account's latest
/// purchase; it blocks a new one while unsettled and younger than `SETTLEMENT_WINDOW`.
#[pyfunction]
#[pyo3(signature = (latest, now))]
fn purchase_gate(
    latest: Option<&Bound<'_, PyAny>>,
    now: &Bound<'_, PyAny>,
) -> PyResult<PyPurchaseGate> {
    let latest = latest
        .filter(|pair| !pair.is_none())
        .map(|pair| {
            let (s, created_at): (Bound<'_, PyAny>, Bound<'_, PyAny>) =
                pair.extract().map_err(|_| {
                    invalid_type(
                        pair.py(),
                        "latest",
                        &format!(
                            "expected None or a (status, created_at) tuple, got {}",
                            type_name(pair)
                        ),
                    )
                })?;
            Ok::<_, PyErr>((status(&s)?, instant("latest.created_at", &created_at)?))
        })
        .transpose()?;
    Ok(PyPurchaseGate(purchase::purchase_gate(
        latest,
        instant("now", now)?,
    )))
}

/// Checks a purchase amount (cents) against the limits, inclusive (defaults
/// `PURCHASE_MINIMUM`..`PURCHASE_MAXIMUM`). Returns the amount, or raises `AmountRefused`.
/// Limits that are negative, or a minimum above the maximum, are `InvalidInput`.
#[pyfunction]
#[pyo3(signature = (amount, *, minimum=None, maximum=None))]
fn check_amount(
    amount: &Bound<'_, PyAny>,
    minimum: Option<&Bound<'_, PyAny>>,
    maximum: Option<&Bound<'_, PyAny>>,
) -> PyResult<i64> {
    let py = amount.py();
    let amount = money("amount", amount, "cents")?;
    let defaults = PurchaseLimits::default();
    let limits = PurchaseLimits {
        minimum: optional_limit("minimum", minimum, "cents")?.map_or(defaults.minimum, Cents::new),
        maximum: optional_limit("maximum", maximum, "cents")?.map_or(defaults.maximum, Cents::new),
    };
    if limits.minimum > limits.maximum {
        return Err(invalid_value(
            py,
            "minimum",
            &format!(
                "{} cents is above the maximum, {} cents",
                limits.minimum.get(),
                limits.maximum.get()
            ),
        ));
    }
    limits
        .check(Cents::new(amount))
        .map(Cents::get)
        .map_err(|r| amount_refused(py, r))
}
