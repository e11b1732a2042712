//! A replace that fails at any step leaves exactly one usable default card: the card on file
//! is attached to the customer and is its default. Each step is failed in turn by a fault
//! injector wrapped around the real embedded adapters.

use billing_contract::instrument::Instrumented;
use billing_core::ports::gateway::PaymentGateway;
use billing_core::ports::store::AccountStore;
use billing_core::usecases::card::{Holder, set_card};
use billing_core::usecases::error::UseCaseError;
use billing_core::{AccountId, PaymentMethodId};
use billing_embedded::{EmbeddedStore, SimulatedCardNetwork};
use chrono::{DateTime, Utc};

/// The steps of a replace that talk to the outside, by the operation each calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    ReadPaymentMethod,
    Attach,
    SetDefault,
    Record,
    DetachOld,
}

impl Step {
    fn operation(self) -> &'static str {
        match self {
            Step::ReadPaymentMethod => "payment_method",
            Step::Attach => "attach",
            Step::SetDefault => "set_default",
            Step::Record => "commit",
            Step::DetachOld => "detach",
        }
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
    let store = Instrumented::new(EmbeddedStore::open(&dir.path().join("billing.redb")).unwrap());
    let network = Instrumented::new(
        SimulatedCardNetwork::open(&dir.path().join("net.redb"), "http://127.0.0.1/").unwrap(),
    );
    let account = AccountId::parse("failing-steps").unwrap();
    let holder = Holder {
        account: &account,
        email: None,
    };

    let first = set_card(&store, &network, &holder, &pm("pm_card_visa"), now())
        .await
        .unwrap();
    let probe = if step == Step::Record {
        &store.probe
    } else {
        &network.probe
    };
    probe.fail_next(step.operation());
    let result = set_card(&store, &network, &holder, &pm("pm_card_mastercard"), now()).await;
    assert_eq!(probe.armed(), None, "{step:?} was reached");

    let (store, network) = (&store.inner, &network.inner);
    let account_record = store.account(&account).await.unwrap().unwrap().value;
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
