//! What finance and support run: the charge the 3rd will make for one account
//! (`preview_charge`), and the ledger matched against a Stripe export (`reconcile`).
//!
//! Both convert Python rows into plain values and decide with billing-core's rules (the close
//! rule, the rounding rule); the matching of `reconcile` is a plain function over plain rows.

use pyo3::prelude::*;
use pyo3::types::PyBool;

use crate::errors::invalid;
use crate::time::type_name;

mod preview;
mod reconcile;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    preview::register(m)?;
    reconcile::register(m)?;
    Ok(())
}

/// A non-negative `int` (not a `bool`, which Python counts as an int) named `name`.
fn non_negative(name: &str, value: &Bound<'_, PyAny>) -> PyResult<i64> {
    if value.is_instance_of::<PyBool>() {
        return Err(invalid(format!("{name}: expected an int, got bool")));
    }
    let number: i64 = value.extract().map_err(|_| {
        invalid(format!(
            "{name}: expected an int in the int64 range, got {}",
            type_name(value)
        ))
    })?;
    if number < 0 {
        return Err(invalid(format!("{name}: {number} is negative")));
    }
    Ok(number)
}
