//! Invoices: `GET /v1/billing/invoices`, `GET /v1/billing/invoices/{id}`.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use billing_core::InvoiceId;
use billing_core::domain::invoice::Invoice;
use billing_core::ports::links::INVOICE_LINK_VALIDITY;
use billing_core::usecases::error::UseCaseError;
use billing_core::usecases::invoice::{DEFAULT_PAGE, MAX_PAGE, get_invoice, list_invoices};
use chrono::{DateTime, Utc};

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::state::{AppState, AuthorizationLinks};
use crate::wire::{InvoiceBody, InvoiceList, InvoiceListQuery};

/// The links of the authorization page. They live with the purchase services: the function
/// that serves purchases serves invoices too, and signs both pages' links with one key.
fn links(state: &AppState) -> Result<&dyn AuthorizationLinks, ApiError> {
    state
        .purchases()
        .map(|purchases| purchases.links.as_ref())
        .ok_or_else(|| ApiError::internal(&"this function is not configured for invoices"))
}

/// The invoice as answered: a fresh link to its page, valid [`INVOICE_LINK_VALIDITY`] from
/// now, while it waits for the bank.
fn render(links: &dyn AuthorizationLinks, invoice: &Invoice, now: DateTime<Utc>) -> InvoiceBody {
    InvoiceBody::new(invoice, || {
        links.invoice(&invoice.account, &invoice.id, now + INVOICE_LINK_VALIDITY)
    })
}

/// The list's parameters, parsed.
#[derive(Debug, PartialEq, Eq)]
struct ListParams {
    limit: usize,
    starting_after: Option<InvoiceId>,
}

/// Parses the query of the list: `limit` an integer 1–100 (anything else is `invalid_limit`),
/// `starting_after` an invoice id; each at most once, and nothing else.
fn list_params(pairs: Vec<(String, String)>) -> Result<ListParams, ApiError> {
    let mut params = ListParams {
        limit: DEFAULT_PAGE,
        starting_after: None,
    };
    let mut seen = Vec::new();
    for (name, value) in pairs {
        if seen.contains(&name) {
            return Err(ApiError::new(
                ErrorCode::ParameterInvalid,
                format!("`{name}` is given more than once."),
            )
            .with_param(name));
        }
        match name.as_str() {
            "limit" => {
                params.limit = value
                    .parse::<usize>()
                    .ok()
                    .filter(|limit| (1..=MAX_PAGE).contains(limit))
                    .ok_or_else(|| {
                        ApiError::new(
                            ErrorCode::InvalidLimit,
                            format!("`limit` must be an integer from 1 to {MAX_PAGE}."),
                        )
                        .with_param("limit")
                    })?;
            }
            "starting_after" => {
                let id = InvoiceId::parse(&value).map_err(|e| {
                    ApiError::new(
                        ErrorCode::ParameterInvalid,
                        format!(
                            "`starting_after` must be an invoice id (`in_…`): it {}.",
                            e.reason
                        ),
                    )
                    .with_param("starting_after")
                })?;
                params.starting_after = Some(id);
            }
            _ => {
                return Err(ApiError::new(
                    ErrorCode::ParameterUnknown,
                    format!(
                        "Unknown parameter `{name}`: the list takes `limit` and `starting_after`."
                    ),
                )
                .with_param(name));
            }
        }
        seen.push(name);
    }
    Ok(params)
}

