use billing_api::AuthMode;
use billing_api::links::{LinkSigner, SignedLinks};
use billing_api::state::{PurchaseServices, Services};
use billing_core::ports::store::PurchaseStore;
use billing_core::rules::purchase::PurchaseLimits;
use billing_core::usecases::card::{Holder, set_card};
use billing_core::usecases::purchase::{PurchaseAnswer, PurchaseRequest, create_purchase};
use billing_core::{AccountId, Cents, Currency, EmailAddress, Micros, PaymentMethodId, PurchaseId};
use billing_embedded::{EmbeddedStore, LocalClock, OutboxMailer, SimulatedCardNetwork};
use chrono::{DateTime, TimeZone, Utc};

use super::*;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap()
}

/// The credits function's state on the embedded adapters, a purchase of `account` waiting
/// for the bank, and the simulated network to play the bank with.
async fn waiting_purchase(
    dir: &std::path::Path,
) -> (PurchaseAuthorizations, SimulatedCardNetwork, LinkSubject) {
    let clock = Arc::new(LocalClock::default());
    clock.set(t0());
    let store = EmbeddedStore::open(&dir.join("billing.redb")).unwrap();
    let network = SimulatedCardNetwork::open(
        &dir.join("card-network.redb"),
        "http://127.0.0.1:3000/_local/bank/authorize",
    )
    .unwrap();
    let outbox = OutboxMailer::open(&dir.join("outbox"), clock.clone()).unwrap();
    let account = AccountId::parse("page-buyer").unwrap();
    let email = EmailAddress::parse("page-buyer@example.com").unwrap();
    let holder = Holder {
        account: &account,
        email: Some(&email),
    };
    let card = PaymentMethodId::parse("pm_card_authenticationRequired").unwrap();
    set_card(&store, &network, &holder, &card, t0())
        .await
        .unwrap();
    let services = Services {
        store: Arc::new(store),
        gateway: Arc::new(network.clone()),
        clock,
    };
    let purchases = PurchaseServices {
        mailer: Arc::new(outbox),
        limits: PurchaseLimits::default(),
        links: Arc::new(SignedLinks {
            signer: LinkSigner::new(b"page-test-link-secret"),
            base: "https://billing.example.com".to_owned(),
        }),
    };
    let state = Arc::new(AppState::new(services, AuthMode::ApiGateway).with_purchases(purchases));
    let request = PurchaseRequest {
        account: &account,
        amount: Cents::new(2_500),
        currency: Currency::Usd,
        keyed: None,
        new_id: PurchaseId::parse("cp_pagebuyer1").unwrap(),
        limits: PurchaseLimits::default(),
        now: t0(),
    };
    let ports = state.purchase_ports(state.purchases().unwrap());
    let PurchaseAnswer::Purchase(waiting) = create_purchase(ports, request).await.unwrap() else {
        panic!("a purchase waiting for the bank");
    };
    let subject = LinkSubject::Purchase {
        account,
        purchase: waiting.id,
    };
    (PurchaseAuthorizations { state }, network, subject)
}

#[tokio::test]
async fn a_waiting_purchase_shows_its_amount_and_client_secret() {
    let dir = tempfile::tempdir().unwrap();
    let (flow, _, subject) = waiting_purchase(dir.path()).await;

    let challenge = flow
        .challenge(&subject)
        .await
        .unwrap()
        .expect("the purchase");

    assert_eq!(challenge.state, ChallengeState::Waiting);
    assert_eq!(challenge.amount, Cents::new(2_500));
    assert!(challenge.client_secret.is_some());
}

#[tokio::test]
async fn completing_after_the_bank_approved_settles_and_credits_once() {
    let dir = tempfile::tempdir().unwrap();
    let (flow, network, subject) = waiting_purchase(dir.path()).await;
    let LinkSubject::Purchase { account, purchase } = &subject else {
        unreachable!()
    };
    let stored = flow.state.store.purchase(account, purchase).await.unwrap();
    network
        .approve(&stored.unwrap().value.payment.unwrap())
        .unwrap();

    let first = flow.complete(&subject, None).await.unwrap();
    let again = flow.complete(&subject, None).await.unwrap();

    assert_eq!(first.state, ChallengeState::Succeeded);
    assert_eq!(again.state, ChallengeState::Succeeded);
    assert_eq!(
        flow.state.store.balance(account).await.unwrap().amount,
        Micros::new(2_500 * 10_000)
    );
}

#[tokio::test]
async fn the_simulated_bank_cannot_answer_in_production() {
    let dir = tempfile::tempdir().unwrap();
    let (flow, _, subject) = waiting_purchase(dir.path()).await;

    let refused = flow.complete(&subject, Some(BankAnswer::Approve)).await;

    assert!(refused.is_err());
    let challenge = flow.challenge(&subject).await.unwrap().unwrap();
    assert_eq!(challenge.state, ChallengeState::Waiting);
}

#[tokio::test]
async fn a_link_to_another_accounts_purchase_shows_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (flow, _, subject) = waiting_purchase(dir.path()).await;
    let LinkSubject::Purchase { purchase, .. } = subject else {
        unreachable!()
    };
    let other = LinkSubject::Purchase {
        account: AccountId::parse("someone-else").unwrap(),
        purchase,
    };

    assert_eq!(flow.challenge(&other).await.unwrap(), None);
}
