//! # billing-local
//!
//! The whole API on one port with the embedded adapters (PRODUCT.md, "Local run").

pub mod bank;
pub mod controls;
pub mod events;
pub mod host;
pub mod instants;
pub mod monthly;
pub mod sweep;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use billing_api::authorize::{
    AuthorizePages, InvoiceAuthorizations, PageMode, PurchaseAuthorizations, authorize_router,
};
use billing_api::links::{LinkSigner, SignedLinks};
use billing_api::state::{
    AuthorizationLinks, CollectionServices, PurchaseServices, Services, WebhookState,
};
use billing_api::{
    AppState, AuthMode, account_router, cards_router, credits_router, finish, telemetry,
    webhook_router,
};
use billing_core::ports::gateway::PaymentGateway;
use billing_core::rules::purchase::PurchaseLimits;
pub use billing_core::rules::retry::RetrySchedule;
use billing_embedded::{EmbeddedStore, LocalClock, LocalQueue, OutboxMailer, SimulatedCardNetwork};

/// Settings of a local run.
#[derive(Debug, Clone)]
pub struct LocalConfig {
    /// Where everything is kept across restarts.
    pub data_dir: PathBuf,
    /// The public base URL (for links in e-mails), e.g. `http://127.0.0.1:3000`.
    pub base_url: String,
    /// The HS256 secret local tokens are signed with.
    pub jwt_secret: String,
    /// The key authorization page links are signed with (`BILLING_LOCAL_LINK_SECRET`).
    pub link_secret: String,
    /// The signing secret of `POST /v1/webhooks/stripe` (Stripe's `whsec_…`).
    pub webhook_secret: String,
    /// The retries of the invoices the monthly charge creates (`BILLING_LOCAL_RETRY_DAYS`).
    pub retries: RetrySchedule,
}

/// Everything a local run is made of.
pub struct LocalApp {
    /// The complete router.
    pub router: Router,
    /// The shared state (for tests).
    pub state: Arc<AppState>,
    /// Delivers the simulated network's events to the webhook endpoint, as Stripe would;
    /// runs until dropped.
    pub deliver_events: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
}

fn data_file(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}

/// Opens the data folder and builds the router.
pub fn build(config: &LocalConfig) -> Result<LocalApp, String> {
    build_with_gateway(config, |network| Arc::new(network))
}

/// [`build`], with every request to the card network (what Stripe would receive) sent
/// through the gateway `wrap` makes of the simulated network: a bench counts them so. The
/// simulated bank (the authorization page's answer) and the network's events still reach the
/// network itself, as they do not go through Stripe's API.
pub fn build_with_gateway(
    config: &LocalConfig,
    wrap: impl FnOnce(SimulatedCardNetwork) -> Arc<dyn PaymentGateway>,
) -> Result<LocalApp, String> {
    std::fs::create_dir_all(&config.data_dir).map_err(|e| {
        format!(
            "cannot create data folder {}: {e}",
            config.data_dir.display()
        )
    })?;
    let clock = Arc::new(LocalClock::default());
    let store = EmbeddedStore::open(&data_file(&config.data_dir, "billing.redb"))
        .map_err(|e| e.to_string())?;
    let authorize = format!(
        "{}/_local/bank/authorize",
        config.base_url.trim_end_matches('/')
    );
    let network =
        SimulatedCardNetwork::open(&data_file(&config.data_dir, "card-network.redb"), authorize)
            .map_err(|e| e.to_string())?
            .with_clock(clock.clone());
    let queue = LocalQueue::open(&data_file(&config.data_dir, "charge-jobs.redb"))
        .map_err(|e| format!("cannot open the charge job queue: {e}"))?;
    let outbox = OutboxMailer::open(&data_file(&config.data_dir, "outbox"), clock.clone())
        .map_err(|e| format!("cannot open outbox: {e}"))?;
    let auth = AuthMode::local(&config.jwt_secret).map_err(|e| e.to_string())?;
    let gateway = wrap(network.clone());

    let services = Services {
        store: Arc::new(store.clone()),
        gateway: gateway.clone(),
        clock: clock.clone(),
    };
    let links: Arc<dyn AuthorizationLinks> = Arc::new(SignedLinks {
        signer: LinkSigner::new(config.link_secret.as_bytes()),
        base: config.base_url.clone(),
    });
    let purchases = PurchaseServices {
        mailer: Arc::new(outbox.clone()),
        limits: PurchaseLimits::default(),
        links: links.clone(),
    };
    let collection = CollectionServices {
        mailer: Arc::new(outbox.clone()),
        links: links.clone(),
    };
    let state = Arc::new(
        AppState::new(services, auth)
            .with_purchases(purchases)
            .with_collection(collection),
    );
    let webhook = webhook_router(Arc::new(WebhookState {
        services: Services {
            store: Arc::new(store.clone()),
            gateway: gateway.clone(),
            clock: clock.clone(),
        },
        mailer: Arc::new(outbox.clone()),
        links: links.clone(),
        secrets: vec![config.webhook_secret.clone()],
    }));
    let deliver_events = Box::pin(events::deliver(
        network.clone(),
        webhook.clone(),
        config.webhook_secret.clone(),
    ));
    let pages = authorize_router(Arc::new(AuthorizePages {
        signer: LinkSigner::new(config.link_secret.as_bytes()),
        mode: PageMode::SimulatedBank,
        flow: Arc::new(bank::SimulatedBankAuthorizations {
            purchases: PurchaseAuthorizations {
                store: Arc::new(store.clone()),
                gateway: gateway.clone(),
                mailer: Arc::new(outbox.clone()),
                clock: clock.clone(),
            },
            invoices: InvoiceAuthorizations {
                store: Arc::new(store.clone()),
                gateway: gateway.clone(),
                mailer: Arc::new(outbox.clone()),
                links: links.clone(),
                clock: clock.clone(),
            },
            network: network.clone(),
        }),
        clock: clock.clone(),
    }))
    .layer(axum::middleware::from_fn(telemetry::trace_request));
    let controls = Arc::new(controls::Controls {
        store: Arc::new(store),
        clock,
        outbox,
        network,
        gateway,
        links,
        queue,
        retries: config.retries.clone(),
        charge_queue: tokio::sync::Mutex::new(()),
    });
    let api = finish(
        cards_router()
            .merge(credits_router())
            .merge(account_router()),
        state.clone(),
    );
    // The controls get the same request span and access line as the API.
    let controls =
        controls::router(controls).layer(axum::middleware::from_fn(telemetry::trace_request));
    // Outermost: a foreign `Host` is refused before any route runs (see `host`).
    let router = controls
        .merge(webhook)
        .merge(pages)
        .merge(api)
        .layer(axum::middleware::from_fn(host::loopback_only));
    Ok(LocalApp {
        router,
        state,
        deliver_events,
    })
}
