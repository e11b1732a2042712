//! Instant columns: `datetime64` and epoch-integer arrays and packed bytes, read as epoch
//! microseconds for the batch close, every row within the instants `time::instant` accepts
//! (1970-01-01 to 9998-12-31 UTC).

use chrono::DateTime;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};

use super::{IntColumn, Layout, Packed, array_column, int_column};
use crate::errors::{invalid_type, invalid_value};
use crate::parallel;
use crate::time::{INSTANT_MICROS, type_name};

/// The units an epoch-integer instant column may be in, and how many of each make a
/// microsecond (a negative factor divides, rounding down: a nanosecond instant falls in the
/// same billing period as the microsecond before it).
const UNITS: [(&str, i64); 4] = [("s", 1_000_000), ("ms", 1_000), ("us", 1), ("ns", -1_000)];

/// What the range check says: the instants `time::instant` takes.
const RANGE: &str = "is out of range (1970-01-01 to 9998-12-31 UTC)";

/// An instant column given as an array or packed bytes, as epoch microseconds; None for a
/// Python sequence or an object array (aware datetimes, read element by element by the
/// caller with `time::instant_micros`).
///
/// `datetime64` arrays (numpy; pandas and Arrow through `__array__`) carry their unit, read as
/// UTC. Integer arrays carry none, so `unit` (`"s"`, `"ms"`, `"us"` or `"ns"` since the epoch)
/// is required for them: a count of seconds read as microseconds would land in 1970. Packed
/// `bytes` are microseconds unless `unit` says otherwise.
pub(crate) fn instant_column<'a>(
    name: &str,
    column: &'a Bound<'_, PyAny>,
    unit: Option<&Bound<'_, PyAny>>,
) -> PyResult<Option<IntColumn<'a>>> {
    let py = column.py();
    let unit_field = format!("{name}_unit");
    let given = match unit.filter(|unit| !unit.is_none()) {
        None => None,
        Some(unit) => {
            let text = unit.cast::<PyString>().map_err(|_| {
                invalid_type(
                    py,
                    &unit_field,
                    &format!(
                        "expected a str (\"s\", \"ms\", \"us\" or \"ns\"), got {}",
                        type_name(unit)
                    ),
                )
            })?;
            let text = text.to_cow()?;
            Some(factor(&text).ok_or_else(|| {
                invalid_value(
                    py,
                    &unit_field,
                    &format!("'{text}' is not one of 's', 'ms', 'us', 'ns' (exact, lowercase)"),
                )
            })?)
        }
    };
    if column.cast::<PyBytes>().is_ok() {
        let raw = int_column(name, column)?;
        return scaled(py, name, raw, given.unwrap_or(1)).map(Some);
    }
    if column.cast::<PyList>().is_ok() || column.cast::<PyTuple>().is_ok() {
        return match given {
            // Aware datetimes, read one by one by the caller (`time::instant_micros`).
            None => Ok(None),
            Some(_) => Err(invalid_value(
                py,
                &unit_field,
                "applies to integer arrays and packed bytes; a list holds aware datetimes",
            )),
        };
    }
    let array = match column.hasattr(intern!(py, "__array__"))? {
        true => column.call_method0(intern!(py, "__array__"))?,
        false => column.clone(),
    };
    let dtype = array.getattr_opt(intern!(py, "dtype"))?;
    let kind: Option<String> = match &dtype {
        Some(dtype) => dtype.getattr(intern!(py, "kind"))?.extract().ok(),
        None => None,
    };
    if kind.as_deref() == Some("M") {
        let text: String = dtype
            .expect("a kind came from the dtype")
            .getattr(intern!(py, "str"))?
            .extract()?;
        let own_unit = text
            .split_once('[')
            .and_then(|(_, rest)| rest.strip_suffix(']'))
            .unwrap_or_default()
            .to_owned();
        let own = factor(&own_unit).ok_or_else(|| {
            invalid_type(
                py,
                name,
                &format!("datetime64 in unit '{own_unit}'; convert it to datetime64[us]"),
            )
        })?;
        if given.is_some_and(|given| given != own) {
            return Err(invalid_value(
                py,
                &unit_field,
                &format!("the array is datetime64[{own_unit}], which says otherwise"),
            ));
        }
        // The same memory seen as int64 (no copy), then read through its buffer.
        let ints = array.call_method1(intern!(py, "view"), ("<i8",))?;
        let Some(packed) = array_column(name, &ints, Layout::Int64)? else {
            return Err(invalid_type(
                py,
                name,
                "its datetime64 values have no buffer",
            ));
        };
        return scaled(py, name, IntColumn(packed), own).map(Some);
    }
    // Objects (aware datetimes, pandas Timestamps) are read one by one by the caller.
    if kind.as_deref() == Some("O") {
        return Ok(None);
    }
    let Some(packed) = array_column(name, &array, Layout::Int64)? else {
        return Ok(None);
    };
    let Some(factor) = given else {
        return Err(invalid_type(
            py,
            &unit_field,
            &format!(
                "an integer array of instants has no unit; pass {unit_field}=\"s\", \"ms\", \"us\" or \"ns\", or datetime64 values"
            ),
        ));
    };
    scaled(py, name, IntColumn(packed), factor).map(Some)
}

