//! # billing-lambda
//!
//! What every Lambda function shares: settings from the environment, the production adapters
//! built once per cold start, and the bridge from the API Gateway JWT authorizer's claims to
//! [`AuthorizerClaims`]. Each binary in `src/bin` wires one router and runs it.

use std::sync::Arc;

use axum::extract::Request;
use billing_api::clock::SystemClock;
use billing_api::{AppState, AuthMode, AuthorizerClaims};
use billing_aws::{DynamoStore, SesMailer};
use billing_stripe::StripeGateway;
use lambda_http::RequestExt;
use lambda_http::request::RequestContext;

/// A setting missing or unusable at cold start; the function cannot serve without it.
#[derive(Debug)]
pub struct ConfigError(String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

fn required(name: &str) -> Result<String, ConfigError> {
    std::env::var(name).map_err(|_| ConfigError(format!("environment variable {name} is not set")))
}

/// Settings read from the environment (set by the SAM template).
#[derive(Debug, Clone)]
pub struct Settings {
    /// `TABLE_NAME`: the DynamoDB table.
    pub table: String,
    /// `STRIPE_SECRET_PARAMETER`: the SSM SecureString holding the Stripe secret key.
    pub stripe_secret_parameter: String,
    /// `STRIPE_API_BASE`: only for tests against a stand-in; unset in production.
    pub stripe_api_base: Option<String>,
    /// `SENDER_EMAIL`: the verified SES identity mail is sent from.
    pub sender: String,
}

impl Settings {
    /// Reads the settings.
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            table: required("TABLE_NAME")?,
            stripe_secret_parameter: required("STRIPE_SECRET_PARAMETER")?,
            stripe_api_base: std::env::var("STRIPE_API_BASE")
                .ok()
                .filter(|v| !v.is_empty()),
            sender: required("SENDER_EMAIL")?,
        })
    }
}

/// Reads the Stripe secret key from SSM Parameter Store (never from the template or the
/// environment).
async fn stripe_secret(
    config: &aws_config::SdkConfig,
    parameter: &str,
) -> Result<String, ConfigError> {
    let output = aws_sdk_ssm::Client::new(config)
        .get_parameter()
        .name(parameter)
        .with_decryption(true)
        .send()
        .await
        .map_err(|e| {
            ConfigError(format!(
                "cannot read SSM parameter {parameter}: {}",
                aws_sdk_ssm::error::DisplayErrorContext(e)
            ))
        })?;
    output
        .parameter
        .and_then(|p| p.value)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ConfigError(format!("SSM parameter {parameter} is empty")))
}

/// Builds the production state once per cold start.
pub async fn production_state() -> Result<Arc<AppState>, ConfigError> {
    let settings = Settings::from_env()?;
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let secret = stripe_secret(&config, &settings.stripe_secret_parameter).await?;
    let gateway = StripeGateway::new(secret, settings.stripe_api_base.as_deref())
        .map_err(|e| ConfigError(format!("cannot build the Stripe client: {e}")))?;
    Ok(Arc::new(AppState {
        store: Arc::new(DynamoStore::new(&config, settings.table)),
        gateway: Arc::new(gateway),
        mailer: Arc::new(SesMailer::new(&config, settings.sender)),
        clock: Arc::new(SystemClock),
        auth: AuthMode::ApiGateway,
    }))
}

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

/// Logs as JSON lines for CloudWatch, level from `RUST_LOG` (default `info`).
pub fn init_tracing() {
    lambda_http::tracing::init_default_subscriber();
}
