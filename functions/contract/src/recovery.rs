//! Getting paid after a failed charge (issue 10), as a contract every (store, gateway, mailer)
//! set must keep: declined invoices are retried on their schedule (days 3, 5 and 7) and then
//! made uncollectible, one email per failed attempt; declines that cannot succeed and a
//! missing card wait for the user; a new card pays at once, oldest invoice first; sweeps and
//! workers that run twice or stop half way never make a second payment for one attempt.
//! `recovery_contract!` stamps the cases out. The clock is the `now` each call is given: a
//! month is a loop of sweeps, each followed by the worker running the jobs it enqueued for
//! the case's account, as the charge worker would.

mod issuer;

use std::collections::BTreeSet;
use std::sync::Arc;

use billing_core::domain::invoice::{AttemptOutcome, AttemptTrigger, Invoice, InvoiceStatus};
use billing_core::ports::gateway::{ChargeOutcome, PaymentGateway};
use billing_core::ports::queue::ChargeJob;
use billing_core::ports::store::{InvoiceStore, Store};
use billing_core::rules::purchase::PurchaseLimits;
use billing_core::usecases::close::invoice_id;
use billing_core::usecases::invoice::{
    Charged, Collected, attempt_key, charge_account, pay_with_card_on_file, sweep_invoices,
};
use billing_core::usecases::overview::billing_overview;
use billing_core::usecases::purchase::{self, PurchaseAnswer, PurchaseRequest, create_purchase};
use billing_core::usecases::usage::{UsageEvent, record_usage};
use billing_core::{
    AccountId, Cents, Currency, PaymentId, PaymentMethodId, PurchaseId, UsageEventId,
};
use chrono::{DateTime, NaiveDate, TimeDelta, TimeZone, Utc};

use crate::instrument::{Instrumented, Probe};
use crate::invoice::{
    CONCURRENT, address, charge_time, charged_without_a_card, count, emails, invoice_of, job,
    october, owing, ports,
};
use crate::purchase::PurchaseHarness;
use crate::queue::Jobs;

pub use issuer::Issuer;

/// The card that attaches and declines every charge afterwards.
const DECLINING: &str = "pm_card_chargeCustomerFail";

/// One collection sweep at `now` (over the whole shared store), then the worker running each
/// job it enqueued for `account`; returns those jobs. Jobs of other cases' accounts are left
/// to their own cases.
async fn sweep_and_work<S, G>(
    h: &PurchaseHarness<S, G>,
    store: &dyn Store,
    gateway: &dyn PaymentGateway,
    account: &AccountId,
    now: DateTime<Utc>,
) -> Vec<ChargeJob>
where
    S: Store + Clone + 'static,
    G: PaymentGateway + Clone + 'static,
{
    let queue = Jobs::default();
    sweep_invoices(store, &queue, now).await.unwrap();
    let mine: Vec<ChargeJob> = queue
        .take()
        .into_iter()
        .filter(|job| job.account == *account)
        .collect();
    for job in &mine {
        charge_account(ports(store, gateway, h), job, now)
            .await
            .unwrap();
    }
    mine
}

/// Sweeps every six hours (at 03:00, 09:00, 15:00, 21:00 UTC) after `from` and up to `until`;
/// returns when a job ran for `account`.
async fn sweeps_until<S, G>(
    h: &PurchaseHarness<S, G>,
    gateway: &dyn PaymentGateway,
    account: &AccountId,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Vec<DateTime<Utc>>
where
    S: Store + Clone + 'static,
    G: PaymentGateway + Clone + 'static,
{
    let mut visited = Vec::new();
    let mut now = from + TimeDelta::hours(6);
    while now <= until {
        if !sweep_and_work(h, &h.store, gateway, account, now)
            .await
            .is_empty()
        {
            visited.push(now);
        }
        now += TimeDelta::hours(6);
    }
    visited
}

/// A month of sweeps after the charge (see [`sweeps_until`]); returns when a job ran for
/// `account`.
async fn a_month_of_sweeps<S, G>(
    h: &PurchaseHarness<S, G>,
    gateway: &dyn PaymentGateway,
    account: &AccountId,
) -> Vec<DateTime<Utc>>
where
    S: Store + Clone + 'static,
    G: PaymentGateway + Clone + 'static,
{
    let a_month_later = charge_time() + TimeDelta::days(31);
    sweeps_until(h, gateway, account, charge_time(), a_month_later).await
}

/// An account owing `micros` with the [`DECLINING`] card, and its monthly charge at
/// [`charge_time`] declined by an issuer that answers `code`; returns the account and that
/// issuer, which the case goes on charging through.
async fn declined_at_the_charge<S, G>(
    h: &PurchaseHarness<S, G>,
    label: &str,
    micros: i64,
    code: &'static str,
) -> (AccountId, Issuer<G>)
where
    S: Store + Clone + 'static,
    G: PaymentGateway + Clone + 'static,
{
    let account = owing(h, label, Some(DECLINING), micros).await;
    let network = Issuer::declining_with(h.gateway.clone(), code);
    charge_account(ports(&h.store, &network, h), &job(&account), charge_time())
        .await
        .unwrap();
    (account, network)
}

fn day(month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, month, day).unwrap()
}

