//! # billing-lambda
//!
//! What every Lambda function shares: settings from the environment, one struct per port
//! ([`settings`]), the production adapters built from them once per cold start ([`wiring`]),
//! and the bridge from the API Gateway JWT authorizer's claims to
//! [`billing_api::AuthorizerClaims`]. Each binary in `src/bin` builds only the ports it uses
//! and runs one router or handler; handlers of queue and schedule events live here ([`usage`],
//! [`sweep`], [`monthly_charge`], [`charge_worker`]) so tests can call them.

pub mod authorizer;
pub mod charge_worker;
pub mod monthly_charge;
pub mod settings;
pub mod sweep;
pub mod usage;
pub mod wiring;

pub use authorizer::with_authorizer_claims;
pub use settings::{
    AccountSettings, CardsSettings, ChargeWorkerSettings, ConfigError, CreditsSettings,
    MonthlyChargeSettings, ProcessEnv, StripeRateSettings, SweepSettings, UsageSettings,
    WebhookSettings,
};
pub use wiring::Aws;

/// Logs as JSON lines for CloudWatch, level from `RUST_LOG` (default `info`), each line of a
/// request carrying its API Gateway request id and, once authenticated, the account id.
/// Queue functions log through it too.
pub fn init_tracing() {
    billing_api::telemetry::init();
}

#[cfg(test)]
mod test_support;
