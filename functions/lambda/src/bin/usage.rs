//! The usage function: SQS batches of usage events, recorded once each; the messages SQS must
//! deliver again are answered as partial batch failures. The store and the clock only.

use aws_lambda_events::event::sqs::SqsEvent;
use billing_api::clock::SystemClock;
use billing_core::ports::clock::Clock;
use billing_lambda::usage::record_usage_messages;
use billing_lambda::{Aws, ProcessEnv, UsageSettings, init_tracing};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    init_tracing();
    let settings = UsageSettings::from(&ProcessEnv)?;
    let store = Aws::from_env(&ProcessEnv)?.store(settings.table);
    let store = store.as_ref();
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(record_usage_messages(store, event.payload, SystemClock.now()).await)
    }))
    .await
}
