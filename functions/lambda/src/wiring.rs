//! The production adapters, each built from its own settings once per cold start, outside
//! the handler. A function builds only the ports it uses.

use std::sync::Arc;

use billing_aws::{DynamoStore, SesMailer};
use billing_core::ports::gateway::PaymentGateway;
use billing_core::ports::mailer::Mailer;
use billing_core::ports::store::Store;
use billing_stripe::StripeGateway;

use crate::settings::{ConfigError, MailSettings, StripeSettings, TableSettings};

/// The AWS SDK configuration (region, credentials, HTTP client), loaded once per process and
/// shared by every AWS client the function builds.
#[derive(Debug, Clone)]
pub struct Aws {
    config: aws_config::SdkConfig,
}

impl Aws {
    /// Loads the configuration Lambda provides in the environment. Credentials are resolved
    /// on the first call, not here.
    pub async fn load() -> Self {
        Self {
            config: aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await,
        }
    }

    /// The DynamoDB store.
    pub fn store(&self, settings: TableSettings) -> Arc<dyn Store> {
        Arc::new(DynamoStore::new(&self.config, settings.table))
    }

    /// The SES v2 mailer.
    pub fn mailer(&self, settings: MailSettings) -> Arc<dyn Mailer> {
        Arc::new(SesMailer::new(&self.config, settings.sender))
    }

    /// The Stripe gateway, with the secret key read from SSM Parameter Store now, so that a
    /// missing or unreadable key fails the cold start instead of the first request.
    pub async fn stripe_gateway(
        &self,
        settings: &StripeSettings,
    ) -> Result<Arc<dyn PaymentGateway>, ConfigError> {
        let secret = self.secure_parameter(&settings.secret_parameter).await?;
        let gateway = StripeGateway::new(secret, settings.api_base.as_deref())
            .map_err(|e| ConfigError::new(format!("cannot build the Stripe client: {e}")))?;
        Ok(Arc::new(gateway))
    }

    async fn secure_parameter(&self, name: &str) -> Result<String, ConfigError> {
        let output = aws_sdk_ssm::Client::new(&self.config)
            .get_parameter()
            .name(name)
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| {
                ConfigError::new(format!(
                    "cannot read SSM parameter {name}: {}",
                    aws_sdk_ssm::error::DisplayErrorContext(e)
                ))
            })?;
        output
            .parameter
            .and_then(|p| p.value)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| ConfigError::new(format!("SSM parameter {name} is empty")))
    }
}
