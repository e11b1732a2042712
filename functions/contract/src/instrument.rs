//! A decorator for any gateway, store or mailer: counts calls per operation, can make the next call of
//! one operation fail as an outage would, and can stop the work dead after its n-th call (as a
//! killed process would). Tests use it to measure how many calls a use case makes, to fail
//! each step in turn, and to stop after each step in turn. A store and a gateway can share one
//! probe, so that their calls are numbered together.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use billing_core::ports::gateway::{
    ChargeOutcome, ChargeRequest, CustomerCards, GatewayError, PaymentGateway, PaymentMethod,
    SetupIntent,
};
use billing_core::ports::mailer::{Email, MailError, Mailer};
use billing_core::ports::store::{
    ListQuery, Page, Record, RecordKey, Store, StoreError, Transaction, Versioned,
};
use billing_core::rules::ledger::BalanceState;
use billing_core::{AccountId, CustomerId, EmailAddress, PaymentId, PaymentMethodId};

/// Call counts and the armed fault.
#[derive(Debug, Default)]
pub struct Probe {
    counts: Mutex<HashMap<&'static str, usize>>,
    armed: Mutex<Option<&'static str>>,
    /// Calls allowed before every later call hangs forever.
    stop_after: Mutex<Option<usize>>,
    /// Calls made, in order, by operation.
    log: Mutex<Vec<&'static str>>,
    /// Signalled when a call hangs.
    hung: tokio::sync::Notify,
    /// The number (from the last reset, 0-based) of the one call to fail, until it has.
    fail_call: Mutex<Option<usize>>,
}

/// What a call must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// Go ahead.
    Proceed,
    /// Fail as an outage.
    Fail,
    /// Never return: the process "died" before this call.
    Hang,
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

    /// Forgets the counts and the log.
    pub fn reset(&self) {
        self.counts.lock().unwrap().clear();
        self.log.lock().unwrap().clear();
    }

    /// Lets `calls` more calls through (counting from the last reset), then hangs every later
    /// call forever, as if the process had been killed between two steps.
    pub fn stop_after(&self, calls: usize) {
        *self.stop_after.lock().unwrap() = Some(calls);
    }

    /// Makes the call numbered `number` (0-based, from the last reset) fail as an outage,
    /// whatever its operation.
    pub fn fail_call(&self, number: usize) {
        *self.fail_call.lock().unwrap() = Some(number);
    }

    /// True while the call armed by [`Probe::fail_call`] has not been made.
    pub fn call_armed(&self) -> bool {
        self.fail_call.lock().unwrap().is_some()
    }

    /// Lets every call through again.
    pub fn resume(&self) {
        *self.stop_after.lock().unwrap() = None;
    }

    /// Resolves once a call has hung (see [`Probe::stop_after`]).
    pub async fn hung(&self) {
        self.hung.notified().await;
    }

    /// The operations called since the last reset, in order (the ones that hung excluded).
    pub fn log(&self) -> Vec<&'static str> {
        self.log.lock().unwrap().clone()
    }

    /// Records a call and says what it must do.
    pub fn enter(&self, operation: &'static str) -> Entry {
        let mut log = self.log.lock().unwrap();
        if self
            .stop_after
            .lock()
            .unwrap()
            .is_some_and(|limit| log.len() >= limit)
        {
            self.hung.notify_one();
            return Entry::Hang;
        }
        let number = log.len();
        log.push(operation);
        *self.counts.lock().unwrap().entry(operation).or_default() += 1;
        let mut fail_call = self.fail_call.lock().unwrap();
        if *fail_call == Some(number) {
            *fail_call = None;
            return Entry::Fail;
        }
        let mut armed = self.armed.lock().unwrap();
        if *armed == Some(operation) {
            *armed = None;
            return Entry::Fail;
        }
        Entry::Proceed
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
        Self::with_probe(inner, Arc::new(Probe::default()))
    }

    /// Wraps an adapter behind a probe shared with other adapters.
    pub fn with_probe(inner: T, probe: Arc<Probe>) -> Self {
        Self { inner, probe }
    }
}

macro_rules! guarded {
    ($self:ident, $operation:literal, $fault:expr, $call:expr) => {{
        match $self.probe.enter($operation) {
            Entry::Proceed => {}
            Entry::Fail => return Err($fault),
            Entry::Hang => std::future::pending::<()>().await,
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
    async fn customer_cards(&self, customer: &CustomerId) -> Result<CustomerCards, GatewayError> {
        guarded!(
            self,
            "customer_cards",
            outage(),
            self.inner.customer_cards(customer)
        )
    }
    async fn detach(&self, id: &PaymentMethodId) -> Result<(), GatewayError> {
        guarded!(self, "detach", outage(), self.inner.detach(id))
    }
    async fn charge(&self, request: &ChargeRequest) -> Result<ChargeOutcome, GatewayError> {
        guarded!(self, "charge", outage(), self.inner.charge(request))
    }
    async fn charge_status(&self, payment: &PaymentId) -> Result<ChargeOutcome, GatewayError> {
        guarded!(
            self,
            "charge_status",
            outage(),
            self.inner.charge_status(payment)
        )
    }
    async fn cancel_payment(&self, payment: &PaymentId) -> Result<ChargeOutcome, GatewayError> {
        guarded!(
            self,
            "cancel_payment",
            outage(),
            self.inner.cancel_payment(payment)
        )
    }
    async fn customer_account(
        &self,
        customer: &CustomerId,
    ) -> Result<Option<AccountId>, GatewayError> {
        guarded!(
            self,
            "customer_account",
            outage(),
            self.inner.customer_account(customer)
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
    async fn get_with_balance(
        &self,
        account: &AccountId,
        keys: &[RecordKey],
    ) -> Result<(Vec<Option<Versioned<Record>>>, BalanceState), StoreError> {
        guarded!(
            self,
            "get_with_balance",
            store_outage(),
            self.inner.get_with_balance(account, keys)
        )
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

#[async_trait]
impl Mailer for Instrumented<Arc<dyn Mailer>> {
    async fn send(&self, email: &Email) -> Result<(), MailError> {
        match self.probe.enter("send_email") {
            Entry::Proceed => {}
            Entry::Fail => return Err(MailError::Unavailable("injected outage".into())),
            Entry::Hang => std::future::pending::<()>().await,
        }
        self.inner.send(email).await
    }
}
