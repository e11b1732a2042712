//! The card use cases on the production adapters: DynamoStore against moto and StripeGateway
//! against localstripe (with our compatibility layer), both started by scripts/with-stand-ins.

use std::sync::Arc;

use aws_config::{BehaviorVersion, Region};
use aws_sdk_dynamodb::config::Credentials;
use billing_aws::DynamoStore;
use billing_aws::store::create_table;
use billing_contract::instrument::Instrumented;
use billing_contract::unique_account;
use billing_core::ports::store::AccountStore;
use billing_core::ports::store::StoreError;
use billing_core::usecases::card::{Holder, create_setup_intent, set_card};
use billing_core::usecases::error::UseCaseError;
use billing_core::{AccountId, PaymentMethodId};
use billing_stripe::StripeGateway;
use serde_json::Value;

const STRIPE_KEY: &str = "sk_test_e2e_production";

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run these tests through scripts/with-stand-ins")
    })
}

struct Production {
    store: Instrumented<DynamoStore>,
    gateway: Instrumented<StripeGateway>,
}

async fn production() -> Arc<Production> {
    let config = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(env("BILLING_TEST_MOTO_URL"))
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "e2e"))
        .load()
        .await;
    let table = format!("billing-{}", unique_account("e2e"));
    create_table(&aws_sdk_dynamodb::Client::new(&config), &table)
        .await
        .expect("table created in moto");
    let gateway = StripeGateway::new(STRIPE_KEY, Some(&env("BILLING_TEST_STRIPE_URL")))
        .expect("Stripe client");
    Arc::new(Production {
        store: Instrumented::new(DynamoStore::new(&config, table)),
        gateway: Instrumented::new(gateway),
    })
}

fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}

/// What localstripe holds, read with its plain HTTP API.
async fn stripe_get(path: &str) -> Value {
    let url = format!(
        "{}{}",
        env("BILLING_TEST_STRIPE_URL").trim_end_matches('/'),
        path
    );
    let response = reqwest::Client::new()
        .get(url)
        .bearer_auth(STRIPE_KEY)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    response.json().await.unwrap()
}

async fn customers_of(account: &AccountId) -> Vec<String> {
    let customers = stripe_get("/v1/customers?limit=100").await;
    customers["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["metadata"]["account_id"] == account.as_str())
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_setup_intents_for_one_account_create_one_stripe_customer() {
    let production = production().await;
    let account = unique_account("race-si");
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (production, account) = (production.clone(), account.clone());
        tasks.spawn(async move {
            let holder = Holder {
                account: &account,
                email: None,
            };
            create_setup_intent(&production.store, &production.gateway, &holder, now()).await
        });
    }
    while let Some(result) = tasks.join_next().await {
        let intent = result.unwrap().expect("every caller gets a SetupIntent");
        assert!(intent.id.starts_with("seti_"));
    }
    let stored = production
        .store
        .inner
        .account(&account)
        .await
        .unwrap()
        .unwrap()
        .value
        .customer
        .unwrap();
    assert_eq!(customers_of(&account).await, vec![stored.to_string()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_cards_leave_one_customer_and_one_attached_card() {
    let production = production().await;
    let account = unique_account("race-card");
    let cards = [
        "pm_card_visa",
        "pm_card_mastercard",
        "pm_card_amex",
        "pm_card_visa_debit",
    ];
    let mut tasks = tokio::task::JoinSet::new();
    for card in cards {
        let (production, account) = (production.clone(), account.clone());
        tasks.spawn(async move {
            let holder = Holder {
                account: &account,
                email: None,
            };
            let card = PaymentMethodId::parse(card).unwrap();
            set_card(
                &production.store,
                &production.gateway,
                &holder,
                &card,
                now(),
            )
            .await
        });
    }
    let mut accepted = 0;
    while let Some(result) = tasks.join_next().await {
        match result.unwrap() {
            Ok(_) => accepted += 1,
            Err(UseCaseError::Store(StoreError::Conflict { .. })) => {}
            Err(other) => panic!("unexpected error: {other:?}"),
        }
    }
    assert!(accepted >= 1);
    let record = production
        .store
        .inner
        .account(&account)
        .await
        .unwrap()
        .unwrap()
        .value;
    let customer = record.customer.unwrap();
    assert_eq!(customers_of(&account).await, vec![customer.to_string()]);
    let on_file = record.card.unwrap().payment_method;
    let attached = stripe_get(&format!(
        "/v1/payment_methods?customer={customer}&type=card"
    ))
    .await;
    let attached: Vec<&str> = attached["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|pm| pm["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        attached,
        vec![on_file.as_str()],
        "the losers' cards were detached"
    );
    // Losing requests never touch the default; only two overlapping *successful* replaces
    // can leave it unset (see core/src/usecases/card.rs), never pointing at another card.
    let customer = stripe_get(&format!("/v1/customers/{customer}")).await;
    let default = &customer["invoice_settings"]["default_payment_method"];
    assert!(
        default.is_null() || *default == on_file.as_str(),
        "{default} vs {on_file}"
    );
}

#[tokio::test]
async fn a_replace_makes_four_stripe_calls_and_two_store_calls() {
    let production = production().await;
    let account = unique_account("replace-count");
    let holder = Holder {
        account: &account,
        email: None,
    };
    let (store, gateway) = (&production.store, &production.gateway);
    set_card(
        store,
        gateway,
        &holder,
        &PaymentMethodId::parse("pm_card_visa").unwrap(),
        now(),
    )
    .await
    .unwrap();
    store.probe.reset();
    gateway.probe.reset();

    let replaced = set_card(
        store,
        gateway,
        &holder,
        &PaymentMethodId::parse("pm_card_mastercard").unwrap(),
        now(),
    )
    .await
    .unwrap();
    assert!(replaced.changed && replaced.old_card_left_attached.is_none());
    let stripe_calls: Vec<_> = ["payment_method", "attach", "set_default", "detach"]
        .iter()
        .map(|op| gateway.probe.count(op))
        .collect();
    assert_eq!(stripe_calls, [1, 1, 1, 1]);
    assert_eq!(gateway.probe.total(), 4, "Stripe calls for one replace");
    assert_eq!(
        (store.probe.count("get"), store.probe.count("commit")),
        (1, 1)
    );
    assert_eq!(store.probe.total(), 2, "DynamoDB calls for one replace");
}
