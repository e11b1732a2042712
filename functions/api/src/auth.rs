//! Who is calling. On Lambda, the API Gateway JWT authorizer has checked the token and the
//! Lambda binary puts its claims in the request as [`AuthorizerClaims`]; the Authorization
//! header itself is never trusted there. Locally, an HS256 token signed with the local secret
//! stands in for the authorizer.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use billing_core::{AccountId, EmailAddress};

use crate::error::{ApiError, ErrorCode};
use crate::jwt::{self, TokenError};
use crate::state::AppState;

/// Claims the API Gateway authorizer verified, as the Lambda adapter hands them over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizerClaims {
    /// `sub`.
    pub sub: String,
    /// `email`, when the token has one.
    pub email: Option<String>,
}

/// How callers are authenticated.
#[derive(Clone)]
pub enum AuthMode {
    /// Only [`AuthorizerClaims`] count (Lambda behind API Gateway).
    ApiGateway,
    /// HS256 bearer tokens signed with this secret (the local server only).
    LocalJwt(Arc<[u8]>),
}

/// Why local authentication cannot be turned on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalAuthOnLambda;

impl std::fmt::Display for LocalAuthOnLambda {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("local JWT authentication is refused inside AWS Lambda")
    }
}

impl AuthMode {
    /// Local tokens, refused when the process runs inside AWS Lambda.
    pub fn local(secret: &str) -> Result<Self, LocalAuthOnLambda> {
        if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some()
            || std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some()
        {
            return Err(LocalAuthOnLambda);
        }
        Ok(Self::LocalJwt(Arc::from(secret.as_bytes())))
    }
}

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The account (`sub`).
    pub account: AccountId,
    /// The address (`email`), when known and well formed.
    pub email: Option<EmailAddress>,
}

impl Caller {
    /// The caller named by verified claims. A `sub` that is not an account id, or an `email`
    /// that is not an address, refuses the request: an address silently dropped would leave
    /// the account without its receipts and nobody told why.
    fn from_claims(sub: &str, email: Option<&str>) -> Result<Self, ApiError> {
        let account = AccountId::parse(sub).map_err(|_| ApiError::unauthenticated())?;
        let email = email
            .map(EmailAddress::parse)
            .transpose()
            .map_err(|_| invalid_email_claim())?;
        Ok(Self { account, email })
    }
}

fn invalid_email_claim() -> ApiError {
    ApiError::new(
        ErrorCode::Unauthenticated,
        "The token's `email` claim is not a valid e-mail address; sign in again with a corrected account.",
    )
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, ApiError> {
        let caller = authenticate(parts, &state.auth)?;
        // Every later line of this request carries the account (see `telemetry`).
        tracing::Span::current().record("account_id", caller.account.as_str());
        Ok(caller)
    }
}

/// The caller, as the auth mode says to find it.
fn authenticate(parts: &Parts, auth: &AuthMode) -> Result<Caller, ApiError> {
    match auth {
        AuthMode::ApiGateway => {
            let claims = parts
                .extensions
                .get::<AuthorizerClaims>()
                .ok_or_else(ApiError::unauthenticated)?;
            Caller::from_claims(&claims.sub, claims.email.as_deref())
        }
        AuthMode::LocalJwt(secret) => {
            let token = parts
                .headers
                .get(AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(bearer_token)
                .ok_or_else(ApiError::unauthenticated)?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
            let claims = jwt::verify(token, secret, now).map_err(refused_token)?;
            Caller::from_claims(&claims.sub, claims.email.as_deref())
        }
    }
}

/// The token of an `Authorization: Bearer <token>` header. The scheme is case-insensitive
/// (RFC 7235 §2.1: `bearer`, `BEARER`), followed by one or more spaces and a token with no
/// space in it.
fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, rest) = header.split_once(' ')?;
    let token = rest.trim_matches(' ');
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && !token.contains(' '))
        .then_some(token)
}

/// Every refused token is `401 unauthenticated`, as PRODUCT.md says; the message tells a
/// developer which check failed (the local server is theirs), never anything about the secret.
fn refused_token(error: TokenError) -> ApiError {
    let message = match error {
        TokenError::Malformed | TokenError::Signature => {
            return ApiError::unauthenticated();
        }
        TokenError::Algorithm => "The token must be signed with HS256.",
        TokenError::CriticalExtension => {
            "The token's header has `crit`: no JWT extension is understood here."
        }
        TokenError::Expired => "The token has expired; sign in again.",
        TokenError::NotYetValid => "The token is not valid yet (`nbf` is in the future).",
        TokenError::Claim("email") => return invalid_email_claim(),
        TokenError::Claim(claim) => {
            return ApiError::new(
                ErrorCode::Unauthenticated,
                format!("The token's `{claim}` claim has the wrong type."),
            );
        }
    };
    ApiError::new(ErrorCode::Unauthenticated, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        for header in [
            "Bearer t.o.k",
            "bearer t.o.k",
            "BEARER t.o.k",
            "bEaReR   t.o.k ",
        ] {
            assert_eq!(bearer_token(header), Some("t.o.k"), "{header:?}");
        }
    }

    #[test]
    fn other_schemes_and_malformed_credentials_carry_no_token() {
        for header in [
            "Basic dXNlcjpwdw==",
            "Bearer",
            "Bearer ",
            "Bearertok",
            "Bearer a b",
            "Token t.o.k",
        ] {
            assert_eq!(bearer_token(header), None, "{header:?}");
        }
    }

    /// On Lambda the API Gateway authorizer hands every claim over as a string: a number or a
    /// list in the token's `email` arrives as its text (`42`, `[a b]`).
    #[test]
    fn on_lambda_an_authorizer_email_that_is_not_an_address_is_refused() {
        for email in [
            "42",
            "[ada@example.com bob@example.com]",
            "ada@example.com\u{7}",
        ] {
            let (parts, ()) = axum::http::Request::builder()
                .extension(AuthorizerClaims {
                    sub: "acct_1".into(),
                    email: Some(email.into()),
                })
                .body(())
                .unwrap()
                .into_parts();
            let refused = authenticate(&parts, &AuthMode::ApiGateway).unwrap_err();
            assert_eq!(refused.code, ErrorCode::Unauthenticated, "{email:?}");
            assert!(refused.message.contains("`email`"), "{email:?}");
        }
    }

    #[test]
    fn a_malformed_email_claim_is_refused_not_dropped() {
        let too_long = format!("{}@example.com", "a".repeat(250));
        for email in [
            "42",
            "not an address",
            "ada@",
            "ada\u{0}@example.com",
            "ada\u{1b}[31m@example.com",
            too_long.as_str(),
        ] {
            let refused = Caller::from_claims("acct_1", Some(email)).unwrap_err();
            assert_eq!(refused.code, ErrorCode::Unauthenticated, "{email:?}");
            assert!(refused.message.contains("`email`"), "{email:?}");
        }
        let caller = Caller::from_claims("acct_1", Some("ada@example.com")).unwrap();
        assert_eq!(
            caller.email.map(String::from),
            Some("ada@example.com".to_owned())
        );
        assert_eq!(Caller::from_claims("acct_1", None).unwrap().email, None);
    }
}
