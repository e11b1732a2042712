//! Card routes: `POST /v1/billing/setup-intents`, `PUT /v1/billing/card`,
//! `DELETE /v1/billing/card`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use billing_core::PaymentMethodId;
use billing_core::usecases::card::{Holder, create_setup_intent, set_card};
use billing_core::usecases::error::UseCaseError;
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::routes::billing::card_json;
use crate::state::AppState;

fn holder(caller: &Caller) -> Holder<'_> {
    Holder {
        account: &caller.account,
        email: caller.email.as_ref(),
    }
}

/// `POST /v1/billing/setup-intents`: what Stripe Elements needs to collect a card.
pub async fn post_setup_intent(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let intent = create_setup_intent(
        state.store.as_ref(),
        state.gateway.as_ref(),
        &holder(&caller),
        state.clock.now(),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": intent.id, "client_secret": intent.client_secret })),
    ))
}

/// Reads `{"payment_method": "pm_…"}`, naming the parameter in every refusal.
fn payment_method_param(body: &Value) -> Result<PaymentMethodId, ApiError> {
    const PARAM: &str = "payment_method";
    let object = body.as_object().ok_or_else(|| {
        ApiError::invalid("invalid_request", "The request body must be a JSON object.")
    })?;
    if let Some(unknown) = object.keys().find(|key| key.as_str() != PARAM) {
        return Err(ApiError::invalid(
            "parameter_unknown",
            format!("Unknown parameter `{unknown}`."),
        )
        .with_param(unknown.clone()));
    }
    let value = object.get(PARAM).ok_or_else(|| {
        ApiError::invalid(
            "parameter_missing",
            "`payment_method` is required: the PaymentMethod id Stripe Elements returned.",
        )
        .with_param(PARAM)
    })?;
    let raw = value.as_str().ok_or_else(|| {
        ApiError::invalid("parameter_invalid", "`payment_method` must be a string.")
            .with_param(PARAM)
    })?;
    if raw.trim().is_empty() {
        return Err(ApiError::invalid(
            "parameter_invalid_empty",
            "`payment_method` must not be empty.",
        )
        .with_param(PARAM));
    }
    PaymentMethodId::parse(raw).map_err(|e| {
        ApiError::invalid(
            "parameter_invalid",
            format!(
                "`payment_method` {}: a PaymentMethod id looks like `pm_…`.",
                e.reason
            ),
        )
        .with_param(PARAM)
    })
}

/// `PUT /v1/billing/card`: adds the card, or replaces the one on file.
pub async fn put_card(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<Value>, ApiError> {
    let requested = payment_method_param(&body)?;
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
        tracing::warn!(account = %caller.account, payment_method = %stale, "replaced card could not be detached; it is no longer the default");
    }
    Ok(Json(card_json(&outcome.card)))
}

/// `DELETE /v1/billing/card`: always refused; deleting the account removes payment details.
pub async fn delete_card(_caller: Caller) -> ApiError {
    UseCaseError::CardRequired.into()
}
