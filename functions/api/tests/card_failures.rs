//! A replace that fails at any step leaves exactly one usable default card: the card on file
//! is attached to the customer and is its default. Each step is failed in turn by a fault
//! injector wrapped around the real embedded adapters.

use std::sync::Mutex;

use async_trait::async_trait;
use billing_core::ports::gateway::{
    ChargeOutcome, ChargeRequest, GatewayError, PaymentGateway, PaymentMethod, SetupIntent,
};
use billing_core::ports::store::{
    ListQuery, Page, Record, RecordKey, Store, StoreError, Transaction, Versioned,
};
use billing_core::rules::ledger::LedgerEntry;
use billing_core::usecases::card::{Holder, set_card};
use billing_core::usecases::error::UseCaseError;
use billing_core::{AccountId, CustomerId, EmailAddress, Micros, PaymentMethodId};
use billing_embedded::{EmbeddedStore, SimulatedCardNetwork};
use chrono::{DateTime, Utc};

/// The steps of a replace that talk to the outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    ReadPaymentMethod,
    Attach,
    SetDefault,
    Record,
    DetachOld,
}

/// Fails the first call of one step, once armed.
struct Faults {
    armed: Mutex<Option<Step>>,
}

impl Faults {
    fn trip(&self, step: Step) -> bool {
        let mut armed = self.armed.lock().unwrap();
        if *armed == Some(step) {
            *armed = None;
            return true;
        }
        false
    }

    fn arm(&self, step: Step) {
        *self.armed.lock().unwrap() = Some(step);
    }
}

fn outage() -> GatewayError {
    GatewayError::Unavailable("injected outage".into())
}

struct FaultyGateway<'a> {
    inner: &'a SimulatedCardNetwork,
    faults: &'a Faults,
}

#[async_trait]
impl PaymentGateway for FaultyGateway<'_> {
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
        if self.faults.trip(Step::ReadPaymentMethod) {
            return Err(outage());
        }
        self.inner.payment_method(id).await
    }
    async fn attach(
        &self,
        id: &PaymentMethodId,
        customer: &CustomerId,
    ) -> Result<PaymentMethod, GatewayError> {
        if self.faults.trip(Step::Attach) {
            return Err(outage());
        }
        self.inner.attach(id, customer).await
    }
    async fn set_default(
        &self,
        customer: &CustomerId,
        id: &PaymentMethodId,
    ) -> Result<(), GatewayError> {
        if self.faults.trip(Step::SetDefault) {
            return Err(outage());
        }
        self.inner.set_default(customer, id).await
    }
    async fn detach(&self, id: &PaymentMethodId) -> Result<(), GatewayError> {
        if self.faults.trip(Step::DetachOld) {
            return Err(outage());
        }
        self.inner.detach(id).await
    }
    async fn charge(&self, request: &ChargeRequest) -> Result<ChargeOutcome, GatewayError> {
        self.inner.charge(request).await
    }
    async fn charge_status(&self, payment: &str) -> Result<ChargeOutcome, GatewayError> {
        self.inner.charge_status(payment).await
    }
    async fn delete_customer(&self, customer: &CustomerId) -> Result<(), GatewayError> {
        self.inner.delete_customer(customer).await
    }
}

struct FaultyStore<'a> {
    inner: &'a EmbeddedStore,
    faults: &'a Faults,
}

#[async_trait]
impl Store for FaultyStore<'_> {
    async fn get(&self, key: &RecordKey) -> Result<Option<Versioned<Record>>, StoreError> {
        self.inner.get(key).await
    }
    async fn list(&self, query: &ListQuery, limit: usize) -> Result<Page<Record>, StoreError> {
        self.inner.list(query, limit).await
    }
    async fn balance(&self, account: &AccountId) -> Result<Micros, StoreError> {
        self.inner.balance(account).await
    }
    async fn entries_since(
        &self,
        account: &AccountId,
        since: DateTime<Utc>,
    ) -> Result<Vec<LedgerEntry>, StoreError> {
        self.inner.entries_since(account, since).await
    }
    async fn commit(&self, transaction: Transaction) -> Result<(), StoreError> {
        if self.faults.trip(Step::Record) {
            return Err(StoreError::Unavailable("injected outage".into()));
        }
        self.inner.commit(transaction).await
    }
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn pm(id: &str) -> PaymentMethodId {
    PaymentMethodId::parse(id).unwrap()
}

