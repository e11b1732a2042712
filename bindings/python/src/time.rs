//! `datetime` / `date` at the boundary: aware datetimes in (any offset, converted to UTC),
//! UTC datetimes out. Refused: naive datetimes, because guessing their zone could move an
//! instant into another billing period; bare ints and floats, because an epoch number could be
//! seconds, milliseconds or microseconds and a wrong guess moves it by decades.

use std::ops::Range;

use chrono::{DateTime, NaiveDate, Utc};
use pyo3::prelude::*;
use pyo3::types::{PyDate, PyDateTime, PyFloat, PyInt};

use crate::errors::{invalid_type, invalid_value};

/// What to pass, said in every refusal of an instant.
const PASS_AWARE: &str =
    "pass a timezone-aware datetime, e.g. datetime(2026, 11, 3, 3, tzinfo=timezone.utc)";

/// The instants accepted, as microseconds since the Unix epoch: 1970-01-01T00:00Z up to (not
/// including) 9999-01-01T00:00Z, the months `BillingPeriod` covers. Every instant derived from
/// one of them (a period's end, its charge instant) is then a valid Python `datetime`.
pub(crate) const INSTANT_MICROS: Range<i64> = 0..253_370_764_800_000_000;

/// An aware `datetime` as a UTC instant, within `INSTANT_MICROS`.
pub(crate) fn instant(field: &str, value: &Bound<'_, PyAny>) -> PyResult<DateTime<Utc>> {
    let py = value.py();
    let Ok(datetime) = value.cast::<PyDateTime>() else {
        let got = if value.cast::<PyInt>().is_ok() || value.cast::<PyFloat>().is_ok() {
            format!(
                "got a bare {} ({}), which could be seconds, milliseconds or microseconds",
                type_name(value),
                value.str()?
            )
        } else {
            format!("got {}", type_name(value))
        };
        return Err(invalid_type(py, field, &format!("{got}; {PASS_AWARE}")));
    };
    if datetime.call_method0("utcoffset")?.is_none() {
        return Err(invalid_type(
            py,
            field,
            &format!("naive datetime {}; {PASS_AWARE}", value.str()?),
        ));
    }
    let utc = Utc.into_pyobject(py)?;
    let at = value
        .call_method1("astimezone", (utc,))
        .and_then(|v| v.extract::<DateTime<Utc>>())
        .map_err(|_| {
            invalid_value(
                py,
                field,
                &format!(
                    "{} is outside 1970-01-01 to 9998-12-31 UTC",
                    value.str().map(|s| s.to_string()).unwrap_or_default()
                ),
            )
        })?;
    if !INSTANT_MICROS.contains(&at.timestamp_micros()) {
        return Err(invalid_value(
            py,
            field,
            &format!("{at} is outside 1970-01-01 to 9998-12-31 UTC"),
        ));
    }
    Ok(at)
}

/// A `date` (a UTC calendar day). A `datetime` is refused: which day it is depends on its zone.
pub(crate) fn day(field: &str, value: &Bound<'_, PyAny>) -> PyResult<NaiveDate> {
    if value.cast::<PyDateTime>().is_ok() || value.cast::<PyDate>().is_err() {
        return Err(invalid_type(
            value.py(),
            field,
            &format!(
                "expected a date (the UTC calendar day, e.g. datetime.now(timezone.utc).date()), got {}",
                type_name(value)
            ),
        ));
    }
    value.extract::<NaiveDate>()
}

pub(crate) fn type_name(value: &Bound<'_, PyAny>) -> String {
    value
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "an unknown type".to_owned())
}
