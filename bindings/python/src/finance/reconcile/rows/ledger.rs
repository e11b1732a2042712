//! Ledger rows: our ledger export (entry `id`, `kind`, `amount_micros`) or rows built in code
//! (`reference`, `amount` in cents).

use billing_core::domain::money::MICROS_PER_CENT;
use billing_core::rules::ledger::EntryKind;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::{At, Code, amount, cell, currency, dicts, text};
use crate::entry;
use crate::errors::{invalid_type, invalid_value};

/// A ledger credit or invoice payment, as read from one row.
pub(crate) struct LedgerRow {
    pub(crate) account: String,
    pub(crate) reference: String,
    /// Minor units, at most `AMOUNT_LIMIT`.
    pub(crate) amount: i64,
    pub(crate) currency: Code,
}

/// The ledger rows that are payments: credit purchases and paid invoices. A ledger export's
/// other rows (`kind` usage or adjustment) and rows of 0 (an unpaid invoice) are skipped.
pub(crate) fn ledger_rows(rows: &Bound<'_, PyAny>) -> PyResult<Vec<LedgerRow>> {
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
