//! `GET /v1/billing`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use billing_core::domain::account::StoredCard;
use billing_core::usecases::overview::{BillingOverview, billing_overview};
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// The card object of the API: display fields only.
pub fn card_json(card: &StoredCard) -> Value {
    json!({
        "brand": card.brand,
        "last4": card.last4,
        "exp_month": card.exp_month,
        "exp_year": card.exp_year,
        "funding": card.funding.as_str(),
    })
}

fn overview_json(overview: &BillingOverview) -> Value {
    json!({
        "account_id": overview.account_id,
        "status": overview.status,
        "card": overview.card.as_ref().map(card_json),
        "balance": {
            "credits": overview.credits.get(),
            "outstanding": overview.outstanding.get(),
            "currency": overview.currency.code(),
        },
        "next_charge_at": overview.next_charge_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "purchase_in_flight": overview.purchase_in_flight,
    })
}

/// `GET /v1/billing`: the caller's billing at a glance.
pub async fn get_billing(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let overview =
        billing_overview(state.store.as_ref(), &caller.account, state.clock.now()).await?;
    Ok(Json(overview_json(&overview)))
}
