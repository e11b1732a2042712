//! The invoice flow behind the authorization page: what the link shows is the invoice as
//! stored; completing it asks the card network about the latest attempt's payment and records
//! what it says through the collection rule ([`refresh_invoice`]), which sends the receipt once.

use std::sync::Arc;

use async_trait::async_trait;
use billing_core::domain::invoice::{Invoice, InvoiceStatus};
use billing_core::ports::clock::Clock;
use billing_core::ports::gateway::PaymentGateway;
use billing_core::ports::links::AuthorizationLinks;
use billing_core::ports::mailer::Mailer;
use billing_core::ports::store::Store;
use billing_core::usecases::error::UseCaseError;
use billing_core::usecases::invoice::{Ports, get_invoice, refresh_invoice};

use super::{Authorizations, BankAnswer, Challenge, ChallengeState, StripeStep};
use crate::error::ApiError;
use crate::links::LinkSubject;
use crate::wire::failure_message;

/// Monthly invoices, for the page.
pub struct InvoiceAuthorizations {
    /// Records and ledger.
    pub store: Arc<dyn Store>,
    /// The card network.
    pub gateway: Arc<dyn PaymentGateway>,
    /// Receipts of the invoices it settles.
    pub mailer: Arc<dyn Mailer>,
    /// Links for the emails an invoice may still owe.
    pub links: Arc<dyn AuthorizationLinks>,
    /// Now.
    pub clock: Arc<dyn Clock>,
}

impl InvoiceAuthorizations {
    fn ports(&self) -> Ports<'_> {
        Ports {
            store: self.store.as_ref(),
            gateway: self.gateway.as_ref(),
            mailer: self.mailer.as_ref(),
            links: self.links.as_ref(),
            // The page never creates an invoice: each keeps its own retries.
            retries: &billing_core::rules::retry::RetrySchedule::STANDARD,
        }
    }

    /// The invoice a link names, when it is one of its account's.
    pub async fn invoice(&self, subject: &LinkSubject) -> Result<Option<Invoice>, ApiError> {
        let LinkSubject::Invoice { account, invoice } = subject else {
            return Ok(None);
        };
        match get_invoice(self.store.as_ref(), account, invoice).await {
            Ok(found) => Ok(Some(found)),
            Err(UseCaseError::NotFound) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }
}

/// The page's view of an invoice: "Invoice for October 2026", what is still owed (what was
/// paid, once paid), and the latest attempt's payment for Stripe.js.
pub fn invoice_challenge(invoice: &Invoice) -> Challenge {
    let latest = invoice.latest();
    let (state, amount) = match invoice.status {
        InvoiceStatus::Open | InvoiceStatus::RequiresAuthorization => {
            (ChallengeState::Waiting, invoice.amount_remaining())
        }
        InvoiceStatus::Paid => (ChallengeState::Succeeded, invoice.amount_paid),
        InvoiceStatus::PaymentFailed | InvoiceStatus::Uncollectible => {
            let code = latest.and_then(|a| a.decline_code.as_deref());
            let message = failure_message(code).to_owned();
            (
                ChallengeState::Failed { message },
                invoice.amount_remaining(),
            )
        }
    };
    // The off-session charge waits in `requires_payment_method`: Stripe.js confirms it again
    // with the card it was made with, this time with the cardholder present.
    let stripe_step = match latest.and_then(|a| a.payment_method.clone()) {
        Some(payment_method) => StripeStep::ConfirmCard { payment_method },
        None => StripeStep::NextAction,
    };
    Challenge {
        title: format!("Invoice for {}", invoice.period.start().format("%B %Y")),
        amount,
        currency: invoice.currency,
        client_secret: latest.and_then(|a| a.client_secret.clone()),
        stripe_step,
        state,
    }
}

#[async_trait]
impl Authorizations for InvoiceAuthorizations {
    async fn challenge(&self, subject: &LinkSubject) -> Result<Option<Challenge>, ApiError> {
        Ok(self.invoice(subject).await?.as_ref().map(invoice_challenge))
    }

    /// Stripe.js finished the bank's challenge (or the simulated bank answered, see the local
    /// server): ask the network and record its answer. A bank answer is never acted on here.
    async fn complete(
        &self,
        subject: &LinkSubject,
        _answer: Option<BankAnswer>,
    ) -> Result<Challenge, ApiError> {
        let Some(invoice) = self.invoice(subject).await? else {
            return Err(ApiError::not_found("invoice"));
        };
        let refreshed = refresh_invoice(
            self.ports(),
            &invoice.account,
            &invoice.id,
            self.clock.now(),
        )
        .await?;
        Ok(invoice_challenge(&refreshed))
    }
}

