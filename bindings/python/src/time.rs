//! `datetime` / `date` at the boundary: aware datetimes in (any offset, converted to UTC),
//! UTC datetimes out; naive datetimes refused, because guessing their zone could move an
//! instant into another billing period.

use chrono::{DateTime, NaiveDate, Utc};
use pyo3::prelude::*;
use pyo3::types::{PyDate, PyDateTime, PyInt};

use crate::errors::invalid;

/// An aware `datetime` as a UTC instant.
pub(crate) fn instant(name: &str, value: &Bound<'_, PyAny>) -> PyResult<DateTime<Utc>> {
    let py = value.py();
    let Ok(datetime) = value.cast::<PyDateTime>() else {
        return Err(invalid(format!(
            "{name}: expected a timezone-aware datetime, got {}",
            type_name(value)
        )));
    };
    if datetime.call_method0("utcoffset")?.is_none() {
        return Err(invalid(format!(
            "{name}: naive datetime {}; pass a timezone-aware datetime, e.g. datetime(2026, 11, 3, 3, tzinfo=timezone.utc)",
            value.str()?
        )));
    }
    let utc = Utc.into_pyobject(py)?;
    value
        .call_method1("astimezone", (utc,))?
        .extract::<DateTime<Utc>>()
        .map_err(|e| invalid(format!("{name}: {e}")))
}

/// A `date` (a UTC calendar day). A `datetime` is refused: which day it is depends on its zone.
pub(crate) fn day(name: &str, value: &Bound<'_, PyAny>) -> PyResult<NaiveDate> {
    if value.cast::<PyDateTime>().is_ok() || value.cast::<PyDate>().is_err() {
        return Err(invalid(format!(
            "{name}: expected a date (the UTC calendar day, e.g. datetime.now(timezone.utc).date()), got {}",
            type_name(value)
        )));
    }
    value.extract::<NaiveDate>()
}

/// An instant given as an aware datetime or as integer microseconds since the Unix epoch.
pub(crate) fn instant_or_micros(name: &str, value: &Bound<'_, PyAny>) -> PyResult<DateTime<Utc>> {
    if value.cast::<PyInt>().is_ok() {
        let micros: i64 = value
            .extract()
            .map_err(|_| invalid(format!("{name}: microseconds out of range")))?;
        return from_micros(name, micros);
    }
    instant(name, value)
}

/// Microseconds since the Unix epoch as a UTC instant.
pub(crate) fn from_micros(name: &str, micros: i64) -> PyResult<DateTime<Utc>> {
    DateTime::from_timestamp_micros(micros)
        .ok_or_else(|| invalid(format!("{name}: {micros} microseconds is out of range")))
}

pub(crate) fn type_name(value: &Bound<'_, PyAny>) -> String {
    value
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "an unknown type".to_owned())
}
