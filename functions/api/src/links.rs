//! Signed, expiring links to one payment: the capability behind an authorization page, so the
//! cardholder needs no login to complete a purchase or an invoice the bank asked about.
//!
//! A token is `v1.` and the URL-safe base64 (no padding) of `payload ‖ tag`:
//!
//! | bytes | what |
//! |---|---|
//! | 1 | subject kind: 1 purchase, 2 invoice |
//! | 8 | expiry, seconds since the epoch, big-endian |
//! | 1 | length of the account id |
//! | n | the account id |
//! | rest − 16 | the purchase or invoice id |
//! | 16 | HMAC-SHA256 of `v1.` ‖ payload, its first 128 bits |
//!
//! The version prefix is inside the MAC, so a later format (or key, `v2.`) can be told apart
//! and a token cannot be replayed under another version. The tag is checked, in constant time,
//! before anything in the payload is believed: a changed expiry is `Tampered`, not `Expired`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use billing_core::{AccountId, InvoiceId, PurchaseId};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use thiserror::Error;

use crate::state::AuthorizationLinks;

/// The version of the token format and key this signer writes and reads.
const VERSION: &str = "v1.";
/// Bytes of the HMAC-SHA256 tag kept: 128 bits.
const TAG_BYTES: usize = 16;
/// Longer tokens are refused before any decoding (ids are at most 128 + 64 characters).
const MAX_TOKEN_CHARS: usize = 512;
const KIND_PURCHASE: u8 = 1;
const KIND_INVOICE: u8 = 2;

/// What a link lets its holder act on: one payment of one account.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LinkSubject {
    /// A credit purchase waiting for the bank's authentication.
    Purchase {
        /// Whose.
        account: AccountId,
        /// Which.
        purchase: PurchaseId,
    },
    /// An invoice whose charge waits for the bank's authentication.
    Invoice {
        /// Whose.
        account: AccountId,
        /// Which.
        invoice: InvoiceId,
    },
}

impl LinkSubject {
    /// The account the payment belongs to.
    pub fn account(&self) -> &AccountId {
        match self {
            Self::Purchase { account, .. } | Self::Invoice { account, .. } => account,
        }
    }
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum LinkError {
    /// Well formed, but not signed by this key as it stands (changed, or another key's).
    #[error("the link's signature does not match")]
    Tampered,
    /// Signed by this key, but its time is over.
    #[error("the link has expired")]
    Expired,
    /// Not a token of a format this signer reads.
    #[error("the link is not a valid token")]
    Malformed,
}

/// Signs and verifies link tokens with one secret key.
#[derive(Clone)]
pub struct LinkSigner {
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for LinkSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkSigner(..)")
    }
}

impl LinkSigner {
    /// A signer with this secret key.
    ///
    /// # Panics
    /// On an empty key: anyone could forge its links, so a deployment missing its secret must
    /// fail at start, not serve.
    pub fn new(key: &[u8]) -> Self {
        assert!(!key.is_empty(), "a link signing key must not be empty");
        let mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
        Self { mac }
    }

