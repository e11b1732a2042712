//! `PUT /v1/billing/card`: adds the card, or replaces the one on file. Decide, then do.
//!
//! 1. Read the account and the PaymentMethod, and [`decide_card`]: unknown, the same card
//!    again (a no-op), refused before attaching, or a change. Nothing is written for the first
//!    three.
//! 2. Claim the account's lease ([`Lease::claim`]); a live change holding it answers
//!    `CardChangeInProgress` before anything is touched, so of concurrent changes one runs and
//!    the others leave the network alone. A lease left by a change that died is taken over and
//!    the network repaired first.
//! 3. Under the lease: record the customer if it is new, attach the card (the issuer verifies
//!    it), run the full acceptance rule on what the network reports, record the card, make it
//!    the default, detach the old card, release the lease.
//!
//! Any step can stop (an error, or the process dying). A step that fails undoes what it can
//! and releases the lease when the network agrees with the record again; when it cannot know
//! that (the store unreachable, the default or a detach failing), it keeps the lease, which
//! expires, and the next change (or [`super::repair_card_change`]) repairs from the record.
//! Either way: one card attached, the customer's default, the card on file.

use chrono::{DateTime, Utc};

use crate::domain::account::StoredCard;
use crate::domain::ids::{CustomerId, PaymentMethodId};
use crate::ports::gateway::{GatewayError, PaymentGateway, PaymentMethod};
use crate::ports::store::Store;
use crate::rules::card::accept_card;
use crate::usecases::card::decide::{CardDecision, decide_card};
use crate::usecases::card::lease::{Lease, live_account};
use crate::usecases::card::repair::{needs_repair, repair_card_change, repair_under};
use crate::usecases::card::{CardSet, Holder};
use crate::usecases::error::UseCaseError;

fn stored_card(method: &PaymentMethod) -> StoredCard {
    StoredCard {
        payment_method: method.id.clone(),
        brand: method.card.brand.clone(),
        last4: method.card.last4.clone(),
        exp_month: method.card.exp_month,
        exp_year: method.card.exp_year,
        funding: method.card.funding,
        fingerprint: method.card.fingerprint.clone(),
    }
}

/// Detaches a card this change attached and then gave up on. Best effort: the error that
/// made it give up is what the caller must see, and a repair detaches what this leaves.
async fn release_card<G: PaymentGateway + ?Sized>(gateway: &G, card: &PaymentMethodId) {
    let _ = gateway.detach(card).await;
}

/// `PUT /v1/billing/card`.
pub async fn set_card<S, G>(
    store: &S,
    gateway: &G,
    holder: &Holder<'_>,
    requested: &PaymentMethodId,
    now: DateTime<Utc>,
) -> Result<CardSet, UseCaseError>
where
    S: Store + ?Sized,
    G: PaymentGateway + ?Sized,
{
    let mut account = live_account(store, holder).await?;
    if account
        .as_ref()
        .is_some_and(|a| needs_repair(&a.value, now))
    {
        // A change died here: the network is brought back to the record first, whatever
        // this request turns out to be (the card on file again is a no-op only then).
        repair_card_change(store, gateway, holder.account, now).await?;
        account = live_account(store, holder).await?;
    }
    let method = match gateway.payment_method(requested).await {
        Err(GatewayError::NotFound(_)) => return Err(UseCaseError::PaymentMethodNotFound),
        other => other?,
    };
    let (customer, on_file) = account.as_ref().map_or((None, None), |a| {
        (a.value.customer.as_ref(), a.value.card.as_ref())
    });
    let decision = decide_card(customer, on_file, &method, now);
    let attach = match decision {
        CardDecision::Unknown => return Err(UseCaseError::PaymentMethodNotFound),
        CardDecision::Keep { card, release } => {
            if let Some(copy) = release {
                release_card(gateway, &copy).await;
            }
            return Ok(CardSet::unchanged(card));
        }
        CardDecision::Refuse { refusal, release } => {
            if let Some(card) = release {
                release_card(gateway, &card).await;
            }
            return Err(refusal.into());
        }
        CardDecision::Change { attach } => attach,
    };

    let lease = Lease::claim(store, holder, account, now).await?;
    if lease.abandoned {
        repair_under(gateway, &lease).await?;
    }
    change(store, gateway, holder, lease, &method, attach, now).await
}

