//! Monthly invoices and the attempts to collect them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::ids::{AccountId, ClientSecret, InvoiceId, PaymentId, PaymentMethodId};
use crate::domain::money::{Cents, Currency, Micros};
use crate::rules::period::BillingPeriod;

/// Where an invoice stands (PRODUCT.md, Behaviour 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceStatus {
    /// Created; its charge is being made or the network has not answered it yet.
    Open,
    /// Paid in full.
    Paid,
    /// The bank wants the user to authorize the charge.
    RequiresAuthorization,
    /// The last attempt was declined, or there was no card to charge.
    PaymentFailed,
    /// Retries are exhausted or cannot succeed.
    Uncollectible,
}

impl InvoiceStatus {
    /// Whether the invoice still waits for money from the user: it counts as owed, and keeps
    /// the account past due unless a charge of it is under way (`Open`).
    pub fn is_unpaid(self) -> bool {
        !matches!(self, Self::Paid)
    }

    /// Whether the invoice makes its account past due: the user has to act (authorize, fund
    /// or replace the card) before it is paid.
    pub fn is_past_due(self) -> bool {
        matches!(
            self,
            Self::RequiresAuthorization | Self::PaymentFailed | Self::Uncollectible
        )
    }
}

/// One line of an invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceLine {
    /// What the line is.
    pub description: String,
    /// Its amount in micro-units (lines may be finer than cents; they add up to the
    /// invoice's whole cents).
    pub amount_micros: Micros,
}

/// Where one collection attempt stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    /// Claimed: the charge is being sent (or was, by a worker that stopped before it heard
    /// back). Sending it again with the attempt's key cannot charge twice.
    Pending,
    /// The network accepted the charge and will settle it later.
    Processing,
    /// Paid.
    Succeeded,
    /// The bank wants the cardholder to authenticate.
    RequiresAuthorization,
    /// Declined, or canceled before it succeeded: nothing was charged.
    Declined,
    /// No usable card on file: nothing was sent to the network.
    CardRequired,
}

impl AttemptOutcome {
    /// Whether the attempt is over without payment and nothing the network reports about it
    /// later can change that, except a success.
    pub fn is_failed(self) -> bool {
        matches!(self, Self::Declined | Self::CardRequired)
    }
}

/// The email an attempt owes its user (a receipt, an authorization link, a decline notice),
/// claimed in the same write that recorded the outcome, so exactly one sender sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Notice {
    /// Nothing to send (yet).
    None,
    /// Claimed at `since`; a claim older than [`Notice::CLAIM_TIMEOUT`] is taken over.
    Sending {
        /// When the claim was made.
        since: DateTime<Utc>,
    },
    /// Sent.
    Sent,
    /// Not sent: the account has no address.
    Unaddressed,
}

impl Notice {
    /// How long a claim to send is trusted before the next visitor takes it over.
    pub const CLAIM_TIMEOUT: chrono::Duration = chrono::Duration::minutes(2);
}

/// Why an attempt was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptTrigger {
    /// The monthly charge (always attempt 1).
    #[default]
    Monthly,
    /// A retry on the invoice's schedule ([`Invoice::retry_at`]).
    Retry,
    /// A card added or replaced since the last attempt.
    NewCard,
    /// The account's deletion, which charges everything owed before erasing anything.
    Deletion,
}

/// One attempt to collect an invoice: one PaymentIntent, made with the attempt's own key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargeAttempt {
    /// 1 for the monthly charge, then one more per retry.
    pub number: u32,
    /// Why it was made.
    #[serde(default)]
    pub trigger: AttemptTrigger,
    /// When it was claimed.
    pub at: DateTime<Utc>,
    /// The card charged (absent when there was none). A resent charge uses this one, so the
    /// network sees the same request under the same key.
    pub payment_method: Option<PaymentMethodId>,
    /// The PaymentIntent, once the network named it.
    pub payment: Option<PaymentId>,
    /// For Stripe.js while the bank waits for the cardholder.
    pub client_secret: Option<ClientSecret>,
    /// Where it stands.
    pub outcome: AttemptOutcome,
    /// The decline code, for a decline (`card_required` when there was no card).
    pub decline_code: Option<String>,
    /// The email this attempt owes.
    pub notice: Notice,
    /// When the outcome was last recorded.
    pub updated_at: DateTime<Utc>,
}

impl ChargeAttempt {
    /// Attempt `number`, claimed at `now` to charge `payment_method` (none when there is no
    /// card): nothing sent yet.
    pub fn pending(
        number: u32,
        trigger: AttemptTrigger,
        payment_method: Option<PaymentMethodId>,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            number,
            trigger,
            at: now,
            payment_method,
            payment: None,
            client_secret: None,
            outcome: AttemptOutcome::Pending,
            decline_code: None,
            notice: Notice::None,
            updated_at: now,
        }
    }
}

/// A monthly invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invoice {
    /// `in_YYYYMM`: one per account and period.
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
    /// When the scheduled retries are due, fixed when the invoice is created (the retry
    /// schedule's days after the charge): a retry is made only after a decline that may
    /// succeed later, and never twice on one day.
    #[serde(default)]
    pub retry_at: Vec<DateTime<Utc>>,
    /// When the next scheduled retry is made; `None` when none is waiting (paid, waiting for
    /// the user, an attempt in flight, or the schedule is used up).
    #[serde(default)]
    pub next_payment_attempt: Option<DateTime<Utc>>,
    /// Created.
    pub created_at: DateTime<Utc>,
}

impl Invoice {
    /// The latest attempt.
    pub fn latest(&self) -> Option<&ChargeAttempt> {
        self.attempts.last()
    }

    /// Whether the invoice makes its account past due: its status says so, or it is being
    /// charged again after an attempt failed (it stays past due until paid).
    pub fn is_past_due(&self) -> bool {
        self.status.is_past_due() || self.status == InvoiceStatus::Open && self.attempts.len() > 1
    }

    /// How many scheduled retries were made.
    pub fn retries_made(&self) -> usize {
        self.attempts
            .iter()
            .filter(|a| a.trigger == AttemptTrigger::Retry)
            .count()
    }

    /// When the collection sweep must next visit the invoice, `None` when nothing is left to
    /// do without news from the user or the network: an attempt claimed or processing for
    /// longer than [`Invoice::IN_FLIGHT_TIMEOUT`] (its sender stopped, or the network never
    /// answered), an email claimed for longer than [`Notice::CLAIM_TIMEOUT`], a scheduled
    /// retry. The earliest of them.
    pub fn visit_at(&self) -> Option<DateTime<Utc>> {
        let latest = self.latest()?;
        let in_flight = matches!(
            latest.outcome,
            AttemptOutcome::Pending | AttemptOutcome::Processing
        )
        .then(|| latest.updated_at + Self::IN_FLIGHT_TIMEOUT);
        let email = match latest.notice {
            Notice::Sending { since } => Some(since + Notice::CLAIM_TIMEOUT),
            Notice::None | Notice::Sent | Notice::Unaddressed => None,
        };
        [in_flight, email, self.next_payment_attempt]
            .into_iter()
            .flatten()
            .min()
    }

    /// How long an attempt may stay claimed or processing before the sweep looks at it.
    pub const IN_FLIGHT_TIMEOUT: chrono::Duration = chrono::Duration::minutes(15);

    /// What is still owed on it.
    pub fn amount_remaining(&self) -> Cents {
        Cents::new(self.amount_due.get().saturating_sub(self.amount_paid.get()))
    }
}
