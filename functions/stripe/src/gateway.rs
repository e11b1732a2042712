//! [`StripeGateway`]: the payment gateway port over Stripe's API.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use billing_core::domain::money::Currency;
use billing_core::ports::gateway::{
    ChargeOutcome, ChargeRequest, CustomerCards, GatewayError, PaymentGateway, PaymentMethod,
    SetupIntent,
};
use billing_core::{AccountId, CustomerId, EmailAddress, PaymentId, PaymentMethodId};
use stripe_client_core::{IdempotencyKey, StripeRequest};
use stripe_core::customer::{
    CreateCustomer, DeleteCustomer, RetrieveCustomer, UpdateCustomer, UpdateCustomerInvoiceSettings,
};
use stripe_core::payment_intent::{
    CancelPaymentIntent, CancelPaymentIntentCancellationReason, CreatePaymentIntent,
    CreatePaymentIntentOffSession, RetrievePaymentIntent,
};
use stripe_core::setup_intent::{CreateSetupIntent, CreateSetupIntentUsage};
use stripe_payment::payment_method::{
    AttachPaymentMethod, DetachPaymentMethod, ListPaymentMethod, ListPaymentMethodType,
    RetrievePaymentMethod,
};
use stripe_shared::{PaymentIntentAllowedPaymentMethodTypes, SetupIntentAllowedPaymentMethodTypes};

use crate::failure::Failure;
use crate::mapping;
use crate::objects::{self, Customer, List};
use crate::rate_limit::RateLimit;
use crate::transport::Transport;

/// Per request. A card replace makes up to four Stripe calls inside one Lambda invocation
/// behind API Gateway (the function's timeout is 28 s, the HTTP API's own limit 30 s), and its
/// clean-up needs time left after a slow step: 5 s each keeps the worst case inside the budget.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

const STRIPE_URL: &str = "https://api.stripe.com/";

/// Stripe's largest page: a customer normally has one card, so one page is the rule.
const PAGE_SIZE: i64 = 100;

/// Waits between attempts while another request holds the same idempotency key.
const BUSY_BACKOFF: [Duration; 5] = [
    Duration::from_millis(100),
    Duration::from_millis(200),
    Duration::from_millis(400),
    Duration::from_millis(800),
    Duration::from_millis(1_600),
];

/// The production payment gateway: Stripe through async-stripe's request types, its answers
/// read as this crate's [`objects`].
///
/// Clones share one connection pool and one rate limiter (see
/// [`with_rate_limit`](Self::with_rate_limit)): build one gateway per process and clone it.
#[derive(Clone)]
pub struct StripeGateway {
    client: Transport,
}

impl std::fmt::Debug for StripeGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The client holds the secret key.
        f.debug_struct("StripeGateway").finish_non_exhaustive()
    }
}

impl StripeGateway {
    /// A gateway with the given secret key (`sk_…`; where it comes from is the caller's
    /// business), without a rate limit. `base_url` points it at a stand-in instead of
    /// `https://api.stripe.com/`; a missing trailing slash is added.
    pub fn new(
        secret_key: impl Into<String>,
        base_url: Option<&str>,
    ) -> Result<Self, GatewayError> {
        let url = match base_url {
            Some(url) if url.ends_with('/') => url.to_owned(),
            Some(url) => format!("{url}/"),
            None => STRIPE_URL.to_owned(),
        };
        let client = Transport::new(&secret_key.into(), url, REQUEST_TIMEOUT)
            .map_err(|e| mapping::gateway_error(&e, "client"))?;
        Ok(Self { client })
    }

    /// The same gateway, its requests held to `limit` (`None`: no limit). Every HTTP request
    /// of every method, each retry included, first waits for its turn; this gateway's clones
    /// share the turns. The limit replaces any set before, for this gateway and the clones
    /// made from it afterwards.
    pub fn with_rate_limit(self, limit: Option<RateLimit>) -> Self {
        Self {
            client: self.client.with_rate_limit(limit),
        }
    }
}

fn idempotency_key(key: String) -> Result<IdempotencyKey, GatewayError> {
    IdempotencyKey::new(key).map_err(|e| GatewayError::Invalid(format!("idempotency key: {e}")))
}

/// Sends an idempotent request, again after a pause while Stripe reports the key in use
/// (a concurrent request with the same key). Each attempt waits for the rate limiter, and a
/// 429 has been retried by the transport before it gets here.
async fn send_idempotent<T, F, Fut>(what: &str, mut send: F) -> Result<T, Failure>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Failure>>,
{
    for pause in BUSY_BACKOFF {
        match send().await {
            Err(error) if mapping::is_busy(&error) => {
                tracing::debug!(what, ?pause, "Stripe busy with the same key; trying again");
                tokio::time::sleep(pause).await;
            }
            other => return other,
        }
    }
    send().await
}

