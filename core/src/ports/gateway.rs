//! The payment gateway port: what this system asks of the card network (Stripe).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::domain::ids::{
    AccountId, ClientSecret, CustomerId, EmailAddress, PaymentId, PaymentMethodId,
};
use crate::domain::money::{Cents, Currency};
use crate::rules::card::{CardFacts, CheckResult, Funding};

/// A card as the network reports it. No number, no CVC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardDetails {
    /// `card.brand`.
    pub brand: String,
    /// `card.last4`.
    pub last4: String,
    /// `card.exp_month`.
    pub exp_month: u32,
    /// `card.exp_year`.
    pub exp_year: i32,
    /// `card.funding`.
    pub funding: Funding,
    /// `card.fingerprint`.
    pub fingerprint: String,
    /// `card.checks.cvc_check`.
    pub cvc_check: CheckResult,
    /// `card.checks.address_line1_check`.
    pub address_line1_check: CheckResult,
    /// `card.checks.address_postal_code_check`.
    pub address_postal_code_check: CheckResult,
}

impl CardDetails {
    /// What the acceptance rule reads.
    pub fn facts(&self) -> CardFacts {
        CardFacts {
            funding: self.funding,
            exp_month: self.exp_month,
            exp_year: self.exp_year,
            cvc_check: self.cvc_check,
            address_line1_check: self.address_line1_check,
            address_postal_code_check: self.address_postal_code_check,
        }
    }
}

/// A PaymentMethod.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentMethod {
    /// Its id.
    pub id: PaymentMethodId,
    /// The customer it is attached to, if any.
    pub customer: Option<CustomerId>,
    /// The card.
    pub card: CardDetails,
}

/// What the network holds for a customer: its default and every attached card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerCards {
    /// `invoice_settings.default_payment_method`.
    pub default_payment_method: Option<PaymentMethodId>,
    /// Every card PaymentMethod attached to the customer, in no particular order.
    pub attached: Vec<PaymentMethod>,
}

/// A SetupIntent for the browser to collect a card with Stripe Elements.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetupIntent {
    /// `seti_…`.
    pub id: String,
    /// For Stripe.js.
    pub client_secret: String,
}

/// An off-session or on-session charge of the card on file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeRequest {
    /// Whose card.
    pub customer: CustomerId,
    /// Which card.
    pub payment_method: PaymentMethodId,
    /// How much.
    pub amount: Cents,
    /// In what.
    pub currency: Currency,
    /// Sent to the network so a retried call cannot charge twice.
    pub idempotency_key: String,
    /// True when the user is not present (the monthly charge).
    pub off_session: bool,
    /// Shown on the statement / dashboard.
    pub description: String,
    /// The account, as metadata for reconciliation.
    pub account: AccountId,
    /// What is being paid (`cp_…` or `in_…`), as metadata for reconciliation.
    pub reference: String,
}

/// A decline as the network reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decline {
    /// The decline code (`insufficient_funds`, …), when the network gave one.
    pub decline_code: Option<String>,
    /// The network's own message (not shown to users; ours come from the decline rule).
    pub network_message: String,
}

/// The state of a payment, as the network reports it. Every variant but `Declined` (a charge
/// refused before a payment existed) names its payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ChargeOutcome {
    /// Paid.
    Succeeded {
        /// The payment.
        payment: PaymentId,
    },
    /// Not final yet; it settles later (by event, or when asked again).
    Processing {
        /// The payment.
        payment: PaymentId,
    },
    /// On session: the bank wants the cardholder to authenticate now (Stripe's
    /// `requires_action`).
    RequiresAction {
        /// The payment.
        payment: PaymentId,
        /// For Stripe.js.
        client_secret: ClientSecret,
        /// A page where the cardholder can authenticate, when there is one.
        url: Option<String>,
    },
    /// Off session: the bank wants the cardholder to authenticate, so the payment could not be
    /// made without them (Stripe's 402 `authentication_required`; the PaymentIntent waits in
    /// `requires_payment_method`). The cardholder completes it later, on session, with the
    /// client secret; nothing was charged yet.
    AuthenticationRequired {
        /// The payment, kept for the cardholder to complete.
        payment: PaymentId,
        /// For Stripe.js (`confirmCardPayment`).
        client_secret: ClientSecret,
        /// A page where the cardholder can authenticate, when the network offers one (the
        /// simulated bank does; Stripe does not: the link is the dashboard's).
        url: Option<String>,
    },
    /// Declined: nothing was charged and this attempt is over.
    Declined {
        /// The payment, when one was created.
        payment: Option<PaymentId>,
        /// Why.
        decline: Decline,
    },
    /// Canceled before it succeeded: nothing was charged, and nothing will be.
    Canceled {
        /// The payment.
        payment: PaymentId,
    },
}

