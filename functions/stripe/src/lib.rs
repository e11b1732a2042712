//! # billing-stripe
//!
//! The production [`PaymentGateway`](billing_core::ports::gateway::PaymentGateway): Stripe's
//! customers, SetupIntents, PaymentMethods and PaymentIntents through async-stripe 1.0
//! request types, sent by a client of our own (rustls, no OpenSSL): a [`RateLimit`] holds
//! every request to a pace, and a 429 is retried as `Retry-After` and `Stripe-Should-Retry`
//! say. Answers and events are read as [`objects`], of only the fields used; [`mapping`] turns
//! them and errors into domain values; [`webhook`] verifies and reads the events Stripe posts.
//! No card number or CVC ever passes through here; Stripe bodies are never logged.

mod back_off;
mod failure;
mod gateway;
pub mod mapping;
pub mod objects;
mod rate_limit;
mod transport;
pub mod webhook;

pub use failure::Failure;
pub use gateway::StripeGateway;
pub use rate_limit::{RateLimit, RateLimitError};