fn stripe_currency(currency: Currency) -> stripe_types::Currency {
    match currency {
        Currency::Usd => stripe_types::Currency::USD,
    }
}

#[async_trait]
impl PaymentGateway for StripeGateway {
    async fn create_customer(
        &self,
        account: &AccountId,
        email: Option<&EmailAddress>,
    ) -> Result<CustomerId, GatewayError> {
        // One key per account makes concurrent first calls (and retries) return one customer.
        let key = idempotency_key(format!("customer-{account}"))?;
        let mut request = CreateCustomer::new().metadata(HashMap::from([(
            mapping::ACCOUNT_KEY.to_owned(),
            account.to_string(),
        )]));
        if let Some(email) = email {
            request = request.email(email.as_str());
        }
        let customer: Customer =
            send_idempotent("customer", || self.client.send(request.build(), Some(&key)))
                .await
                .map_err(|e| mapping::gateway_error(&e, "customer"))?;
        CustomerId::parse(&customer.id).map_err(|e| {
            GatewayError::Unavailable(format!("Stripe returned an unusable customer id: {e}"))
        })
    }

    async fn create_setup_intent(
        &self,
        customer: &CustomerId,
    ) -> Result<SetupIntent, GatewayError> {
        let request = CreateSetupIntent::new()
            .customer(customer.as_str())
            .usage(CreateSetupIntentUsage::OffSession)
            .allowed_payment_method_types(vec![SetupIntentAllowedPaymentMethodTypes::Card]);
        let intent: objects::SetupIntent = self
            .client
            .send(request.build(), None)
            .await
            .map_err(|e| mapping::gateway_error(&e, &format!("customer {customer}")))?;
        let client_secret = intent.client_secret.ok_or_else(|| {
            GatewayError::Unavailable(
                "Stripe returned a SetupIntent without a client secret".into(),
            )
        })?;
        Ok(SetupIntent {
            id: intent.id,
            client_secret,
        })
    }

    async fn payment_method(&self, id: &PaymentMethodId) -> Result<PaymentMethod, GatewayError> {
        let pm: objects::PaymentMethod = self
            .client
            .send(RetrievePaymentMethod::new(id.as_str()).build(), None)
            .await
            .map_err(|e| mapping::gateway_error(&e, &format!("payment method {id}")))?;
        mapping::payment_method(&pm)
    }

    async fn attach(
        &self,
        id: &PaymentMethodId,
        customer: &CustomerId,
    ) -> Result<PaymentMethod, GatewayError> {
        let attach = AttachPaymentMethod::new(id.as_str()).customer(customer.as_str());
        let pm: objects::PaymentMethod = self
            .client
            .send(attach.build(), None)
            .await
            .map_err(|e| mapping::gateway_error(&e, &format!("payment method {id}")))?;
        mapping::payment_method(&pm)
    }

    async fn set_default(
        &self,
        customer: &CustomerId,
        id: &PaymentMethodId,
    ) -> Result<(), GatewayError> {
        let settings = UpdateCustomerInvoiceSettings {
            default_payment_method: Some(id.to_string()),
            ..UpdateCustomerInvoiceSettings::new()
        };
        let update = UpdateCustomer::new(customer.as_str()).invoice_settings(settings);
        self.client
            .send::<Customer>(update.build(), None)
            .await
            .map_err(|e| mapping::gateway_error(&e, &format!("customer {customer}")))?;
        Ok(())
    }

