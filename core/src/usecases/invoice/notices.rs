//! The emails an invoice's attempts owe: a receipt, an authorization link, a decline notice,
//! a request for a card. Each is claimed by the write that recorded its outcome
//! ([`Notice::Sending`]), sent by that writer, then marked [`Notice::Sent`]. A writer that dies
//! in between leaves the claim; once older than [`Notice::CLAIM_TIMEOUT`], the next visitor
//! (the charge run again, the page, an event, the sweep) takes it over.

use chrono::{DateTime, Utc};

use super::Ports;
use crate::domain::account::Account;
use crate::domain::ids::EmailAddress;
use crate::domain::invoice::{AttemptOutcome, ChargeAttempt, Invoice, InvoiceStatus, Notice};
use crate::ports::links::INVOICE_LINK_VALIDITY;
use crate::ports::mailer::Email;
use crate::ports::store::{
    AccountStore, Expect, Record, StoreError, Transaction, Versioned, Write,
};
use crate::rules::decline::{Advice, RetryPolicy, decline_advice};
use crate::usecases::error::UseCaseError;

/// The troubleshooting list of PRODUCT.md, for the emails about a failed payment.
mod check {
    pub const DETAILS: &str =
        "the card is active and unexpired, and its details (CVC, billing address) are correct";
    pub const FUNDS: &str = "funds are available on the card";
    pub const AUTHORIZATION: &str = "you approved your bank's notification, if it sent one";
    pub const CARD_KIND: &str = "it is a credit or debit card (prepaid cards are not supported)";
    pub const LIMITS: &str = "your bank has set no spending limit or block on the card";
    pub const ALL: [&str; 5] = [DETAILS, FUNDS, AUTHORIZATION, CARD_KIND, LIMITS];
}

/// The troubleshooting items that fit a decline's advice: the one it points to, or the whole
/// list when the bank said nothing more specific.
fn checks(advice: Advice) -> &'static [&'static str] {
    match advice {
        Advice::Funds => &[check::FUNDS],
        Advice::BankAuthorization => &[check::AUTHORIZATION],
        Advice::CheckDetails | Advice::CheckCvc | Advice::CheckAddress | Advice::CardInactive => {
            &[check::DETAILS]
        }
        Advice::BankLimits => &[check::LIMITS, check::FUNDS],
        Advice::UseAnotherCard => &[check::CARD_KIND, check::DETAILS],
        Advice::TryLater | Advice::Generic => &check::ALL,
    }
}

/// Sends the email of the latest attempt if this visitor holds its claim (claimed at
/// `claimed_at` by the write just made), or takes over a claim older than the timeout; then
/// marks it sent. `account` is the account record when the caller has read it (its address is
/// used; otherwise it is read). Failures are logged and leave the claim for a later visitor:
/// the invoice itself is recorded either way. Returns the invoice as it stands afterwards.
pub(super) async fn deliver(
    ports: Ports<'_>,
    mut current: Versioned<Invoice>,
    claimed_at: Option<DateTime<Utc>>,
    account: Option<&Account>,
    now: DateTime<Utc>,
) -> Invoice {
    let Some(Notice::Sending { since }) = current.value.latest().map(|a| a.notice) else {
        return current.value;
    };
    if claimed_at != Some(since) {
        if now - since < Notice::CLAIM_TIMEOUT {
            return current.value;
        }
        match set_notice(ports, &current, Notice::Sending { since: now }).await {
            Ok(Some(taken)) => current = taken,
            Ok(None) => return current.value,
            Err(error) => {
                tracing::warn!(invoice = %current.value.id, %error, "cannot take over the invoice's email");
                return current.value;
            }
        }
    }
    let sent = match send(ports, &current.value, account, now).await {
        Ok(true) => Notice::Sent,
        Ok(false) => Notice::Unaddressed,
        Err(error) => {
            tracing::warn!(invoice = %current.value.id, %error, "invoice email not sent yet; it will be sent again");
            return current.value;
        }
    };
    match set_notice(ports, &current, sent).await {
        Ok(Some(marked)) => marked.value,
        Ok(None) => current.value,
        Err(error) => {
            tracing::warn!(invoice = %current.value.id, %error, "invoice email sent but not marked");
            current.value
        }
    }
}

/// Writes the latest attempt's notice, on the version read; `None` when someone else changed
/// the invoice first (they act on it from then on).
async fn set_notice(
    ports: Ports<'_>,
    current: &Versioned<Invoice>,
    notice: Notice,
) -> Result<Option<Versioned<Invoice>>, UseCaseError> {
    let mut next = current.value.clone();
    if let Some(latest) = next.attempts.last_mut() {
        latest.notice = notice;
    }
    let write = Transaction::new().with(Write::Put {
        record: Record::Invoice(next.clone()),
        expect: Expect::Version(current.version),
    });
    match ports.store.commit(write).await {
        Ok(()) => Ok(Some(Versioned {
            value: next,
            version: current.version + 1,
        })),
        Err(StoreError::Conflict { .. }) => Ok(None),
        Err(error) => Err(error.into()),
    }
}

