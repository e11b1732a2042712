//! Card on file: SetupIntents, add/replace, and the refusal to remove (Behaviour 1–2).
//!
//! A replace runs in this order, and every step that can fail leaves exactly one usable
//! default card:
//!
//! 1. read the account (store call 1) and the PaymentMethod (gateway call 1); the card on file
//!    again (same fingerprint *and* expiry) is a no-op, while a reissued card (same number, new
//!    expiry) replaces it;
//! 2. refuse what the acceptance rule can already refuse (funding, expiry) before attaching;
//!    a card a SetupIntent already attached is detached;
//! 3. attach it to the account's customer unless it already is (gateway call 2), which is when
//!    the issuer verifies it and may decline; a PaymentMethod that can no longer be attached
//!    (detached earlier, e.g. by the clean-up of a failed attempt) is `payment_method_not_found`,
//!    and the user enters the card again;
//! 4. run the full acceptance rule on what the network reports; a refused card is detached;
//! 5. record it with a version-conditioned write (store call 2); when it loses to a concurrent
//!    write the new card is detached, and nothing else was touched (a write that reports a
//!    failure but applied is recognised by a re-read and carries on; if the account cannot be
//!    re-read, nothing is detached);
//! 6. make it the customer's default (gateway call 3); on failure the account is put back as it
//!    was (only if nothing changed it since) and the new card detached;
//! 7. detach the old card (gateway call 4); on failure it stays attached but is no longer the
//!    default, and [`CardSet::old_card_left_attached`] names it for the caller to log.
//!
//! Concurrent requests for one account: only the request whose conditional write lands goes
//! on to touch the customer's default; the others detach the card they attached and answer
//! `concurrent_update`. One window remains between two requests that *both* succeed in turn:
//! if the earlier one's "make default" lands after the later one's and before the later one
//! detaches the earlier card, the network clears the default when that card is detached. The
//! default is then unset, never another card; the card on file stays attached, and charges
//! name it explicitly. Closing the window needs a per-account lease, one more store write
//! per replace; the next replace sets the default again.

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
    let customer = recorded_customer(store, gateway, holder, now).await?;
    Ok(gateway.create_setup_intent(&customer).await?)
}

