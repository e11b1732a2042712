//! `billing_rules._billing_rules`: the native module behind the `billing_rules` Python package.
//!
//! Every function here converts Python values into billing-core types, calls billing-core, and
//! converts the answer back. No rule is decided in this crate: when a rule changes, it changes
//! in `core/` and both the Lambda functions and Python scripts see the same change.

use pyo3::prelude::*;

mod args;
mod card;
mod columns;
mod decline;
mod entry;
mod errors;
// billing_rules for finance and support (issue 12, items 3 and 5).
mod finance;
mod ledger;
mod money;
mod parallel;
mod period;
mod purchase;
mod time;

#[pymodule]
fn _billing_rules(m: &Bound<'_, PyModule>) -> PyResult<()> {
    errors::register(m)?;
    card::register(m)?;
    decline::register(m)?;
    entry::register(m)?;
    ledger::register(m)?;
    money::register(m)?;
    period::register(m)?;
    purchase::register(m)?;
    // Finance and support tools (issue 12, items 3 and 5).
    finance::register(m)?;
    Ok(())
}
