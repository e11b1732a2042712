//! Stripe's event JSON turned into a [`NetworkEvent`].
//!
//! Read as this crate's [`objects`](crate::objects), of only the fields used: an event is
//! rendered in the *endpoint's* API version, which need not be the one async-stripe pins.
//! Unknown fields and unknown status strings are ignored or read as "not final"; the object
//! and the outcome rule are the ones `charge_status` uses (`mapping::charge_outcome`), so an
//! event and a read of the same PaymentIntent always agree.

use billing_core::domain::event::{NetworkEvent, NetworkEventKind, UpdatedCard};
use billing_core::{AccountId, CustomerId, PaymentMethodId};
use chrono::{DateTime, Datelike};
use serde::Deserialize;
use serde::de::{DeserializeOwned, IgnoredAny};
use thiserror::Error;

use crate::mapping;
use crate::objects::{PaymentIntent, PaymentMethod};

/// The longest event id kept: it becomes a store key (Stripe's are about 30 characters).
const MAX_ID_LENGTH: usize = 255;

/// The PaymentIntent events this system reads; every other type is [`NetworkEventKind::Ignored`].
const PAYMENT_EVENTS: [&str; 5] = [
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.canceled",
    "payment_intent.requires_action",
    "payment_intent.processing",
];

/// The card updater's event.
const CARD_UPDATED: &str = "payment_method.automatically_updated";

/// Why a request body could not be read as an event. Messages never quote the body (it may
/// carry an e-mail address or metadata): only what was wrong and where.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EventError {
    /// Not JSON, or not a Stripe event (`id`, `created`, `type` and `data.object` missing or
    /// of the wrong kind).
    #[error("not a Stripe event: {reason}")]
    NotAnEvent {
        /// What was wrong, without the body's content.
        reason: String,
    },
    /// An event of a type this system acts on whose object cannot be read as one (a
    /// PaymentIntent without an id, a card without an expiry, …). Stripe never sends this; the
    /// event's id is kept for the log.
    #[error("event {id} ({event_type}): {reason}")]
    UnusableObject {
        /// The event's `id`.
        id: String,
        /// The event's `type`.
        event_type: String,
        /// What was wrong, without the body's content.
        reason: String,
    },
}

#[derive(Deserialize)]
struct Envelope<T> {
    id: String,
    /// `"event"` on every Stripe event; absent is tolerated.
    #[serde(default)]
    object: Option<String>,
    created: i64,
    #[serde(rename = "type")]
    event_type: String,
    data: Data<T>,
}

#[derive(Deserialize)]
struct Data<T> {
    object: T,
}

/// Reads Stripe's event JSON (a webhook body, already verified) as a [`NetworkEvent`]:
/// `payment_intent.succeeded`, `.payment_failed`, `.canceled`, `.requires_action` and
/// `.processing` become [`NetworkEventKind::Payment`] with the outcome `charge_status` would
/// give for the same PaymentIntent (the account and reference from the metadata `charge`
/// sets); `payment_method.automatically_updated` becomes [`NetworkEventKind::CardUpdated`];
/// any other type is [`NetworkEventKind::Ignored`].
pub fn parse_event(payload: &[u8]) -> Result<NetworkEvent, EventError> {
    // First the envelope alone (the object skipped), to learn the type; then the object of
    // the types read, in a second pass over the same bytes.
    let head: Envelope<IgnoredAny> = from_slice(payload)?;
    if head
        .object
        .as_deref()
        .is_some_and(|object| object != "event")
    {
        return Err(not_an_event("`object` is not \"event\""));
    }
    if head.id.is_empty() || head.id.len() > MAX_ID_LENGTH {
        return Err(not_an_event("`id` is empty or too long"));
    }
    // Years beyond 0000-9999 have no RFC 3339 form: such an instant could never be written
    // down again, so it is refused here rather than carried along.
    let created = DateTime::from_timestamp(head.created, 0)
        .filter(|created| (0..=9999).contains(&created.year()))
        .ok_or_else(|| not_an_event("`created` is out of range"))?;
    let unusable = |reason: String| EventError::UnusableObject {
        id: head.id.clone(),
        event_type: head.event_type.clone(),
        reason,
    };
    let kind = if PAYMENT_EVENTS.contains(&head.event_type.as_str()) {
        let intent: Envelope<PaymentIntent> =
            from_slice(payload).map_err(|e| unusable(e.reason()))?;
        payment(intent.data.object).map_err(unusable)?
    } else if head.event_type == CARD_UPDATED {
        let method: Envelope<PaymentMethod> =
            from_slice(payload).map_err(|e| unusable(e.reason()))?;
        card_updated(method.data.object).map_err(unusable)?
    } else {
        NetworkEventKind::Ignored {
            event_type: head.event_type.clone(),
        }
    };
    Ok(NetworkEvent {
        id: head.id,
        created,
        kind,
    })
}

fn payment(intent: PaymentIntent) -> Result<NetworkEventKind, String> {
    let outcome = mapping::charge_outcome(&intent).map_err(|e| e.to_string())?;
    let metadata = intent.metadata.unwrap_or_default();
    Ok(NetworkEventKind::Payment {
        // This system only writes valid account ids; any other value marks a payment that
        // is not ours, which is what `None` says.
        account: metadata
            .account_id
            .and_then(|account| AccountId::parse(&account).ok()),
        reference: metadata.reference.filter(|reference| !reference.is_empty()),
        outcome,
    })
}

fn card_updated(method: PaymentMethod) -> Result<NetworkEventKind, String> {
    let payment_method = PaymentMethodId::parse(&method.id).map_err(|e| format!("id: {e}"))?;
    let customer = method
        .customer
        .map(|customer| CustomerId::parse(customer.id()))
        .transpose()
        .map_err(|e| format!("customer: {e}"))?;
    let card = method
        .card
        .ok_or_else(|| "the payment method is not a card".to_owned())?;
    let exp_month = u32::try_from(card.exp_month)
        .ok()
        .filter(|month| (1..=12).contains(month))
        .ok_or_else(|| "card.exp_month is not a month".to_owned())?;
    let exp_year =
        i32::try_from(card.exp_year).map_err(|_| "card.exp_year is out of range".to_owned())?;
    Ok(NetworkEventKind::CardUpdated {
        customer,
        payment_method,
        card: UpdatedCard {
            brand: card.brand,
            last4: card.last4,
            exp_month,
            exp_year,
        },
    })
}

fn from_slice<T: DeserializeOwned>(payload: &[u8]) -> Result<T, EventError> {
    serde_json::from_slice(payload).map_err(|error| {
        // serde_json's own message may quote a value from the body; say only what and where.
        let what = match error.classify() {
            serde_json::error::Category::Io => "unreadable",
            serde_json::error::Category::Syntax => "not JSON",
            serde_json::error::Category::Eof => "truncated JSON",
            serde_json::error::Category::Data => "a field is missing or of the wrong type",
        };
        not_an_event(&format!(
            "{what} at line {} column {}",
            error.line(),
            error.column()
        ))
    })
}

fn not_an_event(reason: &str) -> EventError {
    EventError::NotAnEvent {
        reason: reason.to_owned(),
    }
}

impl EventError {
    fn reason(self) -> String {
        match self {
            Self::NotAnEvent { reason } | Self::UnusableObject { reason, .. } => reason,
        }
    }
}
