//! # billing-contract
//!
//! One contract test suite per port. Each case is a public async function over the port
//! trait; the `*_contract!` macros stamp them out as `#[tokio::test]`s for a given adapter, so
//! the embedded adapters and the production ones (against moto and localstripe) run the very
//! same cases. Cases use fresh ids, so one adapter instance may serve them all.

pub mod card;
pub mod gateway;
pub mod instrument;
pub mod mailer;
pub mod purchase;
pub mod queue;
pub mod store;
pub mod usage;

use std::sync::atomic::{AtomicU64, Ordering};

use billing_core::AccountId;

/// A unique account id for one case (unique across processes sharing a backend too).
pub fn unique_account(label: &str) -> AccountId {
    static SEQUENCE: AtomicU64 = AtomicU64::new(0);
    let n = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    AccountId::parse(&format!("{label}-{}-{nanos:x}-{n}", std::process::id()))
        .expect("valid account id")
}
