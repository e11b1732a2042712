//! # billing-core
//!
//! The billing domain of a pay-as-you-go API platform: money, the rules that decide what is
//! charged and when, the use cases, and the ports (traits) they need. No I/O happens here:
//! time, ids and randomness come in as arguments, and adapters in `functions/` carry out
//! what the use cases decide.

pub mod error;

/// Domain types.
pub mod domain {
    pub mod account;
    pub mod event;
    pub mod idempotency;
    pub mod ids;
    pub mod invoice;
    pub mod money;
    pub mod purchase;
}

/// Rules: pure functions over plain values.
pub mod rules {
    pub mod card;
    pub mod decline;
    pub mod ledger;
    pub mod period;
    pub mod purchase;
    pub mod retry;
}

/// Ports: the traits adapters implement.
pub mod ports {
    pub mod clock;
    pub mod gateway;
    pub mod links;
    pub mod mailer;
    pub mod queue;
    pub mod store;
}

/// Use cases: rules plus ports.
pub mod usecases {
    pub mod card;
    pub mod close;
    pub mod deletion;
    pub mod error;
    pub mod invoice;
    pub mod overview;
    pub mod purchase;
    pub mod usage;
}

pub use domain::ids::{
    AccountId, ClientSecret, CustomerId, EmailAddress, IdempotencyKey, InvoiceId, PaymentId,
    PaymentMethodId, PurchaseId, UsageEventId,
};
pub use domain::money::{Cents, Currency, Micros};
