//! The card function: `GET /v1/billing`, `POST /v1/billing/setup-intents`,
//! `PUT /v1/billing/card`, `DELETE /v1/billing/card`. A card put charges the invoices waiting
//! for one at once, so besides the store, Stripe and the clock it has the SES mailer (their
//! receipts and decline emails) and the link signer (an invoice the bank wants authorized
//! links to the authorization page); the Stripe key and the link secret come from SSM in one
//! call at cold start.

use std::sync::Arc;

use axum::middleware::map_request;
use billing_api::clock::SystemClock;
use billing_api::state::{CollectionServices, Services};
use billing_api::{AppState, AuthMode, cards_router, finish};
use billing_lambda::{Aws, CardsSettings, ProcessEnv, init_tracing, with_authorizer_claims};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    init_tracing();
    let settings = CardsSettings::from(&ProcessEnv)?;
    let aws = Aws::load().await;
    let (stripe_key, links) = aws
        .stripe_key_and_links(&settings.stripe, settings.links)
        .await?;
    let services = Services {
        store: aws.store(settings.table),
        gateway: aws.stripe_gateway(&settings.stripe, stripe_key)?,
        clock: Arc::new(SystemClock),
    };
    let collection = CollectionServices {
        mailer: aws.mailer(settings.mail),
        links: Arc::new(links),
    };
    let state = Arc::new(AppState::new(services, AuthMode::ApiGateway).with_collection(collection));
    let router = finish(cards_router(), state).layer(map_request(with_authorizer_claims));
    lambda_http::run(router).await
}
