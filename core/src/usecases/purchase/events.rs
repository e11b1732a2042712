//! A verified event from the card network (a Stripe webhook), handled once per event id.
//!
//! Events arrive at least once and in any order. Acting on one is idempotent by itself (a
//! purchase settles through the settlement rule; a card update writes the same details), and
//! each handled event is recorded under its account so that a delivery seen before is
//! acknowledged without acting again. Events about payments, customers or cards this system
//! does not know are acknowledged and ignored: the network must not retry them forever.

use chrono::{DateTime, Utc};

use super::Ports;
use super::settle::settle_purchase;
use crate::domain::account::AccountStatus;
use crate::domain::event::{NetworkEvent, NetworkEventKind, UpdatedCard};
use crate::domain::ids::{AccountId, InvoiceId, PaymentMethodId, PurchaseId};
use crate::domain::invoice::InvoiceStatus;
use crate::ports::gateway::{ChargeOutcome, GatewayError};
use crate::ports::links::AuthorizationLinks;
use crate::ports::store::{
    AccountStore, EventStore, Expect, HandledEvent, InvoiceStore, PurchaseStore, Record,
    StoreError, Transaction, Write,
};
use crate::rules::purchase::PurchaseStatus;
use crate::rules::retry::RetrySchedule;
use crate::usecases::error::UseCaseError;
use crate::usecases::invoice::{self, settle_invoice_payment};

/// What handling an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventHandled {
    /// Acted on.
    Applied,
    /// Seen before: nothing done.
    Duplicate,
    /// Nothing to do, and why.
    Ignored(&'static str),
}

/// Handles one verified event. Errors are for the network to deliver it again later (a
/// dependency was down); everything else is an answer.
pub async fn handle_network_event(
    ports: Ports<'_>,
    links: &dyn AuthorizationLinks,
    event: &NetworkEvent,
    now: DateTime<Utc>,
) -> Result<EventHandled, UseCaseError> {
    let account = match &event.kind {
        NetworkEventKind::Ignored { .. } => return Ok(EventHandled::Ignored("event type")),
        NetworkEventKind::Payment {
            account: Some(account),
            reference: Some(reference),
            ..
        } => match Payee::parse(reference) {
            Some(_) => account.clone(),
            None => return Ok(EventHandled::Ignored("not a credit purchase or an invoice")),
        },
        NetworkEventKind::Payment { .. } => {
            return Ok(EventHandled::Ignored("payment not made by this system"));
        }
        NetworkEventKind::CardUpdated {
            customer: Some(customer),
            ..
        } => match ports.gateway.customer_account(customer).await? {
            Some(account) => account,
            None => return Ok(EventHandled::Ignored("unknown customer")),
        },
        NetworkEventKind::CardUpdated { customer: None, .. } => {
            return Ok(EventHandled::Ignored("card of no customer"));
        }
    };
    // A deleted account's records are erased: news about its payments or cards is
    // acknowledged and nothing is written (not even that the event was seen).
    if crate::usecases::deletion::refuse_deleted(ports.store, &account)
        .await
        .is_err_and(|error| matches!(error, UseCaseError::AccountDeleted))
    {
        return Ok(EventHandled::Ignored("account deleted"));
    }
    if ports
        .store
        .handled_event(&account, &event.id)
        .await?
        .is_some()
    {
        return Ok(EventHandled::Duplicate);
    }
    let handled = match &event.kind {
        NetworkEventKind::Payment {
            reference: Some(reference),
            outcome,
            ..
        } => {
            let payee = Payee::parse(reference);
            let Some(outcome) = &confirmed(ports, &account, payee.as_ref(), outcome).await? else {
                remember(ports, &account, &event.id, now).await?;
                return Ok(EventHandled::Ignored("unknown payment"));
            };
            let settled = match payee {
                Some(Payee::Purchase(purchase)) => {
                    settle_purchase(ports, &account, &purchase, outcome, now)
                        .await
                        .map(drop)
                }
                Some(Payee::Invoice(invoice)) => {
                    let ports = invoice::Ports {
                        store: ports.store,
                        gateway: ports.gateway,
                        mailer: ports.mailer,
                        links,
                        // Events never create an invoice: each keeps the retries it was
                        // created with.
                        retries: &RetrySchedule::STANDARD,
                    };
                    settle_invoice_payment(ports, &account, &invoice, outcome, now)
                        .await
                        .map(drop)
                }
                None => unreachable!("answered above"),
            };
            match settled {
                Ok(()) => EventHandled::Applied,
                Err(UseCaseError::NotFound) => EventHandled::Ignored("unknown payment"),
                Err(error) => return Err(error),
            }
        }
        NetworkEventKind::CardUpdated {
            payment_method,
            card,
            ..
        } => update_card(ports, &account, payment_method, card).await?,
        _ => unreachable!("answered above"),
    };
    remember(ports, &account, &event.id, now).await?;
    Ok(handled)
}

