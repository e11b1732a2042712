//! Credit purchases (Behaviour 3): start one, settle it exactly once, and resolve it when it
//! is stuck.
//!
//! - [`create_purchase`] (`POST /v1/billing/credit-purchases`): the in-flight rule and the
//!   client's `Idempotency-Key` are enforced by one conditional write that records the
//!   purchase before any money moves; then the card is charged with a key of its own.
//! - [`settle_purchase`]: every report of the network (the charge's answer, a webhook, the
//!   authorization page, the sweep) goes through it. The purchase, its slot, the ledger
//!   credit and the claim to send the receipt change in one transaction conditioned on the
//!   purchase's version, and the credit's entry id is the purchase's, so it counts once.
//! - [`refresh_purchase`] asks the network and settles; [`sweep_purchases`] resolves every
//!   purchase unsettled past the 15-minute window (settled, or canceled and failed) and sends
//!   receipts still owed.
//! - [`handle_network_event`]: a verified webhook event, handled once per event id.

mod create;
pub mod decide;
mod events;
mod receipt;
mod settle;
pub(crate) mod sweep;

pub use create::{Keyed, PurchaseAnswer, PurchaseRequest, create_purchase};
pub use events::{EventHandled, handle_network_event};
pub use settle::{get_purchase, refresh_purchase, settle_purchase};
pub use sweep::{SweepSummary, sweep_purchases};

use crate::ports::gateway::PaymentGateway;
use crate::ports::mailer::Mailer;
use crate::ports::store::Store;

/// The ports the purchase use cases run on.
#[derive(Clone, Copy)]
pub struct Ports<'a> {
    /// Records and ledger.
    pub store: &'a dyn Store,
    /// The card network.
    pub gateway: &'a dyn PaymentGateway,
    /// Receipts.
    pub mailer: &'a dyn Mailer,
}

/// How many times a write that lost a race is tried again on fresh reads before giving up
/// with `ConcurrentUpdate` (each loss means someone else moved the purchase forward).
const ATTEMPTS: usize = 8;
