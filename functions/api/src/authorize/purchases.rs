//! The purchase flow behind the authorization page: what the link shows is the purchase as
//! stored; completing it asks the card network and settles what it says, through the same
//! settlement rule as every other report.

use std::sync::Arc;

use async_trait::async_trait;
use billing_core::domain::purchase::Purchase;
use billing_core::ports::clock::Clock;
use billing_core::ports::gateway::PaymentGateway;
use billing_core::ports::mailer::Mailer;
use billing_core::ports::store::Store;
use billing_core::rules::purchase::PurchaseStatus;
use billing_core::usecases::error::UseCaseError;
use billing_core::usecases::purchase::{Ports, get_purchase, refresh_purchase};

use super::{Authorizations, BankAnswer, Challenge, ChallengeState, StripeStep};
use crate::error::ApiError;
use crate::links::LinkSubject;

/// Credit purchases, for the page.
pub struct PurchaseAuthorizations {
    /// Records and ledger.
    pub store: Arc<dyn Store>,
    /// The card network.
    pub gateway: Arc<dyn PaymentGateway>,
    /// Receipts of the purchases it settles.
    pub mailer: Arc<dyn Mailer>,
    /// Now.
    pub clock: Arc<dyn Clock>,
}

impl PurchaseAuthorizations {
    fn ports(&self) -> Ports<'_> {
        Ports {
            store: self.store.as_ref(),
            gateway: self.gateway.as_ref(),
            mailer: self.mailer.as_ref(),
        }
    }

    /// The purchase a link names, when it is one of its account's.
    pub async fn purchase(&self, subject: &LinkSubject) -> Result<Option<Purchase>, ApiError> {
        let LinkSubject::Purchase { account, purchase } = subject else {
            return Ok(None);
        };
        match get_purchase(self.store.as_ref(), account, purchase).await {
            Ok(found) => Ok(Some(found)),
            Err(UseCaseError::NotFound) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }
}

/// The page's view of a purchase.
pub fn challenge_of(purchase: &Purchase) -> Challenge {
    let state = match purchase.status {
        PurchaseStatus::Processing | PurchaseStatus::RequiresAction => ChallengeState::Waiting,
        PurchaseStatus::Succeeded => ChallengeState::Succeeded,
        PurchaseStatus::Failed => ChallengeState::Failed {
            message: purchase.failure.as_ref().map_or_else(
                || "The payment did not go through; nothing was charged.".to_owned(),
                |failure| failure.message.clone(),
            ),
        },
    };
    Challenge {
        title: "Credit purchase".to_owned(),
        amount: purchase.amount,
        currency: purchase.currency,
        client_secret: purchase
            .next_action
            .as_ref()
            .map(|action| action.client_secret.clone()),
        stripe_step: StripeStep::NextAction,
        state,
    }
}

#[async_trait]
impl Authorizations for PurchaseAuthorizations {
    async fn challenge(&self, subject: &LinkSubject) -> Result<Option<Challenge>, ApiError> {
        Ok(self.purchase(subject).await?.as_ref().map(challenge_of))
    }

    /// Stripe.js finished the bank's challenge (or the simulated bank answered, see the local
    /// server): ask the network and settle. A bank answer is never acted on here.
    async fn complete(
        &self,
        subject: &LinkSubject,
        _answer: Option<BankAnswer>,
    ) -> Result<Challenge, ApiError> {
        let Some(purchase) = self.purchase(subject).await? else {
            return Err(ApiError::not_found("credit purchase"));
        };
        let settled = refresh_purchase(
            self.ports(),
            &purchase.account,
            &purchase.id,
            self.clock.now(),
        )
        .await?;
        Ok(challenge_of(&settled))
    }
}
