//! # billing-contract
//!
//! One contract test suite per port. Each case is a public async function over the port
//! trait; the `*_contract!` macros stamp them out as `#[tokio::test]`s for a given adapter, so
//! the embedded adapters and the production ones (against moto and localstripe) run the very
//! same cases. Cases use fresh ids, so one adapter instance may serve them all.

pub mod card;
pub mod deletion;
pub mod gateway;
pub mod instrument;
pub mod invoice;
pub mod mailer;
pub mod purchase;
pub mod queue;
pub mod recovery;
pub mod store;
pub mod usage;

use std::sync::atomic::{AtomicU64, Ordering};

use billing_core::AccountId;

/// Authorization links in the clear (`https://billing.test/authorize/invoice/<account>/<id>`),
/// for suites that read them back from the emails; the signed ones are tested in billing-api.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlainLinks;

impl billing_core::ports::links::AuthorizationLinks for PlainLinks {
    fn purchase(
        &self,
        account: &AccountId,
        purchase: &billing_core::PurchaseId,
        _expires_at: chrono::DateTime<chrono::Utc>,
    ) -> String {
        format!("https://billing.test/authorize/purchase/{account}/{purchase}")
    }

    fn invoice(
        &self,
        account: &AccountId,
        invoice: &billing_core::InvoiceId,
        _expires_at: chrono::DateTime<chrono::Utc>,
    ) -> String {
        format!("https://billing.test/authorize/invoice/{account}/{invoice}")
    }
}

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
