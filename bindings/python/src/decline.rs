//! Stripe decline codes: advice, message and whether to retry.

use billing_core::rules::decline::{self, Advice, DeclineAdvice, RetryPolicy, known_decline_codes};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::args::text;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyDeclineAdvice>()?;
    m.add_function(wrap_pyfunction!(decline_advice, m)?)?;
    m.add(
        "KNOWN_DECLINE_CODES",
        PyTuple::new(m.py(), known_decline_codes().collect::<Vec<_>>())?,
    )?;
    Ok(())
}

/// What to do about one decline: the normalised `code`, the `advice` group, the `retry` policy
/// (`"retry"`, `"never"` or `"after_authentication"`) and the `message` to show the person.
#[pyclass(frozen, eq, name = "DeclineAdvice", module = "billing_rules")]
#[derive(PartialEq)]
pub(crate) struct PyDeclineAdvice(DeclineAdvice);

#[pymethods]
impl PyDeclineAdvice {
    /// The decline code; an unknown or missing code reads `generic_decline`.
    #[getter]
    fn code(&self) -> &'static str {
        self.0.code
    }

    /// The troubleshooting group, e.g. `"funds"`, `"check_cvc"`, `"use_another_card"`.
    #[getter]
    fn advice(&self) -> &'static str {
        match self.0.advice {
            Advice::CheckDetails => "check_details",
            Advice::CheckCvc => "check_cvc",
            Advice::CheckAddress => "check_address",
            Advice::Funds => "funds",
            Advice::BankAuthorization => "bank_authorization",
            Advice::BankLimits => "bank_limits",
            Advice::CardInactive => "card_inactive",
            Advice::UseAnotherCard => "use_another_card",
            Advice::TryLater => "try_later",
            Advice::Generic => "generic",
        }
    }

    /// `"retry"`, `"never"` or `"after_authentication"`.
    #[getter]
    fn retry(&self) -> &'static str {
        match self.0.retry {
            RetryPolicy::Retry => "retry",
            RetryPolicy::Never => "never",
            RetryPolicy::AfterAuthentication => "after_authentication",
        }
    }

    /// The message shown to the person.
    #[getter]
    fn message(&self) -> &'static str {
        self.0.message()
    }

    fn __repr__(&self) -> String {
        format!(
            "DeclineAdvice(code='{}', advice='{}', retry='{}')",
            self.code(),
            self.advice(),
            self.retry()
        )
    }
}

/// **The decline rule**: advice for a Stripe decline code. None or an unknown code is treated
/// as `generic_decline` (retryable, generic advice) rather than an error: Stripe adds codes.
/// Anything but a str or None is `InvalidInput`.
#[pyfunction]
#[pyo3(signature = (code=None))]
fn decline_advice(code: Option<&Bound<'_, PyAny>>) -> PyResult<PyDeclineAdvice> {
    let code = code
        .filter(|c| !c.is_none())
        .map(|c| text("code", c)?.to_cow().map(|c| c.into_owned()))
        .transpose()?;
    Ok(PyDeclineAdvice(decline::decline_advice(code.as_deref())))
}
