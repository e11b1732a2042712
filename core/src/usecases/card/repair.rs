//! Finishing or undoing a card change whose holder died (a crash, a timeout, a killed
//! function): the record decides, the network is brought in line with it.

use chrono::{DateTime, Utc};

use crate::domain::account::Account;
use crate::domain::ids::AccountId;
use crate::ports::gateway::PaymentGateway;
use crate::ports::store::Store;
use crate::usecases::card::Holder;
use crate::usecases::card::decide::{LeaseState, RepairPlan, lease_state, plan_repair};
use crate::usecases::card::lease::{Lease, live_account};
use crate::usecases::error::UseCaseError;

/// What a repair did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Repaired {
    /// The plan carried out (empty when the network already agreed with the record).
    pub plan: RepairPlan,
}

/// Carries out [`plan_repair`] under a held lease.
pub(crate) async fn repair_under<G: PaymentGateway + ?Sized>(
    gateway: &G,
    lease: &Lease,
) -> Result<RepairPlan, UseCaseError> {
    let Some(customer) = &lease.account.customer else {
        // No customer was ever recorded; a change records it before attaching anything.
        return Ok(RepairPlan::default());
    };
    let network = gateway.customer_cards(customer).await?;
    let plan = plan_repair(lease.account.card.as_ref(), &network);
    if let Some(default) = &plan.set_default {
        gateway.set_default(customer, default).await?;
    }
    for card in &plan.detach {
        gateway.detach(card).await?;
    }
    Ok(plan)
}

/// Whether `account`, as read at `now`, holds a card change whose holder died: what
/// [`repair_card_change`] repairs. Asked of a record a flow read anyway, so that only an
/// account that needs it pays for the repair's reads.
pub fn needs_repair(account: &Account, now: DateTime<Utc>) -> bool {
    lease_state(Some(account), now) == LeaseState::Abandoned
}

/// Repairs the account's cards if a card change was abandoned there; otherwise does nothing
/// (and writes nothing). The overview (every visit of the dashboard), a card request (the
/// card on file again included), a purchase and the monthly charge run it when
/// [`needs_repair`] says so, before they show or charge the card on file.
pub async fn repair_card_change<S, G>(
    store: &S,
    gateway: &G,
    account: &AccountId,
    now: DateTime<Utc>,
) -> Result<Repaired, UseCaseError>
where
    S: Store + ?Sized,
    G: PaymentGateway + ?Sized,
{
    let holder = Holder {
        account,
        email: None,
    };
    let stored = live_account(store, &holder).await?;
    if lease_state(stored.as_ref().map(|a| &a.value), now) != LeaseState::Abandoned {
        return Ok(Repaired::default());
    }
    let lease = Lease::claim(store, &holder, stored, now).await?;
    let plan = repair_under(gateway, &lease).await?;
    lease.release(store).await?;
    Ok(Repaired { plan })
}