/// `GET /v1/billing/invoices`: the caller's invoices, newest first.
#[utoipa::path(
    get,
    path = "/v1/billing/invoices",
    tag = "invoices",
    operation_id = "list_invoices",
    security(("bearer" = [])),
    params(InvoiceListQuery),
    responses(
        (status = 200, description = "A page of invoices, newest first (empty for an account never billed).", body = InvoiceList),
        (status = 400, description = "`invalid_limit` (not an integer from 1 to 100); `parameter_invalid` (`starting_after` not an invoice id, or a parameter given twice); `parameter_unknown`; `invalid_request`.", body = ErrorBody),
        (status = 401, description = "`unauthenticated`.", body = ErrorBody),
        (status = 405, description = "`method_not_allowed`.", body = ErrorBody),
        (status = 410, description = "`account_deleted`: the account was deleted; its old token gets no data.", body = ErrorBody),
        (status = 500, description = "`internal_error`.", body = ErrorBody),
        (status = 503, description = "`service_unavailable`.", body = ErrorBody),
    )
)]
pub async fn list_invoices_route(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<InvoiceList>, ApiError> {
    let links = links(&state)?;
    let Query(pairs) = query.map_err(|e| {
        ApiError::new(
            ErrorCode::InvalidRequest,
            format!("The query string cannot be read: {e}."),
        )
    })?;
    let params = list_params(pairs)?;
    let page = list_invoices(
        state.store.as_ref(),
        &caller.account,
        params.starting_after,
        params.limit,
    )
    .await?;
    let now = state.clock.now();
    Ok(Json(InvoiceList {
        data: page.items.iter().map(|i| render(links, i, now)).collect(),
        has_more: page.has_more,
    }))
}

/// `GET /v1/billing/invoices/{id}`: one of the caller's invoices.
#[utoipa::path(
    get,
    path = "/v1/billing/invoices/{id}",
    tag = "invoices",
    operation_id = "get_invoice",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "`in_…`")),
    responses(
        (status = 200, description = "The invoice with its lines and attempts; `authorization_url` while the bank waits for the cardholder.", body = InvoiceBody),
        (status = 401, description = "`unauthenticated`.", body = ErrorBody),
        (status = 404, description = "`not_found` (another account's id, or no invoice id at all, included).", body = ErrorBody),
        (status = 405, description = "`method_not_allowed`.", body = ErrorBody),
        (status = 410, description = "`account_deleted`: the account was deleted; its old token gets no data.", body = ErrorBody),
        (status = 500, description = "`internal_error`.", body = ErrorBody),
        (status = 503, description = "`service_unavailable`.", body = ErrorBody),
    )
)]
pub async fn get_invoice_route(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<InvoiceBody>, ApiError> {
    let links = links(&state)?;
    // A segment that is no id (not even UTF-8) names nothing: not found, like any other.
    let id = id.map(|Path(id)| id).unwrap_or_default();
    let id = InvoiceId::parse(&id).map_err(|_| ApiError::not_found("invoice"))?;
    let invoice = get_invoice(state.store.as_ref(), &caller.account, &id)
        .await
        .map_err(|e| match e {
            UseCaseError::NotFound => ApiError::not_found("invoice"),
            other => other.into(),
        })?;
    Ok(Json(render(links, &invoice, state.clock.now())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(query: &[(&str, &str)]) -> Result<ListParams, ErrorCode> {
        list_params(
            query
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
        .map_err(|e| e.code)
    }

    #[test]
    fn the_list_defaults_to_ten_from_the_newest() {
        assert_eq!(
            parsed(&[]),
            Ok(ListParams {
                limit: 10,
                starting_after: None
            })
        );
    }

    #[test]
    fn a_limit_is_an_integer_from_one_to_a_hundred() {
        assert_eq!(parsed(&[("limit", "1")]).map(|p| p.limit), Ok(1));
        assert_eq!(parsed(&[("limit", "100")]).map(|p| p.limit), Ok(100));
        for bad in [
            "0",
            "101",
            "-1",
            "1.5",
            "ten",
            "",
            " 5",
            "99999999999999999999999",
        ] {
            assert_eq!(
                parsed(&[("limit", bad)]),
                Err(ErrorCode::InvalidLimit),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn starting_after_must_be_an_invoice_id() {
        assert_eq!(
            parsed(&[("starting_after", "in_202610")]).map(|p| p.starting_after),
            Ok(Some(InvoiceId::parse("in_202610").unwrap()))
        );
        for bad in ["", "cp_1", "in_a b", "IN_1"] {
            assert_eq!(
                parsed(&[("starting_after", bad)]),
                Err(ErrorCode::ParameterInvalid),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn an_unknown_or_repeated_parameter_is_refused() {
        assert_eq!(
            parsed(&[("ending_before", "in_1")]),
            Err(ErrorCode::ParameterUnknown)
        );
        assert_eq!(
            parsed(&[("limit", "5"), ("limit", "6")]),
            Err(ErrorCode::ParameterInvalid)
        );
    }
}
