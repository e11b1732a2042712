//! Card flows beyond the happy path, through the use case on the embedded adapters: a
//! reissued card, a retry after a failed replace, and a refused card a SetupIntent attached.

use std::sync::atomic::{AtomicBool, Ordering};

use billing_contract::instrument::Instrumented;
use billing_core::domain::account::Account;
use billing_core::ports::gateway::PaymentGateway;
use billing_core::ports::store::{
    AccountStore, Expect, ListQuery, Page, Record, RecordKey, Store, StoreError, Transaction,
    Versioned, Write,
};
use billing_core::rules::card::CardRefusal;
use billing_core::rules::ledger::BalanceState;
use billing_core::usecases::card::{Holder, create_setup_intent, set_card};
use billing_core::usecases::error::UseCaseError;
use billing_core::{AccountId, CustomerId, PaymentMethodId};
use billing_embedded::{EmbeddedStore, SimulatedCardNetwork};
use chrono::{DateTime, Utc};

struct World {
    store: Instrumented<EmbeddedStore>,
    network: Instrumented<SimulatedCardNetwork>,
    account: AccountId,
    _dir: tempfile::TempDir,
}

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    World {
        store: Instrumented::new(EmbeddedStore::open(&dir.path().join("billing.redb")).unwrap()),
        network: Instrumented::new(
            SimulatedCardNetwork::open(&dir.path().join("net.redb"), "http://127.0.0.1/").unwrap(),
        ),
        account: AccountId::parse("flows-user").unwrap(),
        _dir: dir,
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

impl World {
    /// The account's record as stored now, with its version.
    async fn record(&self) -> Versioned<Account> {
        self.store
            .inner
            .account(&self.account)
            .await
            .unwrap()
            .unwrap()
    }

    fn holder(&self) -> Holder<'_> {
        Holder {
            account: &self.account,
            email: None,
        }
    }

    async fn put(
        &self,
        card: &PaymentMethodId,
    ) -> Result<billing_core::usecases::card::CardSet, UseCaseError> {
        set_card(&self.store, &self.network, &self.holder(), card, now()).await
    }

    async fn customer(&self) -> CustomerId {
        create_setup_intent(&self.store, &self.network, &self.holder(), now())
            .await
            .unwrap();
        self.record().await.value.customer.unwrap()
    }

    /// What a SetupIntent confirmed by Stripe Elements leaves behind: a card already attached.
    async fn attached_by_setup_intent(&self, test_card: &str) -> PaymentMethodId {
        let customer = self.customer().await;
        self.network
            .inner
            .attach(&pm(test_card), &customer)
            .await
            .unwrap()
            .id
    }
}

#[tokio::test]
async fn a_reissued_card_with_the_same_number_and_a_new_expiry_replaces_the_one_on_file() {
    let world = world();
    let first = world.put(&pm("pm_card_visa")).await.unwrap().card;
    // The card on file is the previous issue of the same number: it expired last month.
    let mut record = world.record().await;
    let mut old_issue = first.clone();
    (old_issue.exp_month, old_issue.exp_year) = (10, 2026);
    record.value.card = Some(old_issue);
    let write = Write::Put {
        record: Record::Account(record.value),
        expect: Expect::Version(record.version),
    };
    world
        .store
        .inner
        .commit(Transaction::new().with(write))
        .await
        .unwrap();

    let reissued = world.put(&pm("pm_card_visa")).await.unwrap();
    assert!(reissued.changed, "a new expiry is a new card");
    assert_eq!(
        (reissued.card.exp_month, reissued.card.exp_year),
        (first.exp_month, first.exp_year)
    );
    let on_file = world.record().await.value.card.unwrap();
    assert_eq!(on_file, reissued.card);
}

#[tokio::test]
async fn the_same_card_with_the_same_expiry_changes_nothing() {
    let world = world();
    let first = world.put(&pm("pm_card_visa")).await.unwrap();
    let again = world.put(&pm("pm_card_visa")).await.unwrap();
    assert!(!again.changed);
    assert_eq!(again.card, first.card);
}

#[tokio::test]
async fn retrying_a_replace_whose_card_was_released_asks_for_the_card_again() {
    let world = world();
    world.put(&pm("pm_card_visa")).await.unwrap();
    let from_elements = world.attached_by_setup_intent("pm_card_mastercard").await;

    world.network.probe.fail_next("set_default");
    let failed = world.put(&from_elements).await;
    assert!(
        matches!(failed, Err(UseCaseError::Gateway(_))),
        "{failed:?}"
    );
    // The clean-up detached it; Stripe never lets a detached card be used again.
    let retried = world.put(&from_elements).await;
    assert!(
        matches!(retried, Err(UseCaseError::PaymentMethodNotFound)),
        "{retried:?}"
    );
    let on_file = world.record().await.value.card.unwrap();
    assert_eq!(on_file.last4, "4242", "the old card is still on file");
}

#[tokio::test]
async fn a_refused_card_attached_by_a_setup_intent_is_detached() {
    let world = world();
    let prepaid = world
        .attached_by_setup_intent("pm_card_mastercard_prepaid")
        .await;
    let customer = world.customer().await;
    assert!(
        world
            .network
            .inner
            .attached_to(&customer)
            .unwrap()
            .contains(&prepaid)
    );

    let refused = world.put(&prepaid).await;
    assert!(
        matches!(
            refused,
            Err(UseCaseError::CardRefused(CardRefusal::PrepaidNotSupported))
        ),
        "{refused:?}"
    );
    assert!(
        world
            .network
            .inner
            .attached_to(&customer)
            .unwrap()
            .is_empty(),
        "nothing refused stays attached"
    );
}

/// A store where the account's first usage lands just before our first write: it creates the
/// account record, without a customer, with the same "must not exist" condition we use.
struct UsageLandsFirst {
    inner: EmbeddedStore,
    account: AccountId,
    landed: AtomicBool,
}

#[async_trait::async_trait]
impl Store for UsageLandsFirst {
    async fn get(&self, key: &RecordKey) -> Result<Option<Versioned<Record>>, StoreError> {
        self.inner.get(key).await
    }
    async fn list(&self, query: &ListQuery, limit: usize) -> Result<Page<Record>, StoreError> {
        self.inner.list(query, limit).await
    }
    async fn balance(&self, account: &AccountId) -> Result<BalanceState, StoreError> {
        self.inner.balance(account).await
    }
    async fn commit(&self, transaction: Transaction) -> Result<(), StoreError> {
        if !self.landed.swap(true, Ordering::SeqCst) {
            let usage = Record::Account(Account::new(self.account.clone(), None, now()));
            self.inner
                .commit(Transaction::new().with(Write::Put {
                    record: usage,
                    expect: Expect::Absent,
                }))
                .await?;
        }
        self.inner.commit(transaction).await
    }
}

#[tokio::test]
async fn a_setup_intent_racing_the_first_usage_still_records_the_customer() {
    let world = world();
    let store = UsageLandsFirst {
        inner: world.store.inner.clone(),
        account: world.account.clone(),
        landed: AtomicBool::new(false),
    };
    create_setup_intent(&store, &world.network, &world.holder(), now())
        .await
        .unwrap();
    let record = world.record().await;
    assert!(
        record.value.customer.is_some(),
        "the customer is recorded after the usage's write"
    );
    assert_eq!(
        record.version, 2,
        "usage created the record, then the customer was added to it"
    );
}