/// A soft decline (insufficient funds) on a card that keeps declining: the invoice is retried
/// on days 3, 5 and 7 after the charge, one email per failed attempt, then made uncollectible
/// with the uncollectible email; the network made exactly four PaymentIntents, under four
/// keys.
pub async fn a_soft_decline_is_retried_on_days_3_5_7_then_uncollectible<
    S: Store + Clone + 'static,
    G: PaymentGateway + Clone + 'static,
>(
    h: PurchaseHarness<S, G>,
) {
    let (account, network) =
        declined_at_the_charge(&h, "retry-funds", 20_000_000, "insufficient_funds").await;

    let visited = a_month_of_sweeps(&h, &network, &account).await;

    let invoice = invoice_of(&h, &account).await;
    assert_eq!(invoice.status, InvoiceStatus::Uncollectible);
    assert_eq!(invoice.next_payment_attempt, None);
    let days: Vec<NaiveDate> = invoice.attempts.iter().map(|a| a.at.date_naive()).collect();
    assert_eq!(
        days,
        [day(11, 26), day(11, 29), day(12, 1), day(12, 3)],
        "the charge, then days 3, 5 and 7"
    );
    let triggers: Vec<AttemptTrigger> = invoice.attempts.iter().map(|a| a.trigger).collect();
    assert_eq!(
        triggers,
        [
            AttemptTrigger::Monthly,
            AttemptTrigger::Retry,
            AttemptTrigger::Retry,
            AttemptTrigger::Retry
        ]
    );
    assert!(
        invoice.attempts.iter().all(|a| {
            a.outcome == AttemptOutcome::Declined
                && a.decline_code.as_deref() == Some("insufficient_funds")
        }),
        "{:?}",
        invoice.attempts
    );
    assert_eq!(
        visited.len(),
        3,
        "the sweep finds the invoice on retry days only: {visited:?}"
    );
    let sent = emails(&h, &account).await;
    assert_eq!(sent.len(), 4, "one email per failed attempt: {sent:?}");
    assert_eq!(
        count(&sent, "Payment failed for your October 2026 invoice"),
        3,
        "{sent:?}"
    );
    assert_eq!(
        count(
            &sent,
            "Payment failed: your October 2026 invoice is uncollectible"
        ),
        1,
        "{sent:?}"
    );
    let payments = network.payments_by_key();
    assert_eq!(payments.len(), 4, "four keys: {payments:?}");
    assert!(
        payments.values().all(|p| p.len() == 1),
        "one PaymentIntent per key: {payments:?}"
    );
    let keys: Vec<&String> = payments.keys().collect();
    let expected: Vec<String> = (1..=4)
        .map(|n| attempt_key(&account, &invoice.id, n))
        .collect();
    assert_eq!(
        keys,
        expected.iter().collect::<Vec<_>>(),
        "one key per attempt"
    );
    let distinct: BTreeSet<&PaymentId> = payments.values().flatten().collect();
    assert_eq!(distinct.len(), 4, "four PaymentIntents");
    for payment in distinct {
        let at_the_network = h.gateway.charge_status(payment).await.unwrap();
        assert!(
            matches!(at_the_network, ChargeOutcome::Declined { .. }),
            "{payment}: {at_the_network:?}"
        );
    }
}

