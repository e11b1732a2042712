//! [`Issuer`]: the card network as the recovery cases see it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use billing_core::ports::gateway::{
    ChargeOutcome, ChargeRequest, CustomerCards, GatewayError, PaymentGateway, PaymentMethod,
    SetupIntent,
};
use billing_core::{AccountId, CustomerId, EmailAddress, PaymentId, PaymentMethodId};

/// The card network as the cases see it: it records every charge request (its idempotency
/// key and the payment the network answered with) and, when `issuer_code` is set, reports
/// the network's declines with that code, as the issuer would give it.
///
/// Why the code is put on: Stripe's test cards that decline with a given code
/// (`insufficient_funds`, `lost_card`, `incorrect_cvc`, ...) are declined when attached, in
/// Stripe and in both stand-ins, so none can be the card on file. The one test card that
/// attaches and declines later is `pm_card_chargeCustomerFail` (`generic_decline`); charged
/// through this wrapper, the PaymentIntent is still made and declined at the network, and
/// only the code the issuer gave is this case's.
#[derive(Clone)]
pub struct Issuer<G> {
    inner: G,
    issuer_code: Option<&'static str>,
    charges: Arc<Mutex<Vec<Sent>>>,
}

/// A charge request's idempotency key, and the payment the network answered with.
type Sent = (String, Option<PaymentId>);

impl<G: PaymentGateway> Issuer<G> {
    /// The network as it is.
    pub fn new(inner: G) -> Self {
        Self {
            inner,
            issuer_code: None,
            charges: Arc::default(),
        }
    }

    /// The network, its declines reported with `code`.
    pub fn declining_with(inner: G, code: &'static str) -> Self {
        Self {
            issuer_code: Some(code),
            ..Self::new(inner)
        }
    }

    /// The PaymentIntents the network made, by the idempotency key they were made under
    /// (a key sent again that got the same payment counts once).
    pub fn payments_by_key(&self) -> BTreeMap<String, BTreeSet<PaymentId>> {
        let mut by_key: BTreeMap<String, BTreeSet<PaymentId>> = BTreeMap::new();
        for (key, payment) in self.charges.lock().unwrap().iter() {
            let payments = by_key.entry(key.clone()).or_default();
            payments.extend(payment.clone());
        }
        by_key
    }

    /// How many charge requests were sent.
    pub fn requests(&self) -> usize {
        self.charges.lock().unwrap().len()
    }

    fn as_issuer_says(&self, outcome: ChargeOutcome) -> ChargeOutcome {
        match (outcome, self.issuer_code) {
            (
                ChargeOutcome::Declined {
                    payment,
                    mut decline,
                },
                Some(code),
            ) => {
                decline.decline_code = Some(code.to_owned());
                ChargeOutcome::Declined { payment, decline }
            }
            (outcome, _) => outcome,
        }
    }
}

fn payment_of(outcome: &ChargeOutcome) -> Option<PaymentId> {
    match outcome {
        ChargeOutcome::Succeeded { payment }
        | ChargeOutcome::Processing { payment }
        | ChargeOutcome::RequiresAction { payment, .. }
        | ChargeOutcome::AuthenticationRequired { payment, .. }
        | ChargeOutcome::Canceled { payment } => Some(payment.clone()),
        ChargeOutcome::Declined { payment, .. } => payment.clone(),
    }
}

#[async_trait]
impl<G: PaymentGateway> PaymentGateway for Issuer<G> {
    async fn create_customer(
        &self,
        account: &AccountId,
        email: Option<&EmailAddress>,
    ) -> Result<CustomerId, GatewayError> {
        self.inner.create_customer(account, email).await
    }
    async fn create_setup_intent(
        &self,
        customer: &CustomerId,
    ) -> Result<SetupIntent, GatewayError> {
        self.inner.create_setup_intent(customer).await
    }
    async fn payment_method(&self, id: &PaymentMethodId) -> Result<PaymentMethod, GatewayError> {
        self.inner.payment_method(id).await
    }
    async fn attach(
        &self,
        id: &PaymentMethodId,
        customer: &CustomerId,
    ) -> Result<PaymentMethod, GatewayError> {
        self.inner.attach(id, customer).await
    }
    async fn set_default(
        &self,
        customer: &CustomerId,
        id: &PaymentMethodId,
    ) -> Result<(), GatewayError> {
        self.inner.set_default(customer, id).await
    }
    async fn customer_cards(&self, customer: &CustomerId) -> Result<CustomerCards, GatewayError> {
        self.inner.customer_cards(customer).await
    }
    async fn detach(&self, id: &PaymentMethodId) -> Result<(), GatewayError> {
        self.inner.detach(id).await
    }
    async fn charge(&self, request: &ChargeRequest) -> Result<ChargeOutcome, GatewayError> {
        let outcome = self.inner.charge(request).await?;
        self.charges
            .lock()
            .unwrap()
            .push((request.idempotency_key.clone(), payment_of(&outcome)));
        Ok(self.as_issuer_says(outcome))
    }
    async fn charge_status(&self, payment: &PaymentId) -> Result<ChargeOutcome, GatewayError> {
        Ok(self.as_issuer_says(self.inner.charge_status(payment).await?))
    }
    async fn cancel_payment(&self, payment: &PaymentId) -> Result<ChargeOutcome, GatewayError> {
        Ok(self.as_issuer_says(self.inner.cancel_payment(payment).await?))
    }
    async fn customer_account(
        &self,
        customer: &CustomerId,
    ) -> Result<Option<AccountId>, GatewayError> {
        self.inner.customer_account(customer).await
    }
    async fn delete_customer(&self, customer: &CustomerId) -> Result<(), GatewayError> {
        self.inner.delete_customer(customer).await
    }
}
