//! Reading single arguments strictly: ints that are ints (never a bool, a float, a str or None),
//! amounts of money that fit a signed 64-bit integer, and enumeration values spelt exactly.
//! Every refusal names the argument and is an `InvalidInput` (or `MoneyOverflow` for money).

use std::fmt::Display;

use pyo3::exceptions::PyOverflowError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyString};

use crate::errors::{invalid_type, invalid_value, money_overflow};
use crate::time::type_name;

/// Why a value is not an `i64`.
enum NotI64 {
    /// Not an int at all (a bool counts as not an int).
    Type,
    /// An int outside the int64 range.
    Range,
}

/// A Python int, or an object with `__index__` (e.g. `numpy.int64`), as an `i64`. A bool is
/// refused although Python counts it as an int: `True` for an amount is always a mistake.
fn i64_of(value: &Bound<'_, PyAny>) -> Result<i64, NotI64> {
    if value.cast::<PyBool>().is_ok() {
        return Err(NotI64::Type);
    }
    value.extract::<i64>().map_err(|e| {
        if e.is_instance_of::<PyOverflowError>(value.py()) {
            NotI64::Range
        } else {
            NotI64::Type
        }
    })
}

fn not_an_int(field: impl Display + Copy, value: &Bound<'_, PyAny>) -> PyErr {
    invalid_type(
        value.py(),
        field,
        &format!("expected an int, got {}", type_name(value)),
    )
}

/// An int argument that must fit `T`; `range` says which values are allowed, for the message.
pub(crate) fn int<T: TryFrom<i64>>(
    field: impl Display + Copy,
    value: &Bound<'_, PyAny>,
    range: &str,
) -> PyResult<T> {
    let out_of_range = || {
        invalid_value(
            value.py(),
            field,
            &format!("{} is out of range ({range})", repr(value)),
        )
    };
    match i64_of(value) {
        Ok(n) => T::try_from(n).map_err(|_| out_of_range()),
        Err(NotI64::Range) => Err(out_of_range()),
        Err(NotI64::Type) => Err(not_an_int(field, value)),
    }
}

/// An amount of money (`unit` is "cents" or "micros"): an int in the int64 range. Larger is
/// `MoneyOverflow`, as the same amount computed in billing-core would be.
pub(crate) fn money(
    field: impl Display + Copy,
    value: &Bound<'_, PyAny>,
    unit: &str,
) -> PyResult<i64> {
    match i64_of(value) {
        Ok(n) => Ok(n),
        Err(NotI64::Range) => Err(money_overflow(
            value.py(),
            field,
            &format!(
                "{} {unit} does not fit in a signed 64-bit integer",
                repr(value)
            ),
        )),
        Err(NotI64::Type) => Err(invalid_type(
            value.py(),
            field,
            &format!(
                "expected an int amount of {unit} (money is never a float), got {}",
                type_name(value)
            ),
        )),
    }
}

/// An optional amount of money that may not be negative (a limit or a minimum).
pub(crate) fn optional_limit(
    field: impl Display + Copy,
    value: Option<&Bound<'_, PyAny>>,
    unit: &str,
) -> PyResult<Option<i64>> {
    let Some(value) = value.filter(|v| !v.is_none()) else {
        return Ok(None);
    };
    let amount = money(field, value, unit)?;
    if amount < 0 {
        return Err(invalid_value(
            value.py(),
            field,
            &format!("{amount} {unit} is negative"),
        ));
    }
    Ok(Some(amount))
}

/// A str argument.
pub(crate) fn text<'a, 'py>(
    field: impl Display + Copy,
    value: &'a Bound<'py, PyAny>,
) -> PyResult<&'a Bound<'py, PyString>> {
    value.cast::<PyString>().map_err(|_| {
        invalid_type(
            value.py(),
            field,
            &format!("expected a str, got {}", type_name(value)),
        )
    })
}

/// The value of an enumeration spelt exactly as one of `table`'s names (`listed` is the
/// module constant listing them, for the message).
pub(crate) fn one_of<T: Copy>(
    py: Python<'_>,
    field: impl Display + Copy,
    name: &str,
    table: &[(&str, T)],
    listed: &str,
) -> PyResult<T> {
    table
        .iter()
        .find(|(known, _)| *known == name)
        .map(|&(_, value)| value)
        .ok_or_else(|| {
            let names: Vec<String> = table.iter().map(|(n, _)| format!("'{n}'")).collect();
            invalid_value(
                py,
                field,
                &format!(
                    "'{name}' is not one of {} ({listed}; exact, lowercase)",
                    names.join(", ")
                ),
            )
        })
}

/// Python's `repr` of a value, for messages (never Rust's debug text).
pub(crate) fn repr(value: &Bound<'_, PyAny>) -> String {
    value
        .repr()
        .map(|r| r.to_string())
        .unwrap_or_else(|_| type_name(value))
}

/// `name[index]`, the field of one element of a column or list, formatted only when a message
/// needs it: most elements are good, and formatting a name per element costs more than
/// reading it.
#[derive(Clone, Copy)]
pub(crate) struct Element<'a>(pub(crate) &'a str, pub(crate) usize);

impl Display for Element<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}[{}]", self.0, self.1)
    }
}