impl ChargeOutcome {
    /// The payment this outcome is about, when one exists.
    pub fn payment(&self) -> Option<&PaymentId> {
        match self {
            Self::Succeeded { payment }
            | Self::Processing { payment }
            | Self::RequiresAction { payment, .. }
            | Self::AuthenticationRequired { payment, .. }
            | Self::Canceled { payment } => Some(payment),
            Self::Declined { payment, .. } => payment.as_ref(),
        }
    }

    /// True when the payment can no longer change by itself: it succeeded, was declined or
    /// was canceled. (Waiting for the cardholder is not final: they may still complete it.)
    pub fn is_final(&self) -> bool {
        match self {
            Self::Succeeded { .. } | Self::Declined { .. } | Self::Canceled { .. } => true,
            Self::Processing { .. }
            | Self::RequiresAction { .. }
            | Self::AuthenticationRequired { .. } => false,
        }
    }
}

/// Gateway failures other than declines of a charge.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum GatewayError {
    /// The object does not exist (or belongs to someone we must not reveal).
    #[error("{0} not found")]
    NotFound(String),
    /// The card was declined while attaching it.
    #[error("card declined: {}", .0.network_message)]
    CardDeclined(Decline),
    /// The request was refused as malformed (a bug on our side).
    #[error("refused by the card network: {0}")]
    Invalid(String),
    /// The network could not be reached or failed; the same call may succeed later.
    #[error("card network unavailable: {0}")]
    Unavailable(String),
}

impl GatewayError {
    /// Whether the same call may succeed if made again later (a queue worker tells its runtime
    /// to redeliver): only an outage. A decline, a missing object or a malformed request gives
    /// the same answer every time.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Unavailable(_) => true,
            Self::NotFound(_) | Self::CardDeclined(_) | Self::Invalid(_) => false,
        }
    }
}

/// The payment gateway port.
#[async_trait]
pub trait PaymentGateway: Send + Sync {
    /// Creates the account's customer. Idempotent per account: concurrent or repeated calls
    /// for the same account return the same customer.
    async fn create_customer(
        &self,
        account: &AccountId,
        email: Option<&EmailAddress>,
    ) -> Result<CustomerId, GatewayError>;

    /// Creates a SetupIntent for an off-session card on the customer.
    async fn create_setup_intent(&self, customer: &CustomerId)
    -> Result<SetupIntent, GatewayError>;

    /// Reads a PaymentMethod.
    async fn payment_method(&self, id: &PaymentMethodId) -> Result<PaymentMethod, GatewayError>;

    /// Attaches a PaymentMethod to a customer (the network verifies the card, which may
    /// decline). Returns the attached PaymentMethod, whose id may differ from the one given
    /// (Stripe's test ids such as `pm_card_visa` attach as a fresh copy).
    async fn attach(
        &self,
        id: &PaymentMethodId,
        customer: &CustomerId,
    ) -> Result<PaymentMethod, GatewayError>;

    /// Makes a PaymentMethod the customer's default for invoices and off-session charges.
    async fn set_default(
        &self,
        customer: &CustomerId,
        id: &PaymentMethodId,
    ) -> Result<(), GatewayError>;

    /// The customer's default and every card attached to it, as the network holds them now
    /// (what a repair reads to bring the network back to the card on file). A deleted
    /// customer is `NotFound`.
    async fn customer_cards(&self, customer: &CustomerId) -> Result<CustomerCards, GatewayError>;

    /// Detaches a PaymentMethod from its customer; detaching a detached one succeeds.
    async fn detach(&self, id: &PaymentMethodId) -> Result<(), GatewayError>;

    /// Charges a card. Declines are an outcome, not an error.
    async fn charge(&self, request: &ChargeRequest) -> Result<ChargeOutcome, GatewayError>;

    /// The current state of a charge made earlier.
    async fn charge_status(&self, payment: &PaymentId) -> Result<ChargeOutcome, GatewayError>;

    /// Cancels a payment that has not succeeded, so it never will (the sweep's way to end a
    /// purchase left unsettled). A payment waiting for the cardholder or declined becomes
    /// `Canceled`. Returns the payment's state afterwards, which is what it is instead when it
    /// can no longer be canceled: `Succeeded`, or `Processing` while the network will not let
    /// go of it. Canceling a canceled payment returns `Canceled` again.
    async fn cancel_payment(&self, payment: &PaymentId) -> Result<ChargeOutcome, GatewayError>;

    /// The account the customer was created for (by [`PaymentGateway::create_customer`]),
    /// from its metadata: how an event that names only a customer (the card updater's) is
    /// traced to an account. `None` for a deleted customer, and for one this system did not
    /// create (no account of ours in its metadata, or unknown to the network).
    async fn customer_account(
        &self,
        customer: &CustomerId,
    ) -> Result<Option<AccountId>, GatewayError>;

    /// Deletes a customer; deleting a deleted one succeeds.
    async fn delete_customer(&self, customer: &CustomerId) -> Result<(), GatewayError>;
}
