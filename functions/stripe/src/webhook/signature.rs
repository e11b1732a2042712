//! `Stripe-Signature` verification, as Stripe documents it
//! (<https://docs.stripe.com/webhooks#verify-manually>): the header is
//! `t=<unix seconds>,v1=<hex>[,v1=<hex>…][,v0=…]`, each `v1` an HMAC-SHA256 of
//! `"<t>.<raw body>"` keyed by an endpoint's signing secret.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use thiserror::Error;

/// How far `t` may be from now, either way: Stripe's libraries refuse events signed more than
/// 5 minutes ago (a replayed capture), and a timestamp as far in the future is no better.
pub const TOLERANCE_SECONDS: i64 = 300;

/// Why a webhook request was refused. Every variant answers the same `400 invalid_signature`;
/// the variant is for the log.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SignatureError {
    /// No `Stripe-Signature` header.
    #[error("no Stripe-Signature header")]
    MissingHeader,
    /// An element of the header is not `key=value`, or `t` is given twice.
    #[error("Stripe-Signature is not a list of key=value elements with one t")]
    MalformedHeader,
    /// No `t=` element.
    #[error("Stripe-Signature has no timestamp")]
    MissingTimestamp,
    /// `t` is not a number of seconds.
    #[error("Stripe-Signature's timestamp is not a number")]
    InvalidTimestamp,
    /// No `v1=` element (a `v0`, test-mode only, is never accepted).
    #[error("Stripe-Signature has no v1 signature")]
    MissingSignature,
    /// A `v1` is not hexadecimal (odd length or a non-hex digit).
    #[error("a v1 signature is not hexadecimal")]
    InvalidSignatureEncoding,
    /// No signing secret was configured: nothing can be verified.
    #[error("no webhook signing secret configured")]
    NoSecret,
    /// No `v1` is the signature of this body at `t` under any configured secret: forged,
    /// tampered with, or signed with a secret this endpoint does not have.
    #[error("no v1 signature matches the body")]
    Mismatch,
    /// Authentic, but signed longer ago than the tolerance (a replay, or a very late retry).
    #[error("signed {age_seconds} s ago, more than {TOLERANCE_SECONDS} s")]
    TooOld {
        /// Seconds between `t` and now.
        age_seconds: i64,
    },
    /// Authentic, but `t` is ahead of now by more than the tolerance.
    #[error("signed {ahead_seconds} s in the future, more than {TOLERANCE_SECONDS} s")]
    FromTheFuture {
        /// Seconds between now and `t`.
        ahead_seconds: i64,
    },
}

/// Checks that `payload` (the raw request body, byte for byte) was signed by Stripe with one of
/// `secrets` within [`TOLERANCE_SECONDS`] of `now`.
///
/// Several secrets are accepted so that an endpoint's secret can be rolled: during the roll
/// Stripe signs with both, and either matching passes. Every `v1` is compared with every
/// secret's signature in constant time. The signature is checked before the time, so that a
/// stale *forgery* is logged as a mismatch and `TooOld` always means a genuine event.
pub fn verify_signature(
    payload: &[u8],
    header: Option<&str>,
    secrets: &[&str],
    now: DateTime<Utc>,
) -> Result<(), SignatureError> {
    let header = parse_header(header.ok_or(SignatureError::MissingHeader)?)?;
    let mut keys = secrets
        .iter()
        .filter(|secret| !secret.is_empty())
        .peekable();
    if keys.peek().is_none() {
        return Err(SignatureError::NoSecret);
    }
    let matched = keys.any(|secret| {
        // HMAC takes a key of any length, so this cannot fail.
        let mut mac =
            Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
        // What Stripe signed: the timestamp exactly as the header carries it.
        mac.update(header.timestamp_text.as_bytes());
        mac.update(b".");
        mac.update(payload);
        header
            .signatures
            .iter()
            .any(|signature| mac.clone().verify_slice(signature).is_ok())
    });
    if !matched {
        return Err(SignatureError::Mismatch);
    }
    let age = now.timestamp().saturating_sub(header.timestamp);
    if age > TOLERANCE_SECONDS {
        return Err(SignatureError::TooOld { age_seconds: age });
    }
    if age < -TOLERANCE_SECONDS {
        return Err(SignatureError::FromTheFuture {
            ahead_seconds: age.saturating_neg(),
        });
    }
    Ok(())
}

struct Header<'a> {
    timestamp_text: &'a str,
    timestamp: i64,
    signatures: Vec<Vec<u8>>,
}

fn parse_header(header: &str) -> Result<Header<'_>, SignatureError> {
    let mut timestamp_text = None;
    let mut signatures = Vec::new();
    for element in header.split(',') {
        let (key, value) = element
            .trim()
            .split_once('=')
            .ok_or(SignatureError::MalformedHeader)?;
        match key {
            "t" if timestamp_text.is_some() => return Err(SignatureError::MalformedHeader),
            "t" => timestamp_text = Some(value),
            "v1" => signatures.push(decode_hex(value)?),
            // v0 (test-mode signatures with a fixed secret) and schemes Stripe may add later
            // are not ours to check.
            _ => {}
        }
    }
    let timestamp_text = timestamp_text.ok_or(SignatureError::MissingTimestamp)?;
    // Digits only: `i64::from_str` would also take a sign.
    let timestamp = Some(timestamp_text)
        .filter(|text| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|text| text.parse::<i64>().ok())
        .ok_or(SignatureError::InvalidTimestamp)?;
    if signatures.is_empty() {
        return Err(SignatureError::MissingSignature);
    }
    Ok(Header {
        timestamp_text,
        timestamp,
        signatures,
    })
}

fn decode_hex(text: &str) -> Result<Vec<u8>, SignatureError> {
    // `to_digit(16)` and not `u8::from_str_radix`, which would also take a `+`.
    let nibble = |byte: u8| char::from(byte).to_digit(16);
    if text.is_empty() || !text.len().is_multiple_of(2) {
        return Err(SignatureError::InvalidSignatureEncoding);
    }
    text.as_bytes()
        .chunks_exact(2)
        .map(|pair| match (nibble(pair[0]), nibble(pair[1])) {
            (Some(high), Some(low)) => {
                u8::try_from(high << 4 | low).map_err(|_| SignatureError::InvalidSignatureEncoding)
            }
            _ => Err(SignatureError::InvalidSignatureEncoding),
        })
        .collect()
}
