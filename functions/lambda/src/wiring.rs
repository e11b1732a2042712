//! The production adapters, each built from its own settings once per cold start, outside
//! the handler. A function builds only the ports it uses.

use std::num::NonZeroU32;
use std::sync::Arc;

use billing_aws::{DynamoStore, SesMailer, SqsQueue};
use billing_core::ports::gateway::PaymentGateway;
use billing_core::ports::mailer::Mailer;
use billing_core::ports::queue::JobQueue;
use billing_core::ports::store::Store;
use billing_stripe::{RateLimit, StripeGateway};

use billing_api::links::{LinkSigner, SignedLinks};

use crate::settings::{
    ConfigError, LinkSettings, MailSettings, StripeRateSettings, StripeSettings, TableSettings,
};

/// The AWS SDK configuration (region, credentials, HTTP client), loaded once per process and
/// shared by every AWS client the function builds.
#[derive(Debug, Clone)]
pub struct Aws {
    config: aws_config::SdkConfig,
}

impl Aws {
    /// Loads the configuration Lambda provides in the environment, with billing-aws's HTTPS
    /// client. Credentials are resolved on the first call, not here.
    pub async fn load() -> Self {
        Self {
            config: aws_config::defaults(aws_config::BehaviorVersion::latest())
                .http_client(billing_aws::https_client())
                .load()
                .await,
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

    /// The Stripe gateway, with the secret key read by [`Aws::secure_parameters`] at cold
    /// start.
    pub fn stripe_gateway(
        &self,
        settings: &StripeSettings,
        secret_key: String,
    ) -> Result<Arc<dyn PaymentGateway>, ConfigError> {
        let gateway = StripeGateway::new(secret_key, settings.api_base.as_deref())
            .map_err(|e| ConfigError::new(format!("cannot build the Stripe client: {e}")))?;
        Ok(Arc::new(gateway))
    }

    /// The SQS charge queue at `queue_url`.
    pub fn charge_queue(&self, queue_url: String) -> Arc<dyn JobQueue> {
        Arc::new(SqsQueue::new(&self.config, queue_url))
    }

    /// The charge worker's Stripe gateway, held to this invocation's share of Stripe's request
    /// rate ([`StripeRateSettings::per_invocation`]): every request it sends, retries of a 429
    /// included, waits for the limiter, which the gateway's clones share.
    pub fn charge_gateway(
        &self,
        settings: &StripeSettings,
        secret_key: String,
        rate: StripeRateSettings,
    ) -> Result<Arc<dyn PaymentGateway>, ConfigError> {
        let per_invocation = NonZeroU32::new(rate.per_invocation()).ok_or_else(|| {
            ConfigError::new("the Stripe request rate must be at least 1 a second")
        })?;
        tracing::info!(
            total_per_second = rate.requests_per_second,
            invocations = rate.concurrency,
            per_invocation = per_invocation.get(),
            "Stripe request rate"
        );
        let gateway = StripeGateway::new(secret_key, settings.api_base.as_deref())
            .map_err(|e| ConfigError::new(format!("cannot build the Stripe client: {e}")))?
            .with_rate_limit(Some(RateLimit::per_second(per_invocation)));
        Ok(Arc::new(gateway))
    }

    /// The state of an HTTP function that collects invoices (the card and account functions):
    /// the store, Stripe, the clock, the SES mailer and the signed links, the Stripe key and
    /// the link secret read in one SSM call.
    pub async fn collecting_state(
        &self,
        settings: crate::settings::CardsSettings,
    ) -> Result<Arc<billing_api::AppState>, ConfigError> {
        let (stripe_key, links) = self
            .stripe_key_and_links(&settings.stripe, settings.links)
            .await?;
        let services = billing_api::state::Services {
            store: self.store(settings.table),
            gateway: self.stripe_gateway(&settings.stripe, stripe_key)?,
            clock: Arc::new(billing_api::clock::SystemClock),
        };
        let collection = billing_api::state::CollectionServices {
            mailer: self.mailer(settings.mail),
            links: Arc::new(links),
        };
        let state = billing_api::AppState::new(services, billing_api::AuthMode::ApiGateway);
        Ok(Arc::new(state.with_collection(collection)))
    }

    /// The Stripe secret key and the authorization page's signed links, their two secrets read
    /// in one SSM call ([`Aws::secure_parameters`]).
    pub async fn stripe_key_and_links(
        &self,
        stripe: &StripeSettings,
        links: LinkSettings,
    ) -> Result<(String, SignedLinks), ConfigError> {
        let [stripe_key, link_secret] = self
            .secure_parameters(&[&stripe.secret_parameter, &links.secret_parameter])
            .await?;
        let links = SignedLinks {
            signer: LinkSigner::new(link_secret.as_bytes()),
            base: links.base_url,
        };
        Ok((stripe_key, links))
    }

    /// The values of the SSM SecureStrings `names`, decrypted, in the same order, read in one
    /// `GetParameters` call at cold start: one round trip whatever the count, and a missing,
    /// empty or unreadable parameter fails the cold start with its name instead of a user's
    /// first request.
    pub async fn secure_parameters<const N: usize>(
        &self,
        names: &[&str; N],
    ) -> Result<[String; N], ConfigError> {
        let output = aws_sdk_ssm::Client::new(&self.config)
            .get_parameters()
            .set_names(Some(names.iter().map(|n| (*n).to_owned()).collect()))
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| {
                ConfigError::new(format!(
                    "cannot read SSM parameters {}: {}",
                    names.join(", "),
                    aws_sdk_ssm::error::DisplayErrorContext(e)
                ))
            })?;
        let invalid = output.invalid_parameters.unwrap_or_default();
        if !invalid.is_empty() {
            return Err(ConfigError::new(format!(
                "SSM parameters missing: {}",
                invalid.join(", ")
            )));
        }
        let found = output.parameters.unwrap_or_default();
        let values = names.map(|name| {
            found
                .iter()
                .find(|p| p.name.as_deref() == Some(name))
                .and_then(|p| p.value.clone())
                .filter(|v| !v.is_empty())
        });
        if let Some(empty) = values.iter().position(Option::is_none) {
            return Err(ConfigError::new(format!(
                "SSM parameter {} is empty",
                names[empty]
            )));
        }
        Ok(values.map(Option::unwrap_or_default))
    }
}
