//! The SES v2 mailer: one SendEmail with Simple content, a Text and an Html part, UTF-8.

use async_trait::async_trait;
use aws_sdk_sesv2::Client;
use aws_sdk_sesv2::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_sesv2::operation::send_email::SendEmailError;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use billing_core::ports::mailer::{Email, MailError, Mailer};

const UTF_8: &str = "UTF-8";

/// Sends through SES v2 from one verified sender.
#[derive(Debug, Clone)]
pub struct SesMailer {
    client: Client,
    from: String,
}

impl SesMailer {
    /// A mailer sending as `from` (an address or `Name <address>` of a verified identity).
    pub fn new(config: &aws_types::SdkConfig, from: impl Into<String>) -> Self {
        Self::from_client(Client::new(config), from)
    }

    /// A mailer with a client built by the caller.
    pub fn from_client(client: Client, from: impl Into<String>) -> Self {
        Self {
            client,
            from: from.into(),
        }
    }
}

fn utf8(data: &str) -> Result<Content, MailError> {
    Content::builder()
        .data(data)
        .charset(UTF_8)
        .build()
        .map_err(|e| MailError::Refused(format!("message content: {e}")))
}

/// Refusals are about this message or this sender and will not pass by retrying; the rest
/// may. Only SES's error code is kept: its messages can name the addresses involved
/// (`MessageRejected` quotes the identities that failed), and an address is personal data.
fn mail_error(
    error: SdkError<SendEmailError, aws_sdk_sesv2::config::http::HttpResponse>,
) -> MailError {
    let Some(service) = error.as_service_error() else {
        return MailError::Unavailable(format!("SendEmail: {}", DisplayErrorContext(&error)));
    };
    let message = format!("SendEmail: {}", service.code().unwrap_or("unknown error"));
    match service {
        SendEmailError::MessageRejected(_)
        | SendEmailError::MailFromDomainNotVerifiedException(_)
        | SendEmailError::BadRequestException(_)
        | SendEmailError::NotFoundException(_)
        | SendEmailError::AccountSuspendedException(_)
        | SendEmailError::SendingPausedException(_) => MailError::Refused(message),
        SendEmailError::TooManyRequestsException(_) | SendEmailError::LimitExceededException(_) => {
            MailError::Unavailable(message)
        }
        // Non-exhaustive: an error code this SDK version does not know.
        _ => MailError::Unavailable(message),
    }
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send(&self, email: &Email) -> Result<(), MailError> {
        let message = Message::builder()
            .subject(utf8(&email.subject)?)
            .body(
                Body::builder()
                    .text(utf8(&email.text)?)
                    .html(utf8(&email.html)?)
                    .build(),
            )
            .build();
        let sent = self
            .client
            .send_email()
            .from_email_address(&self.from)
            .destination(
                Destination::builder()
                    .to_addresses(email.to.as_str())
                    .build(),
            )
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await;
        match sent {
            Ok(output) => {
                tracing::debug!(message_id = output.message_id(), "e-mail sent");
                Ok(())
            }
            Err(error) => {
                let error = mail_error(error);
                tracing::warn!(%error, "e-mail not sent");
                Err(error)
            }
        }
    }
}
