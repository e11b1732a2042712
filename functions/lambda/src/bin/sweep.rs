//! The sweep function: EventBridge Scheduler invokes it every five minutes; it resolves every
//! purchase unsettled past the 15-minute window, and sends a charge job to the charge queue
//! for every invoice due a collection visit (a retry whose time has come, a stalled attempt or
//! email). Store, Stripe gateway, SES mailer (a purchase it settles is owed a receipt), the
//! charge queue and the clock.

use billing_api::clock::SystemClock;
use billing_core::ports::clock::Clock;
use billing_core::usecases::purchase::Ports;
use billing_lambda::sweep::{ScheduledEvent, run_sweep};
use billing_lambda::{Aws, ProcessEnv, SweepSettings, init_tracing};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    init_tracing();
    let settings = SweepSettings::from(&ProcessEnv)?;
    let aws = Aws::from_env(&ProcessEnv)?;
    let [stripe_key] = aws
        .secure_parameters(&[&settings.stripe.secret_parameter])
        .await?;
    let store = aws.store(settings.table);
    let gateway = aws.stripe_gateway(&settings.stripe, stripe_key)?;
    let mailer = aws.mailer(settings.mail);
    let queue = aws.charge_queue(settings.queue_url);
    let queue = queue.as_ref();
    let ports = Ports {
        store: store.as_ref(),
        gateway: gateway.as_ref(),
        mailer: mailer.as_ref(),
    };
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ScheduledEvent>| async move {
            run_sweep(ports, queue, event.payload, SystemClock.now()).await
        },
    ))
    .await
}
