//! HS256 JSON Web Tokens for the local server. On Lambda they are never consulted: there the
//! API Gateway JWT authorizer has verified the token and only its claims count.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
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

/// Seconds of clock skew allowed on `exp` and `nbf` alike: none. The tokens are signed and
/// checked by the same process, on the same clock.
pub const LEEWAY_SECONDS: i64 = 0;

/// Why a token is refused. Every reason answers `401 unauthenticated`; the reason picks the
/// message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// Not three base64url parts of JSON objects.
    Malformed,
    /// An algorithm other than HS256 (`none` included).
    Algorithm,
    /// A `crit` header: it names extensions that must be understood, and none are.
    CriticalExtension,
    /// The signature does not match.
    Signature,
    /// `exp` has passed.
    Expired,
    /// `nbf` is still to come.
    NotYetValid,
    /// A claim of the wrong type (`sub` not a string, `exp` or `nbf` not a number, `email`
    /// not a string).
    Claim(&'static str),
}

fn mac(secret: &[u8]) -> Hmac<Sha256> {
    Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length")
}

/// Signs claims with HS256.
pub fn sign(claims: &Claims, secret: &[u8]) -> String {
    sign_json(
        &serde_json::to_value(claims).expect("claims serialize"),
        secret,
    )
}

/// Signs any JSON payload with HS256 (tests build tokens with claims [`Claims`] has no field
/// for, such as `nbf`, or of the wrong type).
pub fn sign_json(payload: &Value, secret: &[u8]) -> String {
    sign_with_header(
        &serde_json::json!({"alg": "HS256", "typ": "JWT"}),
        payload,
        secret,
    )
}

/// Signs a payload with HS256 under any header (tests forge headers with it).
pub fn sign_with_header(header: &Value, payload: &Value, secret: &[u8]) -> String {
    let header = URL_SAFE_NO_PAD.encode(header.to_string());
    let payload = URL_SAFE_NO_PAD.encode(payload.to_string());
    let signing_input = format!("{header}.{payload}");
    let mut mac = mac(secret);
    mac.update(signing_input.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{signing_input}.{signature}")
}

/// Verifies an HS256 token and returns its claims. The header must say HS256 and carry no
/// `crit`; the signature must match (compared in constant time); `exp`, when present, must be
/// in the future and `nbf`, when present, not (both within [`LEEWAY_SECONDS`]); `sub` must be
/// a string and `email`, when present and not null, a string too.
pub fn verify(token: &str, secret: &[u8], now_unix: i64) -> Result<Claims, TokenError> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let parsed = json_object(header)?;
    if parsed.get("alg").and_then(Value::as_str) != Some("HS256") {
        return Err(TokenError::Algorithm);
    }
    // RFC 7515 §4.1.11: a recipient that does not understand every extension `crit` names
    // must refuse the token; this one understands none.
    if parsed.contains_key("crit") {
        return Err(TokenError::CriticalExtension);
    }
    let mut mac = mac(secret);
    mac.update(header.as_bytes());
    mac.update(b".");
    mac.update(payload.as_bytes());
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| TokenError::Malformed)?;
    mac.verify_slice(&signature)
        .map_err(|_| TokenError::Signature)?;
    let claims = json_object(payload)?;
    let exp = numeric_date(&claims, "exp")?;
    let nbf = numeric_date(&claims, "nbf")?;
    if exp.is_some_and(|exp| exp.saturating_add(LEEWAY_SECONDS) <= now_unix) {
        return Err(TokenError::Expired);
    }
    if nbf.is_some_and(|nbf| nbf > now_unix.saturating_add(LEEWAY_SECONDS)) {
        return Err(TokenError::NotYetValid);
    }
    let sub = match claims.get("sub") {
        Some(Value::String(sub)) => sub.clone(),
        _ => return Err(TokenError::Claim("sub")),
    };
    let email = match claims.get("email") {
        None | Some(Value::Null) => None,
        Some(Value::String(email)) => Some(email.clone()),
        Some(_) => return Err(TokenError::Claim("email")),
    };
    Ok(Claims { sub, email, exp })
}

fn json_object(part: &str) -> Result<Map<String, Value>, TokenError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| TokenError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed)
}

