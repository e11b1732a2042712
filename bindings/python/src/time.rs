//! `datetime` / `date` at the boundary: aware datetimes in (any offset, converted to UTC),
//! UTC datetimes out. Refused: naive datetimes, because guessing their zone could move an
//! instant into another billing period; bare ints and floats, because an epoch number could be
//! seconds, milliseconds or microseconds and a wrong guess moves it by decades. A
//! `numpy.datetime64` with an explicit unit is taken too (read as UTC, as numpy does).

use std::fmt::Display;

use std::ops::Range;

use chrono::{DateTime, NaiveDate, Utc};
use pyo3::prelude::*;
use pyo3::types::{
    PyDate, PyDateAccess, PyDateTime, PyFloat, PyInt, PyTimeAccess, PyTzInfo, PyTzInfoAccess,
};

use crate::errors::{invalid_type, invalid_value};

/// What to pass, said in every refusal of an instant.
const PASS_AWARE: &str =
    "pass a timezone-aware datetime, e.g. datetime(2026, 11, 3, 3, tzinfo=timezone.utc)";

/// The instants accepted, as microseconds since the Unix epoch: 1970-01-01T00:00Z up to (not
/// including) 9999-01-01T00:00Z, the months `BillingPeriod` covers. Every instant derived from
/// one of them (a period's end, its charge instant) is then a valid Python `datetime`.
pub(crate) const INSTANT_MICROS: Range<i64> = 0..253_370_764_800_000_000;

/// An aware `datetime` as a UTC instant, within `INSTANT_MICROS`.
pub(crate) fn instant(
    field: impl Display + Copy,
    value: &Bound<'_, PyAny>,
) -> PyResult<DateTime<Utc>> {
    instant_micros(field, value)
        .map(|micros| DateTime::from_timestamp_micros(micros).expect("within INSTANT_MICROS"))
}

/// `instant` as microseconds since the Unix epoch, which is what the rules compare: a UTC
/// `datetime` is read without building a calendar date twice.
pub(crate) fn instant_micros(
    field: impl Display + Copy,
    value: &Bound<'_, PyAny>,
) -> PyResult<i64> {
    if let Some(micros) = utc_fields_micros(value) {
        return in_range(field, value, micros);
    }
    let py = value.py();
    let Ok(datetime) = value.cast::<PyDateTime>() else {
        if let Some(micros) = datetime64_micros(field, value)? {
            return in_range(field, value, micros);
        }
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
        .map_err(|_| out_of_range(field, value))?;
    in_range(field, value, at.timestamp_micros())
}

/// A `datetime` whose `tzinfo` is `timezone.utc` (what exports, `datetime.now(timezone.utc)`
/// and this module give), as epoch microseconds computed from its fields, which the C API reads
/// straight from the object; None for anything else (another zone is read through
/// `utcoffset()`, which only Python can compute). Calling `astimezone` and reading the result
/// attribute by attribute would cost several times what the rules do with the instant.
pub(crate) fn utc_fields_micros(value: &Bound<'_, PyAny>) -> Option<i64> {
    let datetime = value.cast::<PyDateTime>().ok()?;
    let utc = PyTzInfo::utc(value.py()).ok()?;
    if !datetime.get_tzinfo()?.is(&*utc) {
        return None;
    }
    let days = days_from_civil(
        i64::from(datetime.get_year()),
        i64::from(datetime.get_month()),
        i64::from(datetime.get_day()),
    );
    let seconds = days * 86_400
        + i64::from(datetime.get_hour()) * 3_600
        + i64::from(datetime.get_minute()) * 60
        + i64::from(datetime.get_second());
    Some(seconds * 1_000_000 + i64::from(datetime.get_microsecond()))
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's `days_from_civil`),
/// for the years a Python `datetime` holds (1-9999), where it cannot overflow.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// A `numpy.datetime64` scalar as epoch microseconds (UTC, as numpy reads it), or None for
/// anything else. numpy is not imported here: a value of its type means it is loaded. The unit
/// must be explicit (`datetime64[s]`, `[us]`...): a generic `datetime64` says nothing about what
/// its number counts, the same guess a bare int asks for.
fn datetime64_micros(
    field: impl Display + Copy,
    value: &Bound<'_, PyAny>,
) -> PyResult<Option<i64>> {
    let py = value.py();
    let kind = value.get_type();
    if kind.name()? != "datetime64" || kind.module()? != "numpy" {
        return Ok(None);
    }
    let dtype: String = value.getattr("dtype")?.getattr("str")?.extract()?;
    if !dtype.ends_with(']') {
        return Err(invalid_value(
            py,
            field,
            &format!(
                "numpy.datetime64 without a unit ({dtype}); {PASS_AWARE}, or datetime64 with a unit"
            ),
        ));
    }
    let micros: i64 = value
        .call_method1("astype", ("datetime64[us]",))?
        .call_method1("astype", ("int64",))?
        .extract()?;
    if micros == i64::MIN {
        return Err(invalid_value(
            py,
            field,
            &format!("NaT (not a time); {PASS_AWARE}"),
        ));
    }
    Ok(Some(micros))
}

/// Epoch microseconds read from `value`, if within `INSTANT_MICROS`.
fn in_range(field: impl Display + Copy, value: &Bound<'_, PyAny>, micros: i64) -> PyResult<i64> {
    if INSTANT_MICROS.contains(&micros) {
        Ok(micros)
    } else {
        Err(out_of_range(field, value))
    }
}

fn out_of_range(field: impl Display + Copy, value: &Bound<'_, PyAny>) -> PyErr {
    invalid_value(
        value.py(),
        field,
        &format!(
            "{} is outside 1970-01-01 to 9998-12-31 UTC",
            value.str().map(|s| s.to_string()).unwrap_or_default()
        ),
    )
}

/// A `date` (a UTC calendar day). A `datetime` is refused: which day it is depends on its zone.
pub(crate) fn day(field: impl Display + Copy, value: &Bound<'_, PyAny>) -> PyResult<NaiveDate> {
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
