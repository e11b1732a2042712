//! The rows `reconcile` reads, as exports give them: dicts from `csv.DictReader` (every value a
//! `str`, an empty cell `""`) or from Stripe's API and our code (`int` amounts, a `metadata`
//! dict). Each field is read one way whatever its source, and every refusal names the row
//! and the field (`stripe_rows[3].amount`). Money is read as integer text, never as a float.

use std::fmt::{self, Display};

use billing_core::domain::money::MICROS_PER_CENT;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyString};

use crate::args::{Element, money, repr};
use crate::columns::each;
use crate::errors::{invalid_type, invalid_value};
use crate::time::type_name;

mod ledger;
mod stripe;

pub(super) use ledger::{LedgerRow, ledger_rows};
pub(super) use stripe::{StripeRow, stripe_rows};

/// The largest amount a row may hold (minor units): far above any payment Stripe takes
/// (99,999,999), and small enough that sums of rows cannot leave int64.
const AMOUNT_LIMIT: i64 = 1_000_000_000_000;

/// Row `row` of the argument `rows`, for the names of refusals: `stripe_rows[3].amount`.
#[derive(Clone, Copy)]
struct At<'a> {
    rows: &'a str,
    row: usize,
}

impl<'a> At<'a> {
    fn field(self, key: &'a str) -> Field<'a> {
        Field { at: self, key }
    }

    fn whole(self) -> Element<'a> {
        Element(self.rows, self.row)
    }
}

/// A field of a row, formatted only when a refusal shows it.
#[derive(Clone, Copy)]
struct Field<'a> {
    at: At<'a>,
    key: &'a str,
}

impl Display for Field<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}].{}", self.at.rows, self.at.row, self.key)
    }
}

/// The value of `key`, None when the key is missing, its value None (`csv` fills a short
/// line with None) or blank text (an empty CSV cell).
fn cell<'py>(
    dict: &Bound<'py, PyDict>,
    key: &Bound<'py, PyString>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    let Some(value) = dict.get_item(key)? else {
        return Ok(None);
    };
    if value.is_none() {
        return Ok(None);
    }
    if let Ok(text) = value.cast::<PyString>()
        && text.to_str()?.trim().is_empty()
    {
        return Ok(None);
    }
    Ok(Some(value))
}

/// A text field (trimmed, not blank); `value` is its `cell`.
fn text(at: At<'_>, key: &str, value: Option<Bound<'_, PyAny>>) -> PyResult<String> {
    let Some(value) = value else {
        return Err(Python::attach(|py| {
            invalid_type(py, at.field(key), "missing or empty; expected a str")
        }));
    };
    let text = value.cast::<PyString>().map_err(|_| {
        invalid_type(
            value.py(),
            at.field(key),
            &format!("expected a str, got {}", type_name(&value)),
        )
    })?;
    Ok(text.to_str()?.trim().to_owned())
}

/// A currency code: three ASCII letters, lowercase (held inline: a million rows need no
/// allocation for it).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) struct Code([u8; 3]);

impl Code {
    /// What the ledger bills in, and what a ledger row without a currency holds.
    const USD: Code = Code(*b"usd");

    pub(super) fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("ASCII letters")
    }
}

/// A currency code, lowercased (Stripe's API writes them lowercase, some exports upper-case
/// them). `None` when the cell is empty.
fn currency(at: At<'_>, value: Option<Bound<'_, PyAny>>) -> PyResult<Option<Code>> {
    let Some(value) = value else {
        return Ok(None);
    };
    let text = value.cast::<PyString>().map_err(|_| {
        invalid_type(
            value.py(),
            at.field("currency"),
            &format!("expected a str, got {}", type_name(&value)),
        )
    })?;
    let code = text.to_str()?.trim();
    match code.as_bytes() {
        &[a, b, c] if code.bytes().all(|b| b.is_ascii_alphabetic()) => Ok(Some(Code(
            [a, b, c].map(|letter| letter.to_ascii_lowercase()),
        ))),
        _ => Err(invalid_value(
            value.py(),
            at.field("currency"),
            &format!("'{code}' is not a three-letter currency code"),
        )),
    }
}

/// An amount in `unit`: an `int`, or text of digits; with `major`, also text with exactly two
/// decimals (`"20.00"`, major units as Stripe's dashboard shows them), read as `2000` minor
/// units digit by digit. Never a float, a bool, a negative or a sign.
fn amount(
    at: At<'_>,
    key: &str,
    value: Bound<'_, PyAny>,
    unit: &str,
    major: bool,
) -> PyResult<i64> {
    let py = value.py();
    let field = at.field(key);
    let limit = match unit {
        "micros" => AMOUNT_LIMIT * MICROS_PER_CENT,
        _ => AMOUNT_LIMIT,
    };
    let amount = if value.is_instance_of::<PyInt>() && !value.is_instance_of::<PyBool>() {
        money(field, &value, unit)?
    } else if let Ok(text) = value.cast::<PyString>() {
        let raw = text.to_str()?.trim();
        let digits = match raw.split_once('.') {
            Some((units, cents)) if major && cents.len() == 2 && !units.is_empty() => {
                [units, cents].concat()
            }
            _ => raw.to_owned(),
        };
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            let expected = match major {
                true => "minor units (\"2000\") or major units with two decimals (\"20.00\")",
                false => "an integer amount of micros or cents as digits (\"2000\")",
            };
            return Err(invalid_value(
                py,
                field,
                &format!("{} is not {expected}", repr(&value)),
            ));
        }
        // Digits only: the one failure left is a number beyond any amount.
        digits.parse::<i64>().unwrap_or(i64::MAX)
    } else {
        let float = match value.is_instance_of::<PyFloat>() {
            true => " (money is never a float)",
            false => "",
        };
        return Err(invalid_type(
            py,
            field,
            &format!(
                "expected an int or a str of digits{float}, got {}",
                type_name(&value)
            ),
        ));
    };
    if amount < 0 {
        return Err(invalid_value(
            py,
            field,
            &format!("{amount} {unit} is negative"),
        ));
    }
    if amount > limit {
        return Err(invalid_value(
            py,
            field,
            &format!("{} is above {limit} {unit}", repr(&value)),
        ));
    }
    Ok(amount)
}

/// Reads every row of `rows` (named `name`) with `read`, which gets each as a dict.
fn dicts<'py, T>(
    name: &str,
    rows: &Bound<'py, PyAny>,
    mut read: impl FnMut(At<'_>, &Bound<'py, PyDict>) -> PyResult<T>,
) -> PyResult<Vec<T>> {
    let mut row = 0usize;
    each(name, rows, |item| {
        let at = At { rows: name, row };
        row += 1;
        let dict = item.cast::<PyDict>().map_err(|_| {
            invalid_type(
                item.py(),
                at.whole(),
                &format!(
                    "expected a dict (a csv.DictReader row), got {}",
                    type_name(item)
                ),
            )
        })?;
        read(at, dict)
    })
}
