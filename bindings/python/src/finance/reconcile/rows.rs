//! The rows `reconcile` reads, as exports give them: dicts from `csv.DictReader` (every value a
//! `str`, an empty cell `""`) or from Stripe's API and our code (`int` amounts, a `metadata`
//! dict). Each field is read one way whatever its source, and every refusal names the row
//! and the field (`stripe_rows[3].amount`). Money is read as integer text, never as a float.

use billing_core::domain::money::MICROS_PER_CENT;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyString};
use serde_json::Value;

use std::fmt::{self, Display};

use crate::args::{money, repr};
use crate::columns::{Row, each};
use crate::entry;
use crate::errors::{invalid_type, invalid_value};
use crate::time::type_name;
use billing_core::rules::ledger::EntryKind;

/// The largest amount a row may hold (minor units): far above any payment Stripe takes
/// (99,999,999), and small enough that sums of rows cannot leave int64.
const AMOUNT_LIMIT: i64 = 1_000_000_000_000;

/// Every PaymentIntent status, as Stripe's API spells it. Only `succeeded` is a payment.
const STATUSES: [&str; 7] = [
    "succeeded",
    "processing",
    "requires_payment_method",
    "requires_confirmation",
    "requires_action",
    "requires_capture",
    "canceled",
];

/// A ledger credit or invoice payment, as read from one row.
pub(super) struct LedgerRow {
    pub(super) account: String,
    pub(super) reference: String,
    /// Minor units, at most `AMOUNT_LIMIT`.
    pub(super) amount: i64,
    pub(super) currency: Code,
}

/// A PaymentIntent of the Stripe export, as read from one row.
pub(super) struct StripeRow {
    pub(super) id: String,
    /// Minor units, at most `AMOUNT_LIMIT`.
    pub(super) amount: i64,
    pub(super) currency: Code,
    pub(super) succeeded: bool,
    /// The metadata's `(account_id, reference)`, when it has both.
    pub(super) key: Option<(String, String)>,
}

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

    fn whole(self) -> Row<'a> {
        Row(self.rows, self.row)
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

/// The ledger rows that are payments: credit purchases and paid invoices. A ledger export's
/// other rows (`kind` usage or adjustment) and rows of 0 (an unpaid invoice) are skipped.
pub(super) fn ledger_rows(rows: &Bound<'_, PyAny>) -> PyResult<Vec<LedgerRow>> {
    let py = rows.py();
    let read = dicts("ledger_rows", rows, |at, row| {
        let kind = match cell(row, intern!(py, "kind"))? {
            Some(kind) => Some(entry::kind(
                py,
                at.field("kind"),
                &text(at, "kind", Some(kind))?,
            )?),
            None => None,
        };
        if matches!(kind, Some(EntryKind::Usage | EntryKind::Adjustment)) {
            return Ok(None);
        }
        let reference = reference(at, row, kind)?;
        let amount = match (
            cell(row, intern!(py, "amount"))?,
            cell(row, intern!(py, "amount_micros"))?,
        ) {
            (Some(cents), None) => amount(at, "amount", cents, "cents", false)?,
            (None, Some(micros)) => {
                let micros = amount(at, "amount_micros", micros, "micros", false)?;
                if micros % MICROS_PER_CENT != 0 {
                    return Err(invalid_value(
                        py,
                        at.field("amount_micros"),
                        &format!("{micros} micros is not a whole number of cents"),
                    ));
                }
                micros / MICROS_PER_CENT
            }
            (Some(_), Some(_)) => {
                return Err(invalid_value(
                    py,
                    at.whole(),
                    "has both `amount` (cents) and `amount_micros`; give one",
                ));
            }
            (None, None) => {
                return Err(invalid_type(
                    py,
                    at.whole(),
                    "has neither `amount` (cents) nor `amount_micros`; give one",
                ));
            }
        };
        Ok(Some(LedgerRow {
            account: text(at, "account_id", cell(row, intern!(py, "account_id"))?)?,
            reference,
            amount,
            // The ledger bills in one currency, usd; an export may leave the column out.
            currency: currency(at, cell(row, intern!(py, "currency"))?)?.unwrap_or(Code::USD),
        }))
    })?;
    // Zero is what an unpaid invoice has paid: nothing to match.
    Ok(read
        .into_iter()
        .flatten()
        .filter(|r| r.amount != 0)
        .collect())
}

/// A ledger row's `cp_…` or `in_…` id: its `reference`, or its ledger entry `id`
/// (`purchase:cp_…`, `invoice:in_…`); when both are given they must agree, and so must `kind`.
fn reference(at: At<'_>, row: &Bound<'_, PyDict>, kind: Option<EntryKind>) -> PyResult<String> {
    let py = row.py();
    let given = cell(row, intern!(py, "reference"))?
        .map(|r| text(at, "reference", Some(r)))
        .transpose()?;
    let from_id = match cell(row, intern!(py, "id"))? {
        Some(id) => {
            let id = text(at, "id", Some(id))?;
            let reference = id
                .strip_prefix("purchase:")
                .or_else(|| id.strip_prefix("invoice:"))
                .ok_or_else(|| {
                    invalid_value(
                        py,
                        at.field("id"),
                        &format!(
                            "'{id}' is not the ledger entry id of a purchase (purchase:cp_…) or an invoice (invoice:in_…)"
                        ),
                    )
                })?;
            Some(reference.to_owned())
        }
        None => None,
    };
    let reference = match (given, from_id) {
        (Some(given), Some(from_id)) if given != from_id => {
            return Err(invalid_value(
                py,
                at.field("reference"),
                &format!("'{given}' is not the reference of the entry id ('{from_id}')"),
            ));
        }
        (Some(reference), _) | (None, Some(reference)) => reference,
        (None, None) => {
            return Err(invalid_type(
                py,
                at.field("reference"),
                "missing or empty; give the cp_… or in_… id (or the ledger entry `id`)",
            ));
        }
    };
    let expected = match kind {
        Some(EntryKind::CreditPurchase) => Some(("cp_", "credit_purchase")),
        Some(EntryKind::Invoiced) => Some(("in_", "invoiced")),
        _ => None,
    };
    let fits = match expected {
        Some((prefix, _)) => reference.starts_with(prefix),
        None => reference.starts_with("cp_") || reference.starts_with("in_"),
    };
    if !fits {
        let what = match expected {
            Some((prefix, kind)) => format!("is not the {prefix}… id a {kind} entry has"),
            None => "is neither a purchase (cp_…) nor an invoice (in_…) id".to_owned(),
        };
        return Err(invalid_value(
            py,
            at.field("reference"),
            &format!("'{reference}' {what}"),
        ));
    }
    Ok(reference)
}