/// The page's flows by the link's subject: purchases to one, invoices to the other. This is
/// what the credits function and billing-local mount.
pub struct PaymentAuthorizations {
    /// Credit purchases.
    pub purchases: Arc<dyn Authorizations>,
    /// Invoices.
    pub invoices: Arc<dyn Authorizations>,
}

impl PaymentAuthorizations {
    fn flow(&self, subject: &LinkSubject) -> &dyn Authorizations {
        match subject {
            LinkSubject::Purchase { .. } => self.purchases.as_ref(),
            LinkSubject::Invoice { .. } => self.invoices.as_ref(),
        }
    }
}

#[async_trait]
impl Authorizations for PaymentAuthorizations {
    async fn challenge(&self, subject: &LinkSubject) -> Result<Option<Challenge>, ApiError> {
        self.flow(subject).challenge(subject).await
    }

    async fn complete(
        &self,
        subject: &LinkSubject,
        answer: Option<BankAnswer>,
    ) -> Result<Challenge, ApiError> {
        self.flow(subject).complete(subject, answer).await
    }
}

#[cfg(test)]
mod tests {
    use billing_core::domain::invoice::{AttemptOutcome, ChargeAttempt, Notice};
    use billing_core::rules::period::BillingPeriod;
    use billing_core::usecases::invoice::decide::CARD_REQUIRED;
    use billing_core::{AccountId, Cents, ClientSecret, Currency, InvoiceId, PaymentMethodId};
    use chrono::{DateTime, Utc};

    use super::*;

    fn at(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339).unwrap().to_utc()
    }

    fn invoice(status: InvoiceStatus, outcome: AttemptOutcome, code: Option<&str>) -> Invoice {
        Invoice {
            id: InvoiceId::parse("in_202610").unwrap(),
            account: AccountId::parse("acct_1").unwrap(),
            period: BillingPeriod::containing(at("2026-10-15T00:00:00Z")),
            status,
            currency: Currency::Usd,
            amount_due: Cents::new(2_500),
            amount_paid: Cents::new(if status == InvoiceStatus::Paid {
                2_500
            } else {
                0
            }),
            lines: vec![],
            attempts: vec![ChargeAttempt {
                number: 1,
                trigger: billing_core::domain::invoice::AttemptTrigger::Monthly,
                at: at("2026-11-03T03:00:05Z"),
                payment_method: Some(PaymentMethodId::parse("pm_card_x").unwrap()),
                payment: None,
                client_secret: Some(ClientSecret::parse("pi_1_secret_x").unwrap()),
                outcome,
                decline_code: code.map(str::to_owned),
                notice: Notice::Sent,
                updated_at: at("2026-11-03T03:00:06Z"),
            }],
            retry_at: vec![],
            next_payment_attempt: None,
            created_at: at("2026-11-03T03:00:05Z"),
        }
    }

    #[test]
    fn an_invoice_waiting_for_the_bank_is_confirmed_again_with_its_card() {
        let waiting = invoice(
            InvoiceStatus::RequiresAuthorization,
            AttemptOutcome::RequiresAuthorization,
            None,
        );

        let challenge = invoice_challenge(&waiting);

        assert_eq!(challenge.title, "Invoice for October 2026");
        assert_eq!(challenge.state, ChallengeState::Waiting);
        assert_eq!(challenge.amount, Cents::new(2_500));
        assert_eq!(
            challenge.client_secret,
            Some(ClientSecret::parse("pi_1_secret_x").unwrap())
        );
        assert_eq!(
            challenge.stripe_step,
            StripeStep::ConfirmCard {
                payment_method: PaymentMethodId::parse("pm_card_x").unwrap()
            }
        );
    }

    #[test]
    fn a_paid_invoice_shows_what_was_paid_and_a_failed_one_why() {
        let paid = invoice(InvoiceStatus::Paid, AttemptOutcome::Succeeded, None);
        let no_card = invoice(
            InvoiceStatus::PaymentFailed,
            AttemptOutcome::CardRequired,
            Some(CARD_REQUIRED),
        );

        let paid = invoice_challenge(&paid);
        let failed = invoice_challenge(&no_card);

        assert_eq!(
            (paid.state, paid.amount),
            (ChallengeState::Succeeded, Cents::new(2_500))
        );
        assert_eq!(
            failed.state,
            ChallengeState::Failed {
                message: failure_message(Some(CARD_REQUIRED)).to_owned()
            }
        );
    }
}