/// Sends the latest attempt's email; `false` when the account has no address to send to.
async fn send(
    ports: Ports<'_>,
    invoice: &Invoice,
    account: Option<&Account>,
    now: DateTime<Utc>,
) -> Result<bool, UseCaseError> {
    let Some(attempt) = invoice.latest() else {
        return Ok(true);
    };
    let to = match account {
        Some(known) => known.email.clone(),
        None => ports
            .store
            .account(&invoice.account)
            .await?
            .and_then(|a| a.value.email),
    };
    let Some(to) = to else {
        tracing::warn!(invoice = %invoice.id, account = %invoice.account, "no address for the invoice's email");
        return Ok(false);
    };
    let link = (attempt.outcome == AttemptOutcome::RequiresAuthorization).then(|| {
        ports
            .links
            .invoice(&invoice.account, &invoice.id, now + INVOICE_LINK_VALIDITY)
    });
    let email = invoice_email(to, invoice, attempt, link.as_deref());
    ports.mailer.send(&email).await?;
    Ok(true)
}

/// The email an attempt's outcome owes (see the module docs); `link` is the authorization
/// page, for an attempt that waits for it.
pub fn invoice_email(
    to: EmailAddress,
    invoice: &Invoice,
    attempt: &ChargeAttempt,
    link: Option<&str>,
) -> Email {
    let month = invoice.period.start().format("%B %Y");
    let amount = format!(
        "{} {}",
        invoice.amount_due.format_major(),
        invoice.currency.code().to_uppercase()
    );
    let id = &invoice.id;
    let (subject, paragraphs): (String, Vec<String>) = match attempt.outcome {
        AttemptOutcome::Succeeded => (
            format!("Receipt: your {month} invoice is paid"),
            vec![format!(
                "Thank you. {amount} for your usage in {month} was charged to your card on file. Invoice {id} is paid."
            )],
        ),
        AttemptOutcome::RequiresAuthorization => (
            format!("Action needed: authorize the payment of your {month} invoice"),
            vec![
                format!("Your bank needs you to authorize the payment of {amount} for your usage in {month} (invoice {id})."),
                format!("Open this link to authorize it: {}", link.unwrap_or("your billing dashboard")),
                "Until it is authorized, your account is past due.".to_owned(),
            ],
        ),
        AttemptOutcome::CardRequired => (
            format!("Add a card to pay your {month} invoice"),
            vec![
                format!("We could not charge {amount} for your usage in {month} (invoice {id}): there is no usable card on file."),
                "Add a credit or debit card in your billing dashboard; the invoice is charged as soon as you do. Until then, your account is past due.".to_owned(),
            ],
        ),
        AttemptOutcome::Declined | AttemptOutcome::Pending | AttemptOutcome::Processing => {
            let advice = decline_advice(attempt.decline_code.as_deref());
            let next = match (invoice.status, invoice.next_payment_attempt) {
                (InvoiceStatus::Uncollectible, _) => format!(
                    "We tried the card {} times and will not try it again: the invoice is marked uncollectible, and it is still owed. Add another credit or debit card in your billing dashboard and it is charged at once.",
                    invoice.attempts.len()
                ),
                (_, Some(at)) => format!(
                    "We will try the card again on {}. Adding another card in your billing dashboard charges the invoice at once.",
                    at.format("%B %-d, %Y")
                ),
                (_, None) if advice.retry == RetryPolicy::AfterAuthentication => "This card will not be charged again without your bank's authorization: add another credit or debit card in your billing dashboard and the invoice is charged at once.".to_owned(),
                (_, None) => "This card will not be charged again: add another credit or debit card in your billing dashboard and the invoice is charged at once.".to_owned(),
            };
            let checks = checks(advice.advice)
                .iter()
                .map(|item| format!("- {item}"))
                .collect::<Vec<_>>()
                .join("\n");
            let subject = match invoice.status {
                InvoiceStatus::Uncollectible => {
                    format!("Payment failed: your {month} invoice is uncollectible")
                }
                _ => format!("Payment failed for your {month} invoice"),
            };
            (
                subject,
                vec![
                    format!("We could not charge {amount} for your usage in {month} (invoice {id}). Reason: {} ({}).", advice.message(), advice.code),
                    format!("Please check that:\n{checks}"),
                    next,
                    "Until it is paid, your account is past due.".to_owned(),
                ],
            )
        }
    };
    let text = paragraphs.join("\n\n") + "\n";
    let html_body: String = paragraphs
        .iter()
        .map(|p| format!("<p>{}</p>", html_escape(p).replace('\n', "<br>")))
        .collect();
    let html_link = link
        .map(|url| {
            format!(
                "<p><a href=\"{}\">Authorize the payment</a></p>",
                html_escape(url)
            )
        })
        .unwrap_or_default();
    Email {
        to,
        subject,
        text,
        html: format!(
            "<!doctype html><html><body style=\"font-family:sans-serif\"><h1>Invoice {id}</h1>{html_body}{html_link}</body></html>"
        ),
    }
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
