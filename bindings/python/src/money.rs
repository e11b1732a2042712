//! Money: the rounding rule and currencies. Amounts are Python ints: cents (the minor unit)
//! or micros (millionths of a dollar, a hundredth of a cent).

use billing_core::domain::money::{CentSplit, Currency, MICROS_PER_CENT, Micros};
use pyo3::prelude::*;
use pyo3::types::PyIterator;

use crate::args::{money, text};
use crate::errors::money_error;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyCentSplit>()?;
    m.add_function(wrap_pyfunction!(split_cents, m)?)?;
    m.add_function(wrap_pyfunction!(parse_currency, m)?)?;
    m.add("MICROS_PER_CENT", MICROS_PER_CENT)?;
    Ok(())
}

/// The result of the rounding rule: whole `cents` (toward zero) and the micros `remainder`
/// (same sign, under one cent), so `cents * MICROS_PER_CENT + remainder` is the input.
/// Unpacks like a tuple: `cents, remainder = split_cents(m)`.
#[pyclass(frozen, eq, name = "CentSplit", module = "billing_rules")]
#[derive(PartialEq)]
pub(crate) struct PyCentSplit(CentSplit);

#[pymethods]
impl PyCentSplit {
    /// Whole cents, rounded toward zero.
    #[getter]
    fn cents(&self) -> i64 {
        self.0.cents.get()
    }

    /// The micros rounding left behind, to be carried.
    #[getter]
    fn remainder(&self) -> i64 {
        self.0.remainder.get()
    }

    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyIterator>> {
        (self.cents(), self.remainder())
            .into_pyobject(py)?
            .try_iter()
    }

    fn __repr__(&self) -> String {
        format!(
            "CentSplit(cents={}, remainder={})",
            self.cents(),
            self.remainder()
        )
    }
}

/// **The rounding rule** ("truncate and carry"): splits micros into whole cents toward zero
/// and the sub-cent remainder to carry. Nothing is lost: `cents * 10_000 + remainder == micros`.
#[pyfunction]
fn split_cents(micros: &Bound<'_, PyAny>) -> PyResult<PyCentSplit> {
    Ok(PyCentSplit(
        Micros::new(money("micros", micros, "micros")?).split_cents(),
    ))
}

/// Checks a lowercase ISO 4217 code and returns it; raises `UnsupportedCurrency` for any
/// currency the platform does not bill in (only `"usd"` is supported).
#[pyfunction]
fn parse_currency(code: &Bound<'_, PyAny>) -> PyResult<&'static str> {
    Currency::parse(&text("code", code)?.to_cow()?)
        .map(Currency::code)
        .map_err(|e| money_error(code.py(), e))
}
