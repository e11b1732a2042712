//! # billing-api
//!
//! The HTTP API of PRODUCT.md as axum routers: one router per Lambda function (each mounted
//! alone by its Lambda binary, all together by `billing-local`), one error type turned into a
//! response in one place, typed request and response bodies with a generated OpenAPI document,
//! JSON logs with a request id, and authentication that trusts only the API Gateway authorizer
//! on Lambda.

pub mod auth;
pub mod authorize;
pub mod clock;
pub mod error;
pub mod json;
pub mod jwt;
pub mod links;
pub mod openapi;
pub mod routes {
    //! Handlers, one module per resource.
    pub mod account;
    pub mod billing;
    pub mod card;
    pub mod invoice;
    pub mod purchase;
    pub mod webhook;
}
pub mod state;
pub mod telemetry;
pub mod wire;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use auth::{AuthMode, AuthorizerClaims, Caller};
pub use authorize::authorize_router;
pub use error::{ApiError, ErrorCode, ErrorType};
pub use state::AppState;

/// The overview's routes with their documentation (`GET /v1/billing`).
pub fn billing_routes() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::new().routes(routes!(routes::billing::get_billing))
}

/// The card function's routes with their documentation: the overview (it shows the card),
/// SetupIntents, the card itself, and the OpenAPI document.
pub fn cards_routes() -> OpenApiRouter<Arc<AppState>> {
    billing_routes()
        .routes(routes!(routes::card::post_setup_intent))
        .routes(routes!(routes::card::put_card, routes::card::delete_card))
        .routes(routes!(openapi::get_openapi))
}

/// The credits function's routes with their documentation: buying credits, reading a
/// purchase, and the invoices (their authorization page is the purchases' page, served by the
/// same function).
pub fn credits_routes() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::new()
        .routes(routes!(routes::purchase::post_credit_purchase))
        .routes(routes!(routes::purchase::get_credit_purchase))
        .routes(routes!(routes::invoice::list_invoices_route))
        .routes(routes!(routes::invoice::get_invoice_route))
}

/// The account function's route with its documentation: deleting the account.
pub fn account_routes() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::new().routes(routes!(routes::account::delete_account_route))
}

/// The account function: see [`account_routes`].
pub fn account_router() -> Router<Arc<AppState>> {
    account_routes().into()
}

/// The webhook function's route with its documentation.
pub fn webhook_routes() -> OpenApiRouter<Arc<state::WebhookState>> {
    OpenApiRouter::new().routes(routes!(routes::webhook::post_stripe_event))
}

/// The webhook route with its state, its own body limit
/// ([`routes::webhook::MAX_EVENT_BYTES`]) and the request log. It has no fallback, so it
/// mounts beside the other routers; the webhook function serves it alone through
/// [`with_fallbacks`].
pub fn webhook_router(state: Arc<state::WebhookState>) -> Router {
    Router::from(webhook_routes())
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(routes::webhook::MAX_EVENT_BYTES))
        .layer(axum::middleware::from_fn(telemetry::trace_request))
        .with_state(state)
}

/// A router served alone: JSON 404 answers for every other path.
pub fn with_fallbacks(router: Router) -> Router {
    router.fallback(not_found)
}

/// The account's billing overview (`GET /v1/billing`).
pub fn billing_router() -> Router<Arc<AppState>> {
    billing_routes().into()
}

/// The card function: see [`cards_routes`].
pub fn cards_router() -> Router<Arc<AppState>> {
    cards_routes().into()
}

/// The credits function: see [`credits_routes`].
pub fn credits_router() -> Router<Arc<AppState>> {
    credits_routes().into()
}

/// Finishes a router: JSON 404/405 answers, the body size limit, the request log and span
/// ([`telemetry::trace_request`]), and the state.
pub fn finish(router: Router<Arc<AppState>>, state: Arc<AppState>) -> Router {
    router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(json::MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(telemetry::trace_request))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::new(ErrorCode::RouteNotFound, "There is no such route.")
}

/// The JSON `405 method_not_allowed` every router answers a known path with an unknown
/// method with (`Router::method_not_allowed_fallback`); axum adds the `Allow` header.
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        "This route does not accept that method.",
    )
}
