//! Who is calling. On Lambda, the API Gateway JWT authorizer has checked the token and the
//! Lambda binary puts its claims in the request as [`AuthorizerClaims`]; the Authorization
//! header itself is never trusted there. Locally, an HS256 token signed with the local secret
//! stands in for the authorizer.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use billing_core::{AccountId, EmailAddress};

use crate::error::ApiError;
use crate::jwt;
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
    fn from_claims(sub: &str, email: Option<&str>) -> Result<Self, ApiError> {
        let account = AccountId::parse(sub).map_err(|_| ApiError::unauthenticated())?;
        let email = email.and_then(|e| EmailAddress::parse(e).ok());
        Ok(Self { account, email })
    }
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
            let header = parts
                .headers
                .get(AUTHORIZATION)
                .and_then(|v| v.to_str().ok());
            let token = header
                .and_then(|h| h.strip_prefix("Bearer "))
                .ok_or_else(ApiError::unauthenticated)?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
            let claims =
                jwt::verify(token.trim(), secret, now).ok_or_else(ApiError::unauthenticated)?;
            Caller::from_claims(&claims.sub, claims.email.as_deref())
        }
    }
}
