//! `GET /v1/billing`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use billing_core::usecases::overview::billing_overview;

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use crate::wire::Billing;

/// `GET /v1/billing`: the caller's billing at a glance.
#[utoipa::path(
    get,
    path = "/v1/billing",
    tag = "billing",
    operation_id = "get_billing",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The account's billing. For a deleted account only `status: deleted` (no card, amounts zero); its other routes answer `410 account_deleted`.", body = Billing),
        (status = 401, description = "`unauthenticated`.", body = ErrorBody),
        (status = 405, description = "`method_not_allowed`.", body = ErrorBody),
        (status = 500, description = "`internal_error`.", body = ErrorBody),
        (status = 503, description = "`service_unavailable`.", body = ErrorBody),
    )
)]
pub async fn get_billing(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<Billing>, ApiError> {
    let overview =
        billing_overview(state.store.as_ref(), &caller.account, state.clock.now()).await?;
    Ok(Json(Billing::from(&overview)))
}
