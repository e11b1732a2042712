//! The card acceptance rule: `accept_card` (one card, raises `CardRefused`) and
//! `accept_cards` (columns of many cards, returns refusal codes).

use std::convert::Infallible;

use billing_core::rules::card::{
    CardFacts, CardRefusal, CheckResult, Funding, accept_card as rule,
};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};

use crate::columns::{self, CategoryColumn, category_column};
use crate::errors::{card_refused, invalid};
use crate::parallel;
use crate::time::{day, type_name};

/// `card.funding` values, in the order of their packed one-byte codes.
const FUNDING_VALUES: [&str; 4] = ["credit", "debit", "prepaid", "unknown"];
/// `card.checks.*` values, in the order of their packed one-byte codes.
const CHECK_VALUES: [&str; 4] = ["pass", "fail", "unavailable", "unchecked"];

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_function(wrap_pyfunction!(accept_card, m)?)?;
    m.add_function(wrap_pyfunction!(accept_cards, m)?)?;
    m.add_function(wrap_pyfunction!(accept_cards_packed, m)?)?;
    m.add("FUNDING_VALUES", PyTuple::new(py, FUNDING_VALUES)?)?;
    m.add("CHECK_VALUES", PyTuple::new(py, CHECK_VALUES)?)?;
    m.add(
        "CARD_REFUSAL_CODES",
        PyTuple::new(py, CardRefusal::ALL.map(CardRefusal::code))?,
    )?;
    Ok(())
}

fn funding(value: Option<&str>) -> PyResult<Funding> {
    // A missing funding is "the network did not say", which the rule refuses.
    Ok(Funding::from_stripe(value.unwrap_or_default()))
}

fn check(value: Option<&str>) -> PyResult<CheckResult> {
    Ok(CheckResult::from_stripe(value))
}

fn get<'py>(
    mapping: &Bound<'py, PyAny>,
    key: &Bound<'py, PyString>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    let value = if let Ok(dict) = mapping.cast::<PyDict>() {
        dict.get_item(key)?
    } else {
        Some(mapping.call_method1(intern!(mapping.py(), "get"), (key,))?)
    };
    Ok(value.filter(|v| !v.is_none()))
}

fn optional_str(
    mapping: Option<&Bound<'_, PyAny>>,
    key: &Bound<'_, PyString>,
) -> PyResult<Option<String>> {
    let Some(mapping) = mapping else {
        return Ok(None);
    };
    get(mapping, key)?
        .map(|v| {
            v.extract::<String>()
                .map_err(|_| invalid(format!("card.{key}: expected a str, got {}", type_name(&v))))
        })
        .transpose()
}

fn required_int<T: for<'a, 'py> FromPyObject<'a, 'py>>(
    card: &Bound<'_, PyAny>,
    key: &Bound<'_, PyString>,
) -> PyResult<T> {
    let value = get(card, key)?.ok_or_else(|| invalid(format!("card.{key} is missing")))?;
    value
        .extract::<T>()
        .map_err(|_| invalid(format!("card.{key}: expected an int in range, got {value}")))
}

/// Reads Stripe's PaymentMethod (or its `card` object) into the facts the rule needs.
fn card_facts(payment_method: &Bound<'_, PyAny>) -> PyResult<CardFacts> {
    let py = payment_method.py();
    if payment_method.cast::<PyString>().is_ok() || !payment_method.hasattr(intern!(py, "get"))? {
        return Err(invalid(format!(
            "card: expected a mapping shaped like Stripe's PaymentMethod or its `card`, got {}",
            type_name(payment_method)
        )));
    }
    let card = get(payment_method, intern!(py, "card"))?.unwrap_or_else(|| payment_method.clone());
    let checks = get(&card, intern!(py, "checks"))?;
    let checks = checks.as_ref();
    Ok(CardFacts {
        funding: funding(optional_str(Some(&card), intern!(py, "funding"))?.as_deref())?,
        exp_month: required_int(&card, intern!(py, "exp_month"))?,
        exp_year: required_int(&card, intern!(py, "exp_year"))?,
        cvc_check: check(optional_str(checks, intern!(py, "cvc_check"))?.as_deref())?,
        address_line1_check: check(
            optional_str(checks, intern!(py, "address_line1_check"))?.as_deref(),
        )?,
        address_postal_code_check: check(
            optional_str(checks, intern!(py, "address_postal_code_check"))?.as_deref(),
        )?,
    })
}

