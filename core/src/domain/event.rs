//! What the card network tells us on its own (Stripe's webhook events), in domain terms.
//!
//! The adapter that receives an event (verifying its signature and reading Stripe's JSON) turns
//! it into a [`NetworkEvent`]; the use cases never see Stripe's payload.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::ids::{AccountId, CustomerId, PaymentMethodId};
use crate::ports::gateway::ChargeOutcome;

/// A card's display details after the network's card updater changed them (a reissued card:
/// new expiry, sometimes a new number).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdatedCard {
    /// `card.brand`.
    pub brand: String,
    /// `card.last4`.
    pub last4: String,
    /// `card.exp_month`.
    pub exp_month: u32,
    /// `card.exp_year`.
    pub exp_year: i32,
}

/// What an event is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum NetworkEventKind {
    /// A payment moved (`payment_intent.succeeded`, `.payment_failed`, `.canceled`,
    /// `.requires_action`, `.processing`): its state as the event carries it.
    Payment {
        /// The account, from the payment's metadata (absent on payments we did not make).
        account: Option<AccountId>,
        /// What the payment was for (`cp_…`, `in_…`), from its metadata.
        reference: Option<String>,
        /// The payment's state when the event was sent.
        outcome: ChargeOutcome,
    },
    /// The card updater changed a saved card (`payment_method.automatically_updated`).
    CardUpdated {
        /// The customer the card is attached to.
        customer: Option<CustomerId>,
        /// The card.
        payment_method: PaymentMethodId,
        /// Its new details.
        card: UpdatedCard,
    },
    /// An event type this system does not act on (acknowledged, nothing done).
    Ignored {
        /// Stripe's `type`.
        event_type: String,
    },
}

/// One event from the card network, as delivered (at least once, in any order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkEvent {
    /// Stripe's `evt_…`: the same event delivered again has the same id.
    pub id: String,
    /// When the network created it.
    pub created: DateTime<Utc>,
    /// What it is about.
    pub kind: NetworkEventKind,
}