/// A decline that cannot succeed (a lost card, a wrong CVC) is never retried: sweeps over the
/// whole month find nothing to do and the network is asked nothing more; the invoice waits
/// for a card.
pub async fn a_never_retry_decline_gets_no_attempt_from_a_month_of_sweeps<
    S: Store + Clone + 'static,
    G: PaymentGateway + Clone + 'static,
>(
    h: PurchaseHarness<S, G>,
) {
    for code in ["lost_card", "incorrect_cvc"] {
        let (account, network) =
            declined_at_the_charge(&h, &format!("retry-{code}"), 20_000_000, code).await;

        let visited = a_month_of_sweeps(&h, &network, &account).await;

        assert!(
            visited.is_empty(),
            "{code}: no sweep finds the invoice: {visited:?}"
        );
        assert_eq!(network.requests(), 1, "{code}: the first charge only");
        let invoice = invoice_of(&h, &account).await;
        assert_eq!(invoice.status, InvoiceStatus::PaymentFailed, "{code}");
        assert_eq!(invoice.attempts.len(), 1, "{code}");
        assert_eq!(invoice.attempts[0].decline_code.as_deref(), Some(code));
        assert_eq!(invoice.next_payment_attempt, None, "{code}");
        let sent = emails(&h, &account).await;
        assert_eq!(count(&sent, "Payment failed"), 1, "{code}: {sent:?}");
    }
}

/// No card on file: the invoice waits for one; a month of sweeps sends nothing to the network.
pub async fn card_required_gets_no_attempt_from_a_month_of_sweeps<
    S: Store + Clone + 'static,
    G: PaymentGateway + Clone + 'static,
>(
    h: PurchaseHarness<S, G>,
) {
    let (account, network) = charged_without_a_card(&h, "retry-nocard", 7_500_000).await;

    let visited = a_month_of_sweeps(&h, &network, &account).await;

    assert!(
        visited.is_empty(),
        "no sweep finds the invoice: {visited:?}"
    );
    assert_eq!(network.probe.count("charge"), 0);
    let invoice = invoice_of(&h, &account).await;
    assert_eq!(invoice.attempts.len(), 1);
    assert_eq!(invoice.attempts[0].outcome, AttemptOutcome::CardRequired);
    assert_eq!(invoice.next_payment_attempt, None);
}

/// Usage in November, recorded as it occurs.
async fn november_usage<S: Store, G>(h: &PurchaseHarness<S, G>, account: &AccountId, micros: i64) {
    let occurred_at = Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap();
    usage_at(h, account, "nov", micros, occurred_at).await;
}

async fn usage_at<S: Store, G>(
    h: &PurchaseHarness<S, G>,
    account: &AccountId,
    id: &str,
    micros: i64,
    occurred_at: DateTime<Utc>,
) {
    let event = UsageEvent {
        id: UsageEventId::parse(&format!("{account}-{id}")).unwrap(),
        account_id: account.clone(),
        amount_micros: micros,
        occurred_at,
        description: "model calls".into(),
    };
    record_usage(&h.store, &event, occurred_at).await.unwrap();
}

/// The account's card replaced with `card` at `now`.
async fn replace_card<S: Store, G: PaymentGateway>(
    h: &PurchaseHarness<S, G>,
    account: &AccountId,
    card: &str,
    now: DateTime<Utc>,
) {
    let email = address(account);
    let holder = billing_core::usecases::card::Holder {
        account,
        email: Some(&email),
    };
    let card = PaymentMethodId::parse(card).unwrap();
    billing_core::usecases::card::set_card(&h.store, &h.gateway, &holder, &card, now)
        .await
        .expect("the new card is accepted");
}

/// A replaced card pays at once: with October uncollectible and November declined, putting a
/// good card pays October first, then November, each with a receipt; the account goes from
/// past due to active, and what it owes is only the usage not invoiced yet.
pub async fn a_replaced_card_pays_the_oldest_invoice_first_even_an_uncollectible_one<
    S: Store + Clone + 'static,
    G: PaymentGateway + Clone + 'static,
