//! The payment gateway contract: Stripe's documented behaviour for its test PaymentMethods.

use std::sync::Arc;

use async_trait::async_trait;
use billing_core::domain::money::{Cents, Currency};
use billing_core::ports::gateway::{ChargeOutcome, ChargeRequest, GatewayError, PaymentGateway};
use billing_core::rules::card::{CheckResult, Funding};
use billing_core::{ClientSecret, CustomerId, EmailAddress, PaymentId, PaymentMethodId};

use crate::unique_account;

/// A gateway as the cases take it.
pub type SharedGateway = Arc<dyn PaymentGateway>;

fn pm(id: &str) -> PaymentMethodId {
    PaymentMethodId::parse(id).unwrap()
}

async fn customer(gateway: &SharedGateway, label: &str) -> CustomerId {
    let email = EmailAddress::parse("contract@example.com").unwrap();
    gateway
        .create_customer(&unique_account(label), Some(&email))
        .await
        .unwrap()
}

fn charge(
    customer: &CustomerId,
    card: &PaymentMethodId,
    key: &str,
    off_session: bool,
) -> ChargeRequest {
    ChargeRequest {
        customer: customer.clone(),
        payment_method: card.clone(),
        amount: Cents::new(1_000),
        currency: Currency::Usd,
        idempotency_key: format!("{key}-{}", unique_account("key")),
        off_session,
        description: "contract".into(),
        account: unique_account("charge"),
        reference: "cp_contract".into(),
    }
}

/// One customer per account, however often or concurrently it is asked for.
pub async fn one_account_gets_one_customer_even_when_asked_concurrently(gateway: SharedGateway) {
    let account = unique_account("customer");
    let (a, b) = tokio::join!(
        gateway.create_customer(&account, None),
        gateway.create_customer(&account, None)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a, b);
    assert_eq!(gateway.create_customer(&account, None).await.unwrap(), a);
    assert_ne!(customer(&gateway, "customer-other").await, a);
}

/// A SetupIntent carries what Stripe.js needs.
pub async fn a_setup_intent_has_an_id_and_a_client_secret(gateway: SharedGateway) {
    let customer = customer(&gateway, "seti").await;
    let intent = gateway.create_setup_intent(&customer).await.unwrap();
    assert!(intent.id.starts_with("seti_"), "{}", intent.id);
    assert!(
        intent.client_secret.starts_with(&intent.id),
        "{}",
        intent.client_secret
    );
}

/// Test cards read back with their funding, brand and a future expiry.
pub async fn test_cards_read_with_their_brand_funding_and_expiry(gateway: SharedGateway) {
    for (id, brand, funding) in [
        ("pm_card_visa", "visa", Funding::Credit),
        ("pm_card_visa_debit", "visa", Funding::Debit),
        ("pm_card_mastercard_prepaid", "mastercard", Funding::Prepaid),
        ("pm_card_amex", "amex", Funding::Credit),
    ] {
        let method = gateway.payment_method(&pm(id)).await.unwrap();
        assert_eq!(
            (method.card.brand.as_str(), method.card.funding),
            (brand, funding),
            "{id}"
        );
        assert!((1..=12).contains(&method.card.exp_month));
        assert!(method.card.exp_year >= 2026);
        assert_eq!(method.card.last4.len(), 4);
        assert!(!method.card.fingerprint.is_empty());
    }
}

/// An id the network does not know is not found.
pub async fn an_unknown_payment_method_is_not_found(gateway: SharedGateway) {
    let result = gateway.payment_method(&pm("pm_doesNotExist123")).await;
    assert!(
        matches!(result, Err(GatewayError::NotFound(_))),
        "{result:?}"
    );
}

/// Attaching verifies the card; the checks the issuer made are reported.
pub async fn attaching_reports_the_checks_the_issuer_made(gateway: SharedGateway) {
    let customer = customer(&gateway, "checks").await;
    let good = gateway
        .attach(&pm("pm_card_visa"), &customer)
        .await
        .unwrap();
    assert_eq!(good.customer.as_ref(), Some(&customer));
    assert_eq!(good.card.cvc_check, CheckResult::Pass);
    let cvc = gateway
        .attach(&pm("pm_card_cvcCheckFail"), &customer)
        .await
        .unwrap();
    assert_eq!(cvc.card.cvc_check, CheckResult::Fail);
    let zip = gateway
        .attach(&pm("pm_card_avsZipFail"), &customer)
        .await
        .unwrap();
    assert_eq!(zip.card.address_postal_code_check, CheckResult::Fail);
    assert_ne!(zip.card.address_line1_check, CheckResult::Fail);
    let line1 = gateway
        .attach(&pm("pm_card_avsLine1Fail"), &customer)
        .await
        .unwrap();
    assert_eq!(line1.card.address_line1_check, CheckResult::Fail);
}

