//! A credit purchase.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::ids::{AccountId, IdempotencyKey, PurchaseId};
use crate::domain::money::{Cents, Currency};
use crate::rules::purchase::PurchaseStatus;

/// What the dashboard needs to let the user authenticate with their bank.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextAction {
    /// Stripe's `client_secret` of the PaymentIntent, for `stripe.handleNextAction`.
    pub client_secret: String,
    /// A page the user can open to authenticate, where the network offers one.
    pub url: Option<String>,
}

/// Why a purchase failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurchaseFailure {
    /// Normalised decline code.
    pub decline_code: String,
    /// The message shown to the user.
    pub message: String,
}

/// One purchase of prepaid credits with the card on file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Purchase {
    /// `cp_…`.
    pub id: PurchaseId,
    /// The buyer.
    pub account: AccountId,
    /// Amount charged and credited.
    pub amount: Cents,
    /// Currency.
    pub currency: Currency,
    /// Where it stands.
    pub status: PurchaseStatus,
    /// The card network's payment id (Stripe PaymentIntent), once created.
    pub payment: Option<String>,
    /// Present while the bank asks for authentication.
    pub next_action: Option<NextAction>,
    /// Present when it failed.
    pub failure: Option<PurchaseFailure>,
    /// The client's key, when one was sent.
    pub idempotency_key: Option<IdempotencyKey>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// The per-account pointer to the latest purchase. Starting a purchase replaces it with a
/// version-conditioned write, which is what makes two concurrent purchases impossible.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurchaseSlot {
    /// The account.
    pub account: AccountId,
    /// Its latest purchase.
    pub purchase: PurchaseId,
    /// That purchase's status as last recorded.
    pub status: PurchaseStatus,
    /// When that purchase started.
    pub created_at: DateTime<Utc>,
}
