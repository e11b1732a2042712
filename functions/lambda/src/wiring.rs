//! The production adapters, each built from its own settings once per cold start, outside
//! the handler. A function builds only the ports it uses.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_async::rt::sleep::default_async_sleep;
use aws_smithy_async::time::SharedTimeSource;
use aws_smithy_runtime_api::client::behavior_version::BehaviorVersion;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;
use aws_types::SdkConfig;
use aws_types::region::Region;

use billing_aws::{DynamoStore, SesMailer, SqsQueue};
use billing_core::ports::gateway::PaymentGateway;
use billing_core::ports::mailer::Mailer;
use billing_core::ports::queue::JobQueue;
use billing_core::ports::store::Store;
use billing_stripe::{RateLimit, StripeGateway};

use billing_api::links::{LinkSigner, SignedLinks};

use crate::settings::{
    ConfigError, Env, LinkSettings, MailSettings, StripeRateSettings, StripeSettings,
    TableSettings, required,
};

/// The AWS SDK configuration (region, credentials, HTTP client), read once per process and
/// shared by every AWS client the function builds.
#[derive(Debug, Clone)]
pub struct Aws {
    config: SdkConfig,
}

/// The SDK's connect timeout when none is configured (aws-config's default).
const CONNECT_TIMEOUT: Duration = Duration::from_millis(3_100);

impl Aws {
    /// The configuration Lambda provides in the environment: `AWS_REGION` (or
    /// `AWS_DEFAULT_REGION`), the execution role's credentials (`AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, valid for the execution environment's
    /// life), `AWS_ENDPOINT_URL` when set (the tests' moto), billing-aws's HTTPS client, and
    /// aws-config's defaults otherwise: standard retries (3 attempts) and a 3.1 s connect
    /// timeout. Not aws-config's provider chain: profile files, SSO, STS web identity, ECS
    /// and IMDS never apply on Lambda, and their clients were a megabyte of every binary
    /// (README "Lambda footprint"). A missing variable fails the cold start, naming it.
    pub fn from_env(env: &impl Env) -> Result<Self, ConfigError> {
        let region = env
            .var("AWS_REGION")
            .or_else(|| env.var("AWS_DEFAULT_REGION"))
            .ok_or_else(|| ConfigError::new("environment variable AWS_REGION is not set"))?;
        let credentials = Credentials::new(
            required(env, "AWS_ACCESS_KEY_ID")?,
            required(env, "AWS_SECRET_ACCESS_KEY")?,
            env.var("AWS_SESSION_TOKEN"),
            None,
            "Lambda environment",
        );
        let sleep = default_async_sleep()
            .ok_or_else(|| ConfigError::new("no async sleep for the AWS SDK (Tokio missing)"))?;
        let mut config = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region))
            .credentials_provider(SharedCredentialsProvider::new(credentials))
            .http_client(billing_aws::https_client())
            .retry_config(RetryConfig::standard())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(CONNECT_TIMEOUT)
                    .build(),
            )
            .sleep_impl(sleep)
            .time_source(SharedTimeSource::default());
        config.set_endpoint_url(env.var("AWS_ENDPOINT_URL"));
        Ok(Self {
            config: config.build(),
        })
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use aws_credential_types::provider::ProvideCredentials;

    use super::*;

    struct Vars(BTreeMap<&'static str, &'static str>);

    impl Env for Vars {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).map(|v| (*v).to_owned())
        }
    }

    /// What Lambda sets in every function's environment.
    fn lambda(extra: &[(&'static str, &'static str)]) -> Vars {
        let mut vars: BTreeMap<_, _> = [
            ("AWS_REGION", "eu-west-1"),
            ("AWS_DEFAULT_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "ASIAEXAMPLEEXAMPLE01"),
            ("AWS_SECRET_ACCESS_KEY", "example-secret"),
            ("AWS_SESSION_TOKEN", "example-token"),
        ]
        .into_iter()
        .collect();
        vars.extend(extra.iter().copied());
        Vars(vars)
    }

    fn without(mut vars: Vars, names: &[&str]) -> Vars {
        vars.0.retain(|name, _| !names.contains(name));
        vars
    }

    #[tokio::test]
    async fn the_config_is_lambdas_region_and_role_credentials_with_the_sdks_defaults() {
        let aws = Aws::from_env(&lambda(&[])).unwrap();
        let config = &aws.config;

        assert_eq!(config.region().map(Region::as_ref), Some("eu-west-1"));
        assert_eq!(config.endpoint_url(), None);
        let credentials = config
            .credentials_provider()
            .unwrap()
            .provide_credentials()
            .await
            .unwrap();
        assert_eq!(credentials.access_key_id(), "ASIAEXAMPLEEXAMPLE01");
        assert_eq!(credentials.secret_access_key(), "example-secret");
        assert_eq!(credentials.session_token(), Some("example-token"));
        assert_eq!(config.retry_config().unwrap().max_attempts(), 3);
        assert_eq!(
            config.timeout_config().unwrap().connect_timeout(),
            Some(CONNECT_TIMEOUT)
        );
        assert!(config.http_client().is_some() && config.sleep_impl().is_some());
        assert!(config.behavior_version().is_some());
    }

    #[test]
    fn the_endpoint_and_the_default_region_are_read_when_set() {
        let vars = without(
            lambda(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:5000")]),
            &["AWS_REGION", "AWS_SESSION_TOKEN"],
        );
        let config = Aws::from_env(&vars).unwrap().config;

        assert_eq!(config.endpoint_url(), Some("http://127.0.0.1:5000"));
        assert_eq!(config.region().map(Region::as_ref), Some("eu-west-1"));
    }

    #[test]
    fn a_missing_region_or_credential_fails_the_cold_start_naming_it() {
        for (missing, named) in [
            (&["AWS_REGION", "AWS_DEFAULT_REGION"][..], "AWS_REGION"),
            (&["AWS_ACCESS_KEY_ID"][..], "AWS_ACCESS_KEY_ID"),
            (&["AWS_SECRET_ACCESS_KEY"][..], "AWS_SECRET_ACCESS_KEY"),
        ] {
            let error = Aws::from_env(&without(lambda(&[]), missing)).unwrap_err();
            assert!(error.to_string().contains(named), "{error}");
        }
    }
}