/// A card the issuer declines at verification is refused with its decline code.
pub async fn a_card_declined_at_attach_carries_its_decline_code(gateway: SharedGateway) {
    let customer = customer(&gateway, "declined").await;
    for (id, code) in [
        ("pm_card_chargeDeclined", "generic_decline"),
        (
            "pm_card_chargeDeclinedInsufficientFunds",
            "insufficient_funds",
        ),
        ("pm_card_chargeDeclinedExpiredCard", "expired_card"),
        ("pm_card_chargeDeclinedIncorrectCvc", "incorrect_cvc"),
    ] {
        match gateway.attach(&pm(id), &customer).await {
            Err(GatewayError::CardDeclined(decline)) => {
                assert_eq!(decline.decline_code.as_deref(), Some(code), "{id}")
            }
            other => panic!("{id}: expected a decline, got {other:?}"),
        }
    }
}

/// The same card number keeps its fingerprint across attachments.
pub async fn the_same_card_keeps_its_fingerprint(gateway: SharedGateway) {
    let (a, b) = (
        customer(&gateway, "fp-a").await,
        customer(&gateway, "fp-b").await,
    );
    let first = gateway.attach(&pm("pm_card_visa"), &a).await.unwrap();
    let second = gateway.attach(&pm("pm_card_visa"), &b).await.unwrap();
    let other = gateway.attach(&pm("pm_card_mastercard"), &a).await.unwrap();
    assert_ne!(first.id, second.id);
    assert_eq!(first.card.fingerprint, second.card.fingerprint);
    assert_ne!(first.card.fingerprint, other.card.fingerprint);
}

/// A default can be set on an attached card; a detached card cannot be charged.
pub async fn a_detached_card_can_no_longer_be_charged(gateway: SharedGateway) {
    let customer = customer(&gateway, "detach").await;
    let card = gateway
        .attach(&pm("pm_card_visa"), &customer)
        .await
        .unwrap();
    gateway.set_default(&customer, &card.id).await.unwrap();
    gateway.detach(&card.id).await.unwrap();
    assert_eq!(
        gateway.payment_method(&card.id).await.unwrap().customer,
        None
    );
    let result = gateway
        .charge(&charge(&customer, &card.id, "detached", true))
        .await;
    assert!(
        result.is_err() || matches!(result, Ok(ChargeOutcome::Declined { .. })),
        "{result:?}"
    );
}

/// A good card is charged; the same idempotency key does not charge twice.
pub async fn a_good_card_is_charged_once_per_idempotency_key(gateway: SharedGateway) {
    let customer = customer(&gateway, "charge").await;
    let card = gateway
        .attach(&pm("pm_card_visa"), &customer)
        .await
        .unwrap();
    let request = charge(&customer, &card.id, "ok", true);
    let first = gateway.charge(&request).await.unwrap();
    let ChargeOutcome::Succeeded { payment } = &first else {
        panic!("expected success, got {first:?}")
    };
    assert_eq!(gateway.charge(&request).await.unwrap(), first);
    assert_eq!(gateway.charge_status(payment).await.unwrap(), first);
    assert_eq!(
        gateway.cancel_payment(payment).await.unwrap(),
        first,
        "a payment that succeeded is not canceled"
    );
}

/// A card that attaches but fails to charge is declined with its code.
pub async fn a_card_that_fails_on_charge_is_declined_with_its_code(gateway: SharedGateway) {
    let customer = customer(&gateway, "fail").await;
    let card = gateway
        .attach(&pm("pm_card_chargeCustomerFail"), &customer)
        .await
        .unwrap();
    match gateway
        .charge(&charge(&customer, &card.id, "fail", true))
        .await
        .unwrap()
    {
        ChargeOutcome::Declined { decline, .. } => {
            assert!(decline.decline_code.is_some(), "a decline code is reported");
        }
        other => panic!("expected a decline, got {other:?}"),
    }
}

