//! A decorator for any gateway or store: counts calls per operation, and can make the next
//! call of one operation fail as an outage would. Tests use it to measure how many calls a use
//! case makes and to fail each step in turn.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use billing_core::ports::gateway::{
    ChargeOutcome, ChargeRequest, GatewayError, PaymentGateway, PaymentMethod, SetupIntent,
};
use billing_core::ports::store::{
    ListQuery, Page, Record, RecordKey, Store, StoreError, Transaction, Versioned,
};
use billing_core::rules::ledger::BalanceState;
use billing_core::{AccountId, CustomerId, EmailAddress, PaymentMethodId};

/// Call counts and the armed fault.
#[derive(Debug, Default)]
pub struct Probe {
    counts: Mutex<HashMap<&'static str, usize>>,
    armed: Mutex<Option<&'static str>>,
}

impl Probe {
    /// Makes the next call of `operation` fail.
    pub fn fail_next(&self, operation: &'static str) {
        *self.armed.lock().unwrap() = Some(operation);
    }

    /// The operation still armed (`None` once its fault fired).
    pub fn armed(&self) -> Option<&'static str> {
        *self.armed.lock().unwrap()
    }

    /// Calls of one operation so far.
    pub fn count(&self, operation: &str) -> usize {
        self.counts
            .lock()
            .unwrap()
            .get(operation)
            .copied()
            .unwrap_or(0)
    }

    /// Calls of every operation so far.
    pub fn total(&self) -> usize {
        self.counts.lock().unwrap().values().sum()
    }

    /// Forgets the counts.
    pub fn reset(&self) {
        self.counts.lock().unwrap().clear();
    }

    /// Records a call; true when it must fail.
    fn enter(&self, operation: &'static str) -> bool {
        *self.counts.lock().unwrap().entry(operation).or_default() += 1;
        let mut armed = self.armed.lock().unwrap();
        if *armed == Some(operation) {
            *armed = None;
            return true;
        }
        false
    }
}

/// A port adapter with a [`Probe`] in front of it.
#[derive(Debug)]
pub struct Instrumented<T> {
    /// The real adapter.
    pub inner: T,
    /// Its counts and fault.
    pub probe: Arc<Probe>,
}

impl<T> Instrumented<T> {
    /// Wraps an adapter.
    pub fn new(inner: T) -> Self {
        Self {
            inner,
            probe: Arc::new(Probe::default()),
        }
    }
}

macro_rules! guarded {
    ($self:ident, $operation:literal, $fault:expr, $call:expr) => {{
        if $self.probe.enter($operation) {
            return Err($fault);
        }
        $call.await
    }};
}

fn outage() -> GatewayError {
    GatewayError::Unavailable("injected outage".into())
}

fn store_outage() -> StoreError {
    StoreError::Unavailable("injected outage".into())
}

#[async_trait]
impl<G: PaymentGateway> PaymentGateway for Instrumented<G> {
    async fn create_customer(
        &self,
        account: &AccountId,
        email: Option<&EmailAddress>,
    ) -> Result<CustomerId, GatewayError> {
        guarded!(
            self,
            "create_customer",
            outage(),
            self.inner.create_customer(account, email)
        )
    }
    async fn create_setup_intent(
        &self,
        customer: &CustomerId,
    ) -> Result<SetupIntent, GatewayError> {
        guarded!(
            self,
            "create_setup_intent",
            outage(),
            self.inner.create_setup_intent(customer)
        )
    }
    async fn payment_method(&self, id: &PaymentMethodId) -> Result<PaymentMethod, GatewayError> {
        guarded!(
            self,
            "payment_method",
            outage(),
            self.inner.payment_method(id)
        )
    }
    async fn attach(
        &self,
        id: &PaymentMethodId,
        customer: &CustomerId,
    ) -> Result<PaymentMethod, GatewayError> {
        guarded!(self, "attach", outage(), self.inner.attach(id, customer))
    }
    async fn set_default(
        &self,
        customer: &CustomerId,
        id: &PaymentMethodId,
    ) -> Result<(), GatewayError> {
        guarded!(
            self,
            "set_default",
            outage(),
            self.inner.set_default(customer, id)
        )
    }
    async fn detach(&self, id: &PaymentMethodId) -> Result<(), GatewayError> {
        guarded!(self, "detach", outage(), self.inner.detach(id))
    }
    async fn charge(&self, request: &ChargeRequest) -> Result<ChargeOutcome, GatewayError> {
        guarded!(self, "charge", outage(), self.inner.charge(request))
    }
    async fn charge_status(&self, payment: &str) -> Result<ChargeOutcome, GatewayError> {
        guarded!(
            self,
            "charge_status",
            outage(),
            self.inner.charge_status(payment)
        )
    }
    async fn delete_customer(&self, customer: &CustomerId) -> Result<(), GatewayError> {
        guarded!(
            self,
            "delete_customer",
            outage(),
            self.inner.delete_customer(customer)
        )
    }
}

#[async_trait]
impl<S: Store> Store for Instrumented<S> {
    async fn get(&self, key: &RecordKey) -> Result<Option<Versioned<Record>>, StoreError> {
        guarded!(self, "get", store_outage(), self.inner.get(key))
    }
    async fn list(&self, query: &ListQuery, limit: usize) -> Result<Page<Record>, StoreError> {
        guarded!(self, "list", store_outage(), self.inner.list(query, limit))
    }
    async fn balance(&self, account: &AccountId) -> Result<BalanceState, StoreError> {
        guarded!(self, "balance", store_outage(), self.inner.balance(account))
    }
    async fn commit(&self, transaction: Transaction) -> Result<(), StoreError> {
        guarded!(
            self,
            "commit",
            store_outage(),
            self.inner.commit(transaction)
        )
    }
}