>(
    h: PurchaseHarness<S, G>,
) {
    let account = owing(&h, "newcard-pays", Some(DECLINING), 20_000_000).await;
    charge_account(
        ports(&h.store, &h.gateway, &h),
        &job(&account),
        charge_time(),
    )
    .await
    .unwrap();
    november_usage(&h, &account, 3_000_000).await;
    let november_charge = Utc.with_ymd_and_hms(2026, 12, 4, 3, 0, 0).unwrap();
    sweeps_until(&h, &h.gateway, &account, charge_time(), november_charge).await;
    let november = ChargeJob::monthly(account.clone(), october().next());
    charge_account(ports(&h.store, &h.gateway, &h), &november, november_charge)
        .await
        .unwrap();
    let unbilled_at = november_charge + TimeDelta::hours(1);
    usage_at(&h, &account, "dec", 1_500_000, unbilled_at).await;
    let october_invoice = invoice_of(&h, &account).await;
    assert_eq!(october_invoice.status, InvoiceStatus::Uncollectible);
    let before = billing_overview(&h.store, &account, None, unbilled_at)
        .await
        .unwrap();
    assert!(before.past_due);
    assert_eq!(before.outstanding, Cents::new(2_000 + 300 + 150));

    let now = november_charge + TimeDelta::hours(2);
    replace_card(&h, &account, "pm_card_visa", now).await;
    let collected = pay_with_card_on_file(ports(&h.store, &h.gateway, &h), &account, now)
        .await
        .unwrap();

    let november_id = invoice_id(october().next());
    assert_eq!(
        collected,
        [
            Collected {
                invoice: october_invoice.id.clone(),
                status: InvoiceStatus::Paid
            },
            Collected {
                invoice: november_id.clone(),
                status: InvoiceStatus::Paid
            },
        ],
        "oldest first"
    );
    for id in [&october_invoice.id, &november_id] {
        let paid = h.store.invoice(&account, id).await.unwrap().unwrap().value;
        assert_eq!(paid.amount_paid, paid.amount_due);
        assert_eq!(
            paid.attempts.last().unwrap().trigger,
            AttemptTrigger::NewCard
        );
    }
    assert_eq!(count(&emails(&h, &account).await, "Receipt"), 2);
    let after = billing_overview(&h.store, &account, None, now)
        .await
        .unwrap();
    assert!(!after.past_due, "active again");
    assert_eq!(
        after.outstanding,
        Cents::new(150),
        "nothing invoiced is owed; December's usage still counts"
    );
}

/// Two sweeps on a retry day make one attempt, and so does the day's job delivered twice.
pub async fn two_sweeps_and_a_job_delivered_twice_on_one_day_make_one_attempt<
    S: Store + Clone + 'static,
    G: PaymentGateway + Clone + 'static,
>(
    h: PurchaseHarness<S, G>,
) {
    let (account, network) =
        declined_at_the_charge(&h, "retry-twice", 20_000_000, "insufficient_funds").await;
    let retry_day = charge_time() + TimeDelta::days(3);

    let first = sweep_and_work(&h, &h.store, &network, &account, retry_day).await;
    for job in &first {
        charge_account(ports(&h.store, &network, &h), job, retry_day)
            .await
            .unwrap();
    }
    let later = retry_day + TimeDelta::hours(12);
    let second = sweep_and_work(&h, &h.store, &network, &account, later).await;
    charge_account(ports(&h.store, &network, &h), &job(&account), later)
        .await
        .unwrap();

    assert_eq!(first.len(), 1);
    assert_eq!(second, [], "the retry is not due again that day");
    let invoice = invoice_of(&h, &account).await;
    assert_eq!(invoice.attempts.len(), 2, "{:?}", invoice.attempts);
    assert_eq!(network.payments_by_key().len(), 2);
    assert_eq!(count(&emails(&h, &account).await, "Payment failed"), 2);
}

/// A sweep and worker stopped after each of their calls in turn on a retry day (a killed
/// Lambda), then the sweeps of the rest of the day: the retry is made once, with exactly one
/// PaymentIntent per attempt number.
pub async fn a_sweep_stopped_after_each_step_makes_no_second_payment<
    S: Store + Clone + 'static,
    G: PaymentGateway + Clone + 'static,
