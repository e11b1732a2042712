//! StripeGateway as localstripe sees it at the wire: calls counted from the stand-in's own
//! request log (`GET /_compat/requests`), and answers Stripe should never give, switched on in
//! the compat layer. The request log and the faults are global to the stand-in, so these cases
//! run one at a time, in their own test binary (cargo runs test binaries one after another).

mod stand_in;

use billing_core::domain::money::{Cents, Currency};
use billing_core::ports::gateway::{ChargeRequest, GatewayError, PaymentGateway};
use billing_core::{AccountId, PaymentMethodId};
use billing_stripe::StripeGateway;
use serde_json::Value;
use stand_in::request;
use tokio::sync::Mutex;

/// One case at a time: the stand-in's log and faults are shared.
static WIRE: Mutex<()> = Mutex::const_new(());

fn gateway() -> StripeGateway {
    StripeGateway::new(stand_in::KEY, Some(&stand_in::url())).unwrap()
}

fn account(label: &str) -> AccountId {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    AccountId::parse(&format!("wire-{label}-{nanos:x}")).unwrap()
}

async fn requests_since_cleared() -> Vec<(String, String)> {
    let (status, body) = request("GET", "/_compat/requests", "").await;
    assert_eq!(status, 200, "{body}");
    let log: Vec<Value> = serde_json::from_str(&body).unwrap();
    log.iter()
        .map(|r| {
            (
                r["method"].as_str().unwrap().to_owned(),
                r["path"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn reading_a_customers_cards_is_two_stripe_calls_at_the_wire() {
    let _one_at_a_time = WIRE.lock().await;
    let gateway = gateway();
    let customer = gateway
        .create_customer(&account("cards"), None)
        .await
        .unwrap();
    let visa = PaymentMethodId::parse("pm_card_visa").unwrap();
    gateway.attach(&visa, &customer).await.unwrap();
    assert_eq!(request("DELETE", "/_compat/requests", "").await.0, 204);

    let cards = gateway.customer_cards(&customer).await.unwrap();

    assert_eq!(cards.attached.len(), 1);
    assert_eq!(
        requests_since_cleared().await,
        [
            ("GET".to_owned(), format!("/v1/customers/{customer}")),
            ("GET".to_owned(), "/v1/payment_methods".to_owned()),
        ]
    );
}

#[tokio::test]
async fn a_payment_waiting_for_the_cardholder_without_its_client_secret_is_an_error() {
    let _one_at_a_time = WIRE.lock().await;
    let gateway = gateway();
    let account = account("no-secret");
    let customer = gateway.create_customer(&account, None).await.unwrap();
    let card = gateway
        .attach(
            &PaymentMethodId::parse("pm_card_authenticationRequired").unwrap(),
            &customer,
        )
        .await
        .unwrap();
    let charge = |off_session: bool| ChargeRequest {
        customer: customer.clone(),
        payment_method: card.id.clone(),
        amount: Cents::new(1_000),
        currency: Currency::Usd,
        idempotency_key: format!("{account}-{off_session}"),
        off_session,
        description: "wire".into(),
        account: account.clone(),
        reference: "cp_wire".into(),
    };
    let fault = "/_compat/faults/drop_client_secret";
    assert_eq!(request("PUT", fault, "").await.0, 204);

    let on_session = gateway.charge(&charge(false)).await;
    let off_session = gateway.charge(&charge(true)).await;

    assert_eq!(request("DELETE", fault, "").await.0, 204);
    for result in [on_session, off_session] {
        assert!(
            matches!(&result, Err(GatewayError::Unavailable(reason)) if reason.contains("client secret")),
            "{result:?}"
        );
    }
}