fn factor(unit: &str) -> Option<i64> {
    UNITS
        .iter()
        .find(|(known, _)| *known == unit)
        .map(|&(_, factor)| factor)
}

fn unit_name(factor: i64) -> &'static str {
    UNITS
        .iter()
        .find(|(_, known)| *known == factor)
        .map_or("us", |&(name, _)| name)
}

/// Epoch integers in a unit (see `UNITS`) as epoch microseconds within `INSTANT_MICROS`;
/// `NaT` (the smallest int64, numpy's missing instant) and values out of range are refused by
/// row. Microseconds are checked where they are, without a copy.
fn scaled<'a>(
    py: Python<'_>,
    name: &str,
    column: IntColumn<'a>,
    factor: i64,
) -> PyResult<IntColumn<'a>> {
    // One loop per unit, so each divides or multiplies by a constant (a multiplication and a
    // shift, not a division instruction per row).
    let converted = match factor {
        1_000_000 => convert(py, &column, |v| v.checked_mul(1_000_000)),
        1_000 => convert(py, &column, |v| v.checked_mul(1_000)),
        -1_000 => convert(py, &column, |v| Some(v.div_euclid(1_000))),
        _ => return in_range(py, name, &column).map(|()| column),
    };
    converted.map_err(|row| out_of_range(py, name, row, column.get(row), factor))
}

/// The values as microseconds, or the first row that is NaT or outside `INSTANT_MICROS`;
/// converted without the GIL, split over the cores like the batch itself.
fn convert<'a>(
    py: Python<'_>,
    column: &IntColumn<'_>,
    to_micros: impl Fn(i64) -> Option<i64> + Sync,
) -> Result<IntColumn<'a>, usize> {
    let mut micros = vec![[0u8; 8]; column.len()];
    py.detach(|| {
        parallel::fill(&mut micros, |_, rows, slots| -> Result<(), usize> {
            let start = rows.start;
            for (row, (value, slot)) in column.rows(rows).zip(slots).enumerate() {
                let converted = (value != i64::MIN)
                    .then(|| to_micros(value))
                    .flatten()
                    .filter(|micros| INSTANT_MICROS.contains(micros));
                *slot = converted.ok_or(start + row)?.to_le_bytes();
            }
            Ok(())
        })
    })?;
    Ok(IntColumn(Packed::Owned(micros.into_flattened())))
}

/// Checks epoch microseconds against `INSTANT_MICROS`: the smallest and largest first (a loop
/// the compiler vectorises), the offending row only if there is one.
fn in_range(py: Python<'_>, name: &str, column: &IntColumn<'_>) -> PyResult<()> {
    let (least, most) = column
        .rows(0..column.len())
        .fold((i64::MAX, i64::MIN), |(least, most), v| {
            (least.min(v), most.max(v))
        });
    if column.len() == 0 || (INSTANT_MICROS.contains(&least) && INSTANT_MICROS.contains(&most)) {
        return Ok(());
    }
    let row = column
        .rows(0..column.len())
        .position(|v| !INSTANT_MICROS.contains(&v))
        .expect("a value out of range");
    Err(out_of_range(py, name, row, column.get(row), 1))
}

/// The refusal of `value` (in the unit of `factor`) at `row`.
fn out_of_range(py: Python<'_>, name: &str, row: usize, value: i64, factor: i64) -> PyErr {
    let unit = unit_name(factor);
    let micros = match factor {
        f if f > 0 => value.checked_mul(f),
        f => Some(value.div_euclid(-f)),
    };
    let message = match micros.and_then(DateTime::from_timestamp_micros) {
        _ if value == i64::MIN => "NaT (not a time) is not an instant".to_owned(),
        Some(at) => format!(
            "{} ({value} {unit} since the epoch) {RANGE}",
            at.format("%Y-%m-%d %H:%M:%S%.f UTC")
        ),
        None => format!("{value} {unit} since the epoch {RANGE}"),
    };
    invalid_value(py, &format!("{name}[{row}]"), &message)
}
