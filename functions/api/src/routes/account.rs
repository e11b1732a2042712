//! `DELETE /v1/account`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use billing_core::usecases::deletion::{DeletionRequest, delete_account};

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::json::JsonBody;
use crate::state::AppState;
use crate::wire::{AccountDeleted, DeleteAccount};

/// `DELETE /v1/account`: charges what is owed, then erases the account. Sent again (after a
/// failure, or for a deleted account) it resumes or answers as the first deletion did.
#[utoipa::path(
    delete,
    path = "/v1/account",
    tag = "account",
    operation_id = "delete_account",
    security(("bearer" = [])),
    request_body = DeleteAccount,
    responses(
        (status = 200, description = "Deleted: everything owed was charged (unbilled usage on a final invoice), every card detached, the Stripe customer deleted, personal data erased, credits left forfeited; a confirmation email is sent.", body = AccountDeleted),
        (status = 400, description = "`confirmation_mismatch` (`confirm` is not the account id), `invalid_json`, `invalid_request`, `parameter_missing`, `parameter_unknown`, `parameter_invalid`.", body = ErrorBody),
        (status = 401, description = "`unauthenticated`.", body = ErrorBody),
        (status = 402, description = "The charge of what is owed did not pay, and nothing was erased: `authorization_required` (with `invoice` and `authorization_url`) or `card_declined` (with `invoice` and `decline_code`).", body = ErrorBody),
        (status = 405, description = "`method_not_allowed`.", body = ErrorBody),
        (status = 409, description = "`purchase_in_progress`, `card_change_in_progress`, `deletion_in_progress`, `payment_in_progress` (each with `retry_after` and a `Retry-After` header), or `card_required` (an invoice is owed and there is no card to pay it; with `invoice`). Nothing was erased.", body = ErrorBody),
        (status = 413, description = "`request_too_large`.", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`.", body = ErrorBody),
        (status = 500, description = "`internal_error`.", body = ErrorBody),
        (status = 503, description = "`service_unavailable`: a dependency failed; sending the request again resumes the deletion.", body = ErrorBody),
    )
)]
pub async fn delete_account_route(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    JsonBody(body): JsonBody<DeleteAccount>,
) -> Result<Json<AccountDeleted>, ApiError> {
    let Some(ports) = state.invoice_ports() else {
        return Err(ApiError::unavailable(
            &"this function is not configured to collect invoices",
        ));
    };
    let request = DeletionRequest {
        account: &caller.account,
        email: caller.email.as_ref(),
        confirm: &body.confirm,
        now: state.clock.now(),
    };
    let deleted = delete_account(ports, request).await?;
    tracing::info!(account = %caller.account, final_invoice = ?deleted.final_invoice, "account deleted");
    Ok(Json(AccountDeleted::from(&deleted)))
}
