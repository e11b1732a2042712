//! `reconcile`: the ledger's credit purchases and invoice payments matched against a Stripe
//! export of PaymentIntents, every difference reported as a typed row.
//!
//! Rows match on (account, reference): the functions put `account_id` and `reference` (the
//! `cp_…` purchase or `in_…` invoice id; invoice ids repeat across accounts) in the metadata of
//! every PaymentIntent they create. Only `succeeded` PaymentIntents are payments: a declined
//! or cancelled attempt paid nothing, so it is no difference by itself.

use std::collections::BTreeMap;

use billing_core::domain::money::MICROS_PER_CENT;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyInt, PyString, PyTuple};

use super::non_negative;
use crate::columns::each;
use crate::errors::invalid;
use crate::time::type_name;

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyDifference>()?;
    m.add_function(wrap_pyfunction!(reconcile, m)?)?;
    m.add("DIFFERENCE_KINDS", PyTuple::new(m.py(), DIFFERENCE_KINDS)?)?;
    Ok(())
}

/// Every `Difference.kind`, in the order differences of one reference are reported.
const DIFFERENCE_KINDS: [&str; 7] = [
    "payment_without_reference",
    "duplicate_credit",
    "duplicate_payment",
    "paid_not_credited",
    "credited_not_paid",
    "currency_differs",
    "amount_differs",
];

/// The largest amount a row may hold (minor units): far above any payment Stripe takes
/// (99,999,999), and small enough that sums of rows cannot leave int64.
const AMOUNT_LIMIT: i64 = 1_000_000_000_000;

/// A ledger credit or invoice payment, as read from one row.
struct LedgerRow {
    account: String,
    reference: String,
    /// Minor units, at most `AMOUNT_LIMIT`.
    amount: i64,
    currency: String,
}

/// A PaymentIntent of the Stripe export, as read from one row.
struct StripeRow {
    id: String,
    /// Minor units.
    amount: i64,
    currency: String,
    succeeded: bool,
    /// The metadata's `(account_id, reference)`, when it has both.
    key: Option<(String, String)>,
}

/// One difference between the ledger and Stripe. Amounts are minor units (cents); a side
/// with no row has None.
#[pyclass(frozen, eq, get_all, name = "Difference", module = "billing_rules")]
#[derive(Clone, PartialEq)]
pub(crate) struct PyDifference {
    /// One of `DIFFERENCE_KINDS`.
    kind: &'static str,
    /// The account, None for a payment without our metadata.
    account_id: Option<String>,
    /// The `cp_…` or `in_…` id, None for a payment without our metadata.
    reference: Option<String>,
    /// What the ledger records for the reference (the sum, when duplicated).
    ledger_amount: Option<i64>,
    /// What Stripe collected for the reference (the sum, when duplicated).
    stripe_amount: Option<i64>,
    /// The ledger row's currency.
    ledger_currency: Option<String>,
    /// The succeeded payments' currency.
    stripe_currency: Option<String>,
    /// The PaymentIntents concerned (for `credited_not_paid`: those not succeeded, if any).
    payment_ids: Vec<String>,
}

#[pymethods]
impl PyDifference {
    fn __repr__(&self) -> String {
        format!(
            "Difference(kind={:?}, account_id={:?}, reference={:?}, ledger_amount={:?}, stripe_amount={:?}, payment_ids={:?})",
            self.kind,
            self.account_id,
            self.reference,
            self.ledger_amount,
            self.stripe_amount,
            self.payment_ids
        )
    }
}

/// What one (account, reference) has on each side.
#[derive(Default)]
struct Sides<'a> {
    ledger: Vec<&'a LedgerRow>,
    paid: Vec<&'a StripeRow>,
    unpaid: Vec<&'a StripeRow>,
}

