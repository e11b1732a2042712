//! Billing periods (calendar months in UTC) and the charge instant.

use billing_core::rules::period::{self, BillingPeriod, CHARGE_DAY, CHARGE_HOUR};
use chrono::{DateTime, Utc};
use pyo3::prelude::*;
use pyo3::types::PyString;

use crate::args::{int, text};
use crate::errors::{invalid_type, invalid_value, parse_error};
use crate::time::{instant, type_name};

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyBillingPeriod>()?;
    m.add_function(wrap_pyfunction!(next_charge_at, m)?)?;
    m.add("CHARGE_DAY", CHARGE_DAY)?;
    m.add("CHARGE_HOUR", CHARGE_HOUR)?;
    Ok(())
}

/// One calendar month in UTC, `[start, end)`, charged at 03:00 UTC on the 3rd of the next month.
///
/// `BillingPeriod(2026, 10)` or `BillingPeriod.parse("2026-10")`; `str()` gives `"2026-10"`.
/// Immutable, hashable and ordered.
#[pyclass(
    frozen,
    eq,
    ord,
    hash,
    name = "BillingPeriod",
    module = "billing_rules"
)]
#[derive(PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct PyBillingPeriod(pub(crate) BillingPeriod);

#[pymethods]
impl PyBillingPeriod {
    /// The period for a year (1970–9998) and a month (1–12), both ints; `InvalidInput`
    /// (naming `year` or `month`) otherwise.
    #[new]
    fn new(year: &Bound<'_, PyAny>, month: &Bound<'_, PyAny>) -> PyResult<Self> {
        let py = year.py();
        let year: i32 = int("year", year, "1970-9998")?;
        let month: u32 = int("month", month, "1-12")?;
        if !(1..=12).contains(&month) {
            return Err(invalid_value(
                py,
                "month",
                &format!("{month} is not a month (1-12)"),
            ));
        }
        BillingPeriod::new(year, month)
            .map(Self)
            .ok_or_else(|| invalid_value(py, "year", &format!("{year} is outside 1970-9998")))
    }

    /// Parses `YYYY-MM`; raises `ParseError` otherwise.
    #[staticmethod]
    fn parse(raw: &Bound<'_, PyAny>) -> PyResult<Self> {
        BillingPeriod::parse(&text("raw", raw)?.to_cow()?)
            .map(Self)
            .map_err(|e| parse_error(raw.py(), e))
    }

    /// The period containing an aware datetime.
    #[staticmethod]
    fn containing(at: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(Self(BillingPeriod::containing(instant("at", at)?)))
    }

    /// The period a monthly charge run fired at `at` charges: the calendar month before `at`.
    #[staticmethod]
    fn charged_by(at: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(Self(BillingPeriod::charged_by(instant("at", at)?)))
    }

    /// The year.
    #[getter]
    fn year(&self) -> i32 {
        self.0.year()
    }

    /// The month, 1–12.
    #[getter]
    fn month(&self) -> u32 {
        self.0.month()
    }

    /// First instant of the period (inclusive), UTC.
    #[getter]
    fn start(&self) -> DateTime<Utc> {
        self.0.start()
    }

    /// First instant after the period (exclusive end), UTC.
    #[getter]
    fn end(&self) -> DateTime<Utc> {
        self.0.end()
    }

    /// When this period is charged: 03:00 UTC on the 3rd of the following month.
    #[getter]
    fn charge_at(&self) -> DateTime<Utc> {
        self.0.charge_at()
    }

    /// The period after this one; `InvalidValue` after 9998-12.
    fn next(&self, py: Python<'_>) -> PyResult<Self> {
        within_range(py, self.0.next())
    }

    /// The period before this one; `InvalidValue` before 1970-01.
    fn previous(&self, py: Python<'_>) -> PyResult<Self> {
        within_range(py, self.0.previous())
    }

    /// Whether an aware datetime falls inside the period.
    fn contains(&self, at: &Bound<'_, PyAny>) -> PyResult<bool> {
        Ok(self.0.contains(instant("at", at)?))
    }

    fn __str__(&self) -> String {
        self.0.to_string()
    }

    fn __repr__(&self) -> String {
        format!("BillingPeriod({}, {})", self.0.year(), self.0.month())
    }
}

/// `period` if `BillingPeriod(year, month)` would accept it: billing-core's `next`/`previous`
/// step past the range without a check.
fn within_range(py: Python<'_>, period: BillingPeriod) -> PyResult<PyBillingPeriod> {
    BillingPeriod::new(period.year(), period.month())
        .map(PyBillingPeriod)
        .ok_or_else(|| {
            invalid_value(
                py,
                "period",
                &format!("{period} is outside 1970-01 to 9998-12"),
            )
        })
}

/// A period argument: a `BillingPeriod` or its `"YYYY-MM"` text.
pub(crate) fn period_arg(value: &Bound<'_, PyAny>) -> PyResult<BillingPeriod> {
    if let Ok(period) = value.cast::<PyBillingPeriod>() {
        return Ok(period.get().0);
    }
    if let Ok(text) = value.cast::<PyString>() {
        return BillingPeriod::parse(&text.to_cow()?).map_err(|e| parse_error(value.py(), e));
    }
    Err(invalid_type(
        value.py(),
        "period",
        &format!(
            "expected a BillingPeriod or \"YYYY-MM\", got {}",
            type_name(value)
        ),
    ))
}

/// The next charge instant strictly after an aware datetime `now`, in UTC.
#[pyfunction]
fn next_charge_at(now: &Bound<'_, PyAny>) -> PyResult<DateTime<Utc>> {
    Ok(period::next_charge_at(instant("now", now)?))
}
