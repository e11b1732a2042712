//! Step 4 of a deletion: the confirmation email, sent once to the address captured when the
//! deletion started; the address is erased once it is sent.
//!
//! The write that marks the account deleted claims the email. The request that made it sends
//! and then marks it sent (erasing the address). A request that died in between leaves the
//! claim; once it is older than [`Notice::CLAIM_TIMEOUT`], the next request takes it over. So
//! the confirmation is sent twice only if a sender dies after the mail provider accepted it
//! and before the mark was written.

use chrono::{DateTime, Utc};

use super::collect::advance;
use super::{Deleted, Ports};
use crate::domain::account::{Account, Deletion};
use crate::domain::ids::EmailAddress;
use crate::domain::invoice::Notice;
use crate::domain::money::Micros;
use crate::ports::mailer::Email;
use crate::ports::store::Versioned;
use crate::usecases::error::UseCaseError;

/// Sends the confirmation if this request holds its claim (`claimed`: its own write made it)
/// or takes over a stale one, and answers what the deletion did. A mail failure releases the
/// claim, so the next request sends at once, and is the answer (the deletion itself is done).
pub(super) async fn confirm(
    ports: Ports<'_>,
    mut current: Versioned<Account>,
    claimed: bool,
    now: DateTime<Utc>,
) -> Result<Deleted, UseCaseError> {
    let Some(deletion) = current.value.deletion.clone() else {
        // Deleted before deletions were recorded: nothing to tell.
        return Ok(Deleted {
            final_invoice: None,
            forfeited: Micros::ZERO,
            written_off: Micros::ZERO,
        });
    };
    let answer = Deleted {
        final_invoice: deletion.final_invoice.clone(),
        forfeited: deletion.forfeited,
        written_off: deletion.written_off,
    };
    let take_over = match deletion.notice {
        Notice::Sent | Notice::Unaddressed => return Ok(answer),
        Notice::Sending { .. } if claimed => false,
        Notice::Sending { since } if now - since < Notice::CLAIM_TIMEOUT => return Ok(answer),
        Notice::Sending { .. } | Notice::None => true,
    };
    if take_over {
        let before = current.version;
        current = advance(ports, current, |account| {
            let stale = account.deletion.as_ref().is_some_and(|d| match d.notice {
                Notice::None => true,
                Notice::Sending { since } => now - since >= Notice::CLAIM_TIMEOUT,
                Notice::Sent | Notice::Unaddressed => false,
            });
            if stale {
                set_notice(account, Notice::Sending { since: now });
            }
        })
        .await?;
        let ours = current.value.deletion.as_ref().map(|d| d.notice)
            == Some(Notice::Sending { since: now });
        if current.version == before || !ours {
            return Ok(answer);
        }
    }
    let Some(to) = deletion.email.clone() else {
        advance(ports, current, |account| {
            set_notice(account, Notice::Unaddressed)
        })
        .await?;
        return Ok(answer);
    };
    if let Err(error) = ports.mailer.send(&deletion_email(to, &deletion)).await {
        tracing::warn!(account = %current.value.id, %error, "deletion confirmation not sent; the next request sends it");
        advance(ports, current, |account| set_notice(account, Notice::None)).await?;
        return Err(error.into());
    }
    let marked = advance(ports, current, |account| {
        set_notice(account, Notice::Sent);
        if let Some(deletion) = account.deletion.as_mut() {
            deletion.email = None;
        }
    })
    .await;
    if let Err(error) = marked {
        tracing::warn!(%error, "deletion confirmation sent but not marked");
    }
    Ok(answer)
}

fn set_notice(account: &mut Account, notice: Notice) {
    if let Some(deletion) = account.deletion.as_mut() {
        deletion.notice = notice;
    }
}

/// The confirmation of a deletion: what was charged, forfeited and written off.
pub fn deletion_email(to: EmailAddress, deletion: &Deletion) -> Email {
    let usd = |amount: Micros| format!("{} USD", amount.whole_cents().format_major());
    let mut paragraphs = vec![
        "Your billing account has been deleted. Your card was removed and your personal data erased; invoices are kept, without personal data, as the law requires.".to_owned(),
    ];
    if let Some(invoice) = &deletion.final_invoice {
        paragraphs.push(format!(
            "Your usage not yet invoiced was charged on a final invoice ({invoice}), which is paid."
        ));
    }
    paragraphs.push(match deletion.forfeited.is_positive() {
        true => format!(
            "Credits left on your balance, {}, were forfeited.",
            usd(deletion.forfeited)
        ),
        false => "No credits were left on your balance.".to_owned(),
    });
    if deletion.written_off.is_positive() {
        paragraphs.push(format!(
            "An amount too small to charge, {}, was written off.",
            usd(deletion.written_off)
        ));
    }
    paragraphs.push("This is the last email you receive from us about billing.".to_owned());
    let text = paragraphs.join("\n\n") + "\n";
    let html: String = paragraphs.iter().map(|p| format!("<p>{p}</p>")).collect();
    Email {
        to,
        subject: "Your billing account has been deleted".to_owned(),
        text,
        html: format!(
            "<!doctype html><html><body style=\"font-family:sans-serif\"><h1>Account deleted</h1>{html}</body></html>"
        ),
    }
}
