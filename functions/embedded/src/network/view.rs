//! What the simulated network holds for an account or a customer, for the local tools and
//! for tests (`GET /_local/accounts/{account}/network`).

use billing_core::ports::gateway::GatewayError;
use billing_core::{AccountId, CustomerId, PaymentMethodId};
use redb::ReadableTable;
use serde::{Deserialize, Serialize};

use super::{SimPaymentMethod, SimulatedCardNetwork, read, template_of, unavailable};

/// What the simulated network holds for an account, as Stripe's dashboard would show it
/// (`GET /_local/accounts/{account}/network`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkView {
    /// The account's customer; `None` when none was created (or it was deleted).
    pub customer: Option<CustomerId>,
    /// The customer's `invoice_settings.default_payment_method`.
    pub default_payment_method: Option<PaymentMethodId>,
    /// Every card attached to the customer, oldest first.
    pub attached: Vec<AttachedCard>,
}

/// One attached card in a [`NetworkView`]. No number, no CVC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachedCard {
    /// The PaymentMethod id.
    pub id: PaymentMethodId,
    /// `card.brand`.
    pub brand: String,
    /// `card.last4`.
    pub last4: String,
}

impl SimulatedCardNetwork {
    /// The customer's default PaymentMethod (for tests and the local tools; not a port method).
    pub fn default_payment_method(
        &self,
        customer: &CustomerId,
    ) -> Result<Option<PaymentMethodId>, GatewayError> {
        self.read_only(|table| Self::cards_of(table, customer))
            .map(|(default, _)| default)
    }

    /// The PaymentMethods attached to a customer (for tests and the local tools).
    pub fn attached_to(&self, customer: &CustomerId) -> Result<Vec<PaymentMethodId>, GatewayError> {
        let (_, attached) = self.read_only(|table| Self::cards_of(table, customer))?;
        attached
            .iter()
            .map(|pm| PaymentMethodId::parse(&pm.id).map_err(unavailable))
            .collect()
    }

    /// What the network holds for an account: its customer (none before one is created, or
    /// once it is deleted), the customer's default and every attached card.
    pub fn network_view(&self, account: &AccountId) -> Result<NetworkView, GatewayError> {
        let (customer, cards) = self.read_only(|table| {
            let Some(id) = read::<String>(table, &format!("customer-of#{account}"))? else {
                return Ok((None, None));
            };
            let customer = CustomerId::parse(&id).map_err(unavailable)?;
            match Self::cards_of(table, &customer) {
                Ok(cards) => Ok((Some(customer), Some(cards))),
                Err(GatewayError::NotFound(_)) => Ok((None, None)),
                Err(other) => Err(other),
            }
        })?;
        let (default_payment_method, attached) = cards.unwrap_or_default();
        let attached = attached
            .iter()
            .map(|pm| {
                let card = template_of(&pm.template)?;
                Ok(AttachedCard {
                    id: PaymentMethodId::parse(&pm.id).map_err(unavailable)?,
                    brand: card.brand.to_owned(),
                    last4: card.last4.to_owned(),
                })
            })
            .collect::<Result<_, GatewayError>>()?;
        Ok(NetworkView {
            customer,
            default_payment_method,
            attached,
        })
    }

    /// A live customer's default and attached cards (oldest first: ids grow with time), read
    /// in one transaction so the two agree.
    pub(super) fn cards_of(
        table: &impl ReadableTable<&'static str, &'static [u8]>,
        customer: &CustomerId,
    ) -> Result<(Option<PaymentMethodId>, Vec<SimPaymentMethod>), GatewayError> {
        let stored = Self::live_customer(table, customer.as_str())?;
        let default = stored
            .default_payment_method
            .as_deref()
            .map(PaymentMethodId::parse)
            .transpose()
            .map_err(unavailable)?;
        let mut attached = Vec::new();
        for item in table.range("pm#".."pm$").map_err(unavailable)? {
            let (_, value) = item.map_err(unavailable)?;
            let pm: SimPaymentMethod =
                serde_json::from_slice(value.value()).map_err(unavailable)?;
            if pm.customer.as_deref() == Some(customer.as_str()) {
                attached.push(pm);
            }
        }
        Ok((default, attached))
    }
}
