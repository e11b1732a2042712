//! The card function: `GET /v1/billing`, `POST /v1/billing/setup-intents`,
//! `PUT /v1/billing/card`, `DELETE /v1/billing/card`. Store, Stripe and the clock; no mailer.

use std::sync::Arc;

use axum::middleware::map_request;
use billing_api::clock::SystemClock;
use billing_api::state::Services;
use billing_api::{AppState, AuthMode, cards_router, finish};
use billing_lambda::{Aws, CardsSettings, ProcessEnv, init_tracing, with_authorizer_claims};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    init_tracing();
    let settings = CardsSettings::from(&ProcessEnv)?;
    let aws = Aws::load().await;
    let [stripe_key] = aws
        .secure_parameters(&[&settings.stripe.secret_parameter])
        .await?;
    let services = Services {
        store: aws.store(settings.table),
        gateway: aws.stripe_gateway(&settings.stripe, stripe_key)?,
        clock: Arc::new(SystemClock),
    };
    let state = Arc::new(AppState::new(services, AuthMode::ApiGateway));
    let router = finish(cards_router(), state).layer(map_request(with_authorizer_claims));
    lambda_http::run(router).await
}
