//! The simulated card updater: the card network telling Stripe that a saved card was reissued
//! with a new expiry, which Stripe applies to the PaymentMethod and announces with
//! `payment_method.automatically_updated`. Local-only (a control of the local server).

use billing_core::PaymentMethodId;
use billing_core::ports::gateway::GatewayError;

use super::events::{self, NetworkEvent};
use super::{SimPaymentMethod, SimulatedCardNetwork, read, unix_now, write};

/// The years a reissued card may carry: four digits, as Stripe reports them.
const EXPIRY_YEARS: std::ops::RangeInclusive<i32> = 2000..=2099;

impl SimulatedCardNetwork {
    /// The issuer reissues a saved card with a new expiry: the PaymentMethod (same id, same
    /// number) now reads with `exp_month`/`exp_year`, and a `payment_method.automatically_updated`
    /// event carrying it is queued among the pending events, in the same write. Returns that
    /// event.
    ///
    /// Like Stripe's card updater, it only updates cards saved to a customer: a PaymentMethod
    /// the network holds no saved copy of (an unknown id, or a test id such as `pm_card_visa`,
    /// which attaches as a fresh copy) is `NotFound`, a detached one is `Invalid`, and so is a
    /// month outside 1–12 or a year outside 2000–2099.
    pub fn update_card_expiry(
        &self,
        payment_method: &PaymentMethodId,
        exp_month: u32,
        exp_year: i32,
    ) -> Result<NetworkEvent, GatewayError> {
        if !(1..=12).contains(&exp_month) || !EXPIRY_YEARS.contains(&exp_year) {
            return Err(GatewayError::Invalid(format!(
                "{exp_month:02}/{exp_year} is not a card expiry (month 1-12, year 2000-2099)"
            )));
        }
        self.transact(|table| {
            let key = format!("pm#{payment_method}");
            let stored: SimPaymentMethod = read(table, &key)?.ok_or_else(|| {
                GatewayError::NotFound(format!("payment method {payment_method}"))
            })?;
            let Some(customer) = stored.customer.clone() else {
                return Err(GatewayError::Invalid(format!(
                    "{payment_method} is not saved to a customer: the card updater only \
                     updates saved cards"
                )));
            };
            let previous = (stored.exp_month, stored.exp_year);
            let updated = SimPaymentMethod {
                exp_month,
                exp_year,
                ..stored
            };
            write(table, &key, &updated)?;
            let object = events::payment_method(
                &updated.id,
                Some(&customer),
                updated.created,
                &self.details(&updated, true)?,
            );
            Self::queue_event(table, events::CARD_UPDATED, None, |id| {
                events::card_updated_payload(id, unix_now(), object, previous)
            })
        })
    }
}
