//! The outbox mailer: every e-mail becomes one JSON file in the outbox folder.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use billing_core::ports::clock::Clock;
use billing_core::ports::mailer::{Email, MailError, Mailer};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::group::GroupWriter;

/// One message as written to the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxMessage {
    /// Recipient.
    pub to: String,
    /// Subject.
    pub subject: String,
    /// Text part.
    pub text: String,
    /// HTML part.
    pub html: String,
    /// When it was sent (by the local clock).
    pub sent_at: DateTime<Utc>,
}

/// A message file to write: its temporary path, its final path, its bytes.
type MessageFile = (PathBuf, PathBuf, Vec<u8>);

/// Writes e-mails to a folder instead of sending them.
#[derive(Clone)]
pub struct OutboxMailer {
    dir: PathBuf,
    clock: Arc<dyn Clock>,
    sequence: Arc<AtomicU64>,
    /// One thread writes the files, one after another: creating files in one folder from many
    /// threads at once mostly spins on the folder's lock.
    writer: Arc<GroupWriter<MessageFile, std::io::Result<()>>>,
}

impl OutboxMailer {
    /// Uses (and creates) `dir`.
    pub fn open(dir: &Path, clock: Arc<dyn Clock>) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let existing = std::fs::read_dir(dir)?.count() as u64;
        let writer = GroupWriter::start("outbox-writer", |files: &[MessageFile]| {
            files
                .iter()
                .map(|(temp_path, final_path, bytes)| {
                    // Write then rename, so a reader never sees half a message.
                    std::fs::write(temp_path, bytes)?;
                    std::fs::rename(temp_path, final_path)
                })
                .collect()
        })?;
        Ok(Self {
            dir: dir.to_owned(),
            clock,
            sequence: Arc::new(AtomicU64::new(existing)),
            writer: Arc::new(writer),
        })
    }

    /// Every message sent, newest first.
    pub fn messages(&self) -> std::io::Result<Vec<OutboxMessage>> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.dir)?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
            .collect();
        // Names start with a zero-padded sequence number, so name order is send order.
        files.sort_unstable_by(|a, b| b.cmp(a));
        files
            .iter()
            .map(|path| {
                let bytes = std::fs::read(path)?;
                serde_json::from_slice(&bytes).map_err(std::io::Error::other)
            })
            .collect()
    }
}

#[async_trait]
impl Mailer for OutboxMailer {
    async fn send(&self, email: &Email) -> Result<(), MailError> {
        let message = OutboxMessage {
            to: email.to.to_string(),
            subject: email.subject.clone(),
            text: email.text.clone(),
            html: email.html.clone(),
            sent_at: self.clock.now(),
        };
        let n = self.sequence.fetch_add(1, Ordering::SeqCst) + 1;
        let bytes =
            serde_json::to_vec_pretty(&message).map_err(|e| MailError::Refused(e.to_string()))?;
        let final_path = self.dir.join(format!("{n:012}.json"));
        let temp_path = self.dir.join(format!(".{n:012}.tmp"));
        // No fsync, as before: the outbox is the local stand-in for a mail provider, and a
        // power cut losing the last messages in the page cache is acceptable there (an fsync
        // per message would cost more than the rest of a monthly charge).
        self.writer
            .submit((temp_path, final_path, bytes))
            .await
            .unwrap_or_else(|| Err(std::io::Error::other("the outbox writer stopped")))
            .map_err(|e| MailError::Unavailable(e.to_string()))
    }
}
