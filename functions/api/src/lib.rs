//! # billing-api
//!
//! The HTTP API of PRODUCT.md as axum routers: one router per Lambda function (each mounted
//! alone by its Lambda binary, all together by `billing-local`), one error type turned into a
//! response in one place, and authentication that trusts only the API Gateway authorizer on
//! Lambda.

pub mod auth;
pub mod clock;
pub mod error;
pub mod json;
pub mod jwt;
pub mod routes {
    //! Handlers, one module per resource.
    pub mod billing;
    pub mod card;
}
pub mod state;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{get, post, put};

pub use auth::{AuthMode, AuthorizerClaims, Caller};
pub use error::{ApiError, ErrorType};
pub use state::AppState;

/// The account's billing overview (`GET /v1/billing`).
pub fn billing_router() -> Router<Arc<AppState>> {
    Router::new().route("/v1/billing", get(routes::billing::get_billing))
}

/// The card function: the overview (it shows the card), SetupIntents, and the card itself.
pub fn cards_router() -> Router<Arc<AppState>> {
    billing_router()
        .route(
            "/v1/billing/setup-intents",
            post(routes::card::post_setup_intent),
        )
        .route(
            "/v1/billing/card",
            put(routes::card::put_card).delete(routes::card::delete_card),
        )
}

/// Finishes a router: JSON 404/405 answers, the body size limit, and the state.
pub fn finish(router: Router<Arc<AppState>>, state: Arc<AppState>) -> Router {
    router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(json::MAX_BODY_BYTES))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorType::InvalidRequestError,
        "route_not_found",
        "There is no such route.",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorType::InvalidRequestError,
        "method_not_allowed",
        "This route does not accept that method.",
    )
}
