//! The card-on-file invariant, as a contract every (store, gateway) pair must keep: after any
//! number of concurrent or interrupted card changes, exactly one card is attached to the
//! account's customer, it is the customer's default, and it is the card on file.
//!
//! Unlike the port suites these cases drive the use cases, so they prove the invariant on the
//! embedded adapters and on the production ones (DynamoDB on moto, Stripe on localstripe)
//! alike. `card_contract!` stamps them out for a pair.

use std::sync::Arc;
use std::time::Duration;

use billing_core::ports::gateway::PaymentGateway;
use billing_core::ports::store::{AccountStore, Store};
use billing_core::usecases::card::decide::LEASE;
use billing_core::usecases::card::{Holder, needs_repair, repair_card_change, set_card};
use billing_core::usecases::error::UseCaseError;
use billing_core::{AccountId, PaymentMethodId};
use chrono::{DateTime, Utc};

use crate::instrument::{Instrumented, Probe};
use crate::unique_account;

/// Concurrent requests in the race cases (DEVELOPERS.md asks for 25 or more).
pub const CONCURRENT: usize = 25;

/// Cards the race cases rotate through: each attaches as a fresh copy.
const CARDS: [&str; 4] = [
    "pm_card_mastercard",
    "pm_card_amex",
    "pm_card_visa_debit",
    "pm_card_visa",
];

fn pm(id: &str) -> PaymentMethodId {
    PaymentMethodId::parse(id).expect("test PaymentMethod id")
}

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .expect("instant")
        .with_timezone(&Utc)
}

/// The instant the cases run at (test cards expire years later).
pub fn now() -> DateTime<Utc> {
    at("2026-11-25T10:00:00Z")
}

/// After the lease of a change started at [`now`] has expired.
pub(crate) fn after_lease() -> DateTime<Utc> {
    now() + LEASE + chrono::TimeDelta::seconds(1)
}

async fn put<S: Store + ?Sized, G: PaymentGateway + ?Sized>(
    store: &S,
    gateway: &G,
    account: &AccountId,
    card: &str,
    at: DateTime<Utc>,
) -> Result<billing_core::usecases::card::CardSet, UseCaseError> {
    let holder = Holder {
        account,
        email: None,
    };
    set_card(store, gateway, &holder, &pm(card), at).await
}

/// The invariant: one card attached, the default, on file; and no change left in progress.
/// Returns the last4 of the card on file.
pub async fn assert_one_card_on_file<S: Store + ?Sized, G: PaymentGateway + ?Sized>(
    store: &S,
    gateway: &G,
    account: &AccountId,
    context: &str,
) -> String {
    let record = store
        .account(account)
        .await
        .expect("account readable")
        .expect("account recorded")
        .value;
    assert_eq!(
        record.card_change, None,
        "{context}: no change left in progress"
    );
    let on_file = record.card.expect("a card on file");
    let customer = record.customer.expect("a customer");
    let network = gateway
        .customer_cards(&customer)
        .await
        .expect("customer readable");
    let attached: Vec<&PaymentMethodId> = network.attached.iter().map(|pm| &pm.id).collect();
    assert_eq!(
        attached,
        vec![&on_file.payment_method],
        "{context}: exactly the card on file is attached"
    );
    assert_eq!(
        network.default_payment_method.as_ref(),
        Some(&on_file.payment_method),
        "{context}: the card on file is the default"
    );
    on_file.last4
}

/// Runs `CONCURRENT` changes at once and checks the outcome of each.
async fn race<S, G>(store: &Arc<S>, gateway: &Arc<G>, account: &AccountId) -> usize
where
    S: Store + 'static,
    G: PaymentGateway + 'static,
{
    let tasks: Vec<_> = (0..CONCURRENT)
        .map(|n| {
            let (store, gateway, account) = (store.clone(), gateway.clone(), account.clone());
            tokio::spawn(async move {
                put(
                    store.as_ref(),
                    gateway.as_ref(),
                    &account,
                    CARDS[n % CARDS.len()],
                    now(),
                )
                .await
            })
        })
        .collect();
    let mut won = 0;
    for task in tasks {
        match task.await.expect("task ran") {
            Ok(set) => {
                assert!(set.changed);
                won += 1;
            }
            Err(UseCaseError::CardChangeInProgress { retry_after }) => {
                assert!(
                    (1..=120).contains(&retry_after),
                    "retry_after {retry_after}"
                );
            }
            Err(other) => panic!("a concurrent change failed with {other:?}"),
        }
    }
    assert!(
        won >= 1,
        "at least one of the concurrent changes went through"
    );
    won
}

