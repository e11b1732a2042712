//! The embedded adapters against the port contracts.

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use billing_contract::gateway::{Bank, GatewayHarness};
use billing_contract::mailer::{Delivered, MailHarness, MailInspector};
use billing_contract::queue::{QueueHarness, QueueInspector};
use billing_contract::{
    gateway_contract, mailer_contract, queue_contract, settlement_contract, store_contract,
};
use billing_core::ports::clock::Clock;
use billing_core::ports::gateway::PaymentGateway;
use billing_core::ports::queue::ChargeJob;
use billing_core::ports::store::Store;
use billing_core::{ClientSecret, PaymentId};
use billing_embedded::{EmbeddedStore, LocalClock, LocalQueue, OutboxMailer, SimulatedCardNetwork};
use tempfile::TempDir;

/// One data folder for the whole test binary, kept until the process exits.
fn data_dir() -> &'static TempDir {
    static DIR: OnceLock<TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("temp dir"))
}

fn clock() -> Arc<dyn Clock> {
    Arc::new(LocalClock::default())
}

async fn store() -> Arc<dyn Store> {
    static STORE: OnceLock<EmbeddedStore> = OnceLock::new();
    Arc::new(
        STORE
            .get_or_init(|| EmbeddedStore::open(&data_dir().path().join("billing.redb")).unwrap())
            .clone(),
    )
}

fn network() -> SimulatedCardNetwork {
    static NETWORK: OnceLock<SimulatedCardNetwork> = OnceLock::new();
    NETWORK
        .get_or_init(|| {
            let path = data_dir().path().join("card-network.redb");
            SimulatedCardNetwork::open(&path, "http://127.0.0.1:3000/_local/bank/authorize")
                .unwrap()
        })
        .clone()
}

async fn gateway() -> Arc<dyn PaymentGateway> {
    Arc::new(network())
}

/// The simulated bank: its own approve/decline, and the events the network recorded (read,
/// not drained: the cases share one network and each reads only its payment's events).
struct SimulatedBank(SimulatedCardNetwork);

#[async_trait]
impl Bank for SimulatedBank {
    async fn authenticate(&self, payment: &PaymentId, _secret: &ClientSecret, approve: bool) {
        if approve {
            self.0.approve(payment).unwrap();
        } else {
            self.0.decline(payment).unwrap();
        }
    }

    async fn event_types(&self, payment: &PaymentId) -> Vec<String> {
        self.0
            .pending_events(usize::MAX)
            .unwrap()
            .into_iter()
            .filter(|event| event.payment.as_ref() == Some(payment))
            .map(|event| event.kind)
            .collect()
    }
}

async fn settlement() -> GatewayHarness {
    (Arc::new(network()), Arc::new(SimulatedBank(network())))
}

struct Outbox(OutboxMailer);

#[async_trait]
impl MailInspector for Outbox {
    async fn delivered(&self) -> Vec<Delivered> {
        let messages = self.0.messages().unwrap();
        messages
            .into_iter()
            .map(|m| Delivered {
                to: m.to,
                subject: m.subject,
                html: m.html,
            })
            .collect()
    }
}

async fn mailer() -> MailHarness {
    let dir = tempfile::tempdir().unwrap().keep();
    let outbox = OutboxMailer::open(&dir, clock()).unwrap();
    (Arc::new(outbox.clone()), Arc::new(Outbox(outbox)))
}

struct Drain(LocalQueue);

#[async_trait]
impl QueueInspector for Drain {
    async fn drain(&self) -> Vec<ChargeJob> {
        self.0.take(usize::MAX).unwrap()
    }
}

async fn queue() -> QueueHarness {
    let dir = tempfile::tempdir().unwrap().keep();
    let queue = LocalQueue::open(&dir.join("queue.redb")).unwrap();
    (Arc::new(queue.clone()), Arc::new(Drain(queue)))
}

mod store {
    use super::*;
    store_contract!(super::store);
}

mod gateway {
    use super::*;
    gateway_contract!(super::gateway);
}

mod settlement {
    use super::*;
    settlement_contract!(super::settlement);
}

mod mailer {
    use super::*;
    mailer_contract!(super::mailer);
}

mod queue {
    use super::*;
    queue_contract!(super::queue);
}

/// A store and a card network of their own (the card cases count attached cards).
async fn card_pair() -> (EmbeddedStore, SimulatedCardNetwork) {
    let dir = tempfile::tempdir().expect("temp dir").keep();
    let store = EmbeddedStore::open(&dir.join("billing.redb")).unwrap();
    let network =
        SimulatedCardNetwork::open(&dir.join("card-network.redb"), "http://127.0.0.1:3000/")
            .unwrap();
    (store, network)
}

// The card-on-file invariant under 25 concurrent changes, and with a replace stopped or
// failing after each step in turn.
billing_contract::card_contract!(card_pair);

/// A store, card network and outbox of their own.
async fn purchase_harness()
-> billing_contract::purchase::PurchaseHarness<EmbeddedStore, SimulatedCardNetwork> {
    let (store, network) = card_pair().await;
    billing_contract::purchase::PurchaseHarness {
        store,
        bank: Arc::new(SimulatedBank(network.clone())),
        gateway: network,
        mail: mailer().await,
    }
}

// Purchases settle exactly once: 50 concurrent purchases, keys, declines, 3-D Secure, the
// sweep, a purchase stopped after each step in turn, and webhook events.
billing_contract::purchase_contract!(purchase_harness);

// The monthly charge: one invoice and one payment per account and period, the outcomes,
// 25 concurrent workers on one job, a worker stopped after each step in turn.
mod monthly {
    use super::purchase_harness;
    billing_contract::invoice_contract!(purchase_harness);
}

// Getting paid after a failed charge: retries on days 3, 5 and 7, declines that wait for the
// user, a new card paying at once, sweeps run twice or stopped half way.
mod recovery {
    use super::purchase_harness;
    billing_contract::recovery_contract!(purchase_harness);
}

// Account deletion: the final charge, a failure erasing nothing, erasure checked on every
// record the store holds, a deletion stopped after each call in turn, 25 deletions at once.
mod deletion {
    use super::{purchase_harness, scan_store};
    billing_contract::deletion_contract!(purchase_harness, scan_store);
}

/// Every record the embedded store holds, as text.
fn scan_store(
    store: &EmbeddedStore,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Vec<String>> + Send + '_>> {
    Box::pin(async move { store.dump().expect("the store reads") })
}
