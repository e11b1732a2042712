//! The card acceptance rule: `accept_card` (one card, raises `CardRefused`) and
//! `accept_cards` (columns of many cards, returns refusal codes).

use std::fmt::{self, Display};

use std::convert::Infallible;

use billing_core::rules::card::{
    CardFacts, CardRefusal, CheckResult, Funding, accept_card as rule,
};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};

use crate::args::{int, one_of};
use crate::columns::{self, CategoryColumn, category_column};
use crate::errors::{card_refused, invalid_type, invalid_value};
use crate::parallel;
use crate::time::{day, type_name};

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_function(wrap_pyfunction!(accept_card, m)?)?;
    m.add_function(wrap_pyfunction!(card_refusal, m)?)?;
    m.add_function(wrap_pyfunction!(accept_cards, m)?)?;
    m.add_function(wrap_pyfunction!(accept_cards_packed, m)?)?;
    m.add(
        "FUNDING_VALUES",
        PyTuple::new(py, FUNDINGS.map(|(name, _)| name))?,
    )?;
    m.add(
        "CHECK_VALUES",
        PyTuple::new(py, CHECKS.map(|(name, _)| name))?,
    )?;
    m.add(
        "CARD_REFUSAL_CODES",
        PyTuple::new(py, CardRefusal::ALL.map(CardRefusal::code))?,
    )?;
    Ok(())
}

/// `card.funding` values, in the order of their packed one-byte codes (`FUNDING_VALUES`).
const FUNDINGS: [(&str, Funding); 4] = [
    ("credit", Funding::Credit),
    ("debit", Funding::Debit),
    ("prepaid", Funding::Prepaid),
    ("unknown", Funding::Unknown),
];
/// `card.checks.*` values, in the order of their packed one-byte codes (`CHECK_VALUES`).
const CHECKS: [(&str, CheckResult); 4] = [
    ("pass", CheckResult::Pass),
    ("fail", CheckResult::Fail),
    ("unavailable", CheckResult::Unavailable),
    ("unchecked", CheckResult::Unchecked),
];

/// Stripe's `card.funding`, spelt exactly. Missing is "the network did not say", which the
/// rule refuses as an unsupported funding; a value Stripe does not send (`"Credit"`) is bad
/// input, never read as a funding.
fn funding(py: Python<'_>, field: &dyn Display, value: Option<&str>) -> PyResult<Funding> {
    value.map_or(Ok(Funding::Unknown), |name| {
        one_of(py, field, name, &FUNDINGS, "FUNDING_VALUES")
    })
}

/// A `card.checks.*` value, spelt exactly; missing is unchecked. `"FAIL"` or `"failed"` is bad
/// input: read as anything, it could let a failed check pass.
fn check(py: Python<'_>, field: &dyn Display, value: Option<&str>) -> PyResult<CheckResult> {
    value.map_or(Ok(CheckResult::Unchecked), |name| {
        one_of(py, field, name, &CHECKS, "CHECK_VALUES")
    })
}

