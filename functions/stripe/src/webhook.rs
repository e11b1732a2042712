//! Stripe's webhooks: the `Stripe-Signature` check and the event JSON read as a
//! [`NetworkEvent`](billing_core::domain::event::NetworkEvent). Pure functions over the raw
//! body (time comes in as an argument); the HTTP route and the use cases live elsewhere.
//!
//! ```text
//! verify_signature(body, header, &[secret], now)?;   // 400 invalid_signature otherwise
//! let event = parse_event(body)?;
//! ```

mod event;
mod signature;

pub use event::{EventError, parse_event};
pub use signature::{SignatureError, TOLERANCE_SECONDS, verify_signature};
