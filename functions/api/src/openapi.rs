//! The OpenAPI 3.1 document of the API, generated from the handlers' `#[utoipa::path]`
//! attributes and the wire types (never written by hand), served at `GET /v1/openapi.json`.

use std::sync::OnceLock;

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use utoipa::openapi::link::Link;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi as Document, RefOr};
use utoipa::{Modify, OpenApi};

use crate::error::{ErrorBody, ErrorCode, ErrorObject, ErrorType};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Billing API",
        version = env!("CARGO_PKG_VERSION"),
        description = "Card, credits and monthly billing of the platform. Amounts are integers in the currency's minor unit; errors are `{\"error\": {type, code, message, param?}}`.",
    ),
    modifiers(&BearerJwt),
    components(schemas(ErrorBody, ErrorObject, ErrorCode, ErrorType)),
    tags(
        (name = "billing", description = "The account's billing at a glance."),
        (name = "card", description = "The card on file."),
        (name = "credits", description = "Prepaid credits bought with the card on file."),
        (name = "invoices", description = "Monthly invoices, newest first."),
        (name = "account", description = "Deleting the account: what is owed is charged first, then personal data is erased."),
        (name = "webhooks", description = "Events from Stripe, signed with the endpoint's secret."),
        (name = "meta", description = "This document."),
    )
)]
struct ApiDoc;

/// The `bearer` security scheme the operations name: the platform's JWT (checked by the API
/// Gateway authorizer in production, by the local secret on billing-local).
struct BearerJwt;

impl Modify for BearerJwt {
    fn modify(&self, openapi: &mut Document) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("JWT")
            .description(Some("The platform's JWT; the account is its `sub`."))
            .build();
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// The whole API's document: every route of every function's router.
pub fn document() -> Document {
    let mut document = ApiDoc::openapi();
    // Later functions' routers join here, so the document covers every route once.
    document.merge(crate::cards_routes().into_openapi());
    document.merge(crate::credits_routes().into_openapi());
    document.merge(crate::account_routes().into_openapi());
    document.merge(crate::webhook_routes().into_openapi());
    add_links(&mut document);
    document
}

/// The links between operations (OpenAPI `links`): where an id one answer carries is used by
/// another operation. Clients read them; schemathesis's stateful phase follows them (a purchase
/// created is read back by its id, the newest invoice listed is opened).
fn add_links(document: &mut Document) {
    let links = [
        (
            "/v1/billing/credit-purchases",
            "201",
            "GetCreditPurchase",
            Link::builder()
                .operation_id("get_credit_purchase")
                .parameter("id", "$response.body#/id")
                .description("The purchase just created, by its id."),
        ),
        (
            "/v1/billing/invoices",
            "200",
            "GetNewestInvoice",
            Link::builder()
                .operation_id("get_invoice")
                .parameter("id", "$response.body#/data/0/id")
                .description("The newest invoice of the page, by its id."),
        ),
    ];
    for (path, status, name, link) in links {
        let item = document.paths.paths.get_mut(path);
        let operation = item.and_then(|item| item.post.as_mut().or(item.get.as_mut()));
        let response =
            operation.and_then(|operation| operation.responses.responses.get_mut(status));
        if let Some(RefOr::T(response)) = response {
            response
                .links
                .insert(name.to_owned(), RefOr::T(link.build()));
        }
    }
}

/// The document as served, built once per process.
fn served() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        document()
            .to_json()
            .expect("an OpenAPI document always serializes")
    })
}

/// `GET /v1/openapi.json`: this API's OpenAPI document. No authentication.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    tag = "meta",
    operation_id = "get_openapi",
    responses(
        (status = 200, description = "The OpenAPI 3.1 document of this API.", content_type = "application/json", body = serde_json::Value),
        (status = 405, description = "`method_not_allowed`.", body = ErrorBody),
    )
)]
pub async fn get_openapi() -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], served())
}
