//! Instant columns: `datetime64` and epoch-integer arrays, packed bytes, and lists of
//! datetimes, read as epoch microseconds for the batch close.

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple};

use super::{IntColumn, Layout, Packed, array_bytes, each, int_column};
use crate::errors::invalid;

/// The units an epoch-integer instant column may be in, and how many of each make a
/// microsecond (a negative factor divides, rounding down: a nanosecond instant falls in the
/// same billing period as the microsecond before it).
const UNITS: [(&str, i64); 4] = [("s", 1_000_000), ("ms", 1_000), ("us", 1), ("ns", -1_000)];

/// An instant column given as an array or packed bytes, as epoch microseconds; None for a
/// Python sequence (read element by element by the caller).
///
/// `datetime64` arrays (numpy; pandas and Arrow through `__array__`) carry their unit, read as
/// UTC. Integer arrays carry none, so `unit` (`"s"`, `"ms"`, `"us"` or `"ns"` since the epoch)
/// is required for them: a count of seconds read as microseconds would land in 1970. Packed
/// `bytes` are microseconds unless `unit` says otherwise.
pub(crate) fn instant_column<'a>(
    name: &str,
    column: &'a Bound<'_, PyAny>,
    unit: Option<&str>,
) -> PyResult<Option<IntColumn<'a>>> {
    let py = column.py();
    let factor = |unit: &str| {
        UNITS
            .iter()
            .find(|(known, _)| *known == unit)
            .map(|&(_, factor)| factor)
            .ok_or_else(|| {
                invalid(format!(
                    "{name}_unit: {unit:?} is not one of \"s\", \"ms\", \"us\", \"ns\""
                ))
            })
    };
    let given = unit.map(factor).transpose()?;
    if column.cast::<PyBytes>().is_ok() {
        let micros = int_column(name, column)?;
        return scaled(name, micros, given.unwrap_or(1)).map(Some);
    }
    if column.cast::<PyList>().is_ok() || column.cast::<PyTuple>().is_ok() {
        return match given {
            None | Some(1) => Ok(Some(IntColumn::from_values(&utc_datetimes(name, column)?))),
            Some(_) => Err(invalid(format!(
                "{name}_unit applies to arrays and packed bytes; a list holds aware datetimes or epoch microseconds"
            ))),
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
        let own = factor(&own_unit).map_err(|_| {
            invalid(format!(
                "{name}: datetime64 in unit {own_unit:?}; convert it to datetime64[us]"
            ))
        })?;
        if given.is_some_and(|given| given != own) {
            return Err(invalid(format!(
                "{name}: the array is datetime64[{own_unit}], but {name}_unit says otherwise"
            )));
        }
        let ints = array.call_method1(intern!(py, "view"), ("<i8",))?;
        let Some(bytes) = array_bytes(name, &ints, Layout::Int64)? else {
            return Err(invalid(format!(
                "{name}: its datetime64 values have no buffer"
            )));
        };
        return scaled(name, IntColumn(Packed::Array(bytes)), own).map(Some);
    }
    // Objects (aware datetimes, pandas Timestamps) are read one by one by the caller.
    if kind.as_deref() == Some("O") {
        return Ok(None);
    }
    let Some(bytes) = array_bytes(name, &array, Layout::Int64)? else {
        return Ok(None);
    };
    let Some(factor) = given else {
        return Err(invalid(format!(
            "{name}: an integer array has no unit; pass {name}_unit=\"s\", \"ms\", \"us\" or \"ns\", or datetime64 values"
        )));
    };
    scaled(name, IntColumn(Packed::Array(bytes)), factor).map(Some)
}

/// Epoch integers in a unit (see `UNITS`) as epoch microseconds; `NaT` (the smallest int64,
/// numpy's missing instant) and values out of range are refused by row.
fn scaled<'a>(name: &str, column: IntColumn<'a>, factor: i64) -> PyResult<IntColumn<'a>> {
    // One loop per unit, so each divides or multiplies by a constant (a multiplication and a
    // shift, not a division instruction per row).
    match factor {
        1_000_000 => convert(name, &column, |v| v.checked_mul(1_000_000)),
        1_000 => convert(name, &column, |v| v.checked_mul(1_000)),
        -1_000 => convert(name, &column, |v| Some(v.div_euclid(1_000))),
        _ => Ok(column),
    }
}

fn convert<'a>(
    name: &str,
    column: &IntColumn<'_>,
    to_micros: impl Fn(i64) -> Option<i64>,
) -> PyResult<IntColumn<'a>> {
    let mut micros = vec![0u8; column.len() * 8];
    let rows = column.rows(0..column.len()).zip(micros.chunks_exact_mut(8));
    for (row, (value, slot)) in rows.enumerate() {
        let converted = (value != i64::MIN).then(|| to_micros(value)).flatten();
        let Some(converted) = converted else {
            return Err(invalid(format!(
                "{name}[{row}]: {value} is not an instant (NaT or out of range)"
            )));
        };
        slot.copy_from_slice(&converted.to_le_bytes());
    }
    Ok(IntColumn(Packed::Owned(micros)))
}

/// A list or tuple of instants as epoch microseconds: ints are microseconds; `datetime`s in
/// `timezone.utc` (what exports and `datetime.now(timezone.utc)` give) are read from their
/// pickled state, ten bytes holding the fields, in one call; anything else (another zone, a
/// subclass such as a pandas `Timestamp`, a naive datetime) goes through `instant_or_micros`.
/// Reading the fields one attribute at a time costs more than the close rule itself.
fn utc_datetimes(name: &str, column: &Bound<'_, PyAny>) -> PyResult<Vec<i64>> {
    let py = column.py();
    let datetime = py.import(intern!(py, "datetime"))?;
    let datetime_type = datetime.getattr(intern!(py, "datetime"))?;
    let utc = datetime
        .getattr(intern!(py, "timezone"))?
        .getattr(intern!(py, "utc"))?;
    let mut row = 0;
    each(name, column, |item| {
        row += 1;
        if item.get_type().is(&datetime_type) {
            let (_, state): (Bound<'_, PyAny>, Bound<'_, PyTuple>) =
                item.call_method0(intern!(py, "__reduce__"))?.extract()?;
            if state.len() == 2 && state.get_item(1)?.is(&utc) {
                let fields = state.get_item(0)?;
                if let Some(micros) = fields
                    .cast::<PyBytes>()
                    .ok()
                    .and_then(|fields| utc_micros(fields.as_bytes()))
                {
                    return Ok(micros);
                }
            }
        }
        crate::time::instant(&format!("{name}[{}]", row - 1), item).map(|at| at.timestamp_micros())
    })
}

/// Epoch microseconds from a UTC `datetime`'s pickled state: year (2 bytes, big-endian),
/// month (its high bit the `fold` flag, meaningless in UTC), day, hour, minute, second,
/// microsecond (3 bytes, big-endian). None for anything else.
fn utc_micros(state: &[u8]) -> Option<i64> {
    let &[y1, y0, month, day, hour, minute, second, u2, u1, u0] = state else {
        return None;
    };
    let date = chrono::NaiveDate::from_ymd_opt(
        i32::from(u16::from_be_bytes([y1, y0])),
        u32::from(month & 0x7f),
        u32::from(day),
    )?;
    let at = date.and_hms_micro_opt(
        u32::from(hour),
        u32::from(minute),
        u32::from(second),
        u32::from_be_bytes([0, u2, u1, u0]),
    )?;
    Some(at.and_utc().timestamp_micros())
}