/// The matching: every difference, in order of account, then reference.
fn differences(ledger: &[LedgerRow], stripe: &[StripeRow]) -> Vec<PyDifference> {
    let mut out = Vec::new();
    let mut by_key: BTreeMap<(&str, &str), Sides<'_>> = BTreeMap::new();
    for row in ledger {
        by_key
            .entry((&row.account, &row.reference))
            .or_default()
            .ledger
            .push(row);
    }
    for row in stripe {
        match (&row.key, row.succeeded) {
            (Some((account, reference)), true) => by_key
                .entry((account, reference))
                .or_default()
                .paid
                .push(row),
            (Some((account, reference)), false) => {
                if let Some(sides) = by_key.get_mut(&(account.as_str(), reference.as_str())) {
                    sides.unpaid.push(row);
                }
            }
            (None, true) => out.push(PyDifference {
                kind: "payment_without_reference",
                account_id: None,
                reference: None,
                ledger_amount: None,
                stripe_amount: Some(row.amount),
                ledger_currency: None,
                stripe_currency: Some(row.currency.clone()),
                payment_ids: vec![row.id.clone()],
            }),
            (None, false) => {}
        }
    }
    for ((account, reference), sides) in by_key {
        // A duplicate's amounts are summed (amounts are at most `AMOUNT_LIMIT`, so any
        // number of rows a machine can hold sums within int64).
        let ledger_amount =
            (!sides.ledger.is_empty()).then(|| sides.ledger.iter().map(|r| r.amount).sum());
        let stripe_amount =
            (!sides.paid.is_empty()).then(|| sides.paid.iter().map(|r| r.amount).sum());
        let ledger_currency = sides.ledger.first().map(|r| r.currency.clone());
        let stripe_currency = sides.paid.first().map(|r| r.currency.clone());
        let ids = |rows: &[&StripeRow]| rows.iter().map(|r| r.id.clone()).collect::<Vec<_>>();
        let mut report = |kind: &'static str, payment_ids: Vec<String>| {
            out.push(PyDifference {
                kind,
                account_id: Some(account.to_owned()),
                reference: Some(reference.to_owned()),
                ledger_amount,
                stripe_amount,
                ledger_currency: ledger_currency.clone(),
                stripe_currency: stripe_currency.clone(),
                payment_ids,
            })
        };
        let duplicated = sides.ledger.len() > 1 || sides.paid.len() > 1;
        if sides.ledger.len() > 1 {
            report("duplicate_credit", ids(&sides.paid));
        }
        if sides.paid.len() > 1 {
            report("duplicate_payment", ids(&sides.paid));
        }
        match (sides.ledger.first(), sides.paid.first()) {
            (None, None) => {}
            (None, Some(_)) => report("paid_not_credited", ids(&sides.paid)),
            (Some(_), None) => report("credited_not_paid", ids(&sides.unpaid)),
            // A duplicate is reported as such; its amounts are not compared one by one.
            (Some(_), Some(_)) if duplicated => {}
            (Some(credit), Some(payment)) if credit.currency != payment.currency => {
                report("currency_differs", ids(&sides.paid))
            }
            (Some(credit), Some(payment)) if credit.amount != payment.amount => {
                report("amount_differs", ids(&sides.paid))
            }
            (Some(_), Some(_)) => {}
        }
    }
    out
}

/// A required, non-empty text field.
fn text(name: &str, value: Option<Bound<'_, PyAny>>) -> PyResult<String> {
    let value = value.ok_or_else(|| invalid(format!("{name}: missing")))?;
    let text = value
        .cast::<PyString>()
        .map_err(|_| invalid(format!("{name}: expected a str, got {}", type_name(&value))))?
        .to_cow()?
        .trim()
        .to_owned();
    if text.is_empty() {
        return Err(invalid(format!("{name}: empty")));
    }
    Ok(text)
}

/// Minor units from an int or a string of digits (as `csv` gives); with `major`, also a
/// string with exactly two decimals (`"12.34"`, as Stripe's dashboard shows amounts).
fn minor_units(name: &str, value: Option<Bound<'_, PyAny>>, major: bool) -> PyResult<i64> {
    let value = value.ok_or_else(|| invalid(format!("{name}: missing")))?;
    if value.is_instance_of::<PyInt>() {
        return non_negative(name, &value).and_then(|amount| match amount <= AMOUNT_LIMIT {
            true => Ok(amount),
            false => Err(invalid(format!("{name}: {amount} is above {AMOUNT_LIMIT}"))),
        });
    }
    let raw = text(name, Some(value))?;
    let digits = match raw.split_once('.') {
        Some((units, cents)) if major && cents.len() == 2 => format!("{units}{cents}"),
        _ => raw.clone(),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        let expected = match major {
            true => "minor units (\"1234\") or an amount with two decimals (\"12.34\")",
            false => "minor units as digits (\"1234\")",
        };
        return Err(invalid(format!("{name}: {raw:?} is not {expected}")));
    }
    digits
        .parse()
        .ok()
        .filter(|amount| *amount <= AMOUNT_LIMIT)
        .ok_or_else(|| invalid(format!("{name}: {raw:?} is above {AMOUNT_LIMIT}")))
}