    /// A token for `subject`, valid until `expires_at` (to the second).
    pub fn sign(&self, subject: &LinkSubject, expires_at: DateTime<Utc>) -> String {
        let (kind, account, object) = match subject {
            LinkSubject::Purchase { account, purchase } => {
                (KIND_PURCHASE, account, purchase.as_str())
            }
            LinkSubject::Invoice { account, invoice } => (KIND_INVOICE, account, invoice.as_str()),
        };
        let account = account.as_str().as_bytes();
        // AccountId holds at most 128 characters of ASCII, so its length fits one byte.
        let account_len = u8::try_from(account.len()).expect("account ids are at most 128 bytes");
        let mut bytes = Vec::with_capacity(10 + account.len() + object.len() + TAG_BYTES);
        bytes.push(kind);
        bytes.extend_from_slice(&expires_at.timestamp().to_be_bytes());
        bytes.push(account_len);
        bytes.extend_from_slice(account);
        bytes.extend_from_slice(object.as_bytes());
        let tag = self.tag(&bytes).finalize().into_bytes();
        bytes.extend_from_slice(&tag[..TAG_BYTES]);
        format!("{VERSION}{}", URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The subject of a token this key signed, if it has not expired at `now`.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<LinkSubject, LinkError> {
        if token.len() > MAX_TOKEN_CHARS {
            return Err(LinkError::Malformed);
        }
        let encoded = token.strip_prefix(VERSION).ok_or(LinkError::Malformed)?;
        let bytes = URL_SAFE_NO_PAD
            .decode(encoded)
            .map_err(|_| LinkError::Malformed)?;
        let Some(split) = bytes.len().checked_sub(TAG_BYTES) else {
            return Err(LinkError::Malformed);
        };
        let (payload, tag) = bytes.split_at(split);
        self.tag(payload)
            .verify_truncated_left(tag)
            .map_err(|_| LinkError::Tampered)?;
        let (subject, expires) = decode_payload(payload).ok_or(LinkError::Malformed)?;
        if now.timestamp() >= expires {
            return Err(LinkError::Expired);
        }
        Ok(subject)
    }

    /// The page's address for `subject`: `{base}/authorize/{token}`.
    pub fn url(&self, base: &str, subject: &LinkSubject, expires_at: DateTime<Utc>) -> String {
        format!(
            "{}/authorize/{}",
            base.trim_end_matches('/'),
            self.sign(subject, expires_at)
        )
    }

    /// The MAC over the version and a payload, ready to finalize or verify.
    fn tag(&self, payload: &[u8]) -> Hmac<Sha256> {
        let mut mac = self.mac.clone();
        mac.update(VERSION.as_bytes());
        mac.update(payload);
        mac
    }
}

/// The purchase flows' links ([`AuthorizationLinks`]): pages under `base`, signed by `signer`.
#[derive(Debug, Clone)]
pub struct SignedLinks {
    /// Signs each link.
    pub signer: LinkSigner,
    /// Where the pages are served, e.g. `https://billing.example.com` or `http://127.0.0.1:3000`.
    pub base: String,
}

impl AuthorizationLinks for SignedLinks {
    fn purchase(
        &self,
        account: &AccountId,
        purchase: &PurchaseId,
        expires_at: DateTime<Utc>,
    ) -> String {
        let subject = LinkSubject::Purchase {
            account: account.clone(),
            purchase: purchase.clone(),
        };
        self.signer.url(&self.base, &subject, expires_at)
    }

    fn invoice(
        &self,
        account: &AccountId,
        invoice: &InvoiceId,
        expires_at: DateTime<Utc>,
    ) -> String {
        let subject = LinkSubject::Invoice {
            account: account.clone(),
            invoice: invoice.clone(),
        };
        self.signer.url(&self.base, &subject, expires_at)
    }
}

/// The subject and expiry (epoch seconds) of an authentic payload; `None` if it does not
/// parse, which only a key shared with another format could produce.
fn decode_payload(payload: &[u8]) -> Option<(LinkSubject, i64)> {
    let (&kind, rest) = payload.split_first()?;
    let (expires, rest) = rest.split_first_chunk::<8>()?;
    let (&account_len, rest) = rest.split_first()?;
    let (account, object) = rest.split_at_checked(usize::from(account_len))?;
    let account = AccountId::parse(std::str::from_utf8(account).ok()?).ok()?;
    let object = std::str::from_utf8(object).ok()?;
    let subject = match kind {
        KIND_PURCHASE => LinkSubject::Purchase {
            account,
            purchase: PurchaseId::parse(object).ok()?,
        },
        KIND_INVOICE => LinkSubject::Invoice {
            account,
            invoice: InvoiceId::parse(object).ok()?,
        },
        _ => return None,
    };
    Some((subject, i64::from_be_bytes(*expires)))
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;
    use proptest::prelude::*;

    use super::*;

    fn at(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339).unwrap().to_utc()
    }

    fn purchase(account: &str, purchase: &str) -> LinkSubject {
        LinkSubject::Purchase {
            account: AccountId::parse(account).unwrap(),
            purchase: PurchaseId::parse(purchase).unwrap(),
        }
    }

    fn invoice(account: &str, invoice: &str) -> LinkSubject {
        LinkSubject::Invoice {
            account: AccountId::parse(account).unwrap(),
            invoice: InvoiceId::parse(invoice).unwrap(),
        }
    }

    #[test]
    fn a_token_verifies_as_its_subject_until_it_expires() {
        let signer = LinkSigner::new(b"key");
        let subject = purchase("acct_1", "cp_123");
        let expires = at("2026-11-28T10:00:00Z");

        let token = signer.sign(&subject, expires);

        assert_eq!(
            signer.verify(&token, expires - TimeDelta::seconds(1)),
            Ok(subject)
        );
        assert_eq!(signer.verify(&token, expires), Err(LinkError::Expired));
    }

    #[test]
    fn a_token_is_url_safe_versioned_and_compact() {
        let signer = LinkSigner::new(b"key");
        let subject = purchase(
            "3f2c9a1e-0d4b-4a5e-9c1f-6b7a8d9e0f12",
            "cp_01JDQ8Z5X4Y3W2V1",
        );

        let token = signer.sign(&subject, at("2026-11-28T10:00:00Z"));

        assert!(token.starts_with("v1."), "{token}");
        assert!(
            token[3..]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "{token}"
        );
        // 1 + 8 + 1 + 36 + 19 + 16 bytes = 81, in base64 108 characters, plus the prefix.
        assert_eq!(token.len(), 111, "{token}");
    }

    #[test]
    fn a_purchase_and_an_invoice_with_the_same_ids_sign_differently() {
        let signer = LinkSigner::new(b"key");
        let expires = at("2026-11-28T10:00:00Z");
        let as_purchase = signer.sign(&purchase("acct_1", "cp_1"), expires);
        let as_invoice = signer.sign(&invoice("acct_1", "in_1"), expires);

        assert_eq!(
            signer.verify(&as_invoice, expires - TimeDelta::hours(1)),
            Ok(invoice("acct_1", "in_1"))
        );
        assert_ne!(as_purchase, as_invoice);
    }

    #[test]
    fn another_key_s_token_is_tampered() {
        let expires = at("2026-11-28T10:00:00Z");
        let token = LinkSigner::new(b"old key").sign(&purchase("acct_1", "cp_1"), expires);

        let verified = LinkSigner::new(b"new key").verify(&token, expires - TimeDelta::hours(1));

        assert_eq!(verified, Err(LinkError::Tampered));
    }

    #[test]
    fn an_expired_token_with_a_forged_expiry_is_tampered_not_accepted() {
        let signer = LinkSigner::new(b"key");
        let expires = at("2026-11-28T10:00:00Z");
        let token = signer.sign(&purchase("acct_1", "cp_1"), expires);
        let mut bytes = URL_SAFE_NO_PAD.decode(&token[3..]).unwrap();
        bytes[1..9].copy_from_slice(&at("2030-01-01T00:00:00Z").timestamp().to_be_bytes());
        let forged = format!("v1.{}", URL_SAFE_NO_PAD.encode(bytes));

        assert_eq!(
            signer.verify(&forged, expires + TimeDelta::days(1)),
            Err(LinkError::Tampered)
        );
    }

    #[test]
    fn what_is_not_a_token_is_malformed() {
        let signer = LinkSigner::new(b"key");
        let now = at("2026-11-28T10:00:00Z");
        let token = signer.sign(&purchase("acct_1", "cp_1"), now + TimeDelta::hours(1));

        for bad in [
            "",
            "v1.",
            "v1.AAAA",
            "v2.AAAA",
            "not a token",
            &token[3..],
            &format!("v2.{}", &token[3..]),
            &format!("{token}="),
            &"v1.A".repeat(200),
        ] {
            assert_eq!(signer.verify(bad, now), Err(LinkError::Malformed), "{bad}");
        }
    }

    /// The format is a contract with every link already sent: a change must come with a new
    /// version. The same vectors are checked against the browser tests' Python signer.
    #[test]
    fn known_subjects_sign_to_known_tokens() {
        let signer = LinkSigner::new(b"local-link-secret");
        let expires = at("2026-11-30T10:00:00Z");

        assert_eq!(
            signer.sign(&purchase("acct_1", "cp_123"), expires),
            "v1.AQAAAABrDUkgBmFjY3RfMWNwXzEyM_UiNV20wCsBjTlq5apnOTI"
        );
        assert_eq!(
            signer.sign(&invoice("acct_1", "in_202610"), expires),
            "v1.AgAAAABrDUkgBmFjY3RfMWluXzIwMjYxMAJtW5tGJdBJec70C_SxoU8"
        );
    }

    #[test]
    fn the_url_puts_the_token_under_authorize() {
        let signer = LinkSigner::new(b"key");
        let subject = purchase("acct_1", "cp_1");
        let expires = at("2026-11-28T10:00:00Z");

        let url = signer.url("http://127.0.0.1:3000/", &subject, expires);

        assert_eq!(
            url,
            format!(
                "http://127.0.0.1:3000/authorize/{}",
                signer.sign(&subject, expires)
            )
        );
    }

    #[test]
    fn a_purchase_link_opens_the_page_for_that_purchase_until_it_expires() {
        let links = SignedLinks {
            signer: LinkSigner::new(b"key"),
            base: "http://127.0.0.1:3000".into(),
        };
        let expires = at("2026-11-28T10:15:00Z");
        let account = AccountId::parse("acct_1").unwrap();
        let id = PurchaseId::parse("cp_1").unwrap();

        let url = links.purchase(&account, &id, expires);

        let token = url
            .strip_prefix("http://127.0.0.1:3000/authorize/")
            .unwrap();
        assert_eq!(
            links.signer.verify(token, expires - TimeDelta::seconds(1)),
            Ok(purchase("acct_1", "cp_1"))
        );
        assert_eq!(links.signer.verify(token, expires), Err(LinkError::Expired));
    }

    #[test]
    fn debug_does_not_show_the_key() {
        assert_eq!(
            format!("{:?}", LinkSigner::new(b"secret")),
            "LinkSigner(..)"
        );
    }

    #[test]
    #[should_panic(expected = "must not be empty")]
    fn an_empty_key_is_refused() {
        let _ = LinkSigner::new(b"");
    }

    fn subjects() -> impl Strategy<Value = LinkSubject> {
        let account = "[A-Za-z0-9_.:@|-]{1,128}";
        let object = "[A-Za-z0-9_-]{1,61}";
        (any::<bool>(), account, object).prop_map(|(is_purchase, account, object)| {
            if is_purchase {
                purchase(&account, &format!("cp_{object}"))
            } else {
                invoice(&account, &format!("in_{object}"))
            }
        })
    }

    proptest! {
        #[test]
        fn every_subject_survives_signing(subject in subjects(), seconds in 0i64..4_000_000_000) {
            let signer = LinkSigner::new(b"key");
            let expires = DateTime::from_timestamp(seconds, 0).unwrap();

            let token = signer.sign(&subject, expires);

            prop_assert_eq!(signer.verify(&token, expires - TimeDelta::seconds(1)), Ok(subject));
        }

        /// Flipping any one bit of a token never yields a subject, let alone another one.
        #[test]
        fn any_bit_flip_is_tampered_or_malformed(subject in subjects(), bit in any::<prop::sample::Index>()) {
            let signer = LinkSigner::new(b"key");
            let now = at("2026-11-28T10:00:00Z");
            let mut bytes = signer.sign(&subject, now + TimeDelta::hours(1)).into_bytes();
            let bit = bit.index(bytes.len() * 8);
            bytes[bit / 8] ^= 1 << (bit % 8);

            // A flipped high bit is not UTF-8, so no URL path could carry it to `verify`.
            if let Ok(flipped) = String::from_utf8(bytes) {
                let verified = signer.verify(&flipped, now);
                prop_assert!(
                    matches!(verified, Err(LinkError::Tampered | LinkError::Malformed)),
                    "bit {} gave {:?}", bit, verified
                );
            }
        }
    }
}
