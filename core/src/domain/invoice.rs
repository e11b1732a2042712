//! Monthly invoices and the attempts to collect them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::ids::{AccountId, ClientSecret, InvoiceId, PaymentId, PaymentMethodId};
use crate::domain::money::{Cents, Currency, Micros};
use crate::error::MoneyError;
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
    /// Each line in whole cents, such that they add up to what the lines add up to (the
    /// amount due): the running total of the lines is taken in whole cents by the rounding
    /// rule ([`Micros::whole_cents`]), and each line is its step. A line is then less than a
    /// cent off its exact amount while the running total is not negative (on an invoice it
    /// never is), and a reader adding the lines finds the amount charged (1.005 + 1.005 USD
    /// shows as 1.00 + 1.01, charged 2.01). An error only for lines whose sum overflows, which
    /// no invoice has (its amount is their checked sum).
    pub fn line_cents(&self) -> Result<Vec<Cents>, MoneyError> {
        let mut total = Micros::ZERO;
        let mut shown = Cents::ZERO;
        self.lines
            .iter()
            .map(|line| {
                total = total.checked_add(line.amount_micros)?;
                let cents = total.whole_cents();
                let step = cents.checked_sub(shown)?;
                shown = cents;
                Ok(step)
            })
            .collect()
    }

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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn invoice_of(lines: &[i64]) -> Invoice {
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        Invoice {
            id: InvoiceId::parse("in_202701").unwrap(),
            account: AccountId::parse("a").unwrap(),
            period: BillingPeriod::new(2027, 1).unwrap(),
            status: InvoiceStatus::Open,
            currency: Currency::Usd,
            amount_due: Cents::ZERO,
            amount_paid: Cents::ZERO,
            lines: lines
                .iter()
                .map(|&micros| InvoiceLine {
                    description: "line".into(),
                    amount_micros: Micros::new(micros),
                })
                .collect(),
            attempts: vec![],
            retry_at: vec![],
            next_payment_attempt: None,
            created_at: at,
        }
    }

    #[test]
    fn lines_in_cents_add_up_to_the_amount_charged() {
        let cents = |lines: &[i64]| -> Vec<i64> {
            invoice_of(lines)
                .line_cents()
                .unwrap()
                .iter()
                .map(|c| c.get())
                .collect()
        };
        assert_eq!(cents(&[1_005_000, 1_005_000]), [100, 101]);
        assert_eq!(cents(&[14_345_678, -5_678]), [1_434, 0]);
        assert_eq!(cents(&[12_340_000]), [1_234]);
        assert_eq!(cents(&[]), Vec::<i64>::new());
    }

    proptest! {
        #[test]
        fn each_line_is_less_than_two_cents_off_and_they_add_up_to_the_total(
            lines in prop::collection::vec(-10_000_000_000_i64..10_000_000_000, 0..6)
        ) {
            let shown = invoice_of(&lines).line_cents().unwrap();
            let total: i64 = lines.iter().sum();
            let sum: i64 = shown.iter().map(|c| c.get()).sum();
            prop_assert_eq!(sum, total / 10_000);
            for (line, cents) in lines.iter().zip(&shown) {
                prop_assert!((cents.get() * 10_000 - line).abs() < 20_000, "{} as {}", line, cents.get());
            }
        }
    }
}