/// Off session, a card that needs authentication keeps its payment for the cardholder to
/// complete: its id and a client secret, and the same answer when asked again. On session it
/// asks for the next action.
pub async fn a_card_that_needs_authentication_asks_for_it(gateway: SharedGateway) {
    let customer = customer(&gateway, "3ds").await;
    let card = gateway
        .attach(&pm("pm_card_authenticationRequired"), &customer)
        .await
        .unwrap();

    let off_session = gateway
        .charge(&charge(&customer, &card.id, "3ds-off", true))
        .await
        .unwrap();

    let ChargeOutcome::AuthenticationRequired {
        payment,
        client_secret,
        ..
    } = &off_session
    else {
        panic!("expected authentication_required, got {off_session:?}")
    };
    assert!(
        client_secret.expose().starts_with(payment.as_str()),
        "the secret belongs to the payment kept"
    );
    assert_eq!(gateway.charge_status(payment).await.unwrap(), off_session);

    let on_session = gateway
        .charge(&charge(&customer, &card.id, "3ds-on", false))
        .await
        .unwrap();
    let ChargeOutcome::RequiresAction {
        payment,
        client_secret,
        ..
    } = &on_session
    else {
        panic!("expected requires_action, got {on_session:?}")
    };
    assert!(client_secret.expose().starts_with(payment.as_str()));
}

/// The customer's cards read back as the network holds them: nothing for a new customer, then
/// the default and every attached card; a detached card drops out, and so does the default
/// when it was the detached card.
pub async fn a_customers_cards_read_back_with_their_default(gateway: SharedGateway) {
    let customer = customer(&gateway, "cards").await;
    let empty = gateway.customer_cards(&customer).await.unwrap();
    assert_eq!(
        (empty.default_payment_method, empty.attached.len()),
        (None, 0)
    );

    let visa = gateway
        .attach(&pm("pm_card_visa"), &customer)
        .await
        .unwrap();
    let mastercard = gateway
        .attach(&pm("pm_card_mastercard"), &customer)
        .await
        .unwrap();
    gateway.set_default(&customer, &visa.id).await.unwrap();
    let both = gateway.customer_cards(&customer).await.unwrap();

    assert_eq!(both.default_payment_method.as_ref(), Some(&visa.id));
    let mut ids: Vec<_> = both.attached.iter().map(|card| card.id.clone()).collect();
    ids.sort();
    let mut expected = vec![visa.id.clone(), mastercard.id.clone()];
    expected.sort();
    assert_eq!(ids, expected);
    let read_visa = both
        .attached
        .iter()
        .find(|card| card.id == visa.id)
        .unwrap();
    assert_eq!(read_visa.customer.as_ref(), Some(&customer));
    assert_eq!(read_visa.card.last4, "4242");

    gateway.detach(&visa.id).await.unwrap();
    let after = gateway.customer_cards(&customer).await.unwrap();
    assert_eq!(after.default_payment_method, None);
    let ids: Vec<_> = after.attached.iter().map(|card| card.id.clone()).collect();
    assert_eq!(ids, vec![mastercard.id]);
}

/// A deleted customer's cards cannot be read: it is gone.
pub async fn a_deleted_customers_cards_are_not_found(gateway: SharedGateway) {
    let customer = customer(&gateway, "cards-deleted").await;
    gateway.delete_customer(&customer).await.unwrap();
    let result = gateway.customer_cards(&customer).await;
    assert!(
        matches!(result, Err(GatewayError::NotFound(_))),
        "{result:?}"
    );
}

/// A deleted customer is gone.
pub async fn a_deleted_customer_is_gone(gateway: SharedGateway) {
    let customer = customer(&gateway, "delete").await;
    gateway.delete_customer(&customer).await.unwrap();
    let result = gateway.create_setup_intent(&customer).await;
    assert!(
        matches!(result, Err(GatewayError::NotFound(_))),
        "{result:?}"
    );
    gateway
        .delete_customer(&customer)
        .await
        .expect("deleting a deleted customer succeeds");
}

