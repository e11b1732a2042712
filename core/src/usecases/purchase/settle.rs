//! Settling a purchase from a report of the network: one transaction per change, conditioned
//! on the purchase's version, carrying the purchase, its slot, the ledger credit and the claim
//! to send the receipt together.

use chrono::{DateTime, Utc};

use super::decide::{Transition, apply};
use super::receipt::{finish_receipt, send_claimed_receipt};
use super::{ATTEMPTS, Ports};
use crate::domain::idempotency::{IdempotencyRecord, KeyedOutcome, KeyedRefusal};
use crate::domain::ids::{AccountId, EmailAddress, PurchaseId};
use crate::domain::purchase::{Purchase, PurchaseSlot};
use crate::ports::gateway::ChargeOutcome;
use crate::ports::store::{
    Expect, PurchaseStore, Record, Store, StoreError, Transaction, Versioned, Write,
};
use crate::rules::ledger::LedgerEntry;
use crate::rules::purchase::PurchaseStatus;
use crate::usecases::error::UseCaseError;

use super::decide::CANCELED;

/// The purchase as stored. Another account's purchase is `NotFound`, like one that does not
/// exist: the key is the caller's account.
pub async fn get_purchase(
    store: &dyn Store,
    account: &AccountId,
    id: &PurchaseId,
) -> Result<Purchase, UseCaseError> {
    crate::usecases::deletion::refuse_deleted(store, account).await?;
    store
        .purchase(account, id)
        .await?
        .map(|v| v.value)
        .ok_or(UseCaseError::NotFound)
}

/// Applies one report of the network to a purchase ([`apply`]), whoever brings it and however
/// often. Returns the purchase as it stands afterwards; sends the receipt when this report is
/// the one that settled it (or when a claim to send it was left by a sender that died).
pub async fn settle_purchase(
    ports: Ports<'_>,
    account: &AccountId,
    id: &PurchaseId,
    outcome: &ChargeOutcome,
    now: DateTime<Utc>,
) -> Result<Purchase, UseCaseError> {
    settle(ports, account, id, outcome, now, None, Known::default()).await
}

/// Asks the network for the purchase's payment and settles what it says. A purchase whose
/// payment the network has not named yet is returned as it is.
pub async fn refresh_purchase(
    ports: Ports<'_>,
    account: &AccountId,
    id: &PurchaseId,
    now: DateTime<Utc>,
) -> Result<Purchase, UseCaseError> {
    let purchase = get_purchase(ports.store, account, id).await?;
    match &purchase.payment {
        Some(payment) if !purchase.status.is_settled() => {
            let outcome = ports.gateway.charge_status(payment).await?;
            settle_purchase(ports, account, id, &outcome, now).await
        }
        _ => Ok(purchase),
    }
}

/// What a keyed request answers, from the purchase it made: a decline is a refusal that a
/// replay answers again; anything else is the purchase, as it stands when asked.
pub(super) fn keyed_outcome(purchase: &Purchase) -> KeyedOutcome {
    match (&purchase.status, &purchase.failure) {
        (PurchaseStatus::Failed, Some(failure)) if failure.decline_code != CANCELED => {
            KeyedOutcome::Refused {
                refusal: KeyedRefusal::CardDeclined {
                    decline_code: Some(failure.decline_code.clone()),
                },
            }
        }
        _ => KeyedOutcome::Purchase {
            purchase: purchase.id.clone(),
        },
    }
}

/// What the caller already knows of a purchase: the request that just recorded it knows the
/// versions it wrote and the buyer's address, which saves the first attempt's reads (and the
/// receipt's). Anything stale only costs a failed condition and a read.
#[derive(Debug, Clone, Default)]
pub(crate) struct Known {
    /// The purchase as stored.
    pub purchase: Option<Versioned<Purchase>>,
    /// The version of the account's slot, which points to this purchase.
    pub slot_version: Option<u64>,
    /// The buyer's address for the receipt (`Some(None)`: known to have none).
    pub email: Option<Option<EmailAddress>>,
}