>(
    h: PurchaseHarness<S, G>,
) {
    let retry_day = charge_time() + TimeDelta::days(3);
    for step in 0.. {
        let label = format!("retry-stop{step}");
        let (account, network) =
            declined_at_the_charge(&h, &label, 6_000_000, "insufficient_funds").await;
        let probe = Arc::new(Probe::default());
        let store = Instrumented::with_probe(h.store.clone(), probe.clone());
        let gateway = Instrumented::with_probe(network.clone(), probe.clone());
        probe.stop_after(step);
        let run = sweep_and_work(&h, &store, &gateway, &account, retry_day);
        let finished = tokio::select! {
            jobs = run => Some(jobs),
            () = probe.hung() => None,
        };
        let context = format!("stopped after call {step} ({:?})", probe.log().last());
        if finished.is_none() {
            let end_of_day = retry_day + TimeDelta::hours(20);
            sweeps_until(&h, &network, &account, retry_day, end_of_day).await;
        }

        let invoice = invoice_of(&h, &account).await;
        assert_eq!(
            invoice.attempts.len(),
            2,
            "{context}: {:?}",
            invoice.attempts
        );
        assert_eq!(
            invoice.attempts[1].outcome,
            AttemptOutcome::Declined,
            "{context}"
        );
        let payments = network.payments_by_key();
        assert_eq!(payments.len(), 2, "{context}: {payments:?}");
        assert!(
            payments.values().all(|p| p.len() == 1),
            "{context}: one PaymentIntent per attempt: {payments:?}"
        );
        if finished.is_some() {
            assert!(step >= 4, "a retry takes several calls, not {step}");
            break;
        }
    }
}

/// A credit purchase the bank declined is not an invoice: a month of collection sweeps makes
/// no request for it.
pub async fn a_declined_purchase_never_becomes_a_retried_charge<
    S: Store + Clone + 'static,
    G: PaymentGateway + Clone + 'static,
>(
    h: PurchaseHarness<S, G>,
) {
    let account = owing(&h, "retry-purchase", Some(DECLINING), 0).await;
    let network = Issuer::declining_with(h.gateway.clone(), "insufficient_funds");
    let bought = create_purchase(
        purchase::Ports {
            store: &h.store,
            gateway: &network,
            mailer: h.mail.0.as_ref(),
        },
        PurchaseRequest {
            account: &account,
            amount: Cents::new(2_500),
            currency: Currency::Usd,
            keyed: None,
            new_id: PurchaseId::parse(&format!("cp_{}", account.as_str().replace('-', "")))
                .unwrap(),
            limits: PurchaseLimits::default(),
            now: charge_time(),
        },
    )
    .await
    .unwrap();
    assert!(
        matches!(bought, PurchaseAnswer::Declined { .. }),
        "{bought:?}"
    );

    let visited = a_month_of_sweeps(&h, &network, &account).await;

    assert!(
        visited.is_empty(),
        "no sweep finds anything of the account: {visited:?}"
    );
    assert_eq!(network.requests(), 1, "the purchase's own charge only");
    let invoices = h.store.invoices(&account, None, 10).await.unwrap();
    assert_eq!(invoices.items, Vec::<Invoice>::new());
}

/// An invoice waiting for the bank's authorization on the old card, and a new card put: the
/// waiting PaymentIntent is canceled at the network before the new card is charged, so the
/// two can never both succeed; the invoice is paid once.
pub async fn a_new_card_cancels_the_payment_waiting_for_authorization_first<
    S: Store + Clone + 'static,
    G: PaymentGateway + Clone + 'static,
>(
    h: PurchaseHarness<S, G>,
) {
    let account = owing(
        &h,
        "newcard-3ds",
        Some("pm_card_authenticationRequired"),
        9_990_000,
    )
    .await;
    let charged = charge_account(
        ports(&h.store, &h.gateway, &h),
        &job(&account),
        charge_time(),
    )
    .await
    .unwrap();
    assert!(
        matches!(
            charged,
            Charged::Invoiced {
                status: InvoiceStatus::RequiresAuthorization,
                ..
            }
        ),
        "{charged:?}"
    );
    let waiting = invoice_of(&h, &account).await;
    let old = waiting.attempts[0].payment.clone().unwrap();

    let now = charge_time() + TimeDelta::hours(1);
    replace_card(&h, &account, "pm_card_visa", now).await;
    let collected = pay_with_card_on_file(ports(&h.store, &h.gateway, &h), &account, now)
        .await
        .unwrap();

    assert_eq!(
        collected,
        [Collected {
            invoice: waiting.id.clone(),
            status: InvoiceStatus::Paid
        }]
    );
    let old_now = h.gateway.charge_status(&old).await.unwrap();
    assert!(
        matches!(old_now, ChargeOutcome::Canceled { .. }),
        "the old payment can no longer succeed: {old_now:?}"
    );
    let invoice = invoice_of(&h, &account).await;
    assert_eq!(invoice.attempts.len(), 2);
    assert_eq!(invoice.attempts[1].trigger, AttemptTrigger::NewCard);
    assert_ne!(invoice.attempts[1].payment, Some(old));
    assert_eq!(invoice.amount_paid, invoice.amount_due, "paid once");
    assert_eq!(count(&emails(&h, &account).await, "Receipt"), 1);
    let overview = billing_overview(&h.store, &account, None, now)
        .await
        .unwrap();
    assert!(!overview.past_due);
}