/// A customer names the account it was created for, until it is deleted; a customer the
/// network does not know names none.
pub async fn a_customer_names_its_account_until_it_is_deleted(gateway: SharedGateway) {
    let other = customer(&gateway, "owner-other").await;
    let account = unique_account("owner");
    let owned = gateway.create_customer(&account, None).await.unwrap();

    assert_eq!(
        gateway.customer_account(&owned).await.unwrap(),
        Some(account)
    );
    assert_ne!(
        gateway.customer_account(&other).await.unwrap(),
        gateway.customer_account(&owned).await.unwrap()
    );

    gateway.delete_customer(&owned).await.unwrap();
    assert_eq!(gateway.customer_account(&owned).await.unwrap(), None);
    let unknown = CustomerId::parse("cus_doesNotExist123").unwrap();
    assert_eq!(gateway.customer_account(&unknown).await.unwrap(), None);
}

/// Detaching twice succeeds (the port's promise), and a detached card can never be attached
/// again, by its old customer or another.
pub async fn a_detached_card_is_spent(gateway: SharedGateway) {
    let (first, second) = (
        customer(&gateway, "spent-a").await,
        customer(&gateway, "spent-b").await,
    );
    let card = gateway.attach(&pm("pm_card_visa"), &first).await.unwrap();
    gateway.detach(&card.id).await.unwrap();
    gateway
        .detach(&card.id)
        .await
        .expect("detaching a detached card succeeds");
    for owner in [&first, &second] {
        let again = gateway.attach(&card.id, owner).await;
        assert!(
            matches!(
                again,
                Err(GatewayError::Invalid(_) | GatewayError::NotFound(_))
            ),
            "{again:?}"
        );
    }
}

/// The network's side of a payment, beyond the port: the cardholder answering the bank, and
/// the events the network sent (what a webhook endpoint receives).
#[async_trait]
pub trait Bank: Send + Sync {
    /// The cardholder completes (`approve`) or fails the authentication an on-session payment
    /// waits for, as Stripe.js would with the client secret.
    async fn authenticate(&self, payment: &PaymentId, client_secret: &ClientSecret, approve: bool);
    /// The `type` of every event sent about `payment` so far, oldest first.
    async fn event_types(&self, payment: &PaymentId) -> Vec<String>;
}

/// A gateway and its bank, as the settlement cases take them.
pub type GatewayHarness = (SharedGateway, Arc<dyn Bank>);

async fn waiting_on_session(gateway: &SharedGateway, label: &str) -> (PaymentId, ClientSecret) {
    let customer = customer(gateway, label).await;
    let card = gateway
        .attach(&pm("pm_card_authenticationRequired"), &customer)
        .await
        .unwrap();
    match gateway
        .charge(&charge(&customer, &card.id, label, false))
        .await
        .unwrap()
    {
        ChargeOutcome::RequiresAction {
            payment,
            client_secret,
            ..
        } => (payment, client_secret),
        other => panic!("expected requires_action, got {other:?}"),
    }
}

/// A payment waiting for authentication settles when the cardholder approves, with one event
/// per transition: `requires_action`, then `succeeded`.
pub async fn an_approved_authentication_settles_the_payment_with_one_event_each_way(
    (gateway, bank): GatewayHarness,
) {
    let (payment, secret) = waiting_on_session(&gateway, "settle-ok").await;
    assert_eq!(
        bank.event_types(&payment).await,
        ["payment_intent.requires_action"]
    );

    bank.authenticate(&payment, &secret, true).await;

    assert_eq!(
        gateway.charge_status(&payment).await.unwrap(),
        ChargeOutcome::Succeeded {
            payment: payment.clone()
        }
    );
    assert_eq!(
        bank.event_types(&payment).await,
        ["payment_intent.requires_action", "payment_intent.succeeded"]
    );
}

/// A failed authentication declines the payment (`payment_intent_authentication_failure`)
/// and sends `payment_failed`.
pub async fn a_failed_authentication_declines_the_payment_with_one_event(
    (gateway, bank): GatewayHarness,
) {
    let (payment, secret) = waiting_on_session(&gateway, "settle-fail").await;

    bank.authenticate(&payment, &secret, false).await;

    match gateway.charge_status(&payment).await.unwrap() {
        ChargeOutcome::Declined {
            payment: declined,
            decline,
        } => {
            assert_eq!(declined.as_ref(), Some(&payment));
            assert_eq!(
                decline.decline_code.as_deref(),
                Some("payment_intent_authentication_failure")
            );
        }
        other => panic!("expected a decline, got {other:?}"),
    }
    assert_eq!(
        bank.event_types(&payment).await,
        [
            "payment_intent.requires_action",
            "payment_intent.payment_failed"
        ]
    );
}

