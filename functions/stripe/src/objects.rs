//! The Stripe objects this system reads, with only the fields it reads: API answers
//! ([`crate::StripeGateway`]) and webhook events ([`crate::webhook`]) alike.
//!
//! Not async-stripe's generated types: those require dozens of fields nothing here reads (and
//! fail on one renamed or removed, as in an event rendered in another API version), and their
//! parsers, reaching every object a PaymentIntent or an error can embed, were most of a Lambda
//! binary's size (README "Lambda footprint"). Requests are still built by async-stripe's
//! request types. Unknown fields are ignored; a missing optional field reads as absent.
//!
//! None of them is `Debug`: they carry client secrets and Stripe's messages, which may quote
//! what was sent. What is logged of a failed request is chosen in [`crate::mapping`].

use serde::Deserialize;

/// A customer (`GET /v1/customers/{id}`): `deleted: true` for one deleted.
#[derive(Deserialize)]
pub struct Customer {
    pub id: String,
    #[serde(default)]
    pub deleted: bool,
    pub metadata: Option<Metadata>,
    pub invoice_settings: Option<InvoiceSettings>,
}

/// `customer.invoice_settings`.
#[derive(Deserialize)]
pub struct InvoiceSettings {
    pub default_payment_method: Option<Expandable>,
}

/// The metadata keys this system sets on customers and PaymentIntents; any others are
/// someone else's.
#[derive(Default, Deserialize)]
pub struct Metadata {
    pub account_id: Option<String>,
    pub reference: Option<String>,
}

/// An id, or the object it names when expanded.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum Expandable {
    Id(String),
    Object { id: String },
}

impl Expandable {
    /// The id, expanded or not.
    pub fn id(&self) -> &str {
        match self {
            Self::Id(id) | Self::Object { id } => id,
        }
    }
}

/// A PaymentMethod; `card` is absent for any other kind.
#[derive(Deserialize)]
pub struct PaymentMethod {
    pub id: String,
    pub customer: Option<Expandable>,
    pub card: Option<Card>,
}

/// `payment_method.card`.
#[derive(Deserialize)]
pub struct Card {
    pub brand: String,
    pub last4: String,
    pub exp_month: i64,
    pub exp_year: i64,
    /// `credit`, `debit`, `prepaid` or `unknown`; absent reads as unknown.
    #[serde(default)]
    pub funding: String,
    pub fingerprint: Option<String>,
    pub checks: Option<CardChecks>,
}

/// `payment_method.card.checks`.
#[derive(Deserialize)]
pub struct CardChecks {
    pub cvc_check: Option<String>,
    pub address_line1_check: Option<String>,
    pub address_postal_code_check: Option<String>,
}

/// A page of a list (`GET /v1/payment_methods`).
#[derive(Deserialize)]
pub struct List<T> {
    pub data: Vec<T>,
    pub has_more: bool,
}

/// A SetupIntent.
#[derive(Deserialize)]
pub struct SetupIntent {
    pub id: String,
    pub client_secret: Option<String>,
}

/// A PaymentIntent.
#[derive(Deserialize)]
pub struct PaymentIntent {
    pub id: String,
    /// Stripe's `status` string; one added later reads as "not final" (`mapping`).
    pub status: String,
    pub client_secret: Option<String>,
    pub next_action: Option<NextAction>,
    pub last_payment_error: Option<ApiError>,
    pub metadata: Option<Metadata>,
}

/// `payment_intent.next_action`.
#[derive(Deserialize)]
pub struct NextAction {
    pub redirect_to_url: Option<Redirect>,
}

/// `next_action.redirect_to_url`.
#[derive(Deserialize)]
pub struct Redirect {
    pub url: Option<String>,
}

/// The body of an error answer.
#[derive(Deserialize)]
pub struct ErrorBody {
    pub error: ApiError,
}

/// Stripe's error object: an error answer's `error`, and a PaymentIntent's
/// `last_payment_error`.
#[derive(Default, Deserialize)]
pub struct ApiError {
    /// `card_error`, `invalid_request_error`, `api_error`, `idempotency_error`.
    #[serde(rename = "type", default)]
    pub type_: String,
    pub code: Option<String>,
    pub decline_code: Option<String>,
    /// Stripe's message. It may quote what was sent: never logged (`mapping`).
    pub message: Option<String>,
    pub param: Option<String>,
    /// The PaymentIntent a failed charge created (a 402 on `POST /v1/payment_intents`).
    pub payment_intent: Option<Box<PaymentIntent>>,
}
