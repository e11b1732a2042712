//! The card function: `GET /v1/billing`, `POST /v1/billing/setup-intents`,
//! `PUT /v1/billing/card`, `DELETE /v1/billing/card`.

use axum::middleware::map_request;
use billing_api::{cards_router, finish};
use billing_lambda::{init_tracing, production_state, with_authorizer_claims};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    init_tracing();
    let state = production_state().await?;
    let router = finish(cards_router(), state).layer(map_request(with_authorizer_claims));
    lambda_http::run(router).await
}
