//! One Python exception per error kind of billing-core, all under `BillingError`.
//!
//! Each core error enum is mapped here, in one place, with an exhaustive `match`.

use billing_core::error::{MoneyError, ParseError as CoreParseError};
use billing_core::rules::card::CardRefusal;
use billing_core::rules::purchase::AmountRefusal;
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

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
    "An argument has the wrong shape or type: a naive datetime, a missing key, an unknown enum value, a negative expiry month, ragged batch columns..."
);
create_exception!(
    billing_rules,
    ParseError,
    InvalidInput,
    "A value did not parse into a domain type (billing-core's ParseError). `field` names the field, `reason` says what is wrong."
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

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("BillingError", py.get_type::<BillingError>())?;
    m.add("InvalidInput", py.get_type::<InvalidInput>())?;
    m.add("ParseError", py.get_type::<ParseError>())?;
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

/// `MoneyError` → `MoneyOverflow` / `UnsupportedCurrency`.
pub(crate) fn money_error(py: Python<'_>, error: MoneyError) -> PyErr {
    let message = error.to_string();
    match error {
        MoneyError::Overflow => MoneyOverflow::new_err(message),
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
            ParseError::new_err(message),
            &[
                ("field", error.field.into_pyobject(py)?.into_any()),
                ("reason", error.reason.into_pyobject(py)?.into_any()),
            ],
        )
    })())
}

/// `CardRefusal` → `CardRefused` with `code` and `message`.
pub(crate) fn card_refused(py: Python<'_>, refusal: CardRefusal) -> PyErr {
    let message = refusal.message();
    finish((|| {
        with_attrs(
            py,
            CardRefused::new_err(message.clone()),
            &[
                ("code", refusal.code().into_pyobject(py)?.into_any()),
                ("message", message.into_pyobject(py)?.into_any()),
            ],
        )
    })())
}

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

/// An `InvalidInput` with a message.
pub(crate) fn invalid(message: impl Into<String>) -> PyErr {
    InvalidInput::new_err(message.into())
}
