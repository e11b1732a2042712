//! StripeGateway against the port contract, on localstripe plus our compatibility layer
//! (tests/stand-ins/localstripe_server.py). Run through `scripts/with-stand-ins`, which
//! starts the stand-in and exports its URL.

use std::sync::Arc;

use billing_contract::gateway_contract;
use billing_core::ports::gateway::PaymentGateway;
use billing_stripe::StripeGateway;

const URL_VAR: &str = "BILLING_TEST_STRIPE_URL";

async fn gateway() -> Arc<dyn PaymentGateway> {
    let url = std::env::var(URL_VAR).unwrap_or_else(|_| {
        panic!(
            "{URL_VAR} is not set: these tests run against localstripe; run them as \
             `scripts/with-stand-ins cargo test -p billing-stripe`"
        )
    });
    Arc::new(StripeGateway::new("sk_test_contract", Some(&url)).expect("a Stripe client"))
}

mod gateway {
    use super::*;
    gateway_contract!(super::gateway);
}