/// Whether a value can be read as a mapping (a dict, or anything with `.get`), but not a str.
fn is_mapping(value: &Bound<'_, PyAny>) -> PyResult<bool> {
    Ok(value.cast::<PyDict>().is_ok()
        || (value.cast::<PyString>().is_err() && value.hasattr(intern!(value.py(), "get"))?))
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

/// `parent.key` as an optional exact value of an enumeration, read by `parse`.
fn optional_enum<T>(
    mapping: Option<&Bound<'_, PyAny>>,
    parent: &str,
    key: &Bound<'_, PyString>,
    parse: fn(Python<'_>, &dyn Display, Option<&str>) -> PyResult<T>,
) -> PyResult<T> {
    let py = key.py();
    let field = Dotted(parent, key);
    let Some(value) = mapping.map(|m| get(m, key)).transpose()?.flatten() else {
        return parse(py, &field, None);
    };
    let text = value.cast::<PyString>().map_err(|_| {
        invalid_type(
            py,
            field,
            &format!("expected a str, got {}", type_name(&value)),
        )
    })?;
    parse(py, &field, Some(&text.to_cow()?))
}

fn required_int<T: TryFrom<i64>>(
    card: &Bound<'_, PyAny>,
    key: &Bound<'_, PyString>,
    range: &str,
) -> PyResult<T> {
    let field = Dotted("card", key);
    let value = get(card, key)?
        .ok_or_else(|| invalid_type(card.py(), field, "is missing (expected an int)"))?;
    int(field, &value, range)
}

/// `parent.key`, formatted only when a message needs it (every card is read on every call).
#[derive(Clone, Copy)]
struct Dotted<'a, 'py>(&'a str, &'a Bound<'py, PyString>);

impl Display for Dotted<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

/// Reads Stripe's PaymentMethod (or its `card` object) into the facts the rule needs.
fn card_facts(payment_method: &Bound<'_, PyAny>) -> PyResult<CardFacts> {
    let py = payment_method.py();
    if !is_mapping(payment_method)? {
        return Err(invalid_type(
            py,
            "card",
            &format!(
                "expected a mapping shaped like Stripe's PaymentMethod or its `card`, got {}",
                type_name(payment_method)
            ),
        ));
    }
    let card = get(payment_method, intern!(py, "card"))?.unwrap_or_else(|| payment_method.clone());
    if !is_mapping(&card)? {
        return Err(invalid_type(
            py,
            "card.card",
            &format!("expected a mapping, got {}", type_name(&card)),
        ));
    }
    let checks = get(&card, intern!(py, "checks"))?;
    if let Some(checks) = &checks
        && !is_mapping(checks)?
    {
        return Err(invalid_type(
            py,
            "card.checks",
            &format!("expected a mapping, got {}", type_name(checks)),
        ));
    }
    let checks = checks.as_ref();
    let exp_month: u32 = required_int(&card, intern!(py, "exp_month"), "1-12")?;
    if !(1..=12).contains(&exp_month) {
        return Err(invalid_value(
            py,
            "card.exp_month",
            &format!("{exp_month} is not a month (1-12)"),
        ));
    }
    Ok(CardFacts {
        funding: optional_enum(Some(&card), "card", intern!(py, "funding"), funding)?,
        exp_month,
        exp_year: required_int(&card, intern!(py, "exp_year"), "a 32-bit year")?,
        cvc_check: optional_enum(checks, "card.checks", intern!(py, "cvc_check"), check)?,
        address_line1_check: optional_enum(
            checks,
            "card.checks",
            intern!(py, "address_line1_check"),
            check,
        )?,
        address_postal_code_check: optional_enum(
            checks,
            "card.checks",
            intern!(py, "address_postal_code_check"),
            check,
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

/// The card acceptance rule for one card, answered instead of raised: the refusal's code (one
/// of `CARD_REFUSAL_CODES`), or None when the card is accepted. Reads `card` and `today` as
/// `accept_card` does, and raises `InvalidInput` for what it cannot read.
///
/// For a loop over many cards: raising and catching `CardRefused` per refused card costs more
/// than the rule.
#[pyfunction]
fn card_refusal(
    card: &Bound<'_, PyAny>,
    today: &Bound<'_, PyAny>,
) -> PyResult<Option<&'static str>> {
    let facts = card_facts(card)?;
    Ok(rule(&facts, day("today", today)?)
        .err()
        .map(CardRefusal::code))
}

/// Per card in a batch: 0 when accepted, else 1 + the refusal's index in `CardRefusal::ALL`
/// (and so in `CARD_REFUSAL_CODES`).
type Outcome = u8;

/// Marks a card whose expiry month is not 1-12 or whose year does not fit an i32 (never a real
/// outcome).
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
    let fundings = category_column("funding", funding, &FUNDINGS.map(|(n, _)| n), |v| {
        self::funding(py, &"funding", v)
    })?;
    let months = columns::int_column("exp_month", exp_month)?;
    let years = columns::int_column("exp_year", exp_year)?;
    let rows = fundings.len();
    let read_checks = |name: &str, column: Option<&'a Bound<'py, PyAny>>| match column {
        Some(column) => category_column(name, column, &CHECKS.map(|(n, _)| n), |v| {
            check(py, &name, v)
        }),
        None => Ok(CategoryColumn::repeat(CheckResult::Unchecked, rows)),
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
                let (Some(exp_month), Ok(exp_year)) = (
                    u32::try_from(month).ok().filter(|m| (1..=12).contains(m)),
                    i32::try_from(year),
                ) else {
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
        let (month, year) = (months.get(i), years.get(i));
        return Err(if (1..=12).contains(&month) {
            invalid_value(py, "exp_year", &format!("card {i}: {year} is out of range"))
        } else {
            invalid_value(
                py,
                "exp_month",
                &format!("card {i}: {month} is not a month (1-12)"),
            )
        });
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
