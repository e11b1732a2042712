//! Stripe rows: PaymentIntents from a dashboard export (`csv.DictReader`: every value a str,
//! metadata as JSON text or `(metadata)` columns) or from the API (int amounts, a dict).

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use serde_json::Value;

use super::{At, Code, Field, amount, cell, currency, dicts, text};
use crate::errors::{invalid_type, invalid_value};
use crate::time::type_name;

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

/// A PaymentIntent of the Stripe export, as read from one row.
pub(crate) struct StripeRow {
    pub(crate) id: String,
    /// Minor units, at most `AMOUNT_LIMIT`.
    pub(crate) amount: i64,
    pub(crate) currency: Code,
    pub(crate) succeeded: bool,
    /// The metadata's `(account_id, reference)`, when it has both.
    pub(crate) key: Option<(String, String)>,
}

/// The PaymentIntents of a Stripe export.
pub(crate) fn stripe_rows(rows: &Bound<'_, PyAny>) -> PyResult<Vec<StripeRow>> {
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
