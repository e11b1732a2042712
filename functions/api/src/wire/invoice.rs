//! The bodies of `GET /v1/billing/invoices` and `GET /v1/billing/invoices/{id}`.
//!
//! An invoice shows what PRODUCT.md lists, plus what each collection attempt came to. Nothing
//! that lets someone act on the payment is shown (the client secret, the PaymentIntent, the
//! PaymentMethod): an invoice waiting for the bank carries the signed page's address instead.

use billing_core::domain::invoice::{
    AttemptOutcome, AttemptTrigger, ChargeAttempt, Invoice, InvoiceStatus,
};
use billing_core::domain::money::Cents;
use billing_core::rules::decline::decline_advice;
use billing_core::usecases::invoice::decide::CARD_REQUIRED;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

/// The query of `GET /v1/billing/invoices` (documentation only: the route parses the raw
/// query itself, so that every bad value gets its own code).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InvoiceListQuery {
    /// How many invoices to return: 1–100, default 10.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// An invoice id (`in_…`): the page starts after it (cursor pagination, newest first).
    #[param(pattern = "^in_[A-Za-z0-9_.:@|-]*$", max_length = 64)]
    pub starting_after: Option<String>,
}

/// Where an invoice stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceStatusBody {
    /// Its charge is being made.
    Open,
    /// Paid in full.
    Paid,
    /// The bank wants the cardholder to authorize the charge (`authorization_url`).
    RequiresAuthorization,
    /// The last attempt was declined, or there was no card (`card_required`).
    PaymentFailed,
    /// No further attempt will be made.
    Uncollectible,
}

impl From<InvoiceStatus> for InvoiceStatusBody {
    fn from(status: InvoiceStatus) -> Self {
        match status {
            InvoiceStatus::Open => Self::Open,
            InvoiceStatus::Paid => Self::Paid,
            InvoiceStatus::RequiresAuthorization => Self::RequiresAuthorization,
            InvoiceStatus::PaymentFailed => Self::PaymentFailed,
            InvoiceStatus::Uncollectible => Self::Uncollectible,
        }
    }
}

/// Where one collection attempt stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcomeBody {
    /// Being sent to the card network.
    Pending,
    /// Accepted by the network; it settles later.
    Processing,
    /// Paid.
    Succeeded,
    /// The bank wants the cardholder to authorize it.
    RequiresAuthorization,
    /// Declined (see `decline_code` and `message`); nothing was charged.
    Declined,
    /// There was no usable card on file; nothing was charged.
    CardRequired,
}

impl From<AttemptOutcome> for AttemptOutcomeBody {
    fn from(outcome: AttemptOutcome) -> Self {
        match outcome {
            AttemptOutcome::Pending => Self::Pending,
            AttemptOutcome::Processing => Self::Processing,
            AttemptOutcome::Succeeded => Self::Succeeded,
            AttemptOutcome::RequiresAuthorization => Self::RequiresAuthorization,
            AttemptOutcome::Declined => Self::Declined,
            AttemptOutcome::CardRequired => Self::CardRequired,
        }
    }
}

/// The month an invoice bills.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct InvoicePeriod {
    /// First instant of the month (RFC 3339, UTC), inclusive.
    #[schema(format = DateTime)]
    pub start: String,
    /// First instant after the month (RFC 3339, UTC), exclusive.
    #[schema(format = DateTime)]
    pub end: String,
}

/// One line of an invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct InvoiceLineBody {
    /// What the line is.
    pub description: String,
    /// In cents, such that the lines' `amount`s add up to `amount_due`: the running total of
    /// the lines truncated toward zero (the crate's one rounding rule), less the lines before.
    /// Usage is metered finer: the exact amount is `amount_micros`, within a cent of this.
    pub amount: i64,
    /// Exact, in micro-USD (10,000 to the cent). The lines' `amount_micros` add up to
    /// `amount_due` × 10,000.
    pub amount_micros: i64,
}

/// Why an attempt was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AttemptTriggerBody {
    /// The monthly charge.
    Monthly,
    /// A retry on the invoice's schedule.
    Retry,
    /// A card added or replaced.
    NewCard,
    /// The account's deletion, which charges what is owed first.
    Deletion,
}

impl From<AttemptTrigger> for AttemptTriggerBody {
    fn from(trigger: AttemptTrigger) -> Self {
        match trigger {
            AttemptTrigger::Monthly => Self::Monthly,
            AttemptTrigger::Retry => Self::Retry,
            AttemptTrigger::NewCard => Self::NewCard,
            AttemptTrigger::Deletion => Self::Deletion,
        }
    }
}

