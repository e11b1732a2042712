//! Card routes: `POST /v1/billing/setup-intents`, `PUT /v1/billing/card`,
//! `DELETE /v1/billing/card`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use billing_core::PaymentMethodId;
use billing_core::usecases::card::{Holder, create_setup_intent, set_card};
use billing_core::usecases::deletion::refuse_deleted;
use billing_core::usecases::error::UseCaseError;
use billing_core::usecases::invoice::pay_with_card_on_file;

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::json::JsonBody;
use crate::state::AppState;
use crate::wire::{Card, PutCard, SetupIntentCreated};

fn holder(caller: &Caller) -> Holder<'_> {
    Holder {
        account: &caller.account,
        email: caller.email.as_ref(),
    }
}

/// `POST /v1/billing/setup-intents`: what Stripe Elements needs to collect a card.
#[utoipa::path(
    post,
    path = "/v1/billing/setup-intents",
    tag = "card",
    operation_id = "create_setup_intent",
    security(("bearer" = [])),
    responses(
        (status = 201, description = "A SetupIntent for the account's customer.", body = SetupIntentCreated),
        (status = 401, description = "`unauthenticated`.", body = ErrorBody),
        (status = 404, description = "`not_found`: the customer is gone at the card network.", body = ErrorBody),
        (status = 405, description = "`method_not_allowed`.", body = ErrorBody),
        (status = 409, description = "`concurrent_update`.", body = ErrorBody),
        (status = 410, description = "`account_deleted`.", body = ErrorBody),
        (status = 500, description = "`internal_error`.", body = ErrorBody),
        (status = 503, description = "`service_unavailable`.", body = ErrorBody),
    )
)]
pub async fn post_setup_intent(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<(StatusCode, Json<SetupIntentCreated>), ApiError> {
    let intent = create_setup_intent(
        state.store.as_ref(),
        state.gateway.as_ref(),
        &holder(&caller),
        state.clock.now(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(intent.into())))
}

/// The PaymentMethod of a `PUT /v1/billing/card` body, parsed at the edge.
fn payment_method(body: &PutCard) -> Result<PaymentMethodId, ApiError> {
    const PARAM: &str = "payment_method";
    if body.payment_method.trim().is_empty() {
        return Err(ApiError::new(
            ErrorCode::ParameterInvalidEmpty,
            "`payment_method` must not be empty.",
        )
        .with_param(PARAM));
    }
    PaymentMethodId::parse(&body.payment_method).map_err(|e| {
        ApiError::new(
            ErrorCode::ParameterInvalid,
            format!(
                "`payment_method` {}: a PaymentMethod id looks like `pm_…`.",
                e.reason
            ),
        )
        .with_param(PARAM)
    })
}

/// `PUT /v1/billing/card`: adds the card, or replaces the one on file; then charges it at once
/// for every invoice waiting for payment with another card (or none), oldest first.
#[utoipa::path(
    put,
    path = "/v1/billing/card",
    tag = "card",
    operation_id = "set_card",
    security(("bearer" = [])),
    request_body = PutCard,
    responses(
        (status = 200, description = "The card now on file. Every invoice waiting for payment with another card (declined, no card, uncollectible, or waiting for authorization) has been charged to it, oldest first: the outcomes are on the invoices and in the emails.", body = Card),
        (status = 400, description = "`invalid_json`, `invalid_request`, `parameter_missing`, `parameter_unknown`, `parameter_invalid`, `parameter_invalid_empty`.", body = ErrorBody),
        (status = 401, description = "`unauthenticated`.", body = ErrorBody),
        (status = 402, description = "`card_declined`, with `decline_code`.", body = ErrorBody),
        (status = 404, description = "`payment_method_not_found`.", body = ErrorBody),
        (status = 405, description = "`method_not_allowed`.", body = ErrorBody),
        (status = 409, description = "`card_change_in_progress` (with `retry_after` and a `Retry-After` header): another change of the card is in progress.", body = ErrorBody),
        (status = 410, description = "`account_deleted`.", body = ErrorBody),
        (status = 413, description = "`request_too_large` (bodies over 16 KiB).", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`.", body = ErrorBody),
        (status = 422, description = "`card_prepaid_not_supported`, `card_funding_unsupported`, `card_expired`, `card_cvc_check_failed`, `card_address_check_failed`.", body = ErrorBody),
        (status = 500, description = "`internal_error`.", body = ErrorBody),
        (status = 503, description = "`service_unavailable`.", body = ErrorBody),
    )
)]
pub async fn put_card(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    JsonBody(body): JsonBody<PutCard>,
) -> Result<Json<Card>, ApiError> {
    let requested = payment_method(&body)?;
    let outcome = set_card(
        state.store.as_ref(),
        state.gateway.as_ref(),
        &holder(&caller),
        &requested,
        state.clock.now(),
    )
    .await?;
    if outcome.lease_left {
        tracing::warn!(account = %caller.account, "card change lease left to expire; the next change repairs");
    }
    if let Some(stale) = &outcome.old_card_left_attached {
        tracing::warn!(payment_method = %stale, "replaced card could not be detached; it is no longer the default");
    }
    if let Some(ports) = state.invoice_ports() {
        // The answer is the card whatever the charges do: their outcomes are on the invoices
        // and in the emails. One that failed part way is picked up by the sweep (an attempt
        // left claimed) or by putting the card again (an invoice not reached yet).
        match pay_with_card_on_file(ports, &caller.account, state.clock.now()).await {
            Ok(collected) => {
                for paid in &collected {
                    tracing::info!(account = %caller.account, invoice = %paid.invoice, status = ?paid.status, "invoice charged to the new card");
                }
            }
            Err(error) => {
                tracing::warn!(account = %caller.account, %error, "invoices waiting for a card not charged yet");
            }
        }
    }
    Ok(Json(Card::from(&outcome.card)))
}

/// `DELETE /v1/billing/card`: always refused; deleting the account removes payment details.
#[utoipa::path(
    delete,
    path = "/v1/billing/card",
    tag = "card",
    operation_id = "delete_card",
    security(("bearer" = [])),
    responses(
        (status = 401, description = "`unauthenticated`.", body = ErrorBody),
        (status = 405, description = "`method_not_allowed`.", body = ErrorBody),
        (status = 409, description = "`card_required`: replace the card instead, or delete the account.", body = ErrorBody),
        (status = 410, description = "`account_deleted`: the account, and its card, are gone already.", body = ErrorBody),
        (status = 503, description = "`service_unavailable`.", body = ErrorBody),
    )
)]
pub async fn delete_card(State(state): State<Arc<AppState>>, caller: Caller) -> ApiError {
    match refuse_deleted(state.store.as_ref(), &caller.account).await {
        Err(error) => error.into(),
        Ok(()) => UseCaseError::CardRequired.into(),
    }
}
