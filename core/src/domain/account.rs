//! The account and the card on file.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::ids::{AccountId, CustomerId, EmailAddress, PaymentMethodId};
use crate::rules::card::Funding;

/// Lifecycle of an account's billing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    /// In use.
    Active,
    /// Deletion started and will be resumed until done.
    Deleting,
    /// Deleted: personal data erased, invoices and ledger kept anonymised.
    Deleted,
}

/// What is kept about the card on file: never the number or CVC, only what Stripe reports
/// for display and for recognising the same card again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCard {
    /// The Stripe PaymentMethod, attached to the account's customer and its default.
    pub payment_method: PaymentMethodId,
    /// `card.brand`, e.g. `visa`.
    pub brand: String,
    /// `card.last4`.
    pub last4: String,
    /// `card.exp_month`.
    pub exp_month: u32,
    /// `card.exp_year`.
    pub exp_year: i32,
    /// `card.funding`.
    pub funding: Funding,
    /// `card.fingerprint`: the same card number gives the same fingerprint.
    pub fingerprint: String,
}

/// An account's billing record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The JWT `sub`.
    pub id: AccountId,
    /// Where receipts go; erased on deletion.
    pub email: Option<EmailAddress>,
    /// Lifecycle.
    pub status: AccountStatus,
    /// The one Stripe customer of this account, once created.
    pub customer: Option<CustomerId>,
    /// The card on file.
    pub card: Option<StoredCard>,
    /// When the record was first written.
    pub created_at: DateTime<Utc>,
    /// A card change in progress: the per-account lease that serialises card changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_change: Option<CardChange>,
}

/// The lease a card change holds on its account while it changes the customer's cards.
///
/// Only the holder attaches, records, makes default and detaches, so concurrent changes can
/// never interleave their steps. A holder that dies leaves the lease behind; once it has
/// expired, the next change first repairs what it left (see `usecases::card`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardChange {
    /// The account version the claim wrote. Versions only grow, so it names one claim.
    pub claim: u64,
    /// When it was claimed.
    pub started_at: DateTime<Utc>,
    /// After this instant the holder is presumed dead and the lease may be taken over.
    pub expires_at: DateTime<Utc>,
}

impl Account {
    /// A new active account with nothing on file.
    pub fn new(id: AccountId, email: Option<EmailAddress>, now: DateTime<Utc>) -> Self {
        Self {
            id,
            email,
            status: AccountStatus::Active,
            customer: None,
            card: None,
            created_at: now,
            card_change: None,
        }
    }
}
