//! What the use cases run on ([`Services`], no HTTP in it) and what an HTTP handler reaches
//! ([`AppState`]: the services plus how callers are authenticated).
//!
//! Each binary builds only the ports it uses, from only the settings those ports need: the card
//! function has no mailer and reads no sender address; a queue or schedule function holds a
//! [`Services`] (or just the ports it needs) and never builds an [`AppState`].

use std::ops::Deref;
use std::sync::Arc;

use billing_core::ports::clock::Clock;
use billing_core::ports::gateway::PaymentGateway;
use billing_core::ports::store::Store;

use crate::auth::AuthMode;

/// The ports the card and payment use cases run on, built once per process (per Lambda cold
/// start). Free of HTTP, so queue and schedule handlers take it as is. A function that also
/// sends mail or enqueues jobs holds that port next to it: not every function needs one, and
/// building one reads settings (a sender address, a queue URL) the others must not require.
pub struct Services {
    /// Records and ledger.
    pub store: Arc<dyn Store>,
    /// The card network.
    pub gateway: Arc<dyn PaymentGateway>,
    /// The time.
    pub clock: Arc<dyn Clock>,
}

/// What every HTTP handler can reach: the [`Services`] (through `Deref`, so a handler reads
/// `state.store`) and the auth mode.
pub struct AppState {
    /// The ports.
    pub services: Services,
    /// How callers are authenticated.
    pub auth: AuthMode,
}

impl AppState {
    /// The state of an HTTP function: its services and how it authenticates callers.
    pub fn new(services: Services, auth: AuthMode) -> Self {
        Self { services, auth }
    }
}

impl Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.services
    }
}
