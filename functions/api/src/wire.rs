//! Request and response bodies of PRODUCT.md's HTTP API as types: serde parses and writes
//! them, and the OpenAPI document's schemas are derived from them.

use billing_core::domain::account::{AccountStatus, StoredCard};
use billing_core::domain::purchase::Purchase;
use billing_core::ports::gateway::SetupIntent;
use billing_core::rules::card::Funding;
use billing_core::rules::purchase::PurchaseStatus;
use billing_core::usecases::overview::BillingOverview;
use chrono::SecondsFormat;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

mod account;
mod invoice;
pub use account::{AccountDeleted, DeleteAccount, DeletedStatus};
pub use invoice::{
    AttemptOutcomeBody, AttemptTriggerBody, InvoiceAttempt, InvoiceBody, InvoiceLineBody,
    InvoiceList, InvoiceListQuery, InvoicePeriod, InvoiceStatusBody, failure_message,
};

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
            status: match BillingStatus::from(overview.status) {
                BillingStatus::Active if overview.past_due => BillingStatus::PastDue,
                status => status,
            },
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

/// `POST /v1/billing/credit-purchases`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostCreditPurchase {
    /// In minor units (cents): an integer, 500 (5.00 USD) to 1,000,000 (10,000.00 USD).
    #[schema(examples(2500))]
    pub amount: i64,
    /// Lowercase ISO currency; only `usd`.
    #[schema(examples("usd"))]
    pub currency: String,
}

/// Where a purchase stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CreditPurchaseStatus {
    /// Sent to the card network; settles within 15 minutes.
    Processing,
    /// Paid; the credits are on the balance.
    Succeeded,
    /// The bank asks the cardholder to authenticate (`next_action`).
    RequiresAction,
    /// Declined or not completed in time; nothing was charged.
    Failed,
}

impl From<PurchaseStatus> for CreditPurchaseStatus {
    fn from(status: PurchaseStatus) -> Self {
        match status {
            PurchaseStatus::Processing => Self::Processing,
            PurchaseStatus::Succeeded => Self::Succeeded,
            PurchaseStatus::RequiresAction => Self::RequiresAction,
            PurchaseStatus::Failed => Self::Failed,
        }
    }
}

/// What the dashboard needs to let the cardholder authenticate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PurchaseNextAction {
    /// The PaymentIntent's client secret, for Stripe.js `handleNextAction`.
    pub client_secret: String,
    /// A page where the cardholder can authenticate without the dashboard (a signed link,
    /// valid while the purchase can still settle).
    pub url: String,
}

/// Why a purchase failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PurchaseFailureBody {
    /// The decline code (`insufficient_funds`, …), or `purchase_canceled`.
    pub decline_code: String,
    /// What to do, for a person.
    pub message: String,
}

/// A credit purchase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CreditPurchase {
    /// `cp_…`.
    pub id: String,
    /// Where it stands.
    pub status: CreditPurchaseStatus,
    /// In minor units.
    pub amount: i64,
    /// `usd`.
    pub currency: String,
    /// Present while the bank asks for authentication.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_action: Option<PurchaseNextAction>,
    /// Present when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<PurchaseFailureBody>,
    /// RFC 3339.
    pub created_at: String,
}

impl CreditPurchase {
    /// The purchase as the API shows it; `authorize_url` is the signed page for its
    /// authentication, when it needs one.
    pub fn new(purchase: &Purchase, authorize_url: impl FnOnce() -> String) -> Self {
        Self {
            id: purchase.id.to_string(),
            status: purchase.status.into(),
            amount: purchase.amount.get(),
            currency: purchase.currency.code().to_owned(),
            next_action: purchase
                .next_action
                .as_ref()
                .map(|action| PurchaseNextAction {
                    client_secret: action.client_secret.expose().to_owned(),
                    url: authorize_url(),
                }),
            failure: purchase.failure.as_ref().map(|f| PurchaseFailureBody {
                decline_code: f.decline_code.clone(),
                message: f.message.clone(),
            }),
            created_at: purchase
                .created_at
                .to_rfc3339_opts(SecondsFormat::Secs, true),
        }
    }
}
