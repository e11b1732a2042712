//! # billing-local
//!
//! The whole API on one port with the embedded adapters (PRODUCT.md, "Local run").

pub mod controls;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use billing_api::state::Services;
use billing_api::{AppState, AuthMode, cards_router, finish, telemetry};
use billing_embedded::{EmbeddedStore, LocalClock, OutboxMailer, SimulatedCardNetwork};

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
}

/// Everything a local run is made of.
pub struct LocalApp {
    /// The complete router.
    pub router: Router,
    /// The shared state (for tests).
    pub state: Arc<AppState>,
}

fn data_file(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}

/// Opens the data folder and builds the router.
pub fn build(config: &LocalConfig) -> Result<LocalApp, String> {
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
            .map_err(|e| e.to_string())?;
    let outbox = OutboxMailer::open(&data_file(&config.data_dir, "outbox"), clock.clone())
        .map_err(|e| format!("cannot open outbox: {e}"))?;
    let auth = AuthMode::local(&config.jwt_secret).map_err(|e| e.to_string())?;

    let services = Services {
        store: Arc::new(store.clone()),
        gateway: Arc::new(network.clone()),
        clock: clock.clone(),
    };
    let state = Arc::new(AppState::new(services, auth));
    let controls = Arc::new(controls::Controls {
        store: Arc::new(store),
        clock,
        outbox,
        network,
    });
    let api = finish(cards_router(), state.clone());
    // The controls get the same request span and access line as the API.
    let controls =
        controls::router(controls).layer(axum::middleware::from_fn(telemetry::trace_request));
    let router = controls.merge(api);
    Ok(LocalApp { router, state })
}
