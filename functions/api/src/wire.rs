//! Request and response bodies of PRODUCT.md's HTTP API as types: serde parses and writes
//! them, and the OpenAPI document's schemas are derived from them.

use billing_core::domain::account::{AccountStatus, StoredCard};
use billing_core::ports::gateway::SetupIntent;
use billing_core::rules::card::Funding;
use billing_core::usecases::overview::BillingOverview;
use chrono::SecondsFormat;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `card.funding`. Only credit and debit cards are ever on file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CardFunding {
    /// A credit card.
    Credit,
    /// A debit card.
    Debit,
    /// A prepaid card.
    Prepaid,
    /// Funding the network did not report.
    Unknown,
}

impl From<Funding> for CardFunding {
    fn from(funding: Funding) -> Self {
        match funding {
            Funding::Credit => Self::Credit,
            Funding::Debit => Self::Debit,
            Funding::Prepaid => Self::Prepaid,
            Funding::Unknown => Self::Unknown,
        }
    }
}

/// The card object: display fields only, never the number or CVC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Card {
    /// e.g. `visa`.
    pub brand: String,
    /// The last four digits.
    pub last4: String,
    /// 1–12.
    pub exp_month: u32,
    /// Four digits.
    pub exp_year: i32,
    /// `credit` or `debit`.
    pub funding: CardFunding,
}

impl From<&StoredCard> for Card {
    fn from(card: &StoredCard) -> Self {
        Self {
            brand: card.brand.clone(),
            last4: card.last4.clone(),
            exp_month: card.exp_month,
            exp_year: card.exp_year,
            funding: card.funding.into(),
        }
    }
}

/// `status` of `GET /v1/billing` (PRODUCT.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BillingStatus {
    /// In good standing.
    Active,
    /// An invoice awaits authorization or payment.
    PastDue,
    /// Deleted, or being deleted.
    Deleted,
}

impl From<AccountStatus> for BillingStatus {
    fn from(status: AccountStatus) -> Self {
        match status {
            AccountStatus::Active => Self::Active,
            // Deletion resumes until done; to the user the account is gone once asked.
            AccountStatus::Deleting | AccountStatus::Deleted => Self::Deleted,
        }
    }
}

/// Amounts of `GET /v1/billing`, in the currency's minor unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Balance {
    /// Prepaid credit left.
    pub credits: i64,
    /// What is owed: usage not covered by credit plus unpaid invoices.
    pub outstanding: i64,
    /// Lowercase ISO code: `usd`.
    pub currency: String,
}

/// `GET /v1/billing`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Billing {
    /// The account (the token's `sub`).
    pub account_id: String,
    /// Standing of the account.
    pub status: BillingStatus,
    /// The card on file, or null.
    #[schema(required = true)]
    pub card: Option<Card>,
    /// Balances.
    pub balance: Balance,
    /// When the next monthly charge runs (RFC 3339, UTC).
    #[schema(format = DateTime)]
    pub next_charge_at: String,
    /// Whether a credit purchase is in flight.
    pub purchase_in_flight: bool,
}

impl From<&BillingOverview> for Billing {
    fn from(overview: &BillingOverview) -> Self {
        Self {
            account_id: overview.account_id.to_string(),
            status: overview.status.into(),
            card: overview.card.as_ref().map(Card::from),
            balance: Balance {
                credits: overview.credits.get(),
                outstanding: overview.outstanding.get(),
                currency: overview.currency.code().to_owned(),
            },
            next_charge_at: overview
                .next_charge_at
                .to_rfc3339_opts(SecondsFormat::Secs, true),
            purchase_in_flight: overview.purchase_in_flight,
        }
    }
}

/// `POST /v1/billing/setup-intents`: what Stripe Elements needs to collect a card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SetupIntentCreated {
    /// `seti_…`.
    pub id: String,
    /// For Stripe.js `confirmCardSetup`.
    pub client_secret: String,
}

impl From<SetupIntent> for SetupIntentCreated {
    fn from(intent: SetupIntent) -> Self {
        Self {
            id: intent.id,
            client_secret: intent.client_secret,
        }
    }
}

/// `PUT /v1/billing/card`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutCard {
    /// The PaymentMethod id Stripe Elements returned (`pm_…`).
    #[schema(
        pattern = "^pm_[A-Za-z0-9_.:@|-]*$",
        max_length = 255,
        examples("pm_card_visa", "pm_card_mastercard_prepaid", "pm_card_cvcCheckFail")
    )]
    pub payment_method: String,
}
