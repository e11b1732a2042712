//! What every handler can reach: the ports, the auth mode and the settings.

use std::sync::Arc;

use billing_core::ports::clock::Clock;
use billing_core::ports::gateway::PaymentGateway;
use billing_core::ports::mailer::Mailer;
use billing_core::ports::store::Store;

use crate::auth::AuthMode;

/// Shared application state, built once per process (per Lambda cold start).
pub struct AppState {
    /// Records and ledger.
    pub store: Arc<dyn Store>,
    /// The card network.
    pub gateway: Arc<dyn PaymentGateway>,
    /// Outgoing e-mail.
    pub mailer: Arc<dyn Mailer>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// How callers are authenticated.
    pub auth: AuthMode,
}
