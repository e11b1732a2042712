//! A credit purchase.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::ids::{
    AccountId, ClientSecret, CustomerId, IdempotencyKey, PaymentId, PaymentMethodId, PurchaseId,
};
use crate::domain::money::{Cents, Currency};
use crate::rules::purchase::PurchaseStatus;

/// What the dashboard needs to let the user authenticate with their bank. The page the user
/// can open instead is ours, and its link is signed when the purchase is shown, not stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextAction {
    /// Stripe's `client_secret` of the PaymentIntent, for `stripe.handleNextAction`.
    pub client_secret: ClientSecret,
}

/// Where the receipt of a purchase stands. It is sent once per settled purchase: the
/// transaction that settles the purchase claims the sending, whoever settles it (the
/// response, a webhook, the authorization page or the sweep), so of concurrent settlers
/// exactly one sends; a claim left by a sender that died is taken over after
/// [`Receipt::CLAIM_TIMEOUT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Receipt {
    /// No receipt is owed (the purchase has not succeeded).
    NotDue,
    /// Claimed at `since` by the settler that sends it.
    Sending {
        /// When it was claimed.
        since: DateTime<Utc>,
    },
    /// Sent (or there was no address to send it to).
    Sent {
        /// When.
        at: DateTime<Utc>,
    },
}

impl Receipt {
    /// How long a claim to send is honoured before another settler takes it over.
    pub const CLAIM_TIMEOUT: chrono::Duration = chrono::Duration::minutes(2);
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
    /// The customer charged.
    pub customer: CustomerId,
    /// The card charged: the card on file when the purchase started. Kept so that the charge
    /// request, sent again after a lost answer, is the very same request.
    pub payment_method: PaymentMethodId,
    /// The card network's payment (Stripe PaymentIntent), once it answered.
    pub payment: Option<PaymentId>,
    /// Present while the bank asks for authentication.
    pub next_action: Option<NextAction>,
    /// Present when it failed.
    pub failure: Option<PurchaseFailure>,
    /// The client's key, when one was sent.
    pub idempotency_key: Option<IdempotencyKey>,
    /// The receipt e-mail.
    pub receipt: Receipt,
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
    /// Its receipt is owed and not yet sent.
    #[serde(default)]
    pub receipt_pending: bool,
}

impl PurchaseSlot {
    /// The slot of a purchase as it stands.
    pub fn of(purchase: &Purchase) -> Self {
        Self {
            account: purchase.account.clone(),
            purchase: purchase.id.clone(),
            status: purchase.status,
            created_at: purchase.created_at,
            receipt_pending: !matches!(purchase.receipt, Receipt::NotDue | Receipt::Sent { .. }),
        }
    }

    /// Whether the sweep must visit it once it is old enough: the purchase is unsettled, or
    /// its receipt is still owed. Stores list exactly these slots in
    /// [`ListQuery::Unsettled`](crate::ports::store::ListQuery::Unsettled).
    pub fn needs_sweep(&self) -> bool {
        !self.status.is_settled() || self.receipt_pending
    }
}
