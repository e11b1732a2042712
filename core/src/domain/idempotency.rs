//! Stored records of requests made with an `Idempotency-Key`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::ids::{AccountId, IdempotencyKey};

/// The saved first response to a keyed request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedResponse {
    /// HTTP status.
    pub status: u16,
    /// JSON body.
    pub body: String,
}

/// A claimed idempotency key. Claimed with a conditional write before any money moves; the
/// response is saved once known, and a retry returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    /// Whose key.
    pub account: AccountId,
    /// The key.
    pub key: IdempotencyKey,
    /// A digest of method, path and body: the same key with another request is refused.
    pub request_digest: String,
    /// The first response, once there is one.
    pub response: Option<SavedResponse>,
    /// When the key was claimed.
    pub created_at: DateTime<Utc>,
}