/// The account's customer, created and recorded on first need. Any concurrent write to the
/// account (another first call, or usage creating the record without a customer) makes it read
/// again and retry; creation is idempotent per account, so every round agrees on one customer.
async fn recorded_customer<S, G>(
    store: &S,
    gateway: &G,
    holder: &Holder<'_>,
    now: DateTime<Utc>,
) -> Result<CustomerId, UseCaseError>
where
    S: Store + ?Sized,
    G: PaymentGateway + ?Sized,
{
    for _ in 0..3 {
        let account = live(store.account(holder.account).await?)?;
        let (customer, created) = customer_for(gateway, holder, &account).await?;
        if !created {
            return Ok(customer);
        }
        let record = updated(&account, holder, now, |a| {
            a.customer = Some(customer.clone())
        });
        let write = Transaction::new().with(Write::Put {
            record: Record::Account(record),
            expect: expect_of(&account),
        });
        match store.commit(write).await {
            Ok(()) => return Ok(customer),
            Err(StoreError::Conflict { .. }) => continue,
            Err(other) => return Err(other.into()),
        }
    }
    Err(
        StoreError::Unavailable("the account kept changing while its customer was recorded".into())
            .into(),
    )
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

/// The card on file again: the same number (fingerprint) *and* the same expiry. A reissued
/// card keeps its number but not its expiry, and must replace the one on file.
fn is_same_card(on_file: &StoredCard, method: &PaymentMethod) -> bool {
    on_file.fingerprint == method.card.fingerprint
        && (on_file.exp_month, on_file.exp_year) == (method.card.exp_month, method.card.exp_year)
}

/// The part of the acceptance rule that needs no verification by the issuer.
fn refuse_before_attach(method: &PaymentMethod, now: DateTime<Utc>) -> Result<(), CardRefusal> {
    let facts = method.card.facts();
    match facts.funding {
        Funding::Prepaid => Err(CardRefusal::PrepaidNotSupported),
        Funding::Unknown => Err(CardRefusal::FundingUnsupported),
        Funding::Credit | Funding::Debit
            if is_expired(facts.exp_month, facts.exp_year, now.date_naive()) =>
        {
            Err(CardRefusal::Expired)
        }
        Funding::Credit | Funding::Debit => Ok(()),
    }
}

/// Detaches a card we attached during a step that then failed. Best effort: the original
/// error is what the caller must see.
async fn release<G: PaymentGateway + ?Sized>(gateway: &G, card: &PaymentMethodId) {
    let _ = gateway.detach(card).await;
}

/// Whether our card is on file after a record write reported a failure.
enum Written {
    /// It is, at this version: the write applied after all.
    Yes(u64),
    /// It is not: someone else's write won.
    No,
    /// The account could not be read.
    Unknown,
}

async fn confirm_written<S: Store + ?Sized>(
    store: &S,
    account: &AccountId,
    ours: &PaymentMethodId,
) -> Written {
    match store.account(account).await {
        Ok(Some(now))
            if now
                .value
                .card
                .as_ref()
                .is_some_and(|c| c.payment_method == *ours) =>
        {
            Written::Yes(now.version)
        }
        Ok(_) => Written::No,
        Err(_) => Written::Unknown,
    }
}

/// Making the new card the default failed after it was recorded: put back `previous` (the
/// account as it was, keeping its customer) if nothing changed the account since, and detach
/// the new card. Returns false when something did change it: a later replace has taken over
/// (and detaching its old card, ours, is that replace's business), so the caller reports a
/// concurrent update rather than the default's failure.
async fn roll_back<S, G>(
    store: &S,
    gateway: &G,
    previous: Account,
    written_version: u64,
    ours: &PaymentMethodId,
) -> bool
where
    S: Store + ?Sized,
    G: PaymentGateway + ?Sized,
{
    let write = Transaction::new().with(Write::Put {
        record: Record::Account(previous),
        expect: Expect::Version(written_version),
    });
    match store.commit(write).await {
        Ok(()) => {
            release(gateway, ours).await;
            true
        }
        Err(StoreError::Conflict { .. }) => false,
        // Unknown: leave the card attached; the default's error is what the caller sees.
        Err(_) => true,
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
        && is_same_card(on_file, &method)
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

    // Refuse without attaching what is already known to fail. A card a SetupIntent already
    // attached to this customer is detached, like any refused card.
    if let Err(refusal) = refuse_before_attach(&method, now) {
        if method.customer.is_some() {
            release(gateway, &method.id).await;
        }
        return Err(refusal.into());
    }

    let (customer, _) = customer_for(gateway, holder, &account).await?;
    let attached = if method.customer.is_some() {
        method
    } else {
        match gateway.attach(&method.id, &customer).await {
            // Stripe refuses to attach a PaymentMethod that was detached (for instance by the
            // clean-up of an earlier failed attempt) or taken by another customer meanwhile:
            // it can never be used again, and the user must enter the card again.
            Err(GatewayError::Invalid(_) | GatewayError::NotFound(_)) => {
                return Err(UseCaseError::PaymentMethodNotFound);
            }
            other => other?,
        }
    };
    if let Err(refusal) = accept_card(&attached.card.facts(), now.date_naive()) {
        release(gateway, &attached.id).await;
        return Err(refusal.into());
    }

    // Record first, then make it the default: of concurrent requests only the one whose
    // conditional write lands goes on to touch the customer's default, so a losing request
    // never has a default to undo (undoing it raced with later replaces).
    let card = stored_card(&attached);
    let record = updated(&account, holder, now, |a| {
        a.customer = Some(customer.clone());
        a.card = Some(card.clone());
    });
    let write = Transaction::new().with(Write::Put {
        record: Record::Account(record),
        expect: expect_of(&account),
    });
    let written_version = match store.commit(write).await {
        Ok(()) => account.as_ref().map_or(1, |a| a.version + 1),
        Err(error) => match confirm_written(store, holder.account, &attached.id).await {
            // The write reported a failure but did apply (a lost response, retried).
            Written::Yes(version) => version,
            Written::No => {
                release(gateway, &attached.id).await;
                return Err(error.into());
            }
            // Unknown: detaching could remove the card on file, so leave both attached.
            Written::Unknown => return Err(error.into()),
        },
    };

    if let Err(error) = gateway.set_default(&customer, &attached.id).await {
        let previous = updated(&account, holder, now, |a| {
            a.customer = Some(customer.clone())
        });
        if !roll_back(store, gateway, previous, written_version, &attached.id).await {
            return Err(StoreError::Conflict { index: 0 }.into());
        }
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