/// The change itself, under the lease.
async fn change<S, G>(
    store: &S,
    gateway: &G,
    holder: &Holder<'_>,
    mut lease: Lease,
    method: &PaymentMethod,
    attach: bool,
    now: DateTime<Utc>,
) -> Result<CardSet, UseCaseError>
where
    S: Store + ?Sized,
    G: PaymentGateway + ?Sized,
{
    let customer = customer_of(store, gateway, holder, &mut lease).await?;
    let attached = if attach {
        match gateway.attach(&method.id, &customer).await {
            // Stripe refuses to attach a PaymentMethod that was detached (for instance by the
            // clean-up of an earlier failed attempt) or taken by another customer meanwhile:
            // it can never be used again, and the user must enter the card again.
            Err(GatewayError::Invalid(_) | GatewayError::NotFound(_)) => {
                // An expired lease is all a failed release leaves; the next change goes on.
                let _ = lease.release(store).await;
                return Err(UseCaseError::PaymentMethodNotFound);
            }
            Err(error @ GatewayError::CardDeclined(_)) => {
                let _ = lease.release(store).await;
                return Err(error.into());
            }
            Err(error @ GatewayError::Unavailable(_)) => {
                // A timeout may have attached it after all: keep the lease for a repair.
                return Err(error.into());
            }
            Ok(attached) => attached,
        }
    } else {
        method.clone()
    };
    if let Err(refusal) = accept_card(&attached.card.facts(), now.date_naive()) {
        // A refused card that could not be detached keeps the lease, so a repair detaches it.
        if gateway.detach(&attached.id).await.is_ok() {
            let _ = lease.release(store).await;
        }
        return Err(refusal.into());
    }

    let card = stored_card(&attached);
    let previous = lease.account.card.clone();
    if let Err(error) = lease.update(store, |a| a.card = Some(card.clone())).await {
        if matches!(error, UseCaseError::CardChangeInProgress { .. }) {
            // The lease was taken over: its new holder repairs from the record, which does
            // not name this card.
            release_card(gateway, &attached.id).await;
        }
        return Err(error);
    }

    if let Err(error) = gateway.set_default(&customer, &attached.id).await {
        // Put the old card back on file; the lease stays until a repair has made the network
        // agree (the old card may or may not still be the default).
        let restored = lease.update(store, |a| a.card.clone_from(&previous)).await;
        if restored.is_ok() {
            release_card(gateway, &attached.id).await;
            if gateway_default_is(gateway, &customer, previous.as_ref()).await {
                let _ = lease.release(store).await;
            }
        }
        return Err(error.into());
    }

    let old_card_left_attached = match &previous {
        Some(old) if old.payment_method != card.payment_method => {
            match gateway.detach(&old.payment_method).await {
                Ok(()) => None,
                Err(_) => Some(old.payment_method.clone()),
            }
        }
        _ => None,
    };
    // With the old card still attached, the lease is left to expire so that a repair detaches
    // it; the change itself is done.
    let lease_left = if old_card_left_attached.is_none() {
        lease.release(store).await.is_err()
    } else {
        true
    };
    Ok(CardSet {
        card,
        changed: true,
        old_card_left_attached,
        lease_left,
    })
}

/// Whether the customer's default is `card` (false when it cannot be read).
async fn gateway_default_is<G: PaymentGateway + ?Sized>(
    gateway: &G,
    customer: &CustomerId,
    card: Option<&StoredCard>,
) -> bool {
    match gateway.customer_cards(customer).await {
        Ok(network) => {
            network.default_payment_method.as_ref() == card.map(|c| &c.payment_method)
                && network.attached.len() == usize::from(card.is_some())
        }
        Err(_) => false,
    }
}

/// The account's customer, created (idempotently per account) and recorded under the lease
/// before any card is attached to it, so that a repair always knows where to look.
async fn customer_of<S, G>(
    store: &S,
    gateway: &G,
    holder: &Holder<'_>,
    lease: &mut Lease,
) -> Result<CustomerId, UseCaseError>
where
    S: Store + ?Sized,
    G: PaymentGateway + ?Sized,
{
    if let Some(customer) = &lease.account.customer {
        return Ok(customer.clone());
    }
    let customer = gateway
        .create_customer(holder.account, holder.email)
        .await?;
    lease
        .update(store, |a| a.customer = Some(customer.clone()))
        .await?;
    Ok(customer)
}