    async fn customer_cards(&self, customer: &CustomerId) -> Result<CustomerCards, GatewayError> {
        let what = format!("customer {customer}");
        let found: Customer = self
            .client
            .send(RetrieveCustomer::new(customer.as_str()).build(), None)
            .await
            .map_err(|e| mapping::gateway_error(&e, &what))?;
        // Stripe answers 200 with `deleted: true` for a deleted customer.
        if found.deleted {
            return Err(GatewayError::NotFound(what));
        }
        let default_payment_method = mapping::default_payment_method(&found)?;
        let mut attached = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut page = ListPaymentMethod::new()
                .customer(customer.as_str())
                .type_(ListPaymentMethodType::Card)
                .limit(PAGE_SIZE);
            if let Some(last) = &after {
                page = page.starting_after(last.as_str());
            }
            let page: List<objects::PaymentMethod> = self
                .client
                .send(page.build(), None)
                .await
                .map_err(|e| mapping::gateway_error(&e, &what))?;
            for pm in &page.data {
                attached.push(mapping::payment_method(pm)?);
            }
            match page.data.last() {
                Some(last) if page.has_more => after = Some(last.id.clone()),
                _ => break,
            }
        }
        Ok(CustomerCards {
            default_payment_method,
            attached,
        })
    }

    async fn detach(&self, id: &PaymentMethodId) -> Result<(), GatewayError> {
        let what = format!("payment method {id}");
        let detach = DetachPaymentMethod::new(id.as_str()).build();
        match self
            .client
            .send::<objects::PaymentMethod>(detach, None)
            .await
        {
            Ok(_) => Ok(()),
            // Stripe refuses to detach a PaymentMethod that is not attached (400). The port
            // promises that detaching a detached card succeeds, so look before reporting it.
            Err(error) => match mapping::gateway_error(&error, &what) {
                GatewayError::Invalid(reason) => match self.payment_method(id).await?.customer {
                    None => Ok(()),
                    Some(_) => Err(GatewayError::Invalid(reason)),
                },
                other => Err(other),
            },
        }
    }

    async fn charge(&self, request: &ChargeRequest) -> Result<ChargeOutcome, GatewayError> {
        let key = idempotency_key(request.idempotency_key.clone())?;
        let mut intent =
            CreatePaymentIntent::new(request.amount.get(), stripe_currency(request.currency))
                .confirm(true)
                .customer(request.customer.as_str())
                .payment_method(request.payment_method.as_str())
                .allowed_payment_method_types(vec![PaymentIntentAllowedPaymentMethodTypes::Card])
                .description(request.description.as_str())
                .metadata(HashMap::from([
                    (mapping::ACCOUNT_KEY.to_owned(), request.account.to_string()),
                    (mapping::REFERENCE_KEY.to_owned(), request.reference.clone()),
                ]));
        if request.off_session {
            intent = intent.off_session(CreatePaymentIntentOffSession::Bool(true));
        }
        let result: Result<objects::PaymentIntent, Failure> =
            send_idempotent("payment", || self.client.send(intent.build(), Some(&key))).await;
        match result {
            Ok(intent) => mapping::charge_outcome(&intent),
            Err(error) => mapping::charge_failure(&error),
        }
    }

    async fn charge_status(&self, payment: &PaymentId) -> Result<ChargeOutcome, GatewayError> {
        let intent: objects::PaymentIntent = self
            .client
            .send(RetrievePaymentIntent::new(payment.as_str()).build(), None)
            .await
            .map_err(|e| mapping::gateway_error(&e, &format!("payment {payment}")))?;
        mapping::charge_outcome(&intent)
    }

    async fn cancel_payment(&self, payment: &PaymentId) -> Result<ChargeOutcome, GatewayError> {
        let cancel = CancelPaymentIntent::new(payment.as_str())
            .cancellation_reason(CancelPaymentIntentCancellationReason::Abandoned);
        let cancel: Result<objects::PaymentIntent, Failure> =
            self.client.send(cancel.build(), None).await;
        match cancel {
            Ok(intent) => mapping::charge_outcome(&intent),
            // Succeeded, canceled already, or a state Stripe will not cancel from: what it is
            // now is the answer (one more call, only on this path).
            Err(error) if mapping::is_unexpected_state(&error) => self.charge_status(payment).await,
            Err(error) => Err(mapping::gateway_error(
                &error,
                &format!("payment {payment}"),
            )),
        }
    }

    async fn customer_account(
        &self,
        customer: &CustomerId,
    ) -> Result<Option<AccountId>, GatewayError> {
        let found: Result<Customer, Failure> = self
            .client
            .send(RetrieveCustomer::new(customer.as_str()).build(), None)
            .await;
        match found {
            Ok(found) if found.deleted => Ok(None),
            Ok(found) => Ok(mapping::customer_account(&found)),
            Err(error) => match mapping::gateway_error(&error, &format!("customer {customer}")) {
                GatewayError::NotFound(_) => Ok(None),
                other => Err(other),
            },
        }
    }

    async fn delete_customer(&self, customer: &CustomerId) -> Result<(), GatewayError> {
        match self
            .client
            .send::<Customer>(DeleteCustomer::new(customer.as_str()).build(), None)
            .await
            .map_err(|e| mapping::gateway_error(&e, &format!("customer {customer}")))
        {
            // Stripe answers 404 for a customer already deleted: it is gone either way.
            Ok(_) | Err(GatewayError::NotFound(_)) => Ok(()),
            Err(other) => Err(other),
        }
    }
}
