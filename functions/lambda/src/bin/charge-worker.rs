//! The charge worker: SQS batches of charge jobs from the planner, each account charged once
//! for its month; the messages SQS must deliver again are answered as partial batch failures.
//! Store, Stripe gateway (held to its share of the request rate), SES mailer, the
//! authorization page's links and the clock; the Stripe key and the link secret come from SSM
//! in one call at cold start.

use aws_lambda_events::event::sqs::SqsEvent;
use billing_api::clock::SystemClock;
use billing_core::usecases::invoice::Ports;
use billing_lambda::charge_worker::charge_messages;
use billing_lambda::{Aws, ChargeWorkerSettings, ProcessEnv, init_tracing};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    init_tracing();
    let settings = ChargeWorkerSettings::from(&ProcessEnv)?;
    let aws = Aws::from_env(&ProcessEnv)?;
    let (stripe_key, links) = aws
        .stripe_key_and_links(&settings.stripe, settings.links)
        .await?;
    let store = aws.store(settings.table);
    let gateway = aws.charge_gateway(&settings.stripe, stripe_key, settings.rate)?;
    let mailer = aws.mailer(settings.mail);
    let ports = Ports {
        store: store.as_ref(),
        gateway: gateway.as_ref(),
        mailer: mailer.as_ref(),
        links: &links,
        retries: &settings.retries,
    };
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(charge_messages(ports, &SystemClock, event.payload).await)
    }))
    .await
}
