//! The receipt of a settled purchase: sent once per purchase, by whoever claimed it.
//!
//! The transaction that settles a purchase also claims its receipt (`Receipt::Sending`), so of
//! any number of concurrent settlers exactly one sends. After sending, the purchase is marked
//! `Sent`. A sender that dies between the two leaves the claim; once it is older than
//! [`Receipt::CLAIM_TIMEOUT`], the next visitor (a webhook, the sweep, the next purchase) takes
//! it over and sends. So a receipt is never lost; it is sent twice only if a sender dies after
//! the mail provider accepted the message and before the mark was written.

use chrono::{DateTime, Utc};

use super::Ports;
use super::settle::{Known, slot_version_of};
use crate::domain::ids::EmailAddress;
use crate::domain::purchase::{Purchase, PurchaseSlot, Receipt};
use crate::ports::mailer::Email;
use crate::ports::store::{
    AccountStore, Expect, PurchaseStore, Record, StoreError, Transaction, Versioned, Write,
};
use crate::usecases::error::UseCaseError;

/// The receipt for a succeeded purchase.
pub fn receipt_email(to: EmailAddress, purchase: &Purchase) -> Email {
    let amount = format!(
        "{} {}",
        purchase.amount.format_major(),
        purchase.currency.code().to_uppercase()
    );
    let date = purchase.updated_at.format("%-d %B %Y, %H:%M UTC");
    let id = &purchase.id;
    Email {
        to,
        subject: format!("Receipt: {amount} of credits"),
        text: format!(
            "Thank you. {amount} of credits were added to your balance.\n\n\
             Purchase: {id}\nAmount: {amount}\nPaid: {date}\n\n\
             Credits pay for your usage first; what they do not cover is charged on the 3rd of each month.\n"
        ),
        html: format!(
            "<!doctype html><html><body style=\"font-family:sans-serif\">\
             <h1>Receipt</h1><p>Thank you. <strong>{amount}</strong> of credits were added to your balance.</p>\
             <table><tr><td>Purchase</td><td>{id}</td></tr><tr><td>Amount</td><td>{amount}</td></tr>\
             <tr><td>Paid</td><td>{date}</td></tr></table>\
             <p>Credits pay for your usage first; what they do not cover is charged on the 3rd of each month.</p>\
             </body></html>"
        ),
    }
}

/// Sends the receipt a settling transaction just claimed, then marks it sent; returns the
/// purchase as marked. Failures are logged and leave the claim, which a later visitor takes
/// over: the purchase itself is settled either way.
pub(super) async fn send_claimed_receipt(
    ports: Ports<'_>,
    claimed: Known,
    now: DateTime<Utc>,
) -> Option<Purchase> {
    let id = claimed.purchase.as_ref().map(|p| p.value.id.clone());
    match send_and_mark(ports, claimed, now).await {
        Ok(marked) => marked,
        Err(error) => {
            tracing::warn!(purchase = ?id, %error, "receipt not sent yet; it will be sent again");
            None
        }
    }
}

/// Takes over a claim to send the receipt that is older than [`Receipt::CLAIM_TIMEOUT`] and
/// sends it. Does nothing for a receipt not owed, sent, or claimed recently.
pub(super) async fn finish_receipt(
    ports: Ports<'_>,
    current: Versioned<Purchase>,
    now: DateTime<Utc>,
) {
    let Receipt::Sending { since } = current.value.receipt else {
        return;
    };
    if now - since < Receipt::CLAIM_TIMEOUT {
        return;
    }
    let mut claimed = current.value.clone();
    claimed.receipt = Receipt::Sending { since: now };
    let claim = Transaction::new().with(Write::Put {
        record: Record::Purchase(claimed.clone()),
        expect: Expect::Version(current.version),
    });
    match ports.store.commit(claim).await {
        Ok(()) => {
            let claimed = Known {
                purchase: Some(Versioned {
                    value: claimed,
                    version: current.version + 1,
                }),
                ..Known::default()
            };
            send_claimed_receipt(ports, claimed, now).await;
        }
        Err(StoreError::Conflict { .. }) => {}
        Err(error) => {
            tracing::warn!(purchase = %current.value.id, %error, "cannot claim the receipt")
        }
    }
}

async fn send_and_mark(
    ports: Ports<'_>,
    mut claimed: Known,
    now: DateTime<Utc>,
) -> Result<Option<Purchase>, UseCaseError> {
    let Some(purchase) = claimed.purchase.take() else {
        return Ok(None);
    };
    let email = match claimed.email.take() {
        Some(known) => known,
        None => ports
            .store
            .account(&purchase.value.account)
            .await?
            .and_then(|a| a.value.email),
    };
    match email {
        Some(to) => {
            ports
                .mailer
                .send(&receipt_email(to, &purchase.value))
                .await?
        }
        None => {
            tracing::info!(purchase = %purchase.value.id, "no e-mail address on file; receipt not sent");
        }
    }
    mark_sent(ports, purchase, claimed.slot_version, now).await
}

/// Marks the receipt sent, if the claim is still the one this sender holds; returns the
/// purchase as marked (`None` when someone else's claim replaced this one). The first attempt
/// uses the versions the sender knows; a failed condition reads them again.
async fn mark_sent(
    ports: Ports<'_>,
    sent: Versioned<Purchase>,
    slot_version: Option<u64>,
    now: DateTime<Utc>,
) -> Result<Option<Purchase>, UseCaseError> {
    let (account, id, claim) = (
        sent.value.account.clone(),
        sent.value.id.clone(),
        sent.value.receipt,
    );
    let mut known = Some((sent, slot_version));
    for _ in 0..super::ATTEMPTS {
        let (current, slot_version) = match known.take() {
            Some(known) => known,
            None => match ports.store.purchase(&account, &id).await? {
                Some(current) => (current, slot_version_of(ports, &account, &id).await?),
                None => return Ok(None),
            },
        };
        if current.value.receipt != claim {
            return Ok(None);
        }
        let mut done = current.value.clone();
        done.receipt = Receipt::Sent { at: now };
        let mut transaction = Transaction::new().with(Write::Put {
            record: Record::Purchase(done.clone()),
            expect: Expect::Version(current.version),
        });
        if let Some(version) = slot_version {
            transaction.push(Write::Put {
                record: Record::PurchaseSlot(PurchaseSlot::of(&done)),
                expect: Expect::Version(version),
            });
        }
        match ports.store.commit(transaction).await {
            Ok(()) => return Ok(Some(done)),
            Err(StoreError::Conflict { .. }) => continue,
            Err(error) => return Err(error.into()),
        }
    }
    Err(UseCaseError::ConcurrentUpdate)
}
