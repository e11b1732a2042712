//! The webhook function: `POST /v1/webhooks/stripe`, without the JWT authorizer (Stripe's
//! signature is checked instead). Store, Stripe gateway, SES mailer and clock; the Stripe key
//! the endpoint's signing secret and the link secret (for the authorization links in invoice
//! emails) come from SSM in one call at cold start.

use std::sync::Arc;

use billing_api::clock::SystemClock;
use billing_api::links::{LinkSigner, SignedLinks};
use billing_api::state::{Services, WebhookState};
use billing_api::{webhook_router, with_fallbacks};
use billing_lambda::{Aws, ProcessEnv, WebhookSettings, init_tracing};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    init_tracing();
    let settings = WebhookSettings::from(&ProcessEnv)?;
    let aws = Aws::from_env(&ProcessEnv)?;
    let [stripe_key, webhook_secret, link_secret] = aws
        .secure_parameters(&[
            &settings.stripe.secret_parameter,
            &settings.webhook_secret_parameter,
            &settings.links.secret_parameter,
        ])
        .await?;
    let state = WebhookState {
        services: Services {
            store: aws.store(settings.table),
            gateway: aws.stripe_gateway(&settings.stripe, stripe_key)?,
            clock: Arc::new(SystemClock),
        },
        mailer: aws.mailer(settings.mail),
        links: Arc::new(SignedLinks {
            signer: LinkSigner::new(link_secret.as_bytes()),
            base: settings.links.base_url,
        }),
        secrets: vec![webhook_secret],
    };
    lambda_http::run(with_fallbacks(webhook_router(Arc::new(state)))).await
}
