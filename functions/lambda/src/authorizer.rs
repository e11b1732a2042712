//! The bridge from the API Gateway JWT authorizer's claims to [`AuthorizerClaims`].

use axum::extract::Request;
use billing_api::AuthorizerClaims;
use lambda_http::RequestExt;
use lambda_http::request::RequestContext;

/// Copies the claims the API Gateway JWT authorizer verified into the request, where
/// [`billing_api::Caller`] finds them. Nothing a client sends can put them there.
pub async fn with_authorizer_claims(mut request: Request) -> Request {
    let claims = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context
            .authorizer
            .as_ref()
            .and_then(|a| a.jwt.as_ref())
            .and_then(|jwt| {
                let sub = jwt.claims.get("sub")?.clone();
                Some(AuthorizerClaims {
                    sub,
                    email: jwt.claims.get("email").cloned(),
                })
            }),
        _ => None,
    };
    if let Some(claims) = claims {
        request.extensions_mut().insert(claims);
    }
    request
}