/// Off session, a payment kept for authentication can be canceled, once: it is `canceled`
/// from then on, and `payment_failed` then `canceled` were sent.
pub async fn a_payment_kept_for_authentication_can_be_canceled_once(
    (gateway, bank): GatewayHarness,
) {
    let customer = customer(&gateway, "cancel").await;
    let card = gateway
        .attach(&pm("pm_card_authenticationRequired"), &customer)
        .await
        .unwrap();
    let kept = gateway
        .charge(&charge(&customer, &card.id, "cancel", true))
        .await
        .unwrap();
    let payment = kept.payment().expect("the payment is kept").clone();
    let canceled = ChargeOutcome::Canceled {
        payment: payment.clone(),
    };

    assert_eq!(gateway.cancel_payment(&payment).await.unwrap(), canceled);

    assert_eq!(gateway.charge_status(&payment).await.unwrap(), canceled);
    assert_eq!(gateway.cancel_payment(&payment).await.unwrap(), canceled);
    assert_eq!(
        bank.event_types(&payment).await,
        ["payment_intent.payment_failed", "payment_intent.canceled"]
    );
}

/// A charge retried with its idempotency key gets its first answer again, even once the
/// payment has moved on (Stripe replays the first response); the payment's state is read
/// with `charge_status`.
pub async fn a_retried_charge_replays_its_first_answer((gateway, bank): GatewayHarness) {
    let customer = customer(&gateway, "replay").await;
    let card = gateway
        .attach(&pm("pm_card_authenticationRequired"), &customer)
        .await
        .unwrap();
    let request = charge(&customer, &card.id, "replay", false);
    let first = gateway.charge(&request).await.unwrap();
    let ChargeOutcome::RequiresAction {
        payment,
        client_secret,
        ..
    } = &first
    else {
        panic!("expected requires_action, got {first:?}")
    };
    bank.authenticate(payment, client_secret, true).await;

    let retried = gateway.charge(&request).await.unwrap();

    assert_eq!(retried, first);
    assert_eq!(
        gateway.charge_status(payment).await.unwrap(),
        ChargeOutcome::Succeeded {
            payment: payment.clone()
        }
    );
}

/// Canceling a payment the network does not know is `NotFound`.
pub async fn canceling_an_unknown_payment_is_not_found((gateway, _bank): GatewayHarness) {
    let result = gateway
        .cancel_payment(&PaymentId::parse("pi_doesNotExist123").unwrap())
        .await;
    assert!(
        matches!(result, Err(GatewayError::NotFound(_))),
        "{result:?}"
    );
}

/// Stamps out the settlement cases as tests. `$make` is an async fn returning a
/// [`GatewayHarness`].
#[macro_export]
macro_rules! settlement_contract {
    ($make:path) => {
        $crate::settlement_contract!(@cases $make;
            an_approved_authentication_settles_the_payment_with_one_event_each_way,
            a_failed_authentication_declines_the_payment_with_one_event,
            a_payment_kept_for_authentication_can_be_canceled_once,
            a_retried_charge_replays_its_first_answer,
            canceling_an_unknown_payment_is_not_found,
        );
    };
    (@cases $make:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                $crate::gateway::$case($make().await).await;
            }
        )*
    };
}

/// Stamps out the gateway contract as tests. `$make` is an async fn returning a [`SharedGateway`].
#[macro_export]
macro_rules! gateway_contract {
    ($make:path) => {
        $crate::gateway_contract!(@cases $make;
            one_account_gets_one_customer_even_when_asked_concurrently,
            a_setup_intent_has_an_id_and_a_client_secret,
            test_cards_read_with_their_brand_funding_and_expiry,
            an_unknown_payment_method_is_not_found,
            attaching_reports_the_checks_the_issuer_made,
            a_card_declined_at_attach_carries_its_decline_code,
            the_same_card_keeps_its_fingerprint,
            a_detached_card_can_no_longer_be_charged,
            a_good_card_is_charged_once_per_idempotency_key,
            a_card_that_fails_on_charge_is_declined_with_its_code,
            a_card_that_needs_authentication_asks_for_it,
            a_deleted_customer_is_gone,
            a_detached_card_is_spent,
            a_customers_cards_read_back_with_their_default,
            a_deleted_customers_cards_are_not_found,
            a_customer_names_its_account_until_it_is_deleted,
        );
    };
    (@cases $make:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                $crate::gateway::$case($make().await).await;
            }
        )*
    };
}