/// A NumericDate claim (RFC 7519 §2: any JSON number of seconds, fractions allowed) as whole
/// seconds, saturating: a date too far for an `i64` is as good as never. Fractions round
/// toward the stricter side for `nbf` (up) and `exp` (down).
fn numeric_date(
    claims: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<i64>, TokenError> {
    let number = match claims.get(name) {
        None => return Ok(None),
        Some(Value::Number(number)) => number,
        Some(_) => return Err(TokenError::Claim(name)),
    };
    if let Some(seconds) = number.as_i64() {
        return Ok(Some(seconds));
    }
    if number.as_u64().is_some() {
        return Ok(Some(i64::MAX));
    }
    let seconds = number.as_f64().ok_or(TokenError::Claim(name))?;
    // `as` saturates at the ends of i64, which is what "as good as never" wants.
    #[allow(clippy::cast_possible_truncation)]
    let whole = if name == "nbf" {
        seconds.ceil() as i64
    } else {
        seconds.floor() as i64
    };
    Ok(Some(whole))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

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
        assert_eq!(verify(&token, b"secret", 1_000), Ok(claims()));
        assert_eq!(verify(&token, b"other", 1_000), Err(TokenError::Signature));
    }

    #[test]
    fn an_expired_token_is_refused() {
        assert_eq!(
            verify(&sign(&claims(), b"secret"), b"secret", 2_000),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn a_token_not_yet_valid_is_refused_until_its_nbf_with_the_leeway_of_exp() {
        let token = sign_json(&json!({"sub": "acct_1", "nbf": 1_000}), b"secret");
        assert_eq!(
            verify(&token, b"secret", 1_000 - LEEWAY_SECONDS - 1),
            Err(TokenError::NotYetValid)
        );
        assert!(verify(&token, b"secret", 1_000 - LEEWAY_SECONDS).is_ok());
        assert!(verify(&token, b"secret", 5_000).is_ok());
    }

    #[test]
    fn a_fractional_nbf_is_not_yet_valid_until_the_second_after_it() {
        let token = sign_json(&json!({"sub": "acct_1", "nbf": 1_000.5}), b"secret");
        assert_eq!(
            verify(&token, b"secret", 1_000),
            Err(TokenError::NotYetValid)
        );
        assert!(verify(&token, b"secret", 1_001).is_ok());
    }

    #[test]
    fn dates_beyond_an_i64_are_read_without_overflow() {
        let far = sign_json(&json!({"sub": "acct_1", "exp": 1e300}), b"secret");
        assert_eq!(
            verify(&far, b"secret", 1_000).map(|c| c.exp),
            Ok(Some(i64::MAX))
        );
        let huge = sign_json(&json!({"sub": "acct_1", "exp": u64::MAX}), b"secret");
        assert!(verify(&huge, b"secret", i64::MAX - 1).is_ok());
        let never = sign_json(&json!({"sub": "acct_1", "nbf": 1e300}), b"secret");
        assert_eq!(
            verify(&never, b"secret", 4_102_444_800),
            Err(TokenError::NotYetValid)
        );
    }

    #[test]
    fn a_crit_header_is_refused_whatever_it_names() {
        for crit in [json!(["exp"]), json!(["b64"]), json!([]), json!("x")] {
            let token = sign_with_header(
                &json!({"alg": "HS256", "crit": crit}),
                &json!({"sub": "acct_1"}),
                b"secret",
            );
            assert_eq!(
                verify(&token, b"secret", 1_000),
                Err(TokenError::CriticalExtension),
                "{crit}"
            );
        }
    }

    #[test]
    fn alg_none_and_other_algorithms_are_refused_even_when_signed() {
        let payload = URL_SAFE_NO_PAD.encode(br#"{"sub":"acct_1"}"#);
        for header in [r#"{"alg":"none"}"#, r#"{"alg":"None"}"#, r#"{"typ":"JWT"}"#] {
            let header = URL_SAFE_NO_PAD.encode(header);
            assert_eq!(
                verify(&format!("{header}.{payload}."), b"secret", 1_000),
                Err(TokenError::Algorithm)
            );
        }
        for alg in ["none", "HS512", "RS256", "hs256"] {
            let token = sign_with_header(&json!({"alg": alg}), &json!({"sub": "a"}), b"secret");
            assert_eq!(verify(&token, b"secret", 1_000), Err(TokenError::Algorithm));
        }
    }

    #[test]
    fn claims_of_the_wrong_type_are_refused_naming_the_claim() {
        let cases = [
            (json!({"sub": 1}), "sub"),
            (json!({"email": "a@example.com"}), "sub"),
            (json!({"sub": "a", "email": 42}), "email"),
            (json!({"sub": "a", "email": ["a@example.com"]}), "email"),
            (json!({"sub": "a", "email": {"x": 1}}), "email"),
            (json!({"sub": "a", "exp": "2000"}), "exp"),
            (json!({"sub": "a", "nbf": true}), "nbf"),
        ];
        for (payload, claim) in cases {
            let token = sign_json(&payload, b"secret");
            assert_eq!(
                verify(&token, b"secret", 1_000),
                Err(TokenError::Claim(claim)),
                "{payload}"
            );
        }
        let null_email = sign_json(&json!({"sub": "a", "email": null}), b"secret");
        assert_eq!(
            verify(&null_email, b"secret", 1_000).map(|c| c.email),
            Ok(None)
        );
    }

    #[test]
    fn a_tampered_payload_or_a_malformed_token_is_refused() {
        let token = sign(&claims(), b"secret");
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(br#"{"sub":"someone_else"}"#);
        parts[1] = &forged;
        assert_eq!(
            verify(&parts.join("."), b"secret", 1_000),
            Err(TokenError::Signature)
        );
        assert_eq!(
            verify("not-a-token", b"secret", 1_000),
            Err(TokenError::Malformed)
        );
        assert_eq!(
            verify(&format!("{token}.x"), b"secret", 1_000),
            Err(TokenError::Malformed)
        );
    }
}
