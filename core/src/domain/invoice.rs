//! Monthly invoices.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::ids::{AccountId, InvoiceId};
use crate::domain::money::{Cents, Currency, Micros};
use crate::rules::period::BillingPeriod;

/// Where an invoice stands (PRODUCT.md, Behaviour 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceStatus {
    /// Created; the charge has not been answered yet.
    Open,
    /// Paid in full.
    Paid,
    /// The bank wants the user to authorize the charge.
    RequiresAuthorization,
    /// The last attempt was declined; retries are scheduled.
    PaymentFailed,
    /// Retries are exhausted or cannot succeed.
    Uncollectible,
}

/// One line of an invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceLine {
    /// What the line is.
    pub description: String,
    /// Its amount in micro-units (lines may be finer than cents; the total is whole cents).
    pub amount_micros: Micros,
}

/// One attempt to collect an invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargeAttempt {
    /// When.
    pub at: DateTime<Utc>,
    /// `succeeded`, `requires_authorization` or `declined`.
    pub outcome: String,
    /// The decline code, for a decline.
    pub decline_code: Option<String>,
}

/// A monthly invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invoice {
    /// `in_…`.
    pub id: InvoiceId,
    /// The account billed.
    pub account: AccountId,
    /// The month billed.
    pub period: BillingPeriod,
    /// Where it stands.
    pub status: InvoiceStatus,
    /// Currency.
    pub currency: Currency,
    /// What is charged.
    pub amount_due: Cents,
    /// What has been collected.
    pub amount_paid: Cents,
    /// How the amount is made up.
    pub lines: Vec<InvoiceLine>,
    /// Collection attempts, oldest first.
    pub attempts: Vec<ChargeAttempt>,
    /// Where the user authorizes the charge, only while one is needed.
    pub authorization_url: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
}