/// `CONCURRENT` concurrent replaces of an existing card leave one card.
pub async fn concurrent_replaces_leave_exactly_one_card<S, G>(store: S, gateway: G)
where
    S: Store + 'static,
    G: PaymentGateway + 'static,
{
    let (store, gateway) = (Arc::new(store), Arc::new(gateway));
    let account = unique_account("race-replace");
    put(
        store.as_ref(),
        gateway.as_ref(),
        &account,
        "pm_card_discover",
        now(),
    )
    .await
    .expect("first card");

    race(&store, &gateway, &account).await;

    let last4 = assert_one_card_on_file(store.as_ref(), gateway.as_ref(), &account, "race").await;
    assert_ne!(last4, "1117", "the card on file was replaced");
}

/// `CONCURRENT` concurrent first cards leave one card and one customer.
pub async fn concurrent_first_cards_leave_exactly_one_card<S, G>(store: S, gateway: G)
where
    S: Store + 'static,
    G: PaymentGateway + 'static,
{
    let (store, gateway) = (Arc::new(store), Arc::new(gateway));
    let account = unique_account("race-first");

    race(&store, &gateway, &account).await;

    assert_one_card_on_file(store.as_ref(), gateway.as_ref(), &account, "first cards").await;
}

/// Starts replacing visa with mastercard and stops the work dead after `steps` calls to the
/// store or the gateway. True when the replace finished before that.
async fn replace_stopped_after<S, G>(
    store: &S,
    gateway: &G,
    account: &AccountId,
    steps: usize,
) -> bool
where
    S: Store + Clone,
    G: PaymentGateway + Clone,
{
    let probe = Arc::new(Probe::default());
    let store = Instrumented::with_probe(store.clone(), probe.clone());
    let gateway = Instrumented::with_probe(gateway.clone(), probe.clone());
    probe.stop_after(steps);
    let work = put(&store, &gateway, account, "pm_card_mastercard", now());
    tokio::select! {
        result = tokio::time::timeout(Duration::from_secs(30), work) => {
            result.expect("the replace finished").expect("the replace, not stopped, succeeded");
            true
        }
        // Stopped: the future is dropped where it hung, as a killed process would be.
        () = probe.hung() => false,
    }
}

/// Accounts with `pm_card_visa` on file and a replace by `pm_card_mastercard` stopped dead
/// after each of its steps in turn (0, 1, 2, … of its store and gateway calls), as a killed
/// process leaves it, each with the number of steps it made; up to the first replace that runs
/// to its end, which must leave one card.
pub(crate) async fn stopped_replaces<S, G>(
    store: &S,
    gateway: &G,
    label: &str,
) -> Vec<(AccountId, usize)>
where
    S: Store + Clone,
    G: PaymentGateway + Clone,
{
    let mut stopped = Vec::new();
    loop {
        let steps = stopped.len();
        let account = unique_account(&format!("{label}-{steps}"));
        put(store, gateway, &account, "pm_card_visa", now())
            .await
            .expect("first card");
        if replace_stopped_after(store, gateway, &account, steps).await {
            assert_one_card_on_file(store, gateway, &account, "not stopped").await;
            assert!(steps > 5, "a replace takes several steps, not {steps}");
            return stopped;
        }
        stopped.push((account, steps));
    }
}

/// A replace stopped after each of its steps in turn is finished or undone by the next
/// change once its lease has expired; before that, changes are refused without effect.
pub async fn a_replace_stopped_after_any_step_is_repaired_by_the_next_change<S, G>(
    store: S,
    gateway: G,
) where
    S: Store + Clone,
    G: PaymentGateway + Clone,
{
    for (account, steps) in stopped_replaces(&store, &gateway, "stopped").await {
        let context = format!("stopped after {steps} steps");
        match put(&store, &gateway, &account, "pm_card_amex", now()).await {
            Ok(_) | Err(UseCaseError::CardChangeInProgress { .. }) => {}
            Err(other) => panic!("{context}: a change meanwhile failed with {other:?}"),
        }
        put(&store, &gateway, &account, "pm_card_amex", after_lease())
            .await
            .unwrap_or_else(|e| panic!("{context}: the next change failed with {e:?}"));
        let last4 = assert_one_card_on_file(&store, &gateway, &account, &context).await;
        assert_eq!(
            last4, "8431",
            "{context}: the next change's card is on file"
        );
    }
}

