//! The credit purchases behind the authorization page in production
//! ([`billing_api::authorize::Authorizations`]): the page shows a purchase as stored, and once
//! Stripe.js has finished the bank's challenge it asks Stripe and settles what Stripe says
//! ([`refresh_purchase`]), like every other report: credited once, one receipt.

use std::sync::Arc;

use async_trait::async_trait;
use billing_api::ApiError;
use billing_api::AppState;
use billing_api::authorize::{Authorizations, BankAnswer, Challenge, ChallengeState};
use billing_api::links::LinkSubject;
use billing_core::domain::purchase::Purchase;
use billing_core::rules::purchase::PurchaseStatus;
use billing_core::usecases::error::UseCaseError;
use billing_core::usecases::purchase::{get_purchase, refresh_purchase};

/// The purchase flow of the credits function's state (the same store, Stripe and mailer as
/// its API routes).
pub struct PurchaseAuthorizations {
    /// The credits function's state; it must serve purchases.
    pub state: Arc<AppState>,
}

#[async_trait]
impl Authorizations for PurchaseAuthorizations {
    async fn challenge(&self, subject: &LinkSubject) -> Result<Option<Challenge>, ApiError> {
        // Invoices are not paid through this function.
        let LinkSubject::Purchase { account, purchase } = subject else {
            return Ok(None);
        };
        match get_purchase(self.state.store.as_ref(), account, purchase).await {
            Ok(purchase) => Ok(Some(challenge_of(&purchase))),
            Err(UseCaseError::NotFound) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    async fn complete(
        &self,
        subject: &LinkSubject,
        answer: Option<BankAnswer>,
    ) -> Result<Challenge, ApiError> {
        let LinkSubject::Purchase { account, purchase } = subject else {
            return Err(ApiError::not_found("payment"));
        };
        // Only the local simulated bank answers through the page; in production the bank
        // answered Stripe, and Stripe is what is asked below.
        if answer.is_some() {
            return Err(ApiError::not_found("simulated bank"));
        }
        let purchases = self
            .state
            .purchases()
            .ok_or_else(|| ApiError::not_found("payment"))?;
        let ports = self.state.purchase_ports(purchases);
        let now = self.state.clock.now();
        let purchase = refresh_purchase(ports, account, purchase, now).await?;
        Ok(challenge_of(&purchase))
    }
}

/// The purchase as the page shows it.
fn challenge_of(purchase: &Purchase) -> Challenge {
    let state = match purchase.status {
        PurchaseStatus::Succeeded => ChallengeState::Succeeded,
        PurchaseStatus::Failed => ChallengeState::Failed {
            message: purchase.failure.as_ref().map_or_else(
                || "The payment was not completed.".to_owned(),
                |failure| failure.message.clone(),
            ),
        },
        PurchaseStatus::RequiresAction | PurchaseStatus::Processing => ChallengeState::Waiting,
    };
    Challenge {
        title: "Credit purchase".to_owned(),
        amount: purchase.amount,
        currency: purchase.currency,
        client_secret: purchase
            .next_action
            .as_ref()
            .map(|next| next.client_secret.clone()),
        state,
    }
}

#[cfg(test)]
mod tests;
