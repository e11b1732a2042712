//! The mailer port.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::domain::ids::EmailAddress;

/// An e-mail with an HTML and a text part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Email {
    /// Recipient.
    pub to: EmailAddress,
    /// Subject line.
    pub subject: String,
    /// Plain-text part.
    pub text: String,
    /// HTML part.
    pub html: String,
}

/// Mail failures.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MailError {
    /// The provider refused the message (bad address, unverified sender…).
    #[error("message refused: {0}")]
    Refused(String),
    /// The provider could not be reached; the same call may succeed later.
    #[error("mail unavailable: {0}")]
    Unavailable(String),
}

/// The mailer port. "Once per occasion" is the caller's business: it claims the occasion in
/// the store before sending.
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Sends one message.
    async fn send(&self, email: &Email) -> Result<(), MailError>;
}
