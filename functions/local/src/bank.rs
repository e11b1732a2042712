//! The simulated bank behind the authorization page: locally the page asks the cardholder
//! itself ("Authorize payment" / "Decline"), the simulated network takes that answer, and then
//! the purchase or invoice is settled exactly as in production, by asking the network.

use async_trait::async_trait;
use billing_api::ApiError;
use billing_api::authorize::{
    Authorizations, BankAnswer, Challenge, ChallengeState, InvoiceAuthorizations,
    PurchaseAuthorizations, challenge_of, invoice_challenge,
};
use billing_api::links::LinkSubject;
use billing_core::PaymentId;
use billing_embedded::SimulatedCardNetwork;

/// The production flows ([`PurchaseAuthorizations`], [`InvoiceAuthorizations`]), with the
/// simulated bank answering first.
pub struct SimulatedBankAuthorizations {
    /// The production purchase flow.
    pub purchases: PurchaseAuthorizations,
    /// The production invoice flow.
    pub invoices: InvoiceAuthorizations,
    /// The network whose bank answers.
    pub network: SimulatedCardNetwork,
}

impl SimulatedBankAuthorizations {
    fn flow(&self, subject: &LinkSubject) -> &dyn Authorizations {
        match subject {
            LinkSubject::Purchase { .. } => &self.purchases,
            LinkSubject::Invoice { .. } => &self.invoices,
        }
    }

    /// The payment the bank is asked about: the purchase's, or the invoice's latest attempt's,
    /// while it waits for the cardholder. `Err` when the link names nothing.
    async fn waiting_payment(&self, subject: &LinkSubject) -> Result<Option<PaymentId>, ApiError> {
        let waiting = |challenge: &Challenge| challenge.state == ChallengeState::Waiting;
        match subject {
            LinkSubject::Purchase { .. } => {
                let purchase = self
                    .purchases
                    .purchase(subject)
                    .await?
                    .ok_or_else(|| ApiError::not_found("credit purchase"))?;
                Ok(waiting(&challenge_of(&purchase))
                    .then_some(purchase.payment)
                    .flatten())
            }
            LinkSubject::Invoice { .. } => {
                let invoice = self
                    .invoices
                    .invoice(subject)
                    .await?
                    .ok_or_else(|| ApiError::not_found("invoice"))?;
                Ok(waiting(&invoice_challenge(&invoice))
                    .then(|| invoice.latest().and_then(|a| a.payment.clone()))
                    .flatten())
            }
        }
    }
}

#[async_trait]
impl Authorizations for SimulatedBankAuthorizations {
    async fn challenge(&self, subject: &LinkSubject) -> Result<Option<Challenge>, ApiError> {
        self.flow(subject).challenge(subject).await
    }

    async fn complete(
        &self,
        subject: &LinkSubject,
        answer: Option<BankAnswer>,
    ) -> Result<Challenge, ApiError> {
        let payment = self.waiting_payment(subject).await?;
        if let (Some(answer), Some(payment)) = (answer, &payment) {
            let answered = match answer {
                BankAnswer::Approve => self.network.approve(payment),
                BankAnswer::Decline => self.network.decline(payment),
            };
            // A payment the bank no longer asks about keeps its state; the refresh reads it.
            if let Err(error) = answered {
                tracing::info!(%error, "the simulated bank had nothing to answer");
            }
        }
        self.flow(subject).complete(subject, None).await
    }
}
