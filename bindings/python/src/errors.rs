//! One Python exception per error kind of billing-core, all under `BillingError`.
//!
//! Each core error enum is mapped here, in one place, with an exhaustive `match`. Bad input is
//! `InvalidInput`, raised as `InvalidType` (also a `TypeError`) or `InvalidValue` (also a
//! `ValueError`, and the base of `ParseError`), so `except TypeError` / `except ValueError`
//! written for the standard library catches them too. Those three have two bases, which
//! `create_exception!` cannot express: they are made with `type(...)` when the module loads.

use std::fmt::Display;

use billing_core::error::{MoneyError, ParseError as CoreParseError};
use billing_core::rules::card::CardRefusal;
use billing_core::rules::purchase::AmountRefusal;
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyString, PyTuple, PyType};

create_exception!(
    billing_rules,
    BillingError,
    PyException,
    "Base class of every error raised by billing_rules."
);
create_exception!(
    billing_rules,
    InvalidInput,
    BillingError,
    "An argument cannot be read as given. Raised as one of its two subclasses: `InvalidType` (also a `TypeError`) or `InvalidValue` (also a `ValueError`). `field` names the argument (or None for a whole batch)."
);
create_exception!(
    billing_rules,
    MoneyOverflow,
    BillingError,
    "An amount left the range of a signed 64-bit integer (billing-core's MoneyError::Overflow)."
);
create_exception!(
    billing_rules,
    UnsupportedCurrency,
    BillingError,
    "A currency the platform does not bill in (billing-core's MoneyError::UnsupportedCurrency). `currency` holds the code given."
);
create_exception!(
    billing_rules,
    CardRefused,
    BillingError,
    "The card acceptance rule refused the card. `code` is the stable API code (one of CARD_REFUSAL_CODES), `message` what to tell the person."
);
create_exception!(
    billing_rules,
    AmountRefused,
    BillingError,
    "A purchase amount is outside the limits. `code` is `amount_too_small` or `amount_too_large`, `limit` the bound crossed in cents, `message` what to tell the person."
);

/// `InvalidType(InvalidInput, TypeError)`, made in `register`.
static INVALID_TYPE: PyOnceLock<Py<PyType>> = PyOnceLock::new();
/// `InvalidValue(InvalidInput, ValueError)`, made in `register`.
static INVALID_VALUE: PyOnceLock<Py<PyType>> = PyOnceLock::new();
/// `ParseError(InvalidValue)`, made in `register`.
static PARSE_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();

const INVALID_TYPE_DOC: &str = "An argument has the wrong type: None, a str or a float where an int is expected, a bool where an int is expected, a bare int where an instant is expected, a naive datetime. Also a TypeError. `field` names the argument.";
const INVALID_VALUE_DOC: &str = "An argument has the right type but a value the rules cannot take: an enumeration value not spelt exactly, a month outside 1-12, an int out of range, an instant outside 1970-9998, a usage amount with the wrong sign, ragged batch columns. Also a ValueError. `field` names the argument.";
const PARSE_ERROR_DOC: &str = "A value did not parse into a domain type (billing-core's ParseError), e.g. a period that is not YYYY-MM. `field` names the field, `reason` says what is wrong.";

/// A class named `name` in `billing_rules` with the given bases, as `class name(*bases)` would.
fn class<'py>(
    py: Python<'py>,
    name: &str,
    doc: &str,
    bases: Bound<'py, PyTuple>,
) -> PyResult<Py<PyType>> {
    let namespace = PyDict::new(py);
    namespace.set_item("__module__", "billing_rules")?;
    namespace.set_item("__doc__", doc)?;
    Ok(py
        .get_type::<PyType>()
        .call1((name, bases, namespace))?
        .cast_into::<PyType>()?
        .unbind())
}

fn invalid_type_class(py: Python<'_>) -> PyResult<&Py<PyType>> {
    INVALID_TYPE.get_or_try_init(py, || {
        let bases = PyTuple::new(
            py,
            [py.get_type::<InvalidInput>(), py.get_type::<PyTypeError>()],
        )?;
        class(py, "InvalidType", INVALID_TYPE_DOC, bases)
    })
}

fn invalid_value_class(py: Python<'_>) -> PyResult<&Py<PyType>> {
    INVALID_VALUE.get_or_try_init(py, || {
        let bases = PyTuple::new(
            py,
            [py.get_type::<InvalidInput>(), py.get_type::<PyValueError>()],
        )?;
        class(py, "InvalidValue", INVALID_VALUE_DOC, bases)
    })
}

fn parse_error_class(py: Python<'_>) -> PyResult<&Py<PyType>> {
    PARSE_ERROR.get_or_try_init(py, || {
        let bases = PyTuple::new(py, [invalid_value_class(py)?.bind(py).clone()])?;
        class(py, "ParseError", PARSE_ERROR_DOC, bases)
    })
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("BillingError", py.get_type::<BillingError>())?;
    m.add("InvalidInput", py.get_type::<InvalidInput>())?;
    m.add("InvalidType", invalid_type_class(py)?.bind(py))?;
    m.add("InvalidValue", invalid_value_class(py)?.bind(py))?;
    m.add("ParseError", parse_error_class(py)?.bind(py))?;
    m.add("MoneyOverflow", py.get_type::<MoneyOverflow>())?;
    m.add("UnsupportedCurrency", py.get_type::<UnsupportedCurrency>())?;
    m.add("CardRefused", py.get_type::<CardRefused>())?;
    m.add("AmountRefused", py.get_type::<AmountRefused>())?;
    Ok(())
}