/// A replace stopped after each of its steps in turn is finished or undone by a repair (what
/// a sweep or the monthly charge runs) once its lease has expired.
pub async fn a_replace_stopped_after_any_step_is_repaired_by_a_sweep<S, G>(store: S, gateway: G)
where
    S: Store + Clone,
    G: PaymentGateway + Clone,
{
    for (account, steps) in stopped_replaces(&store, &gateway, "swept").await {
        let context = format!("stopped after {steps} steps");
        let early = repair_card_change(&store, &gateway, &account, now())
            .await
            .expect("a repair before expiry");
        assert!(
            early.plan.is_empty(),
            "{context}: a live lease is left alone"
        );

        repair_card_change(&store, &gateway, &account, after_lease())
            .await
            .unwrap_or_else(|e| panic!("{context}: the repair failed with {e:?}"));
        let last4 = assert_one_card_on_file(&store, &gateway, &account, &context).await;
        assert!(
            ["4242", "4444"].contains(&last4.as_str()),
            "{context}: the old card or the new one is on file, not {last4}"
        );
    }
}

/// A replace stopped after each of its steps in turn is repaired, once its lease has expired,
/// by the user putting the card on file again: a no-op only after the repair (a crash that
/// left two cards attached is not left so because the request changes nothing).
pub async fn a_replace_stopped_after_any_step_is_repaired_by_the_card_on_file_put_again<S, G>(
    store: S,
    gateway: G,
) where
    S: Store + Clone,
    G: PaymentGateway + Clone,
{
    for (account, steps) in stopped_replaces(&store, &gateway, "again").await {
        let context = format!("stopped after {steps} steps");
        let record = store.account(&account).await.unwrap().unwrap().value;
        assert_eq!(
            needs_repair(&record, after_lease()),
            record.card_change.is_some(),
            "{context}: a lease left is dead after its time"
        );
        let last4 = record.card.expect("a card on file").last4;
        let on_file = if last4 == "4242" {
            "pm_card_visa"
        } else {
            "pm_card_mastercard"
        };

        let again = put(&store, &gateway, &account, on_file, after_lease())
            .await
            .unwrap_or_else(|e| panic!("{context}: putting {on_file} again failed with {e:?}"));

        assert!(!again.changed, "{context}: the card on file, again");
        let after = assert_one_card_on_file(&store, &gateway, &account, &context).await;
        assert_eq!(after, last4, "{context}");
    }
}

/// A replace whose n-th call to the store or the gateway fails, for each n in turn: the
/// answer is an error (or success, when only the old card's detach failed), and once any lease
/// left behind has expired, a repair leaves exactly one card: the old one or the new one.
pub async fn a_replace_failing_at_any_step_leaves_one_card_after_repair<S, G>(store: S, gateway: G)
where
    S: Store + Clone,
    G: PaymentGateway + Clone,
{
    for call in 0.. {
        let account = unique_account(&format!("failing-{call}"));
        put(&store, &gateway, &account, "pm_card_visa", now())
            .await
            .expect("first card");
        let probe = Arc::new(Probe::default());
        let faulty_store = Instrumented::with_probe(store.clone(), probe.clone());
        let faulty_gateway = Instrumented::with_probe(gateway.clone(), probe.clone());
        probe.fail_call(call);
        let result = put(
            &faulty_store,
            &faulty_gateway,
            &account,
            "pm_card_mastercard",
            now(),
        )
        .await;
        if probe.call_armed() {
            result.expect("a replace without a fault succeeds");
            assert_one_card_on_file(&store, &gateway, &account, "no fault").await;
            assert!(call > 5, "a replace takes several calls, not {call}");
            break;
        }
        let context = format!("call {call} ({:?}) failed", probe.log().last());
        match &result {
            Ok(_) | Err(UseCaseError::Store(_) | UseCaseError::Gateway(_)) => {}
            Err(other) => panic!("{context}: unexpected {other:?}"),
        }
        repair_card_change(&store, &gateway, &account, after_lease())
            .await
            .unwrap_or_else(|e| panic!("{context}: the repair failed with {e:?}"));
        let last4 = assert_one_card_on_file(&store, &gateway, &account, &context).await;
        let expected = if result.is_ok() { "4444" } else { "4242" };
        assert_eq!(last4, expected, "{context}: {result:?}");
    }
}

/// Stamps out the card contract for a pair of adapters. `$make` is an async fn returning
/// `(store, gateway)`, both `Clone + 'static`.
#[macro_export]
macro_rules! card_contract {
    ($make:path) => {
        $crate::card_contract!(@cases $make;
            concurrent_replaces_leave_exactly_one_card,
            concurrent_first_cards_leave_exactly_one_card,
            a_replace_stopped_after_any_step_is_repaired_by_the_next_change,
            a_replace_stopped_after_any_step_is_repaired_by_a_sweep,
            a_replace_stopped_after_any_step_is_repaired_by_the_card_on_file_put_again,
            a_replace_failing_at_any_step_leaves_one_card_after_repair,
        );
    };
    (@cases $make:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let (store, gateway) = $make().await;
                $crate::card::$case(store, gateway).await;
            }
        )*
    };
}
