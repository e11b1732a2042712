//! The links port: signed, expiring addresses of the page where a cardholder completes a
//! payment their bank asked about, without logging in.

use chrono::{DateTime, Utc};

use crate::domain::ids::{AccountId, InvoiceId, PurchaseId};

/// How long an invoice's authorization link is valid: the payment waits for the cardholder
/// until they act (it is not retried meanwhile), and the API hands out a fresh link on every
/// read, so the email's link only needs to outlive a holiday.
pub const INVOICE_LINK_VALIDITY: chrono::Duration = chrono::Duration::days(14);

/// The signed links to the page where a cardholder authenticates a payment.
pub trait AuthorizationLinks: Send + Sync {
    /// The page for a purchase's authentication, valid until `expires_at`.
    fn purchase(
        &self,
        account: &AccountId,
        purchase: &PurchaseId,
        expires_at: DateTime<Utc>,
    ) -> String;

    /// The page for an invoice's authentication, valid until `expires_at`.
    fn invoice(
        &self,
        account: &AccountId,
        invoice: &InvoiceId,
        expires_at: DateTime<Utc>,
    ) -> String;
}