/// The version of the account's slot when it points to purchase `id`.
pub(super) async fn slot_version_of(
    ports: Ports<'_>,
    account: &AccountId,
    id: &PurchaseId,
) -> Result<Option<u64>, UseCaseError> {
    Ok(ports
        .store
        .purchase_slot(account)
        .await?
        .filter(|slot| slot.value.purchase == *id)
        .map(|slot| slot.version))
}

/// [`settle_purchase`], also recording the first answer under the client's key when the
/// request that made the purchase is the one settling it.
pub(super) async fn settle(
    ports: Ports<'_>,
    account: &AccountId,
    id: &PurchaseId,
    outcome: &ChargeOutcome,
    now: DateTime<Utc>,
    key: Option<&Versioned<IdempotencyRecord>>,
    mut known: Known,
) -> Result<Purchase, UseCaseError> {
    let mut credited_before = false;
    for _ in 0..ATTEMPTS {
        let (current, slot_version) = match known.purchase.take() {
            Some(current) => (current, known.slot_version.take()),
            None => {
                let current = ports
                    .store
                    .purchase(account, id)
                    .await?
                    .ok_or(UseCaseError::NotFound)?;
                (current, slot_version_of(ports, account, id).await?)
            }
        };
        let (next, credit) = match apply(&current.value, outcome, now) {
            Transition::Update { purchase, credit } => (*purchase, credit),
            Transition::Unchanged => {
                if let Some(key) = key {
                    answer_key(ports.store, key, &current.value).await?;
                }
                finish_receipt(ports, current, now).await;
                return get_purchase(ports.store, account, id).await;
            }
            Transition::OtherPayment { ours } => {
                tracing::warn!(purchase = %id, %ours, "a report about another payment was ignored");
                return Ok(current.value);
            }
        };
        let mut transaction = Transaction::new().with(Write::Put {
            record: Record::Purchase(next.clone()),
            expect: Expect::Version(current.version),
        });
        if let Some(version) = slot_version {
            transaction.push(Write::Put {
                record: Record::PurchaseSlot(PurchaseSlot::of(&next)),
                expect: Expect::Version(version),
            });
        }
        if credit && !credited_before {
            let entry =
                LedgerEntry::credit_purchase(id, next.amount, now).map_err(UseCaseError::Money)?;
            transaction.push(Write::Append {
                account: account.clone(),
                entries: vec![entry],
                balance: Expect::Any,
            });
        }
        if let Some(key) = key {
            transaction.push(answered(key, &next));
        }
        match ports.store.commit(transaction).await {
            Ok(()) => {
                if !credit {
                    return Ok(next);
                }
                tracing::info!(purchase = %id, amount = next.amount.get(), "purchase settled and credited");
                let settled = Known {
                    purchase: Some(Versioned {
                        value: next.clone(),
                        version: current.version + 1,
                    }),
                    slot_version: slot_version.map(|v| v + 1),
                    email: known.email.take(),
                };
                return Ok(send_claimed_receipt(ports, settled, now)
                    .await
                    .unwrap_or(next));
            }
            Err(StoreError::Conflict { .. }) => continue,
            // The credit is in the ledger already: it counts once, so settle without it.
            Err(StoreError::EntriesExist { .. }) => credited_before = true,
            Err(error) => return Err(error.into()),
        }
    }
    Err(UseCaseError::ConcurrentUpdate)
}

/// The write recording a keyed request's answer.
fn answered(key: &Versioned<IdempotencyRecord>, purchase: &Purchase) -> Write {
    let mut record = key.value.clone();
    record.outcome = Some(keyed_outcome(purchase));
    Write::Put {
        record: Record::Idempotency(record),
        expect: Expect::Version(key.version),
    }
}

/// Records a keyed request's answer on its own (the purchase was settled by someone else).
async fn answer_key(
    store: &dyn Store,
    key: &Versioned<IdempotencyRecord>,
    purchase: &Purchase,
) -> Result<(), UseCaseError> {
    match store
        .commit(Transaction::new().with(answered(key, purchase)))
        .await
    {
        // Another run of the same request answered first: the same answer.
        Ok(()) | Err(StoreError::Conflict { .. }) => Ok(()),
        Err(error) => Err(error.into()),
    }
}