/// Arms a fault at `step`, tries to replace visa with mastercard, and checks the invariant.
async fn replace_failing_at(step: Step) {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(&dir.path().join("billing.redb")).unwrap();
    let network =
        SimulatedCardNetwork::open(&dir.path().join("net.redb"), "http://127.0.0.1/").unwrap();
    let faults = Faults {
        armed: Mutex::new(None),
    };
    let (faulty_store, faulty_gateway) = (
        FaultyStore {
            inner: &store,
            faults: &faults,
        },
        FaultyGateway {
            inner: &network,
            faults: &faults,
        },
    );
    let account = AccountId::parse("failing-steps").unwrap();
    let holder = Holder {
        account: &account,
        email: None,
    };

    let first = set_card(
        &faulty_store,
        &faulty_gateway,
        &holder,
        &pm("pm_card_visa"),
        now(),
    )
    .await
    .unwrap();
    faults.arm(step);
    let result = set_card(
        &faulty_store,
        &faulty_gateway,
        &holder,
        &pm("pm_card_mastercard"),
        now(),
    )
    .await;
    assert_eq!(*faults.armed.lock().unwrap(), None, "{step:?} was reached");

    let account_record = billing_core::ports::store::AccountStore::account(&store, &account)
        .await
        .unwrap()
        .unwrap()
        .value;
    let customer = account_record.customer.clone().unwrap();
    let on_file = account_record.card.unwrap();
    let default = network.default_payment_method(&customer).unwrap();
    let attached = network.attached_to(&customer).unwrap();
    assert_eq!(
        default.as_ref(),
        Some(&on_file.payment_method),
        "{step:?}: the card on file is the default"
    );
    assert!(
        attached.contains(&on_file.payment_method),
        "{step:?}: the card on file is attached"
    );
    assert_eq!(
        network
            .payment_method(&on_file.payment_method)
            .await
            .unwrap()
            .customer
            .as_ref(),
        Some(&customer)
    );

    match step {
        Step::DetachOld => {
            let set = result.expect("the replace itself succeeded");
            assert_eq!(on_file.last4, "4444");
            assert_eq!(
                set.old_card_left_attached,
                Some(first.card.payment_method.clone())
            );
            assert_eq!(
                attached.len(),
                2,
                "the old card stays attached, not default, and is reported"
            );
        }
        _ => {
            assert!(
                matches!(
                    result,
                    Err(UseCaseError::Gateway(_) | UseCaseError::Store(_))
                ),
                "{step:?}: {result:?}"
            );
            assert_eq!(
                on_file, first.card,
                "{step:?}: the old card is still on file"
            );
            assert_eq!(
                attached,
                vec![first.card.payment_method.clone()],
                "{step:?}: nothing else is left attached"
            );
        }
    }
}

#[tokio::test]
async fn a_replace_failing_when_reading_the_new_card_keeps_the_old_one() {
    replace_failing_at(Step::ReadPaymentMethod).await;
}

#[tokio::test]
async fn a_replace_failing_at_attach_keeps_the_old_one() {
    replace_failing_at(Step::Attach).await;
}

#[tokio::test]
async fn a_replace_failing_at_set_default_keeps_the_old_one_and_detaches_the_new() {
    replace_failing_at(Step::SetDefault).await;
}

#[tokio::test]
async fn a_replace_failing_to_record_restores_the_old_default_and_detaches_the_new() {
    replace_failing_at(Step::Record).await;
}

#[tokio::test]
async fn a_replace_failing_to_detach_the_old_card_keeps_the_new_one_as_the_only_default() {
    replace_failing_at(Step::DetachOld).await;
}
