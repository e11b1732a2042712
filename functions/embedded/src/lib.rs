//! # billing-embedded
//!
//! The embedded adapters behind `billing-local`: a durable store in a data folder, a simulated
//! card network that plays Stripe's test cards, an outbox mailer, a movable clock and a local job queue.
//! Each passes the same contract suite (`billing-contract`) as its production counterpart.

pub mod cards;
pub mod clock;
mod group;
pub mod network;
pub mod outbox;
pub mod queue;
pub mod store;

pub use clock::LocalClock;
pub use network::{
    AttachedCard, NetworkEvent, NetworkView, SimulatedCardNetwork, stripe_signature,
};
pub use outbox::{OutboxMailer, OutboxMessage};
pub use queue::LocalQueue;
pub use store::EmbeddedStore;
