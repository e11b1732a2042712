//! The simulated card network's own controls (beyond the port contract): what it shows for an
//! account.

use billing_core::ports::gateway::PaymentGateway;
use billing_core::{AccountId, PaymentMethodId};
use billing_embedded::{AttachedCard, NetworkView, SimulatedCardNetwork};
use tempfile::TempDir;

fn network() -> (TempDir, SimulatedCardNetwork) {
    let dir = tempfile::tempdir().unwrap();
    let network =
        SimulatedCardNetwork::open(&dir.path().join("net.redb"), "http://127.0.0.1/").unwrap();
    (dir, network)
}

fn pm(id: &str) -> PaymentMethodId {
    PaymentMethodId::parse(id).unwrap()
}

#[test]
fn an_account_without_a_customer_shows_an_empty_network() {
    let (_dir, network) = network();

    let view = network
        .network_view(&AccountId::parse("nobody").unwrap())
        .unwrap();

    assert_eq!(
        view,
        NetworkView {
            customer: None,
            default_payment_method: None,
            attached: vec![],
        }
    );
    assert_eq!(
        serde_json::to_value(&view).unwrap(),
        serde_json::json!({"customer": null, "default_payment_method": null, "attached": []})
    );
}

#[tokio::test]
async fn the_view_shows_the_customer_its_default_and_every_attached_card() {
    let (_dir, network) = network();
    let account = AccountId::parse("viewer").unwrap();
    let customer = network.create_customer(&account, None).await.unwrap();
    let visa = network
        .attach(&pm("pm_card_visa"), &customer)
        .await
        .unwrap();
    let amex = network
        .attach(&pm("pm_card_amex"), &customer)
        .await
        .unwrap();
    network.set_default(&customer, &amex.id).await.unwrap();

    let view = network.network_view(&account).unwrap();

    assert_eq!(
        view,
        NetworkView {
            customer: Some(customer),
            default_payment_method: Some(amex.id.clone()),
            attached: vec![
                AttachedCard {
                    id: visa.id.clone(),
                    brand: "visa".into(),
                    last4: "4242".into(),
                },
                AttachedCard {
                    id: amex.id.clone(),
                    brand: "amex".into(),
                    last4: "8431".into(),
                },
            ],
        }
    );
    assert_eq!(
        serde_json::to_value(&view).unwrap()["attached"][0],
        serde_json::json!({"id": visa.id.as_str(), "brand": "visa", "last4": "4242"})
    );
}

#[tokio::test]
async fn a_deleted_customer_no_longer_shows() {
    let (_dir, network) = network();
    let account = AccountId::parse("leaver").unwrap();
    let customer = network.create_customer(&account, None).await.unwrap();
    network
        .attach(&pm("pm_card_visa"), &customer)
        .await
        .unwrap();

    network.delete_customer(&customer).await.unwrap();

    let view = network.network_view(&account).unwrap();
    assert_eq!((view.customer, view.attached.len()), (None, 0));
}
