//! Settling payments later, as the simulated bank and network do, and the events each
//! transition records: what a webhook endpoint will receive.

use billing_core::PaymentId;
use billing_core::ports::gateway::{ChargeOutcome, Decline, GatewayError};
use redb::{ReadableTable, Table};

use super::events::{self, NetworkEvent};
use super::{SimPayment, SimulatedCardNetwork, declined, read, unavailable, unix_now, write};

impl SimulatedCardNetwork {
    /// The bank approves the authentication a payment waits for (what the "Authorize" button
    /// of the local bank page does): it succeeds. Returns the payment's state; a payment that
    /// is already final is returned as it is.
    pub fn approve(&self, payment: &PaymentId) -> Result<ChargeOutcome, GatewayError> {
        self.settle(payment, "approve", |payment, outcome| match outcome {
            ChargeOutcome::RequiresAction { .. } | ChargeOutcome::AuthenticationRequired { .. } => {
                Some(ChargeOutcome::Succeeded { payment })
            }
            _ => None,
        })
    }

    /// The cardholder fails (or refuses) the authentication a payment waits for: it is
    /// declined with Stripe's `payment_intent_authentication_failure`.
    pub fn decline(&self, payment: &PaymentId) -> Result<ChargeOutcome, GatewayError> {
        self.settle(payment, "decline", |payment, outcome| match outcome {
            ChargeOutcome::RequiresAction { .. } | ChargeOutcome::AuthenticationRequired { .. } => {
                Some(ChargeOutcome::Declined {
                    payment: Some(payment),
                    decline: Decline {
                        decline_code: Some("payment_intent_authentication_failure".into()),
                        network_message: "The provided PaymentMethod has failed authentication."
                            .into(),
                    },
                })
            }
            _ => None,
        })
    }

    /// A processing payment succeeds.
    pub fn succeed(&self, payment: &PaymentId) -> Result<ChargeOutcome, GatewayError> {
        self.settle(payment, "succeed", |payment, outcome| match outcome {
            ChargeOutcome::Processing { .. } => Some(ChargeOutcome::Succeeded { payment }),
            _ => None,
        })
    }

    /// A processing payment fails with `decline_code`.
    pub fn fail(
        &self,
        payment: &PaymentId,
        decline_code: &str,
    ) -> Result<ChargeOutcome, GatewayError> {
        self.settle(payment, "fail", |payment, outcome| match outcome {
            ChargeOutcome::Processing { .. } => Some(ChargeOutcome::Declined {
                payment: Some(payment),
                decline: declined(decline_code),
            }),
            _ => None,
        })
    }

    /// Moves a payment to the state `next` gives for its current one, with its event, in one
    /// write. A final payment is returned unchanged (settling twice is harmless); a payment in
    /// a state `next` does not apply to is refused.
    fn settle(
        &self,
        payment: &PaymentId,
        action: &str,
        next: impl FnOnce(PaymentId, &ChargeOutcome) -> Option<ChargeOutcome>,
    ) -> Result<ChargeOutcome, GatewayError> {
        self.transact(|table| {
            let mut stored = Self::stored_payment(table, payment)?;
            if stored.outcome.is_final() {
                return Ok(stored.outcome);
            }
            let outcome = next(payment.clone(), &stored.outcome).ok_or_else(|| {
                GatewayError::Invalid(format!(
                    "cannot {action} payment {payment}: it is {}",
                    events::kind_of(&stored.outcome)
                ))
            })?;
            stored.outcome = outcome;
            Self::record(table, &stored)?;
            Ok(stored.outcome)
        })
    }

    pub(super) fn stored_payment(
        table: &impl ReadableTable<&'static str, &'static [u8]>,
        payment: &PaymentId,
    ) -> Result<SimPayment, GatewayError> {
        read(table, &format!("payment#{payment}"))?
            .ok_or_else(|| GatewayError::NotFound(format!("payment {payment}")))
    }

    /// Writes a payment in its new state and the event announcing it.
    pub(super) fn record(
        table: &mut Table<&str, &[u8]>,
        payment: &SimPayment,
    ) -> Result<(), GatewayError> {
        write(table, &format!("payment#{}", payment.id), payment)?;
        Self::queue_event(
            table,
            events::kind_of(&payment.outcome),
            Some(payment.payment_id()?),
            |id| events::event_payload(id, unix_now(), payment),
        )?;
        Ok(())
    }

    /// Queues an event among the pending ones; `payload` renders its JSON given its id.
    pub(super) fn queue_event(
        table: &mut Table<&str, &[u8]>,
        kind: &str,
        payment: Option<PaymentId>,
        payload: impl FnOnce(&str) -> String,
    ) -> Result<NetworkEvent, GatewayError> {
        let n: u64 = read(table, "event-counter")?.unwrap_or(0) + 1;
        write(table, "event-counter", &n)?;
        let id = format!("evt_sim{n:012}");
        let event = NetworkEvent {
            payload: payload(&id),
            kind: kind.to_owned(),
            payment,
            id,
        };
        // Keyed by sequence so that a range read returns them in the order they happened.
        write(table, &format!("event#{n:020}"), &event)?;
        Ok(event)
    }

    /// Up to `limit` events not yet acknowledged, oldest first. Reading does not remove them:
    /// a deliverer acknowledges each once delivered, so a crash in between delivers it again
    /// (at least once, as Stripe does).
    pub fn pending_events(&self, limit: usize) -> Result<Vec<NetworkEvent>, GatewayError> {
        self.read_only(|table| {
            table
                .range("event#".."event$")
                .map_err(unavailable)?
                .take(limit)
                .map(|item| {
                    let (_, value) = item.map_err(unavailable)?;
                    serde_json::from_slice(value.value()).map_err(unavailable)
                })
                .collect()
        })
    }

    /// Forgets a delivered event; acknowledging an unknown or acknowledged one does nothing.
    pub fn acknowledge_event(&self, id: &str) -> Result<(), GatewayError> {
        let Some(n) = id
            .strip_prefix("evt_sim")
            .and_then(|n| n.parse::<u64>().ok())
        else {
            return Ok(());
        };
        self.transact(|table| {
            table
                .remove(format!("event#{n:020}").as_str())
                .map_err(unavailable)?;
            Ok(())
        })
    }

    /// Takes every pending event, oldest first, in one write.
    pub fn drain_events(&self) -> Result<Vec<NetworkEvent>, GatewayError> {
        self.transact(|table| {
            table
                .extract_from_if("event#".."event$", |_, _| true)
                .map_err(unavailable)?
                .map(|item| {
                    let (_, value) = item.map_err(unavailable)?;
                    serde_json::from_slice(value.value()).map_err(unavailable)
                })
                .collect()
        })
    }
}