/// One attempt to collect an invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct InvoiceAttempt {
    /// 1 for the monthly charge, then one more per retry or new card.
    pub number: u32,
    /// Why it was made.
    pub trigger: AttemptTriggerBody,
    /// When it was made (RFC 3339, UTC).
    #[schema(format = DateTime)]
    pub attempted_at: String,
    /// Where it stands.
    pub outcome: AttemptOutcomeBody,
    /// Why it failed (`insufficient_funds`, …, or `card_required`); only on a failed attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decline_code: Option<String>,
    /// What to check or do, for a person; only on a failed attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// What a failed attempt tells its user: the decline rule's advice for its code, or, with no
/// card to charge, to add one.
pub fn failure_message(decline_code: Option<&str>) -> &'static str {
    match decline_code {
        Some(CARD_REQUIRED) => {
            "There was no usable card on file. Add a credit or debit card in your billing dashboard; the invoice is charged as soon as you do."
        }
        code => decline_advice(code).message(),
    }
}

impl From<&ChargeAttempt> for InvoiceAttempt {
    fn from(attempt: &ChargeAttempt) -> Self {
        let failed = attempt.outcome.is_failed();
        let decline_code = attempt.decline_code.clone().filter(|_| failed);
        let message = failed.then(|| failure_message(decline_code.as_deref()).to_owned());
        Self {
            number: attempt.number,
            trigger: attempt.trigger.into(),
            attempted_at: rfc3339(attempt.at),
            outcome: attempt.outcome.into(),
            decline_code,
            message,
        }
    }
}

/// A monthly invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = Invoice)]
pub struct InvoiceBody {
    /// `in_YYYYMM`: one invoice per account and month.
    pub id: String,
    /// The month billed.
    pub period: InvoicePeriod,
    /// Where it stands.
    pub status: InvoiceStatusBody,
    /// `usd`.
    pub currency: String,
    /// What is charged, in cents.
    pub amount_due: i64,
    /// What has been collected, in cents.
    pub amount_paid: i64,
    /// How `amount_due` is made up.
    pub lines: Vec<InvoiceLineBody>,
    /// Collection attempts, oldest first.
    pub attempts: Vec<InvoiceAttempt>,
    /// Only while `status` is `requires_authorization`: a page where the cardholder authorizes
    /// the payment without logging in (a signed link, valid 14 days; each read gives a fresh
    /// one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization_url: Option<String>,
    /// When the card is charged again on the invoice's retry schedule (RFC 3339, UTC); only
    /// while `status` is `payment_failed` and a retry is scheduled. Adding or replacing the
    /// card charges it at once instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub next_payment_attempt: Option<String>,
}

impl InvoiceBody {
    /// The invoice as the API shows it; `authorization_url` signs the page's link, asked only
    /// for an invoice waiting for the bank.
    pub fn new(invoice: &Invoice, authorization_url: impl FnOnce() -> String) -> Self {
        Self {
            id: invoice.id.to_string(),
            period: InvoicePeriod {
                start: rfc3339(invoice.period.start()),
                end: rfc3339(invoice.period.end()),
            },
            status: invoice.status.into(),
            currency: invoice.currency.code().to_owned(),
            amount_due: invoice.amount_due.get(),
            amount_paid: invoice.amount_paid.get(),
            lines: invoice
                .lines
                .iter()
                .zip(line_cents(invoice))
                .map(|(line, cents)| InvoiceLineBody {
                    description: line.description.clone(),
                    amount: cents.get(),
                    amount_micros: line.amount_micros.get(),
                })
                .collect(),
            attempts: invoice.attempts.iter().map(InvoiceAttempt::from).collect(),
            authorization_url: (invoice.status == InvoiceStatus::RequiresAuthorization)
                .then(authorization_url),
            next_payment_attempt: invoice.next_payment_attempt.map(rfc3339),
        }
    }
}

/// A page of invoices, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct InvoiceList {
    /// The invoices.
    pub data: Vec<InvoiceBody>,
    /// Whether older invoices follow: ask again with `starting_after` the last id.
    pub has_more: bool,
}