/// Builds an exception and sets attributes on the instance.
fn with_attrs(py: Python<'_>, err: PyErr, attrs: &[(&str, Bound<'_, PyAny>)]) -> PyResult<PyErr> {
    let value = err.value(py);
    for (name, attr) in attrs {
        value.setattr(*name, attr)?;
    }
    Ok(err)
}

fn finish(result: PyResult<PyErr>) -> PyErr {
    result.unwrap_or_else(|failed_to_build| failed_to_build)
}

/// An exception of `class` saying `"{field}: {message}"`, with `.field`.
fn about_field(
    py: Python<'_>,
    class: fn(Python<'_>) -> PyResult<&Py<PyType>>,
    field: impl Display + Copy,
    message: &str,
) -> PyErr {
    finish((|| {
        let err = PyErr::from_type(class(py)?.bind(py).clone(), format!("{field}: {message}"));
        with_attrs(
            py,
            err,
            &[("field", field.to_string().into_pyobject(py)?.into_any())],
        )
    })())
}

/// `InvalidType` (a `TypeError` too): `field` got a value of the wrong type.
pub(crate) fn invalid_type(py: Python<'_>, field: impl Display + Copy, message: &str) -> PyErr {
    about_field(py, invalid_type_class, field, message)
}

/// `InvalidValue` (a `ValueError` too): `field` got a value the rules cannot take.
pub(crate) fn invalid_value(py: Python<'_>, field: impl Display + Copy, message: &str) -> PyErr {
    about_field(py, invalid_value_class, field, message)
}

/// `MoneyOverflow` for an amount given in `field` that does not fit a signed 64-bit integer.
pub(crate) fn money_overflow(py: Python<'_>, field: impl Display + Copy, message: &str) -> PyErr {
    finish((|| {
        let err = MoneyOverflow::new_err(format!("{field}: {message}"));
        with_attrs(
            py,
            err,
            &[("field", field.to_string().into_pyobject(py)?.into_any())],
        )
    })())
}

/// `MoneyError` → `MoneyOverflow` / `UnsupportedCurrency`. An overflow while computing (a
/// balance that leaves int64) is no one argument's fault: its `field` is None.
pub(crate) fn money_error(py: Python<'_>, error: MoneyError) -> PyErr {
    let message = error.to_string();
    match error {
        MoneyError::Overflow => finish(with_attrs(
            py,
            MoneyOverflow::new_err(message),
            &[("field", py.None().into_bound(py))],
        )),
        MoneyError::UnsupportedCurrency(code) => finish((|| {
            with_attrs(
                py,
                UnsupportedCurrency::new_err(message),
                &[("currency", code.into_pyobject(py)?.into_any())],
            )
        })()),
    }
}

/// billing-core's `ParseError` → `ParseError` with `field` and `reason`.
pub(crate) fn parse_error(py: Python<'_>, error: CoreParseError) -> PyErr {
    let message = error.to_string();
    finish((|| {
        with_attrs(
            py,
            PyErr::from_type(parse_error_class(py)?.bind(py).clone(), message),
            &[
                ("field", error.field.into_pyobject(py)?.into_any()),
                ("reason", error.reason.into_pyobject(py)?.into_any()),
            ],
        )
    })())
}

/// `CardRefusal` → `CardRefused` with `code` and `message`.
pub(crate) fn card_refused(py: Python<'_>, refusal: CardRefusal) -> PyErr {
    finish((|| {
        let texts = CARD_REFUSAL_TEXTS.get_or_try_init(py, || {
            CardRefusal::ALL
                .iter()
                .map(|refusal| {
                    Ok((
                        PyString::new(py, refusal.code()).unbind(),
                        PyString::new(py, &refusal.message()).unbind(),
                    ))
                })
                .collect::<PyResult<Vec<_>>>()
        })?;
        let index = CardRefusal::ALL
            .iter()
            .position(|&known| known == refusal)
            .expect("every refusal is in ALL");
        let (code, message) = &texts[index];
        // Built as an instance, not a lazy error normalised later: a refused card is an
        // everyday answer, and building it lazily cost several times the rule.
        let err = py.get_type::<CardRefused>().call1((message.bind(py),))?;
        err.setattr(intern!(py, "code"), code.bind(py))?;
        err.setattr(intern!(py, "message"), message.bind(py))?;
        Ok(PyErr::from_value(err))
    })())
}

/// Each refusal's `code` and `message` as Python strings, in the order of `CardRefusal::ALL`,
/// made once.
static CARD_REFUSAL_TEXTS: PyOnceLock<Vec<(Py<PyString>, Py<PyString>)>> = PyOnceLock::new();

/// `AmountRefusal` → `AmountRefused` with `code`, `limit` and `message`.
pub(crate) fn amount_refused(py: Python<'_>, refusal: AmountRefusal) -> PyErr {
    let message = refusal.to_string();
    let limit = match refusal {
        AmountRefusal::TooSmall { minimum } => minimum,
        AmountRefusal::TooLarge { maximum } => maximum,
    };
    finish((|| {
        with_attrs(
            py,
            AmountRefused::new_err(message.clone()),
            &[
                ("code", refusal.code().into_pyobject(py)?.into_any()),
                ("limit", limit.get().into_pyobject(py)?.into_any()),
                ("message", message.into_pyobject(py)?.into_any()),
            ],
        )
    })())
}