/// The card acceptance rule for one card.
///
/// `card` is a mapping shaped like a Stripe PaymentMethod, or like its `card` object:
/// `funding`, `exp_month`, `exp_year` and optionally `checks` with `cvc_check`,
/// `address_line1_check` and `address_postal_code_check` (missing or None: unchecked).
/// `today` is the UTC calendar day.
///
/// Returns None when the card is accepted; raises `CardRefused` (with `.code` and `.message`)
/// for the first failing condition otherwise.
#[pyfunction]
fn accept_card(py: Python<'_>, card: &Bound<'_, PyAny>, today: &Bound<'_, PyAny>) -> PyResult<()> {
    let facts = card_facts(card)?;
    rule(&facts, day("today", today)?).map_err(|refusal| card_refused(py, refusal))
}

/// Per card in a batch: 0 when accepted, else 1 + the refusal's index in `CardRefusal::ALL`
/// (and so in `CARD_REFUSAL_CODES`).
type Outcome = u8;

/// Marks a card whose expiry does not fit the rule's integer types (never a real outcome).
const OUT_OF_RANGE: Outcome = Outcome::MAX;

fn outcome(refusal: Option<CardRefusal>) -> Outcome {
    refusal.map_or(0, |refusal| {
        let index = CardRefusal::ALL
            .iter()
            .position(|&r| r == refusal)
            .expect("in ALL");
        1 + Outcome::try_from(index).expect("a handful of refusals")
    })
}

/// Reads the columns of a batch and runs billing-core's rule on every card, without the GIL and
/// over every core. Returns one `Outcome` per card.
#[allow(clippy::too_many_arguments)]
fn outcomes<'a, 'py>(
    py: Python<'py>,
    today: &'a Bound<'py, PyAny>,
    funding: &'a Bound<'py, PyAny>,
    exp_month: &'a Bound<'py, PyAny>,
    exp_year: &'a Bound<'py, PyAny>,
    cvc_check: Option<&'a Bound<'py, PyAny>>,
    address_line1_check: Option<&'a Bound<'py, PyAny>>,
    address_postal_code_check: Option<&'a Bound<'py, PyAny>>,
) -> PyResult<Vec<Outcome>> {
    let today = day("today", today)?;
    let fundings = category_column("funding", funding, &FUNDING_VALUES, self::funding)?;
    let months = columns::int_column("exp_month", exp_month)?;
    let years = columns::int_column("exp_year", exp_year)?;
    let rows = fundings.len();
    let read_checks = |name: &str, column: Option<&'a Bound<'py, PyAny>>| match column {
        Some(column) => category_column(name, column, &CHECK_VALUES, check),
        None => Ok(CategoryColumn::repeat(CheckResult::from_stripe(None), rows)),
    };
    let cvc = read_checks("cvc_check", cvc_check)?;
    let line1 = read_checks("address_line1_check", address_line1_check)?;
    let postal = read_checks("address_postal_code_check", address_postal_code_check)?;
    columns::same_length(&[
        ("funding", rows),
        ("exp_month", months.len()),
        ("exp_year", years.len()),
        ("cvc_check", cvc.len()),
        ("address_line1_check", line1.len()),
        ("address_postal_code_check", postal.len()),
    ])?;
    let mut outcomes = vec![0; rows];
    py.detach(|| {
        parallel::fill(&mut outcomes, |_, part, out| {
            let expiries = months.rows(part.clone()).zip(years.rows(part.clone()));
            let checks = cvc
                .rows(part.clone())
                .zip(line1.rows(part.clone()))
                .zip(postal.rows(part.clone()));
            let cards = fundings.rows(part).zip(expiries).zip(checks);
            for (slot, ((funding, (month, year)), ((cvc, line1), postal))) in
                out.iter_mut().zip(cards)
            {
                let (Ok(exp_month), Ok(exp_year)) = (u32::try_from(month), i32::try_from(year))
                else {
                    *slot = OUT_OF_RANGE;
                    continue;
                };
                let card = CardFacts {
                    funding,
                    exp_month,
                    exp_year,
                    cvc_check: cvc,
                    address_line1_check: line1,
                    address_postal_code_check: postal,
                };
                *slot = outcome(rule(&card, today).err());
            }
            Ok::<(), Infallible>(())
        })
    })
    .unwrap_or_else(|never| match never {});
    // Checked with a loop the compiler vectorises; the row is looked for only when there is one.
    if outcomes.iter().fold(0, |largest, &o| largest.max(o)) == OUT_OF_RANGE
        && let Some(i) = outcomes.iter().position(|&o| o == OUT_OF_RANGE)
    {
        return Err(invalid(format!(
            "card {i}: exp_month {} / exp_year {} is out of range",
            months.get(i),
            years.get(i)
        )));
    }
    Ok(outcomes)
}

