//! What the use cases run on ([`Services`], no HTTP in it) and what an HTTP handler reaches
//! ([`AppState`]: the services plus how callers are authenticated).
//!
//! Each binary builds only the ports it uses, from only the settings those ports need: the card
//! function has no mailer and reads no sender address; a queue or schedule function holds a
//! [`Services`] (or just the ports it needs) and never builds an [`AppState`].

use std::ops::Deref;
use std::sync::Arc;

use billing_core::ports::clock::Clock;
use billing_core::ports::gateway::PaymentGateway;
use billing_core::ports::mailer::Mailer;
use billing_core::ports::store::Store;
use billing_core::rules::purchase::PurchaseLimits;
use billing_core::usecases::purchase::Ports;

use crate::auth::AuthMode;

/// The ports the card and payment use cases run on, built once per process (per Lambda cold
/// start). Free of HTTP, so queue and schedule handlers take it as is. A function that also
/// sends mail or enqueues jobs holds that port next to it: not every function needs one, and
/// building one reads settings (a sender address, a queue URL) the others must not require.
pub struct Services {
    /// Records and ledger.
    pub store: Arc<dyn Store>,
    /// The card network.
    pub gateway: Arc<dyn PaymentGateway>,
    /// The time.
    pub clock: Arc<dyn Clock>,
}

pub use billing_core::ports::links::AuthorizationLinks;

/// What the purchase routes need beyond the [`Services`]: receipts, limits and links.
pub struct PurchaseServices {
    /// Receipts.
    pub mailer: Arc<dyn Mailer>,
    /// The amount limits.
    pub limits: PurchaseLimits,
    /// Links to the authorization page.
    pub links: Arc<dyn AuthorizationLinks>,
}

/// What the card route needs to charge a new card for the invoices waiting for one: their
/// emails and the authorization page's links.
pub struct CollectionServices {
    /// Receipts and decline notices.
    pub mailer: Arc<dyn Mailer>,
    /// Links to the authorization page.
    pub links: Arc<dyn AuthorizationLinks>,
}

/// What every HTTP handler can reach: the [`Services`] (through `Deref`, so a handler reads
/// `state.store`) and the auth mode.
pub struct AppState {
    /// The ports.
    pub services: Services,
    /// How callers are authenticated.
    pub auth: AuthMode,
    /// Present in the functions that serve purchases.
    purchases: Option<PurchaseServices>,
    /// Present in the function that serves the card: a new card pays what waits for it.
    collection: Option<CollectionServices>,
}

impl AppState {
    /// The state of an HTTP function: its services and how it authenticates callers.
    pub fn new(services: Services, auth: AuthMode) -> Self {
        Self {
            services,
            auth,
            purchases: None,
            collection: None,
        }
    }

    /// The state of the function that serves the card: putting a card charges the invoices
    /// waiting for one.
    #[must_use]
    pub fn with_collection(mut self, collection: CollectionServices) -> Self {
        self.collection = Some(collection);
        self
    }

    /// The ports the invoice use cases run on, when this function collects invoices.
    pub fn invoice_ports(&self) -> Option<billing_core::usecases::invoice::Ports<'_>> {
        self.collection
            .as_ref()
            .map(|collection| billing_core::usecases::invoice::Ports {
                store: self.services.store.as_ref(),
                gateway: self.services.gateway.as_ref(),
                mailer: collection.mailer.as_ref(),
                links: collection.links.as_ref(),
                // The card route never creates an invoice: each keeps its own retries.
                retries: &billing_core::rules::retry::RetrySchedule::STANDARD,
            })
    }

    /// The state of a function that also serves purchases.
    #[must_use]
    pub fn with_purchases(mut self, purchases: PurchaseServices) -> Self {
        self.purchases = Some(purchases);
        self
    }

    /// The purchase services, when this function serves purchases.
    pub fn purchases(&self) -> Option<&PurchaseServices> {
        self.purchases.as_ref()
    }

    /// The ports the purchase use cases run on, with the mailer of `purchases`.
    pub fn purchase_ports<'a>(&'a self, purchases: &'a PurchaseServices) -> Ports<'a> {
        Ports {
            store: self.services.store.as_ref(),
            gateway: self.services.gateway.as_ref(),
            mailer: purchases.mailer.as_ref(),
        }
    }
}

impl Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.services
    }
}

/// What the webhook function runs on: no caller authentication (the signature is checked
/// instead), the purchase ports, and the endpoint's signing secrets (more than one while a
/// secret is being rolled).
pub struct WebhookState {
    /// Store, gateway and clock.
    pub services: Services,
    /// Receipts and notices of the purchases and invoices an event settles.
    pub mailer: Arc<dyn Mailer>,
    /// Links to the authorization page, for the emails of invoices an event settles.
    pub links: Arc<dyn AuthorizationLinks>,
    /// Stripe's `whsec_…` signing secrets of this endpoint.
    pub secrets: Vec<String>,
}
