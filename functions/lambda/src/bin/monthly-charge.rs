//! The monthly-charge planner: EventBridge Scheduler invokes it at 03:00 UTC on the 3rd; it
//! sends one charge job per account owing for the month just closed to the charge queue. The
//! store (the due index) and the queue only: it charges nothing itself.

use billing_api::clock::SystemClock;
use billing_core::ports::clock::Clock;
use billing_lambda::monthly_charge::plan_monthly_charge;
use billing_lambda::{Aws, MonthlyChargeSettings, ProcessEnv, init_tracing};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    init_tracing();
    let settings = MonthlyChargeSettings::from(&ProcessEnv)?;
    let aws = Aws::from_env(&ProcessEnv)?;
    let store = aws.store(settings.table);
    let queue = aws.charge_queue(settings.queue_url);
    let (store, queue) = (store.as_ref(), queue.as_ref());
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            plan_monthly_charge(store, queue, event.payload, SystemClock.now()).await
        },
    ))
    .await
}
