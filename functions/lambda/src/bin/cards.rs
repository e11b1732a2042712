//! The card function: `GET /v1/billing`, `POST /v1/billing/setup-intents`,
//! `PUT /v1/billing/card`, `DELETE /v1/billing/card`. A card put charges the invoices waiting
//! for one at once, so besides the store, Stripe and the clock it has the SES mailer (their
//! receipts and decline emails) and the link signer (an invoice the bank wants authorized
//! links to the authorization page); the Stripe key and the link secret come from SSM in one
//! call at cold start.

use axum::middleware::map_request;
use billing_api::{cards_router, finish};
use billing_lambda::{Aws, CardsSettings, ProcessEnv, init_tracing, with_authorizer_claims};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    init_tracing();
    let settings = CardsSettings::from(&ProcessEnv)?;
    let state = Aws::from_env(&ProcessEnv)?
        .collecting_state(settings)
        .await?;
    let router = finish(cards_router(), state).layer(map_request(with_authorizer_claims));
    lambda_http::run(router).await
}