fn ledger_rows(rows: &Bound<'_, PyAny>) -> PyResult<Vec<LedgerRow>> {
    let py = rows.py();
    let mut n = 0usize;
    each("ledger_rows", rows, |row| {
        let at = |key: &str| format!("ledger_rows[{n}].{key}");
        let row_dict = row.cast::<PyDict>().map_err(|_| {
            invalid(format!(
                "ledger_rows[{n}]: expected a dict, got {}",
                type_name(row)
            ))
        })?;
        let amount = match (
            row_dict.get_item(intern!(py, "amount"))?,
            row_dict.get_item(intern!(py, "amount_micros"))?,
        ) {
            (Some(cents), None) => minor_units(&at("amount"), Some(cents), false)?,
            (None, Some(micros)) => {
                let micros = minor_units(&at("amount_micros"), Some(micros), false)?;
                if micros % MICROS_PER_CENT != 0 {
                    return Err(invalid(format!(
                        "{}: {micros} is not a whole number of cents",
                        at("amount_micros")
                    )));
                }
                micros / MICROS_PER_CENT
            }
            _ => {
                return Err(invalid(format!(
                    "ledger_rows[{n}]: give exactly one of `amount` (cents) and `amount_micros`"
                )));
            }
        };
        let reference = text(
            &at("reference"),
            row_dict.get_item(intern!(py, "reference"))?,
        )?;
        if !(reference.starts_with("cp_") || reference.starts_with("in_")) {
            return Err(invalid(format!(
                "{}: {reference:?} is neither a purchase (cp_…) nor an invoice (in_…) id",
                at("reference")
            )));
        }
        let parsed = LedgerRow {
            account: text(
                &at("account_id"),
                row_dict.get_item(intern!(py, "account_id"))?,
            )?,
            reference,
            amount,
            currency: text(&at("currency"), row_dict.get_item(intern!(py, "currency"))?)?,
        };
        n += 1;
        Ok(parsed)
    })
    // Zero is what an unpaid invoice has paid: nothing to match.
    .map(|rows| rows.into_iter().filter(|r| r.amount != 0).collect())
}

/// The metadata's `(account_id, reference)`: a dict, or the JSON text a CSV export holds.
fn metadata_key(name: &str, value: Option<Bound<'_, PyAny>>) -> PyResult<Option<(String, String)>> {
    let Some(value) = value.filter(|v| !v.is_none()) else {
        return Ok(None);
    };
    let py = value.py();
    let metadata = match value.cast::<PyString>() {
        Ok(json) if json.to_cow()?.trim().is_empty() => return Ok(None),
        Ok(json) => py
            .import(intern!(py, "json"))?
            .call_method1(intern!(py, "loads"), (json,))
            .map_err(|_| invalid(format!("{name}: not JSON")))?,
        Err(_) => value,
    };
    let metadata = metadata.cast_into::<PyDict>().map_err(|m| {
        invalid(format!(
            "{name}: expected a dict or a JSON object, got {}",
            type_name(m.into_inner().as_any())
        ))
    })?;
    let key = |key: &str| -> PyResult<Option<String>> {
        metadata
            .get_item(key)?
            .filter(|v| !v.is_none())
            .map(|v| text(&format!("{name}.{key}"), Some(v)))
            .transpose()
    };
    Ok(key("account_id")?.zip(key("reference")?))
}

fn stripe_rows(rows: &Bound<'_, PyAny>) -> PyResult<Vec<StripeRow>> {
    let py = rows.py();
    let mut n = 0usize;
    each("stripe_rows", rows, |row| {
        let at = |key: &str| format!("stripe_rows[{n}].{key}");
        let row_dict = row.cast::<PyDict>().map_err(|_| {
            invalid(format!(
                "stripe_rows[{n}]: expected a dict, got {}",
                type_name(row)
            ))
        })?;
        let parsed = StripeRow {
            id: text(&at("id"), row_dict.get_item(intern!(py, "id"))?)?,
            amount: minor_units(
                &at("amount"),
                row_dict.get_item(intern!(py, "amount"))?,
                true,
            )?,
            // Stripe's API writes currencies lowercase; some exports upper-case them.
            currency: text(&at("currency"), row_dict.get_item(intern!(py, "currency"))?)?
                .to_lowercase(),
            succeeded: text(&at("status"), row_dict.get_item(intern!(py, "status"))?)?
                == "succeeded",
            key: metadata_key(&at("metadata"), row_dict.get_item(intern!(py, "metadata"))?)?,
        };
        n += 1;
        Ok(parsed)
    })
}

/// **Matches the ledger against a Stripe export** and returns every difference, by account
/// and reference (`payment_without_reference` first).
///
/// `ledger_rows`: dicts with `account_id`, `reference` (`cp_…` credit purchase or `in_…`
/// invoice), `currency`, and `amount` (cents credited or paid) or `amount_micros` (whole
/// cents); a row of 0 (an unpaid invoice) is skipped. `stripe_rows`: dicts with Stripe's
/// PaymentIntent columns `id`, `amount` (minor units, or `"12.34"`), `currency`, `status`,
/// `metadata` (a dict or its JSON text); other keys are ignored. Values may be `str`, as
/// `csv.DictReader` gives them, or `int` for amounts.
#[pyfunction]
fn reconcile(
    ledger_rows: &Bound<'_, PyAny>,
    stripe_rows: &Bound<'_, PyAny>,
) -> PyResult<Vec<PyDifference>> {
    let ledger = self::ledger_rows(ledger_rows)?;
    let stripe = self::stripe_rows(stripe_rows)?;
    Ok(differences(&ledger, &stripe))
}
