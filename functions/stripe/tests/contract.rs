//! StripeGateway against the port contract, on localstripe plus our compatibility layer
//! (tests/stand-ins/localstripe_server.py). Run through `scripts/with-stand-ins`, which
//! starts the stand-in and exports its URL.

use std::sync::Arc;

use billing_contract::gateway::GatewayHarness;
use billing_contract::{gateway_contract, settlement_contract};
use billing_core::ports::gateway::PaymentGateway;
use billing_stripe::StripeGateway;

mod stand_in;

use stand_in::LocalstripeBank;

async fn gateway() -> Arc<dyn PaymentGateway> {
    Arc::new(StripeGateway::new(stand_in::KEY, Some(&stand_in::url())).expect("a Stripe client"))
}

async fn settlement() -> GatewayHarness {
    (gateway().await, Arc::new(LocalstripeBank))
}

mod gateway {
    use super::*;
    gateway_contract!(super::gateway);
}

mod settlement {
    use super::*;
    settlement_contract!(super::settlement);
}
