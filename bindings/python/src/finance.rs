//! What finance and support run: the charge the 3rd will make for one account
//! (`preview_charge`), and the ledger matched against a Stripe export (`reconcile`).
//!
//! Both convert Python rows into plain values and decide with billing-core's rules (the close
//! rule, the rounding rule); the matching of `reconcile` is a plain function over plain rows.

use pyo3::prelude::*;

mod preview;
mod reconcile;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    preview::register(m)?;
    reconcile::register(m)?;
    Ok(())
}

/// `Name(field=value, ...)` with each value shown by Python's `repr` (`None`, `'text'`,
/// `['pi_1']`), never Rust's debug text.
fn py_repr(name: &str, fields: &[(&str, Bound<'_, PyAny>)]) -> PyResult<String> {
    let shown = fields
        .iter()
        .map(|(field, value)| Ok(format!("{field}={}", value.repr()?)))
        .collect::<PyResult<Vec<String>>>()?;
    Ok(format!("{name}({})", shown.join(", ")))
}
