//! `GET /v1/billing`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use billing_core::usecases::card::repair_card_change;
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
    let now = state.clock.now();
    let overview = billing_overview(
        state.store.as_ref(),
        &caller.account,
        caller.email.as_ref(),
        now,
    )
    .await?;
    if overview.card_repair_due {
        // The card shown is the record's, which a repair makes the network's too; a repair
        // that fails now is tried again on the next visit or card request.
        let (store, gateway) = (state.store.as_ref(), state.gateway.as_ref());
        if let Err(error) = repair_card_change(store, gateway, &caller.account, now).await {
            tracing::warn!(%error, "an abandoned card change could not be repaired yet");
        }
    }
    Ok(Json(Billing::from(&overview)))
}