/// The outcome to act on for an event that reports `reported` about `payee`'s payment. Money
/// is only ever counted as taken when the network says so when asked: a success is looked up
/// (one read of the payment) and the payment's state as the network holds it is acted on
/// instead, so a body that is stale, or forged by whoever holds the signing secret, credits
/// nothing. Not when the payee is paid already (the charge's own answer usually settles it
/// before its event comes): the event can change nothing then, and the monthly run's events
/// add no Stripe load. Other reports are acted on as they come: the settlement rule never
/// lets them undo a success. `None` when the network does not know the payment.
async fn confirmed(
    ports: Ports<'_>,
    account: &AccountId,
    payee: Option<&Payee>,
    reported: &ChargeOutcome,
) -> Result<Option<ChargeOutcome>, UseCaseError> {
    let ChargeOutcome::Succeeded { payment } = reported else {
        return Ok(Some(reported.clone()));
    };
    let paid = match payee {
        Some(Payee::Purchase(id)) => ports
            .store
            .purchase(account, id)
            .await?
            .is_some_and(|p| p.value.status == PurchaseStatus::Succeeded),
        Some(Payee::Invoice(id)) => ports
            .store
            .invoice(account, id)
            .await?
            .is_some_and(|i| i.value.status == InvoiceStatus::Paid),
        None => false,
    };
    if paid {
        return Ok(Some(reported.clone()));
    }
    match ports.gateway.charge_status(payment).await {
        Ok(current) => Ok(Some(current)),
        Err(GatewayError::NotFound(_)) => Ok(None),
        Err(error) => Err(error.into()),
    }
}

/// What a payment's `reference` metadata names.
enum Payee {
    Purchase(PurchaseId),
    Invoice(InvoiceId),
}

impl Payee {
    fn parse(reference: &str) -> Option<Self> {
        PurchaseId::parse(reference)
            .map(Self::Purchase)
            .or_else(|_| InvoiceId::parse(reference).map(Self::Invoice))
            .ok()
    }
}

/// The card updater's new details, on the card on file if it is that card.
async fn update_card(
    ports: Ports<'_>,
    account: &AccountId,
    payment_method: &PaymentMethodId,
    card: &UpdatedCard,
) -> Result<EventHandled, UseCaseError> {
    for _ in 0..super::ATTEMPTS {
        let Some(current) = ports.store.account(account).await? else {
            return Ok(EventHandled::Ignored("unknown account"));
        };
        let mut updated = current.value.clone();
        let Some(on_file) = updated.card.as_mut() else {
            return Ok(EventHandled::Ignored("no card on file"));
        };
        if updated.status != AccountStatus::Active || on_file.payment_method != *payment_method {
            return Ok(EventHandled::Ignored("not the card on file"));
        }
        on_file.brand.clone_from(&card.brand);
        on_file.last4.clone_from(&card.last4);
        on_file.exp_month = card.exp_month;
        on_file.exp_year = card.exp_year;
        if updated == current.value {
            return Ok(EventHandled::Applied);
        }
        let write = Transaction::new().with(Write::Put {
            record: Record::Account(updated),
            expect: Expect::Version(current.version),
        });
        match ports.store.commit(write).await {
            Ok(()) => {
                tracing::info!(%account, "card on file updated by the card updater");
                return Ok(EventHandled::Applied);
            }
            Err(StoreError::Conflict { .. }) => continue,
            Err(error) => return Err(error.into()),
        }
    }
    Err(UseCaseError::ConcurrentUpdate)
}

async fn remember(
    ports: Ports<'_>,
    account: &AccountId,
    event: &str,
    now: DateTime<Utc>,
) -> Result<(), UseCaseError> {
    let record = Record::Event(HandledEvent::new(account.clone(), event, now));
    let write = Transaction::new().with(Write::Put {
        record,
        expect: Expect::Any,
    });
    ports.store.commit(write).await.map_err(Into::into)
}
