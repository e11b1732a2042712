//! Card on file: SetupIntents, add/replace, and the refusal to remove (Behaviour 1–2).
//!
//! A replace runs in this order, and every step that can fail leaves exactly one usable
//! default card:
//!
//! 1. read the account (store call 1) and the PaymentMethod (gateway call 1);
//! 2. refuse what the acceptance rule can already refuse (funding, expiry) before attaching;
//! 3. attach it to the account's customer unless it already is (gateway call 2), which is when
//!    the issuer verifies it and may decline;
//! 4. run the full acceptance rule on what the network reports; a refused card is detached;
//! 5. make it the customer's default (gateway call 3); on failure the new card is detached;
//! 6. record it with a version-conditioned write (store call 2); on failure the card on file
//!    at that moment (which a concurrent request may have changed) is made the default again
//!    and the new card detached;
//! 7. detach the old card (gateway call 4); on failure it stays attached but is no longer the
//!    default, and [`CardSet::old_card_left_attached`] names it for the caller to log.

use chrono::{DateTime, Utc};

use crate::domain::account::{Account, AccountStatus, StoredCard};
use crate::domain::ids::{AccountId, CustomerId, EmailAddress, PaymentMethodId};
use crate::ports::gateway::{GatewayError, PaymentGateway, PaymentMethod, SetupIntent};
use crate::ports::store::{
    AccountStore, Expect, Record, Store, StoreError, Transaction, Versioned, Write,
};
use crate::rules::card::{CardRefusal, Funding, accept_card, is_expired};
use crate::usecases::error::UseCaseError;

/// The result of a successful add or replace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardSet {
    /// The card now on file.
    pub card: StoredCard,
    /// False when it was the card already on file (nothing changed).
    pub changed: bool,
    /// The old card could not be detached (it is no longer the default; it is logged so that
    /// it can be detached later).
    pub old_card_left_attached: Option<PaymentMethodId>,
}

/// The caller, as the use cases need them.
#[derive(Debug, Clone)]
pub struct Holder<'a> {
    /// The account.
    pub account: &'a AccountId,
    /// Its e-mail address, when known.
    pub email: Option<&'a EmailAddress>,
}

fn live(account: Option<Versioned<Account>>) -> Result<Option<Versioned<Account>>, UseCaseError> {
    match &account {
        Some(a) if a.value.status != AccountStatus::Active => Err(UseCaseError::AccountDeleted),
        _ => Ok(account),
    }
}

fn expect_of(account: &Option<Versioned<Account>>) -> Expect {
    account
        .as_ref()
        .map_or(Expect::Absent, |a| Expect::Version(a.version))
}

/// The account's customer, created on first need (the gateway makes creation idempotent per
/// account, so concurrent first calls agree on one customer).
async fn customer_for<G: PaymentGateway + ?Sized>(
    gateway: &G,
    holder: &Holder<'_>,
    account: &Option<Versioned<Account>>,
) -> Result<(CustomerId, bool), UseCaseError> {
    match account.as_ref().and_then(|a| a.value.customer.clone()) {
        Some(customer) => Ok((customer, false)),
        None => Ok((
            gateway
                .create_customer(holder.account, holder.email)
                .await?,
            true,
        )),
    }
}

/// The record to write: the stored account (or a new one) with `change` applied.
fn updated(
    account: &Option<Versioned<Account>>,
    holder: &Holder<'_>,
    now: DateTime<Utc>,
    change: impl FnOnce(&mut Account),
) -> Account {
    let mut next = account.as_ref().map_or_else(
        || Account::new(holder.account.clone(), holder.email.cloned(), now),
        |a| a.value.clone(),
    );
    if next.email.is_none() {
        next.email = holder.email.cloned();
    }
    change(&mut next);
    next
}

/// `POST /v1/billing/setup-intents`: a SetupIntent on the account's customer.
pub async fn create_setup_intent<S, G>(
    store: &S,
    gateway: &G,
    holder: &Holder<'_>,
    now: DateTime<Utc>,
) -> Result<SetupIntent, UseCaseError>
where
    S: Store + ?Sized,
    G: PaymentGateway + ?Sized,
{
    let account = live(store.account(holder.account).await?)?;
    let (customer, created) = customer_for(gateway, holder, &account).await?;
    if created {
        let record = updated(&account, holder, now, |a| {
            a.customer = Some(customer.clone())
        });
        let write = Transaction::new().with(Write::Put {
            record: Record::Account(record),
            expect: expect_of(&account),
        });
        match store.commit(write).await {
            // A concurrent first call stored the same customer (creation is idempotent).
            Ok(()) | Err(StoreError::Conflict { .. }) => {}
            Err(other) => return Err(other.into()),
        }
    }
    Ok(gateway.create_setup_intent(&customer).await?)
}

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