fn rfc3339(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The lines in cents that add up to the amount due ([`Invoice::line_cents`]); each line's
/// own whole cents should their sum overflow, which no stored invoice's does.
fn line_cents(invoice: &Invoice) -> Vec<Cents> {
    invoice.line_cents().unwrap_or_else(|_| {
        invoice
            .lines
            .iter()
            .map(|line| line.amount_micros.whole_cents())
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use billing_core::domain::invoice::{InvoiceLine, Notice};
    use billing_core::rules::period::BillingPeriod;
    use billing_core::{
        AccountId, Cents, ClientSecret, Currency, InvoiceId, Micros, PaymentId, PaymentMethodId,
    };

    use super::*;

    fn at(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339).unwrap().to_utc()
    }

    fn attempt(outcome: AttemptOutcome, decline_code: Option<&str>) -> ChargeAttempt {
        ChargeAttempt {
            number: 1,
            trigger: AttemptTrigger::Monthly,
            at: at("2026-11-03T03:00:05Z"),
            payment_method: Some(PaymentMethodId::parse("pm_card_visa").unwrap()),
            payment: Some(PaymentId::parse("pi_1").unwrap()),
            client_secret: Some(ClientSecret::parse("pi_1_secret_x").unwrap()),
            outcome,
            decline_code: decline_code.map(str::to_owned),
            notice: Notice::Sent,
            updated_at: at("2026-11-03T03:00:06Z"),
        }
    }

    fn invoice(status: InvoiceStatus, attempts: Vec<ChargeAttempt>) -> Invoice {
        Invoice {
            id: InvoiceId::parse("in_202610").unwrap(),
            account: AccountId::parse("acct_1").unwrap(),
            period: BillingPeriod::containing(at("2026-10-15T00:00:00Z")),
            status,
            currency: Currency::Usd,
            amount_due: Cents::new(1_234),
            amount_paid: Cents::ZERO,
            lines: vec![
                InvoiceLine {
                    description: "Usage in October 2026".into(),
                    amount_micros: Micros::new(12_345_678),
                },
                InvoiceLine {
                    description: "Carried over".into(),
                    amount_micros: Micros::new(-5_678),
                },
            ],
            attempts,
            retry_at: vec![],
            next_payment_attempt: None,
            created_at: at("2026-11-03T03:00:05Z"),
        }
    }

    #[test]
    fn an_invoice_waiting_for_the_bank_links_its_page_and_hides_the_payment() {
        let waiting = invoice(
            InvoiceStatus::RequiresAuthorization,
            vec![attempt(AttemptOutcome::RequiresAuthorization, None)],
        );

        let body = InvoiceBody::new(&waiting, || "https://pay.example/authorize/v1.x".into());
        let json = serde_json::to_value(&body).unwrap();

        assert_eq!(
            json["authorization_url"],
            "https://pay.example/authorize/v1.x"
        );
        assert_eq!(json["period"]["start"], "2026-10-01T00:00:00Z");
        assert_eq!(json["period"]["end"], "2026-11-01T00:00:00Z");
        assert_eq!(json["lines"][0]["amount"], 1_234);
        assert_eq!(json["lines"][1]["amount"], 0);
        assert_eq!(json["lines"][1]["amount_micros"], -5_678);
        let text = json.to_string();
        assert!(!text.contains("secret") && !text.contains("pi_1") && !text.contains("pm_"));
        assert!(json["attempts"][0].get("message").is_none());
    }

    #[test]
    fn only_an_invoice_waiting_for_the_bank_has_an_authorization_url() {
        for status in [
            InvoiceStatus::Open,
            InvoiceStatus::Paid,
            InvoiceStatus::PaymentFailed,
            InvoiceStatus::Uncollectible,
        ] {
            let body = InvoiceBody::new(&invoice(status, vec![]), || unreachable!("not signed"));

            assert_eq!(body.authorization_url, None, "{status:?}");
        }
    }

    #[test]
    fn a_failed_attempt_says_why_and_what_to_check() {
        let declined = InvoiceAttempt::from(&attempt(
            AttemptOutcome::Declined,
            Some("insufficient_funds"),
        ));
        let no_card =
            InvoiceAttempt::from(&attempt(AttemptOutcome::CardRequired, Some(CARD_REQUIRED)));

        assert_eq!(declined.decline_code.as_deref(), Some("insufficient_funds"));
        assert_eq!(
            declined.message.as_deref(),
            Some(decline_advice(Some("insufficient_funds")).message())
        );
        assert_eq!(no_card.outcome, AttemptOutcomeBody::CardRequired);
        assert!(
            no_card
                .message
                .unwrap()
                .contains("Add a credit or debit card")
        );
    }
}
