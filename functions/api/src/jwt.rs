//! HS256 JSON Web Tokens for the local server. On Lambda they are never consulted: there the
//! API Gateway JWT authorizer has verified the token and only its claims count.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// The claims this API reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The account.
    pub sub: String,
    /// The account's e-mail address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Expiry, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
}

fn mac(secret: &[u8]) -> Hmac<Sha256> {
    Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length")
}

/// Signs claims with HS256.
pub fn sign(claims: &Claims, secret: &[u8]) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).expect("claims serialize"));
    let signing_input = format!("{header}.{payload}");
    let mut mac = mac(secret);
    mac.update(signing_input.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{signing_input}.{signature}")
}

/// Verifies an HS256 token and returns its claims: the algorithm must be HS256, the signature
/// must match (compared in constant time) and an `exp`, when present, must be in the future.
pub fn verify(token: &str, secret: &[u8], now_unix: i64) -> Option<Claims> {
    let mut parts = token.split('.');
    let (header, payload, signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let parsed: Header = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
    if parsed.alg != "HS256" {
        return None;
    }
    let mut mac = mac(secret);
    mac.update(header.as_bytes());
    mac.update(b".");
    mac.update(payload.as_bytes());
    mac.verify_slice(&URL_SAFE_NO_PAD.decode(signature).ok()?)
        .ok()?;
    let claims: Claims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    match claims.exp {
        Some(exp) if exp <= now_unix => None,
        _ => Some(claims),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        Claims {
            sub: "acct_1".into(),
            email: Some("ada@example.com".into()),
            exp: Some(2_000),
        }
    }

    #[test]
    fn a_signed_token_verifies_with_the_same_secret_only() {
        let token = sign(&claims(), b"secret");
        assert_eq!(verify(&token, b"secret", 1_000), Some(claims()));
        assert_eq!(verify(&token, b"other", 1_000), None);
    }

    #[test]
    fn an_expired_token_is_refused() {
        assert_eq!(verify(&sign(&claims(), b"secret"), b"secret", 2_000), None);
    }

    #[test]
    fn a_tampered_payload_or_another_algorithm_is_refused() {
        let token = sign(&claims(), b"secret");
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(br#"{"sub":"someone_else"}"#);
        parts[1] = &forged;
        assert_eq!(verify(&parts.join("."), b"secret", 1_000), None);

        let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#);
        let payload = URL_SAFE_NO_PAD.encode(br#"{"sub":"acct_1"}"#);
        assert_eq!(
            verify(&format!("{none_header}.{payload}."), b"secret", 1_000),
            None
        );
        assert_eq!(verify("not-a-token", b"secret", 1_000), None);
    }
}
