//! Credit purchases: `POST /v1/billing/credit-purchases`,
//! `GET /v1/billing/credit-purchases/{id}`.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use billing_core::domain::purchase::Purchase;
use billing_core::rules::purchase::SETTLEMENT_WINDOW;
use billing_core::usecases::error::UseCaseError;
use billing_core::usecases::purchase::{
    Keyed, PurchaseAnswer, PurchaseRequest, create_purchase, get_purchase,
};
use billing_core::{Currency, IdempotencyKey, PurchaseId};

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::json::JsonBody;
use crate::state::{AppState, PurchaseServices};
use crate::wire::{CreditPurchase, PostCreditPurchase};

const KEY_HEADER: &str = "Idempotency-Key";

fn purchase_services(state: &AppState) -> Result<&PurchaseServices, ApiError> {
    state
        .purchases()
        .ok_or_else(|| ApiError::internal(&"this function is not configured for purchases"))
}

/// The purchase as answered: its authorization link is signed for the purchase's settlement
/// window, after which the sweep resolves it.
fn render(purchases: &PurchaseServices, purchase: &Purchase) -> CreditPurchase {
    CreditPurchase::new(purchase, || {
        purchases.links.purchase(
            &purchase.account,
            &purchase.id,
            purchase.created_at + SETTLEMENT_WINDOW,
        )
    })
}

/// The `Idempotency-Key` header, when sent.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<IdempotencyKey>, ApiError> {
    let Some(raw) = headers.get(KEY_HEADER) else {
        return Ok(None);
    };
    let invalid = |message: String| {
        ApiError::new(ErrorCode::ParameterInvalid, message).with_param(KEY_HEADER)
    };
    let raw = raw
        .to_str()
        .map_err(|_| invalid("`Idempotency-Key` must be visible ASCII.".into()))?;
    if raw.trim().is_empty() {
        return Err(ApiError::new(
            ErrorCode::ParameterInvalidEmpty,
            "`Idempotency-Key` must not be empty.",
        )
        .with_param(KEY_HEADER));
    }
    IdempotencyKey::parse(raw)
        .map(Some)
        .map_err(|e| invalid(format!("`Idempotency-Key` {}.", e.reason)))
}

/// `POST /v1/billing/credit-purchases`: buys credits with the card on file.
#[utoipa::path(
    post,
    path = "/v1/billing/credit-purchases",
    tag = "credits",
    operation_id = "create_credit_purchase",
    security(("bearer" = [])),
    params(
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried request return the first answer (kept at least 24 hours; at most 255 characters of letters, digits and `_ - . : @ |`)."),
    ),
    request_body = PostCreditPurchase,
    responses(
        (status = 201, description = "The purchase: `succeeded`, `processing` (settles within 15 minutes), or `requires_action` with `next_action`.", body = CreditPurchase),
        (status = 400, description = "`amount_too_small`, `amount_too_large`, `currency_not_supported`, `idempotency_key_reused`, `invalid_json`, `invalid_request`, `parameter_missing`, `parameter_unknown`, `parameter_invalid`, `parameter_invalid_empty`.", body = ErrorBody),
        (status = 401, description = "`unauthenticated`.", body = ErrorBody),
        (status = 402, description = "`card_declined`, with `decline_code`.", body = ErrorBody),
        (status = 405, description = "`method_not_allowed`.", body = ErrorBody),
        (status = 409, description = "`card_required`; `purchase_in_progress`, `card_change_in_progress` (the card is being replaced: which card pays is known when it ends) or `idempotency_key_in_use` (with `retry_after` and a `Retry-After` header); `concurrent_update`.", body = ErrorBody),
        (status = 410, description = "`account_deleted`.", body = ErrorBody),
        (status = 413, description = "`request_too_large` (bodies over 16 KiB).", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`.", body = ErrorBody),
        (status = 500, description = "`internal_error`.", body = ErrorBody),
        (status = 503, description = "`service_unavailable`.", body = ErrorBody),
    )
)]
pub async fn post_credit_purchase(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    JsonBody(body): JsonBody<PostCreditPurchase>,
) -> Result<(StatusCode, Json<CreditPurchase>), ApiError> {
    let purchases = purchase_services(&state)?;
    let currency =
        Currency::parse(&body.currency).map_err(|e| ApiError::from(UseCaseError::Money(e)))?;
    let keyed = idempotency_key(&headers)?.map(|key| Keyed {
        key,
        digest: format!(
            "POST /v1/billing/credit-purchases amount={} currency={}",
            body.amount,
            currency.code()
        ),
    });
    let request = PurchaseRequest {
        account: &caller.account,
        amount: billing_core::Cents::new(body.amount),
        currency,
        keyed,
        new_id: new_purchase_id(),
        limits: purchases.limits,
        now: state.clock.now(),
    };
    match create_purchase(state.purchase_ports(purchases), request).await? {
        PurchaseAnswer::Purchase(purchase) => {
            Ok((StatusCode::CREATED, Json(render(purchases, &purchase))))
        }
        PurchaseAnswer::Declined {
            decline_code,
            message,
        } => {
            let mut error = ApiError::new(ErrorCode::CardDeclined, message);
            error.decline_code = Some(decline_code.to_owned());
            Err(error)
        }
    }
}

/// A fresh purchase id: `cp_` and 24 random letters and digits. Ids are not secrets (every
/// read is keyed by the caller's account); they only need to be unique.
fn new_purchase_id() -> PurchaseId {
    let suffix: String = std::iter::repeat_with(fastrand::alphanumeric)
        .take(24)
        .collect();
    PurchaseId::parse(&format!("cp_{suffix}")).expect("cp_ and alphanumerics form a purchase id")
}

/// `GET /v1/billing/credit-purchases/{id}`: one of the caller's purchases.
#[utoipa::path(
    get,
    path = "/v1/billing/credit-purchases/{id}",
    tag = "credits",
    operation_id = "get_credit_purchase",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "`cp_…`")),
    responses(
        (status = 200, description = "The purchase as it stands.", body = CreditPurchase),
        (status = 401, description = "`unauthenticated`.", body = ErrorBody),
        (status = 404, description = "`not_found` (another account's id included).", body = ErrorBody),
        (status = 405, description = "`method_not_allowed`.", body = ErrorBody),
        (status = 410, description = "`account_deleted`: the account was deleted; its old token gets no data.", body = ErrorBody),
        (status = 500, description = "`internal_error`.", body = ErrorBody),
        (status = 503, description = "`service_unavailable`.", body = ErrorBody),
    )
)]
pub async fn get_credit_purchase(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<CreditPurchase>, ApiError> {
    let purchases = purchase_services(&state)?;
    // A segment that is no id (not even UTF-8) names nothing: not found, like any other.
    let id = id.map(|Path(id)| id).unwrap_or_default();
    let id = PurchaseId::parse(&id).map_err(|_| ApiError::not_found("credit purchase"))?;
    let purchase = get_purchase(state.store.as_ref(), &caller.account, &id)
        .await
        .map_err(|e| match e {
            UseCaseError::NotFound => ApiError::not_found("credit purchase"),
            other => other.into(),
        })?;
    Ok(Json(render(purchases, &purchase)))
}
