//! Stored records of requests made with an `Idempotency-Key`.
//!
//! The record keeps what happened in domain terms (the purchase the request created, or why it
//! was refused), never an HTTP status or body: the HTTP layer renders a replay the way it
//! renders a first answer, so a retried request gets the same response even after the
//! response format changes.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::ids::{AccountId, IdempotencyKey, PurchaseId};

/// How long a key is remembered after it is claimed. Stripe remembers a key for 24 hours; we
/// keep ours twice as long so a retry that Stripe still recognises is never new to us.
pub const IDEMPOTENCY_RETENTION: Duration = Duration::hours(48);

/// Why a keyed request was refused after it started, as a replay must answer it again.
/// Refusals decided before anything was written (a bad amount, no card, a purchase in flight)
/// are not stored, as Stripe stores no result for a request that never started: the same
/// request sent again is judged again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum KeyedRefusal {
    /// The card was declined, with the issuer's decline code.
    CardDeclined {
        /// Stripe's `decline_code`, when it gave one.
        decline_code: Option<String>,
    },
}

/// What a keyed request did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum KeyedOutcome {
    /// It created this purchase (a replay answers with the purchase as it is now).
    Purchase {
        /// The purchase.
        purchase: PurchaseId,
    },
    /// It was refused.
    Refused {
        /// Why.
        refusal: KeyedRefusal,
    },
}

/// A claimed idempotency key. Claimed with a conditional write before any money moves; the
/// outcome is saved once known, and a retry gets it back until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    /// Whose key.
    pub account: AccountId,
    /// The key.
    pub key: IdempotencyKey,
    /// A digest of method, path and body: the same key with another request is refused.
    pub request_digest: String,
    /// The purchase the request started (written with the claim, in the same transaction).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purchase: Option<PurchaseId>,
    /// What the first request did, once known.
    pub outcome: Option<KeyedOutcome>,
    /// When the key was claimed.
    pub created_at: DateTime<Utc>,
    /// When the record may be forgotten (the store deletes it some time after: DynamoDB TTL).
    pub expires_at: DateTime<Utc>,
}

impl IdempotencyRecord {
    /// A key claimed at `now` for the request that starts `purchase`, with no outcome yet,
    /// kept for [`IDEMPOTENCY_RETENTION`].
    pub fn claim(
        account: AccountId,
        key: IdempotencyKey,
        request_digest: impl Into<String>,
        purchase: Option<PurchaseId>,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            account,
            key,
            request_digest: request_digest.into(),
            purchase,
            outcome: None,
            created_at: now,
            expires_at: now + IDEMPOTENCY_RETENTION,
        }
    }

    /// Whether the record has expired at `now`: a store may still hold it for a while
    /// (DynamoDB deletes expired items within days), and it must then count as absent.
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        now >= self.expires_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claimed_key_is_kept_at_least_a_day_and_then_expires() {
        let now = DateTime::<Utc>::UNIX_EPOCH + Duration::days(20_000);
        let record = IdempotencyRecord::claim(
            AccountId::parse("acct_1").unwrap(),
            IdempotencyKey::parse("key-1").unwrap(),
            "digest",
            None,
            now,
        );
        assert!(record.expires_at - record.created_at >= Duration::hours(24));
        assert!(!record.is_expired(now + Duration::hours(24)));
        assert!(record.is_expired(record.expires_at));
    }

    #[test]
    fn the_outcome_is_stored_as_a_domain_value() {
        let outcome = KeyedOutcome::Refused {
            refusal: KeyedRefusal::CardDeclined {
                decline_code: Some("insufficient_funds".into()),
            },
        };
        let json = serde_json::to_value(&outcome).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"type": "refused", "refusal": {"reason": "card_declined", "decline_code": "insufficient_funds"}})
        );
        assert_eq!(
            serde_json::from_value::<KeyedOutcome>(json).unwrap(),
            outcome
        );
    }
}
