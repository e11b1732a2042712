//! The simulated bank behind the authorization page: locally the page asks the cardholder
//! itself ("Authorize payment" / "Decline"), the simulated network takes that answer, and then
//! the purchase is settled exactly as in production, by asking the network.

use async_trait::async_trait;
use billing_api::ApiError;
use billing_api::authorize::{
    Authorizations, BankAnswer, Challenge, ChallengeState, PurchaseAuthorizations, challenge_of,
};
use billing_api::links::LinkSubject;
use billing_embedded::SimulatedCardNetwork;

/// [`PurchaseAuthorizations`], with the simulated bank answering first.
pub struct SimulatedBankAuthorizations {
    /// The production flow.
    pub purchases: PurchaseAuthorizations,
    /// The network whose bank answers.
    pub network: SimulatedCardNetwork,
}

#[async_trait]
impl Authorizations for SimulatedBankAuthorizations {
    async fn challenge(&self, subject: &LinkSubject) -> Result<Option<Challenge>, ApiError> {
        self.purchases.challenge(subject).await
    }

    async fn complete(
        &self,
        subject: &LinkSubject,
        answer: Option<BankAnswer>,
    ) -> Result<Challenge, ApiError> {
        let Some(purchase) = self.purchases.purchase(subject).await? else {
            return Err(ApiError::not_found("credit purchase"));
        };
        let waiting = challenge_of(&purchase).state == ChallengeState::Waiting;
        if let (true, Some(answer), Some(payment)) = (waiting, answer, &purchase.payment) {
            let answered = match answer {
                BankAnswer::Approve => self.network.approve(payment),
                BankAnswer::Decline => self.network.decline(payment),
            };
            // A payment the bank no longer asks about keeps its state; the refresh reads it.
            if let Err(error) = answered {
                tracing::info!(%error, "the simulated bank had nothing to answer");
            }
        }
        self.purchases.complete(subject, None).await
    }
}
