//! # billing-stripe
//!
//! The production [`PaymentGateway`](billing_core::ports::gateway::PaymentGateway): Stripe's
//! customers, SetupIntents, PaymentMethods and PaymentIntents through async-stripe 1.0
//! (rustls, no OpenSSL). [`mapping`] turns Stripe's objects and errors into domain values;
//! [`webhook`] verifies and reads the events Stripe posts.
//! No card number or CVC ever passes through here; Stripe bodies are never logged.

mod gateway;
pub mod mapping;
pub mod webhook;

pub use gateway::StripeGateway;
