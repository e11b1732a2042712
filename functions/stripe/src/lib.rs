//! # billing-stripe
//!
//! The production [`PaymentGateway`](billing_core::ports::gateway::PaymentGateway): Stripe's
//! customers, SetupIntents, PaymentMethods and PaymentIntents through async-stripe 1.0
//! request types, sent by a client of our own (rustls, no OpenSSL): a [`RateLimit`] holds
//! every request to a pace, and a 429 is retried as `Retry-After` and `Stripe-Should-Retry`
//! say. [`mapping`] turns Stripe's objects and errors into domain values; [`webhook`]
//! verifies and reads the events Stripe posts.
//! No card number or CVC ever passes through here; Stripe bodies are never logged.

mod back_off;
mod gateway;
pub mod mapping;
mod rate_limit;
mod transport;
pub mod webhook;

pub use gateway::StripeGateway;
pub use rate_limit::{RateLimit, RateLimitError};