/// The PaymentIntents of a Stripe export.
pub(super) fn stripe_rows(rows: &Bound<'_, PyAny>) -> PyResult<Vec<StripeRow>> {
    let py = rows.py();
    dicts("stripe_rows", rows, |at, row| {
        let status = text(at, "status", cell(row, intern!(py, "status"))?)?;
        if !STATUSES.contains(&status.as_str()) {
            return Err(invalid_value(
                py,
                at.field("status"),
                &format!(
                    "'{status}' is not a PaymentIntent status ('{}'; exact, lowercase)",
                    STATUSES.join("', '")
                ),
            ));
        }
        let Some(amount_cell) = cell(row, intern!(py, "amount"))? else {
            return Err(invalid_type(
                py,
                at.field("amount"),
                "missing or empty; expected minor units",
            ));
        };
        Ok(StripeRow {
            id: text(at, "id", cell(row, intern!(py, "id"))?)?,
            amount: amount(at, "amount", amount_cell, "cents", true)?,
            currency: match currency(at, cell(row, intern!(py, "currency"))?)? {
                Some(code) => code,
                None => {
                    return Err(invalid_type(
                        py,
                        at.field("currency"),
                        "missing or empty; expected a str",
                    ));
                }
            },
            succeeded: status == "succeeded",
            key: metadata_key(at, row)?,
        })
    })
}

/// The `(account_id, reference)` the functions set in a PaymentIntent's metadata: from
/// `metadata` (a dict, or its JSON text as an export writes it), or from the dashboard's
/// `account_id (metadata)` and `reference (metadata)` columns. None unless both are there.
fn metadata_key(at: At<'_>, row: &Bound<'_, PyDict>) -> PyResult<Option<(String, String)>> {
    let py = row.py();
    let field = at.field("metadata");
    let from_metadata = match cell(row, intern!(py, "metadata"))? {
        None => None,
        Some(value) => match value.cast::<PyString>() {
            Ok(json) => Some(json_key(at, json.to_str()?)?),
            Err(_) => {
                let metadata = value.cast::<PyDict>().map_err(|_| {
                    invalid_type(
                        py,
                        field,
                        &format!(
                            "expected a dict or its JSON text, got {}",
                            type_name(&value)
                        ),
                    )
                })?;
                let key = |key: &Bound<'_, PyString>, name| -> PyResult<Option<String>> {
                    cell(metadata, key)?
                        .map(|v| text(at, name, Some(v)))
                        .transpose()
                };
                Some((
                    key(intern!(py, "account_id"), "metadata.account_id")?,
                    key(intern!(py, "reference"), "metadata.reference")?,
                ))
            }
        },
    };
    let column = |key: &Bound<'_, PyString>, name| -> PyResult<Option<String>> {
        cell(row, key)?.map(|v| text(at, name, Some(v))).transpose()
    };
    let from_columns = (
        column(
            intern!(py, "account_id (metadata)"),
            "account_id (metadata)",
        )?,
        column(intern!(py, "reference (metadata)"), "reference (metadata)")?,
    );
    let (account, reference) = match from_metadata {
        Some(metadata) if from_columns != (None, None) && from_columns != metadata => {
            return Err(invalid_value(
                py,
                field,
                "disagrees with the `account_id (metadata)` / `reference (metadata)` columns",
            ));
        }
        Some(metadata) => metadata,
        None => from_columns,
    };
    Ok(account.zip(reference))
}

/// The metadata's `(account_id, reference)` from its JSON text, parsed here rather than by
/// `json.loads`, which would build a Python dict per row to read two strings from it.
fn json_key(at: At<'_>, json: &str) -> PyResult<(Option<String>, Option<String>)> {
    let refuse = |class: fn(Python<'_>, Field<'_>, &str) -> PyErr, message: String| {
        Python::attach(|py| class(py, at.field("metadata"), &message))
    };
    let parsed: Value = serde_json::from_str(json).map_err(|e| {
        refuse(
            |py, field, message| invalid_value(py, field, message),
            format!("'{json}' is not JSON ({e})"),
        )
    })?;
    let Value::Object(metadata) = parsed else {
        return Err(refuse(
            |py, field, message| invalid_type(py, field, message),
            format!("expected a JSON object, got '{json}'"),
        ));
    };
    let key = |key: &str, name| match metadata.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if text.trim().is_empty() => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.trim().to_owned())),
        Some(other) => Err(Python::attach(|py| {
            invalid_type(
                py,
                at.field(name),
                &format!("expected a str, got the JSON value {other}"),
            )
        })),
    };
    Ok((
        key("account_id", "metadata.account_id")?,
        key("reference", "metadata.reference")?,
    ))
}