/// Detaches a card we attached during a step that then failed. Best effort: the original
/// error is what the caller must see.
async fn release<G: PaymentGateway + ?Sized>(gateway: &G, card: &PaymentMethodId) {
    let _ = gateway.detach(card).await;
}

/// After the record write failed: makes the card that is on file *now* the default again and
/// detaches ours. Re-reading matters twice over: a concurrent request may have put its card on
/// file meanwhile (restoring the card we read first would undo it), and a write that reported
/// failure may in fact have applied (then ours is on file and must stay). Best effort: the
/// write's error is what the caller sees.
async fn restore_default<S, G>(
    store: &S,
    gateway: &G,
    account: &AccountId,
    customer: &CustomerId,
    read_first: Option<&StoredCard>,
    ours: &PaymentMethodId,
) where
    S: Store + ?Sized,
    G: PaymentGateway + ?Sized,
{
    let on_file = match store.account(account).await {
        Ok(now) => now.and_then(|a| a.value.card),
        Err(_) => read_first.cloned(),
    };
    match on_file {
        Some(card) if card.payment_method == *ours => {}
        Some(card) => {
            let _ = gateway.set_default(customer, &card.payment_method).await;
            release(gateway, ours).await;
        }
        None => release(gateway, ours).await,
    }
}

/// `PUT /v1/billing/card`: adds or replaces the card on file.
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
    let account = live(store.account(holder.account).await?)?;
    let current = account.as_ref().and_then(|a| a.value.card.clone());
    let method = match gateway.payment_method(requested).await {
        Err(GatewayError::NotFound(_)) => return Err(UseCaseError::PaymentMethodNotFound),
        other => other?,
    };
    let known_customer = account.as_ref().and_then(|a| a.value.customer.clone());
    if let Some(owner) = &method.customer {
        // Someone else's card is treated as unknown: its existence is not ours to reveal.
        if known_customer.as_ref() != Some(owner) {
            return Err(UseCaseError::PaymentMethodNotFound);
        }
    }

    if let Some(on_file) = &current
        && on_file.fingerprint == method.card.fingerprint
    {
        // The card on file again: nothing changes. A duplicate attached by a SetupIntent is
        // detached so that only one copy of the card stays on the customer.
        if method.customer.is_some() && method.id != on_file.payment_method {
            release(gateway, &method.id).await;
        }
        return Ok(CardSet {
            card: on_file.clone(),
            changed: false,
            old_card_left_attached: None,
        });
    }

    // Refuse without attaching what is already known to fail.
    let facts = method.card.facts();
    match facts.funding {
        Funding::Prepaid => return Err(CardRefusal::PrepaidNotSupported.into()),
        Funding::Unknown => return Err(CardRefusal::FundingUnsupported.into()),
        Funding::Credit | Funding::Debit => {}
    }
    if is_expired(facts.exp_month, facts.exp_year, now.date_naive()) {
        return Err(CardRefusal::Expired.into());
    }

    let (customer, _) = customer_for(gateway, holder, &account).await?;
    let attached = if method.customer.is_some() {
        method
    } else {
        gateway.attach(&method.id, &customer).await?
    };
    if let Err(refusal) = accept_card(&attached.card.facts(), now.date_naive()) {
        release(gateway, &attached.id).await;
        return Err(refusal.into());
    }

    if let Err(error) = gateway.set_default(&customer, &attached.id).await {
        release(gateway, &attached.id).await;
        return Err(error.into());
    }

    let card = stored_card(&attached);
    let record = updated(&account, holder, now, |a| {
        a.customer = Some(customer.clone());
        a.card = Some(card.clone());
    });
    let write = Transaction::new().with(Write::Put {
        record: Record::Account(record),
        expect: expect_of(&account),
    });
    if let Err(error) = store.commit(write).await {
        restore_default(
            store,
            gateway,
            holder.account,
            &customer,
            current.as_ref(),
            &attached.id,
        )
        .await;
        return Err(error.into());
    }

    let old_card_left_attached = match &current {
        Some(old) if old.payment_method != card.payment_method => gateway
            .detach(&old.payment_method)
            .await
            .err()
            .map(|_| old.payment_method.clone()),
        _ => None,
    };
    Ok(CardSet {
        card,
        changed: true,
        old_card_left_attached,
    })
}