/// The card acceptance rule over many cards given as columns (one element per card).
///
/// Each column is a list or tuple, or a `bytes` object in the packed layout: `exp_month` and
/// `exp_year` as little-endian int64 (8 bytes per card); `funding` and the check columns one
/// byte per card, the index of the value in `FUNDING_VALUES` / `CHECK_VALUES`. A check column
/// left as None means "unchecked" for every card; a None element means unchecked for that card.
///
/// Returns one entry per card: None when accepted, else the refusal code (see
/// `CARD_REFUSAL_CODES`). The same answers as `accept_card`, without raising.
#[pyfunction]
#[pyo3(signature = (today, funding, exp_month, exp_year, cvc_check=None, address_line1_check=None, address_postal_code_check=None))]
#[allow(clippy::too_many_arguments)]
fn accept_cards<'a, 'py>(
    py: Python<'py>,
    today: &'a Bound<'py, PyAny>,
    funding: &'a Bound<'py, PyAny>,
    exp_month: &'a Bound<'py, PyAny>,
    exp_year: &'a Bound<'py, PyAny>,
    cvc_check: Option<&'a Bound<'py, PyAny>>,
    address_line1_check: Option<&'a Bound<'py, PyAny>>,
    address_postal_code_check: Option<&'a Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyList>> {
    let outcomes = outcomes(
        py,
        today,
        funding,
        exp_month,
        exp_year,
        cvc_check,
        address_line1_check,
        address_postal_code_check,
    )?;
    let mut codes = vec![py.None().into_bound(py)];
    codes.extend(CardRefusal::ALL.map(|r| PyString::intern(py, r.code()).into_any()));
    PyList::new(
        py,
        outcomes.into_iter().map(|n| codes[usize::from(n)].clone()),
    )
}

/// `accept_cards` with a packed answer: `bytes`, one byte per card, 0 when the card is
/// accepted, else 1 + the index of its refusal code in `CARD_REFUSAL_CODES` (so
/// `(None, *CARD_REFUSAL_CODES)[b]` is what `accept_cards` gives). Same columns, same rule, same
/// answers; no Python object is made per card.
#[pyfunction]
#[pyo3(signature = (today, funding, exp_month, exp_year, cvc_check=None, address_line1_check=None, address_postal_code_check=None))]
#[allow(clippy::too_many_arguments)]
fn accept_cards_packed<'a, 'py>(
    py: Python<'py>,
    today: &'a Bound<'py, PyAny>,
    funding: &'a Bound<'py, PyAny>,
    exp_month: &'a Bound<'py, PyAny>,
    exp_year: &'a Bound<'py, PyAny>,
    cvc_check: Option<&'a Bound<'py, PyAny>>,
    address_line1_check: Option<&'a Bound<'py, PyAny>>,
    address_postal_code_check: Option<&'a Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyBytes>> {
    let outcomes = outcomes(
        py,
        today,
        funding,
        exp_month,
        exp_year,
        cvc_check,
        address_line1_check,
        address_postal_code_check,
    )?;
    Ok(PyBytes::new(py, &outcomes))
}
