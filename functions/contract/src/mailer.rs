//! The mailer contract.

use std::sync::Arc;

use async_trait::async_trait;
use billing_core::EmailAddress;
use billing_core::ports::mailer::{Email, Mailer};

/// What a test can see of a sent message (SES stand-ins may keep only the HTML part).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// Recipient.
    pub to: String,
    /// Subject.
    pub subject: String,
    /// The HTML part.
    pub html: String,
}

/// Reads what an adapter delivered.
#[async_trait]
pub trait MailInspector: Send + Sync {
    /// Every message delivered so far.
    async fn delivered(&self) -> Vec<Delivered>;
}

/// A mailer and its inspector, as the cases take them.
pub type MailHarness = (Arc<dyn Mailer>, Arc<dyn MailInspector>);

fn email(to: &str, subject: &str) -> Email {
    Email {
        to: EmailAddress::parse(to).unwrap(),
        subject: subject.to_owned(),
        text: format!("{subject}\n\nText part."),
        html: format!("<p>{subject}</p><p>HTML part.</p>"),
    }
}

/// A sent message is delivered with its subject and HTML part.
pub async fn a_sent_message_is_delivered_with_its_parts((mailer, inspector): MailHarness) {
    let to = format!("{}@example.com", crate::unique_account("mail"));
    mailer.send(&email(&to, "Your receipt")).await.unwrap();
    let delivered: Vec<_> = inspector
        .delivered()
        .await
        .into_iter()
        .filter(|d| d.to == to)
        .collect();
    assert_eq!(delivered.len(), 1, "{delivered:?}");
    assert_eq!(delivered[0].subject, "Your receipt");
    assert!(delivered[0].html.contains("HTML part."));
}

/// Two sends are two messages (dedup by occasion is the caller's job, not the mailer's).
pub async fn each_send_is_one_message((mailer, inspector): MailHarness) {
    let to = format!("{}@example.com", crate::unique_account("mail2"));
    mailer.send(&email(&to, "First")).await.unwrap();
    mailer.send(&email(&to, "Second")).await.unwrap();
    let mut subjects: Vec<_> = inspector
        .delivered()
        .await
        .into_iter()
        .filter(|d| d.to == to)
        .map(|d| d.subject)
        .collect();
    subjects.sort();
    assert_eq!(subjects, ["First", "Second"]);
}

/// Stamps out the mailer contract. `$make` is an async fn returning a [`MailHarness`].
#[macro_export]
macro_rules! mailer_contract {
    ($make:path) => {
        $crate::mailer_contract!(@cases $make; a_sent_message_is_delivered_with_its_parts, each_send_is_one_message);
    };
    (@cases $make:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                $crate::mailer::$case($make().await).await;
            }
        )*
    };
}
