//! The account and the card on file.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::ids::{AccountId, CustomerId, EmailAddress, InvoiceId, PaymentMethodId};
use crate::domain::invoice::Notice;
use crate::domain::money::Micros;
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
    /// The account's deletion, once started (kept after it is done, without personal data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion: Option<Deletion>,
}

/// An account deletion (PRODUCT.md, Behaviour 7): started by the user, resumed by any later
/// request until done. While it runs the account is [`AccountStatus::Deleting`] and a lease
/// keeps a second request from running the same steps at the same time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deletion {
    /// When the user asked for it (names its final invoice and ledger entry).
    pub started_at: DateTime<Utc>,
    /// How far it got.
    pub step: DeletionStep,
    /// Until when the request running the steps holds them; after this instant it is presumed
    /// dead and the next request takes over.
    pub lease_until: DateTime<Utc>,
    /// Where the confirmation goes: the address captured when deletion started, erased from
    /// the record once the confirmation is sent.
    pub email: Option<EmailAddress>,
    /// The final invoice (unbilled usage up to the start), when there was an amount to charge.
    pub final_invoice: Option<InvoiceId>,
    /// Credits left when the balance was closed, forfeited (micro-USD, zero or more).
    pub forfeited: Micros,
    /// Owed but too little to charge (under the minimum charge, or a fraction of a cent),
    /// written off (micro-USD, zero or more).
    pub written_off: Micros,
    /// The confirmation email.
    pub notice: Notice,
}

impl Deletion {
    /// How long a request holds a deletion's steps.
    pub const LEASE: chrono::Duration = chrono::Duration::minutes(2);
}

/// The steps of a deletion, in order. Each is resumable: run again, it finishes what a stopped
/// run left and repeats nothing that was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeletionStep {
    /// Collecting what is owed: every unpaid invoice, and the final one, charged on the card
    /// on file. A failure ends the deletion (the account is active again, nothing erased).
    Collecting,
    /// Everything owed is paid: cards detached, customer deleted, records erased, the
    /// balance closed. Nothing can stop it now; it only resumes.
    Erasing,
    /// Erased: the account is [`AccountStatus::Deleted`]; only the confirmation may be owed.
    Done,
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
            deletion: None,
        }
    }
}