/// [`CONCURRENT`] workers given the retry day's job at once (SQS delivering it to every
/// invocation), then as many collections for a new card at once (the card put by as many
/// requests): one retry attempt and one new-card attempt, one PaymentIntent each,
/// one email each.
pub async fn twenty_five_workers_and_new_card_collections_at_once_make_one_attempt_each<
    S: Store + Clone + 'static,
    G: PaymentGateway + Clone + 'static,
>(
    h: PurchaseHarness<S, G>,
) {
    let (account, network) =
        declined_at_the_charge(&h, "retry-crowd", 20_000_000, "insufficient_funds").await;
    let retry_day = charge_time() + TimeDelta::days(3);
    let h = Arc::new(h);

    let workers: Vec<_> = (0..CONCURRENT)
        .map(|_| {
            let (h, network, job) = (h.clone(), network.clone(), job(&account));
            tokio::spawn(async move {
                charge_account(ports(&h.store, &network, &h), &job, retry_day).await
            })
        })
        .collect();
    for worker in workers {
        // Losing every race in a row is allowed: the job is delivered again.
        if let Err(error) = worker.await.unwrap() {
            assert!(error.is_retryable(), "{error:?}");
        }
    }
    let retried = invoice_of(&h, &account).await;
    assert_eq!(retried.attempts.len(), 2, "{:?}", retried.attempts);
    assert_eq!(
        network.payments_by_key().len(),
        2,
        "one PaymentIntent per attempt"
    );

    let now = retry_day + TimeDelta::hours(1);
    replace_card(&h, &account, "pm_card_visa", now).await;
    let collections: Vec<_> = (0..CONCURRENT)
        .map(|_| {
            let (h, account) = (h.clone(), account.clone());
            tokio::spawn(async move {
                pay_with_card_on_file(ports(&h.store, &h.gateway, &h), &account, now).await
            })
        })
        .collect();
    for collection in collections {
        if let Err(error) = collection.await.unwrap() {
            assert!(error.is_retryable(), "{error:?}");
        }
    }

    let paid = invoice_of(&h, &account).await;
    assert_eq!(paid.status, InvoiceStatus::Paid);
    assert_eq!(paid.attempts.len(), 3, "{:?}", paid.attempts);
    assert_eq!(paid.amount_paid, paid.amount_due);
    let mails = emails(&h, &account).await;
    assert_eq!(count(&mails, "Payment failed"), 2, "one per failed attempt");
    assert_eq!(count(&mails, "Receipt"), 1);
}

/// Stamps out the recovery contract. `$make` is an async fn returning a [`PurchaseHarness`]
/// whose store and gateway are `Clone + 'static`.
#[macro_export]
macro_rules! recovery_contract {
    ($make:path) => {
        $crate::recovery_contract!(@cases $make;
            a_soft_decline_is_retried_on_days_3_5_7_then_uncollectible,
            a_never_retry_decline_gets_no_attempt_from_a_month_of_sweeps,
            card_required_gets_no_attempt_from_a_month_of_sweeps,
            a_replaced_card_pays_the_oldest_invoice_first_even_an_uncollectible_one,
            two_sweeps_and_a_job_delivered_twice_on_one_day_make_one_attempt,
            a_sweep_stopped_after_each_step_makes_no_second_payment,
            a_declined_purchase_never_becomes_a_retried_charge,
            a_new_card_cancels_the_payment_waiting_for_authorization_first,
            twenty_five_workers_and_new_card_collections_at_once_make_one_attempt_each,
        );
    };
    (@cases $make:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                $crate::recovery::$case($make().await).await;
            }
        )*
    };
}
