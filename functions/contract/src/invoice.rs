//! The monthly charge, as a contract every (store, gateway, mailer) set must keep: one invoice
//! per account and period, one payment per attempt, one email per outcome, whatever runs twice,
//! concurrently or stops half way; and the outcomes PRODUCT.md lists (paid, authorization,
//! declined, no card). `invoice_contract!` stamps the cases out; they drive the use cases, so
//! they run on the embedded adapters and on the production ones alike.

use std::sync::Arc;

use async_trait::async_trait;
use billing_core::domain::account::Account;
use billing_core::domain::event::{NetworkEvent, NetworkEventKind};
use billing_core::domain::invoice::{AttemptOutcome, Invoice, InvoiceStatus};
use billing_core::ports::gateway::{ChargeOutcome, PaymentGateway};
use billing_core::ports::mailer::{Email, MailError, Mailer};
use billing_core::ports::queue::ChargeJob;
use billing_core::ports::store::{
    Expect, InvoiceStore, ListQuery, Page, Record, RecordKey, Store, StoreError, Transaction,
    Versioned, Write,
};
use billing_core::rules::ledger::{BalanceState, EntryKind};
use billing_core::rules::period::BillingPeriod;
use billing_core::rules::retry::RetrySchedule;
use billing_core::usecases::close::invoice_id;
use billing_core::usecases::invoice::{
    Charged, MonthlySummary, Ports, charge_account, plan_shard, refresh_invoice, shards,
};
use billing_core::usecases::overview::billing_overview;
use billing_core::usecases::purchase::{self, EventHandled, handle_network_event};
use billing_core::usecases::usage::{UsageEvent, record_usage};
use billing_core::{AccountId, Cents, EmailAddress, Micros, UsageEventId};
use chrono::{DateTime, TimeDelta, TimeZone, Utc};

use crate::PlainLinks;
use crate::instrument::{Instrumented, Probe};
use crate::purchase::PurchaseHarness;
use crate::queue::Jobs;
use crate::unique_account;

/// Concurrent workers of the race case (redelivered and duplicated jobs).
pub const CONCURRENT: usize = 25;

/// The month charged.
pub(crate) fn october() -> BillingPeriod {
    BillingPeriod::new(2026, 10).unwrap()
}

/// When the charge runs: after the cards of these cases were set (`card::now`).
pub(crate) fn charge_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 3, 0, 0).unwrap()
}

pub(crate) fn address(account: &AccountId) -> EmailAddress {
    EmailAddress::parse(&format!("{account}@example.com")).unwrap()
}

pub(crate) fn ports<'a, S, G>(
    store: &'a dyn Store,
    gateway: &'a dyn PaymentGateway,
    h: &'a PurchaseHarness<S, G>,
) -> Ports<'a> {
    Ports {
        store,
        gateway,
        mailer: h.mail.0.as_ref(),
        links: &PlainLinks,
        retries: &RetrySchedule::STANDARD,
    }
}

/// An account with an address and, when `card` is given, that card on file; and `micros` of
/// usage in October, recorded as metering reports it (which makes the account due).
pub(crate) async fn owing<S: Store + Clone + 'static, G: PaymentGateway + Clone + 'static>(
    h: &PurchaseHarness<S, G>,
    label: &str,
    card: Option<&str>,
    micros: i64,
) -> AccountId {
    let account = unique_account(label);
    let email = address(&account);
    match card {
        Some(card) => {
            let holder = billing_core::usecases::card::Holder {
                account: &account,
                email: Some(&email),
            };
            let card = billing_core::PaymentMethodId::parse(card).unwrap();
            billing_core::usecases::card::set_card(
                &h.store,
                &h.gateway,
                &holder,
                &card,
                crate::card::now(),
            )
            .await
            .expect("the card is accepted");
        }
        None => {
            let record = Account::new(account.clone(), Some(email), crate::card::now());
            let write = Transaction::new().with(Write::Put {
                record: Record::Account(record),
                expect: Expect::Absent,
            });
            h.store.commit(write).await.unwrap();
        }
    }
    if micros > 0 {
        use_for(h, &account, "usage", micros).await;
    }
    account
}

pub(crate) async fn use_for<S: Store + Clone + 'static, G: PaymentGateway + Clone + 'static>(
    h: &PurchaseHarness<S, G>,
    account: &AccountId,
    id: &str,
    micros: i64,
) {
    let occurred_at = Utc.with_ymd_and_hms(2026, 10, 20, 12, 0, 0).unwrap();
    let event = UsageEvent {
        id: UsageEventId::parse(&format!("{account}-{id}")).unwrap(),
        account_id: account.clone(),
        amount_micros: micros,
        occurred_at,
        description: "model calls".into(),
    };
    record_usage(&h.store, &event, occurred_at).await.unwrap();
}

/// An account owing `micros` with no card on file, and its monthly charge at [`charge_time`]
/// (which fails with `card_required`) through a gateway whose probe counts what the network is
/// asked; returns the account and that gateway.
pub(crate) async fn charged_without_a_card<S, G>(
    h: &PurchaseHarness<S, G>,
    label: &str,
    micros: i64,
) -> (AccountId, Instrumented<G>)
where
    S: Store + Clone + 'static,
    G: PaymentGateway + Clone + 'static,
{
    let account = owing(h, label, None, micros).await;
    let gateway = Instrumented::with_probe(h.gateway.clone(), Arc::new(Probe::default()));
    charge_account(ports(&h.store, &gateway, h), &job(&account), charge_time())
        .await
        .unwrap();
    (account, gateway)
}

pub(crate) fn job(account: &AccountId) -> ChargeJob {
    ChargeJob::monthly(account.clone(), october())
}

async fn charge<S: Store + Clone + 'static, G: PaymentGateway + Clone + 'static>(
    h: &PurchaseHarness<S, G>,
    account: &AccountId,
    at: DateTime<Utc>,
) -> Charged {
    let p = ports(&h.store, &h.gateway, h);
    charge_account(p, &job(account), at).await.unwrap()
}

pub(crate) async fn invoice_of<S: Store + Clone + 'static, G: PaymentGateway + Clone + 'static>(
    h: &PurchaseHarness<S, G>,
    account: &AccountId,
) -> Invoice {
    h.store
        .invoice(account, &invoice_id(october()))
        .await
        .unwrap()
        .expect("the period's invoice")
        .value
}

/// Subjects and HTML bodies of the emails sent to the account, in no promised order (the embedded
/// outbox lists newest first).
pub(crate) async fn emails<S: Store + Clone + 'static, G: PaymentGateway + Clone + 'static>(
    h: &PurchaseHarness<S, G>,
    account: &AccountId,
) -> Vec<(String, String)> {
    let to = address(account);
    h.mail
        .1
        .delivered()
        .await
        .into_iter()
        .filter(|m| m.to == to.as_str())
        .map(|m| (m.subject, m.html))
        .collect()
}

pub(crate) fn count(emails: &[(String, String)], subject_start: &str) -> usize {
    emails
        .iter()
        .filter(|(subject, _)| subject.starts_with(subject_start))
        .count()
}

/// 12.345678 USD of usage: 12.34 is invoiced and paid with one payment, the lines add up to
/// it, the rest (under a cent) stays on the balance, one receipt is sent; charging again
/// charges nothing and sends nothing.
pub async fn an_owing_account_is_invoiced_and_paid_once<
    S: Store + Clone + 'static,
    G: PaymentGateway + Clone + 'static,
>(
    h: PurchaseHarness<S, G>,
) {
    let account = owing(&h, "monthly-paid", Some("pm_card_visa"), 12_345_678).await;

    let charged = charge(&h, &account, charge_time()).await;

    let invoice = invoice_of(&h, &account).await;
    assert_eq!(
        charged,
        Charged::Invoiced {
            invoice: invoice.id.clone(),
            status: InvoiceStatus::Paid,
            created: true
        }
    );
    assert_eq!(invoice.amount_due, Cents::new(1_234));
    assert_eq!(invoice.amount_paid, Cents::new(1_234));
    let lines = Micros::checked_sum(invoice.lines.iter().map(|l| l.amount_micros)).unwrap();
    assert_eq!(lines, invoice.amount_due.to_micros().unwrap());
    assert_eq!(invoice.attempts.len(), 1);
    assert!(invoice.attempts[0].payment.is_some());
    let balance = h.store.balance(&account).await.unwrap().amount;
    assert_eq!(
        balance,
        Micros::new(-5_678),
        "the sub-cent rest carries over"
    );

    let probe = Arc::new(Probe::default());
    let gateway = Instrumented::with_probe(h.gateway.clone(), probe.clone());
    let again = charge_account(
        ports(&h.store, &gateway, &h),
        &job(&account),
        charge_time() + TimeDelta::hours(1),
    )
    .await
    .unwrap();

    assert!(matches!(
        again,
        Charged::Invoiced {
            status: InvoiceStatus::Paid,
            created: false,
            ..
        }
    ));
    assert_eq!(probe.total(), 0, "a paid invoice asks the network nothing");
    assert_eq!(invoice_of(&h, &account).await, invoice);
    assert_eq!(count(&emails(&h, &account).await, "Receipt"), 1);
}

/// The planner enqueues a job for every account with usage in the month (through the due
/// index) and none for an account without; the accounts in credit or under the minimum are
/// visited and invoiced nothing.
pub async fn the_planner_enqueues_every_owing_account_and_no_other<
    S: Store + Clone + 'static,
    G: PaymentGateway + Clone + 'static,
>(
    h: PurchaseHarness<S, G>,
) {
    let paying = owing(&h, "plan-paying", Some("pm_card_visa"), 3_000_000).await;
    let small = owing(&h, "plan-small", Some("pm_card_visa"), 400_000).await;
    let idle = owing(&h, "plan-idle", Some("pm_card_visa"), 0).await;
    let queue = Jobs::default();

    for shard in shards() {
        plan_shard(&h.store, &queue, october(), shard)
            .await
            .unwrap();
    }

    let jobs = queue.take();
    let planned = |account: &AccountId| jobs.iter().filter(|j| j.account == *account).count();
    assert_eq!(planned(&paying), 1);
    assert_eq!(planned(&small), 1);
    assert_eq!(
        planned(&idle),
        0,
        "no read or write for an account with nothing to do"
    );
    let mut summary = MonthlySummary::default();
    for account in [&paying, &small] {
        summary.add(&charge(&h, account, charge_time()).await);
    }
    assert_eq!(
        summary,
        MonthlySummary {
            accounts: 2,
            invoices: 1,
            paid: 1,
            requires_authorization: 0,
            failed: 0,
            carried: 1,
        }
    );
    let next = october().next();
    let carried_into_next = jobs_for(&h, next).await;
    assert!(
        carried_into_next.contains(&small),
        "0.40 USD carries over, so November's charge visits the account"
    );
}

async fn jobs_for<S: Store + Clone + 'static, G: PaymentGateway + Clone + 'static>(
    h: &PurchaseHarness<S, G>,
    period: BillingPeriod,
) -> Vec<AccountId> {
    let queue = Jobs::default();
    for shard in shards() {
        plan_shard(&h.store, &queue, period, shard).await.unwrap();
    }
    queue.take().into_iter().map(|j| j.account).collect()
}

/// A decline fails the invoice with its code and one email naming the reason and what to
/// check; the account is past due; charging again sends no second charge or email.
pub async fn a_declined_charge_fails_the_invoice_with_the_reason<
    S: Store + Clone + 'static,
    G: PaymentGateway + Clone + 'static,
>(
    h: PurchaseHarness<S, G>,
) {
    let account = owing(
        &h,
        "monthly-declined",
        // Attaches, then declines every charge (the other decline cards refuse to attach).
        Some("pm_card_chargeCustomerFail"),
        20_000_000,
    )
    .await;

    charge(&h, &account, charge_time()).await;
    let again = charge(&h, &account, charge_time() + TimeDelta::minutes(5)).await;

    let invoice = invoice_of(&h, &account).await;
    assert_eq!(invoice.status, InvoiceStatus::PaymentFailed);
    assert!(matches!(
        again,
        Charged::Invoiced {
            status: InvoiceStatus::PaymentFailed,
            created: false,
            ..
        }
    ));
    assert_eq!(invoice.attempts.len(), 1);
    assert_eq!(invoice.attempts[0].outcome, AttemptOutcome::Declined);
    assert_eq!(
        invoice.attempts[0].decline_code.as_deref(),
        Some("generic_decline")
    );
    let sent = emails(&h, &account).await;
    assert_eq!(count(&sent, "Payment failed"), 1, "{sent:?}");
    let (_, html) = sent
        .iter()
        .find(|(s, _)| s.starts_with("Payment failed"))
        .unwrap();
    assert!(html.contains("generic_decline"), "the reason: {html}");
    assert!(
        html.contains("spending limit"),
        "the troubleshooting list: {html}"
    );
    let overview = billing_overview(&h.store, &account, None, charge_time())
        .await
        .unwrap();
    assert!(overview.past_due);
    assert_eq!(overview.outstanding, Cents::new(2_000));
}

/// No card on file: the invoice fails with `card_required` and one email asks for a card;
/// nothing is sent to the network.
pub async fn no_card_fails_the_invoice_with_card_required<
    S: Store + Clone + 'static,
    G: PaymentGateway + Clone + 'static,
>(
    h: PurchaseHarness<S, G>,
) {
    let (account, gateway) = charged_without_a_card(&h, "monthly-nocard", 7_500_000).await;

    let invoice = invoice_of(&h, &account).await;
    assert_eq!(invoice.status, InvoiceStatus::PaymentFailed);
    assert_eq!(invoice.attempts[0].outcome, AttemptOutcome::CardRequired);
    assert_eq!(
        invoice.attempts[0].decline_code.as_deref(),
        Some("card_required")
    );
    assert_eq!(gateway.probe.count("charge"), 0);
    let sent = emails(&h, &account).await;
    assert_eq!(count(&sent, "Add a card"), 1, "{sent:?}");
}

/// The bank asks for authentication: the invoice waits, the account is past due, one email
/// carries the authorization link; once the cardholder authenticates, the page's refresh pays
/// the invoice, sends one receipt and the account is active again.
pub async fn an_invoice_needing_authentication_is_paid_once_the_user_authorizes<
    S: Store + Clone + 'static,
    G: PaymentGateway + Clone + 'static,
>(
    h: PurchaseHarness<S, G>,
) {
    let account = owing(
        &h,
        "monthly-3ds",
        Some("pm_card_authenticationRequired"),
        9_990_000,
    )
    .await;

    let charged = charge(&h, &account, charge_time()).await;

    assert!(matches!(
        charged,
        Charged::Invoiced {
            status: InvoiceStatus::RequiresAuthorization,
            ..
        }
    ));
    let waiting = invoice_of(&h, &account).await;
    let sent = emails(&h, &account).await;
    assert_eq!(count(&sent, "Action needed"), 1, "{sent:?}");
    let link = format!(
        "https://billing.test/authorize/invoice/{account}/{}",
        waiting.id
    );
    assert!(
        sent.iter().any(|(_, html)| html.contains(&link)),
        "{sent:?}"
    );
    let overview = billing_overview(&h.store, &account, None, charge_time())
        .await
        .unwrap();
    assert!(overview.past_due);

    let attempt = &waiting.attempts[0];
    h.bank
        .authenticate(
            attempt.payment.as_ref().unwrap(),
            attempt.client_secret.as_ref().unwrap(),
            true,
        )
        .await;
    let p = ports(&h.store, &h.gateway, &h);
    let later = charge_time() + TimeDelta::minutes(10);
    let paid = refresh_invoice(p, &account, &waiting.id, later)
        .await
        .unwrap();
    let again = refresh_invoice(p, &account, &waiting.id, later)
        .await
        .unwrap();

    assert_eq!(paid.status, InvoiceStatus::Paid);
    assert_eq!(again, paid);
    assert_eq!(count(&emails(&h, &account).await, "Receipt"), 1);
    let overview = billing_overview(&h.store, &account, None, later)
        .await
        .unwrap();
    assert!(!overview.past_due);
    assert_eq!(overview.outstanding, Cents::ZERO);
}

/// A webhook reporting the invoice's payment succeeded (the cardholder authorized it on
/// Stripe's side) pays it once; the same event again is recognised; an event about a
/// payment of another invoice changes nothing.
pub async fn a_payment_event_pays_the_invoice_once<
    S: Store + Clone + 'static,
    G: PaymentGateway + Clone + 'static,
>(
    h: PurchaseHarness<S, G>,
) {
    let account = owing(
        &h,
        "monthly-event",
        Some("pm_card_authenticationRequired"),
        5_550_000,
    )
    .await;
    charge(&h, &account, charge_time()).await;
    let waiting = invoice_of(&h, &account).await;
    let payment = waiting.attempts[0].payment.clone().unwrap();
    h.bank
        .authenticate(
            &payment,
            waiting.attempts[0].client_secret.as_ref().unwrap(),
            true,
        )
        .await;
    let event = |id: &str, reference: &str| NetworkEvent {
        id: id.to_owned(),
        created: charge_time(),
        kind: NetworkEventKind::Payment {
            account: Some(account.clone()),
            reference: Some(reference.to_owned()),
            outcome: ChargeOutcome::Succeeded {
                payment: payment.clone(),
            },
        },
    };
    let p = purchase::Ports {
        store: &h.store,
        gateway: &h.gateway,
        mailer: h.mail.0.as_ref(),
    };
    let later = charge_time() + TimeDelta::minutes(4);

    let first = handle_network_event(
        p,
        &PlainLinks,
        &event("evt_inv_1", waiting.id.as_str()),
        later,
    )
    .await
    .unwrap();
    let again = handle_network_event(
        p,
        &PlainLinks,
        &event("evt_inv_1", waiting.id.as_str()),
        later,
    )
    .await
    .unwrap();
    let other = handle_network_event(p, &PlainLinks, &event("evt_inv_2", "in_202609"), later)
        .await
        .unwrap();

    assert_eq!(first, EventHandled::Applied);
    assert_eq!(again, EventHandled::Duplicate);
    assert_eq!(other, EventHandled::Ignored("unknown payment"));
    let invoice = invoice_of(&h, &account).await;
    assert_eq!(invoice.status, InvoiceStatus::Paid);
    assert_eq!(invoice.amount_paid, Cents::new(555));
    assert_eq!(count(&emails(&h, &account).await, "Receipt"), 1);
}

/// A mailer that is down.
struct MailDown;

#[async_trait]
impl Mailer for MailDown {
    async fn send(&self, _email: &Email) -> Result<(), MailError> {
        Err(MailError::Unavailable("injected outage".into()))
    }
}

/// The mail provider down when the receipt is due: the invoice is paid, and the job reports
/// a retryable failure so that it is delivered again; run again once the claim is stale, it
/// sends the receipt, once, and charges nothing more.
pub async fn a_mail_outage_leaves_the_job_to_be_run_again<
    S: Store + Clone + 'static,
    G: PaymentGateway + Clone + 'static,
>(
    h: PurchaseHarness<S, G>,
) {
    let account = owing(&h, "monthly-mail-down", Some("pm_card_visa"), 8_000_000).await;
    let down = Ports {
        store: &h.store,
        gateway: &h.gateway,
        mailer: &MailDown,
        links: &PlainLinks,
        retries: &RetrySchedule::STANDARD,
    };

    let first = charge_account(down, &job(&account), charge_time()).await;

    let error = first.expect_err("the receipt is still owed");
    assert!(error.is_retryable(), "{error:?}");
    assert_eq!(invoice_of(&h, &account).await.status, InvoiceStatus::Paid);
    assert_eq!(count(&emails(&h, &account).await, "Receipt"), 0);
    let probe = Arc::new(Probe::default());
    let gateway = Instrumented::with_probe(h.gateway.clone(), probe.clone());
    let soon = charge_account(
        ports(&h.store, &gateway, &h),
        &job(&account),
        charge_time() + TimeDelta::seconds(30),
    )
    .await;
    assert!(soon.is_err(), "a fresh claim is left to its holder");
    let later = charge_account(
        ports(&h.store, &gateway, &h),
        &job(&account),
        charge_time() + TimeDelta::minutes(3),
    )
    .await
    .unwrap();
    assert!(matches!(
        later,
        Charged::Invoiced {
            status: InvoiceStatus::Paid,
            ..
        }
    ));
    assert_eq!(probe.count("charge"), 0, "nothing is charged again");
    assert_eq!(count(&emails(&h, &account).await, "Receipt"), 1);
}

/// A store where the account's metering records one usage event of the new month just before
/// every write that closes a period: the balance always moves between the close's read and its
/// write, as it does for an account recording usage many times a second.
struct Busy<S> {
    inner: S,
    account: AccountId,
    events: std::sync::atomic::AtomicI64,
}

#[async_trait]
impl<S: Store> Store for Busy<S> {
    async fn get(&self, key: &RecordKey) -> Result<Option<Versioned<Record>>, StoreError> {
        self.inner.get(key).await
    }
    async fn list(&self, query: &ListQuery, limit: usize) -> Result<Page<Record>, StoreError> {
        self.inner.list(query, limit).await
    }
    async fn balance(&self, account: &AccountId) -> Result<BalanceState, StoreError> {
        self.inner.balance(account).await
    }
    async fn commit(&self, transaction: Transaction) -> Result<(), StoreError> {
        let closes = transaction.writes().iter().any(|w| {
            matches!(w, Write::Append { entries, .. }
                if entries.iter().any(|e| e.kind == EntryKind::Invoiced))
        });
        if closes {
            let n = self
                .events
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let november = Utc.with_ymd_and_hms(2026, 11, 25, 23, 0, 0).unwrap();
            let event = UsageEvent {
                id: UsageEventId::parse(&format!("{}-nov-{n}", self.account)).unwrap(),
                account_id: self.account.clone(),
                amount_micros: 1_000,
                occurred_at: november,
                description: "model calls".into(),
            };
            record_usage(&self.inner, &event, november).await.unwrap();
        }
        self.inner.commit(transaction).await
    }
}

/// An account whose usage of the new month arrives between every read and write of the close:
/// the charge is not left for later, the invoice is October's amount exactly, and the ledger
/// ends exact (October moved onto the invoice, every November event left on the balance).
pub async fn a_busy_account_is_invoiced_while_its_usage_keeps_arriving<
    S: Store + Clone + 'static,
    G: PaymentGateway + Clone + 'static,
>(
    h: PurchaseHarness<S, G>,
) {
    let account = owing(&h, "monthly-busy", Some("pm_card_visa"), 15_000_000).await;
    let busy = Busy {
        inner: h.store.clone(),
        account: account.clone(),
        events: 0.into(),
    };

    let charged = charge_account(ports(&busy, &h.gateway, &h), &job(&account), charge_time())
        .await
        .expect("a busy account is invoiced, not left for later");

    assert!(
        matches!(
            charged,
            Charged::Invoiced {
                status: InvoiceStatus::Paid,
                ..
            }
        ),
        "{charged:?}"
    );
    let november_events = busy.events.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        november_events >= 2,
        "the balance moved under the close every time"
    );
    let invoice = invoice_of(&h, &account).await;
    assert_eq!(invoice.amount_due, Cents::new(1_500), "October only");
    assert_eq!(
        h.store.balance(&account).await.unwrap().amount,
        Micros::new(-1_000 * november_events),
        "every November event stays on the balance, October is on the invoice"
    );
}

/// The same job delivered 25 times at once (a redelivered, duplicated message): one invoice,
/// one attempt, one payment, one receipt, one ledger movement.
pub async fn concurrent_workers_on_one_job_charge_once<
    S: Store + Clone + 'static,
    G: PaymentGateway + Clone + 'static,
>(
    h: PurchaseHarness<S, G>,
) {
    let account = owing(&h, "monthly-race", Some("pm_card_visa"), 4_200_000).await;
    let h = Arc::new(h);

    let runs: Vec<_> = (0..CONCURRENT)
        .map(|_| {
            let h = h.clone();
            let account = account.clone();
            tokio::spawn(async move {
                let p = ports(&h.store, &h.gateway, &h);
                charge_account(p, &job(&account), charge_time()).await
            })
        })
        .collect();
    let mut created = 0;
    for run in runs {
        match run.await.unwrap() {
            Ok(Charged::Invoiced { created: true, .. }) => created += 1,
            Ok(Charged::Invoiced { .. }) => {}
            Ok(other) => panic!("unexpected {other:?}"),
            // Losing every race in a row is allowed; the job is delivered again.
            Err(error) => assert!(error.is_retryable(), "{error:?}"),
        }
    }

    assert_eq!(created, 1, "one invoice per account and period");
    let p = ports(&h.store, &h.gateway, &h);
    charge_account(p, &job(&account), charge_time() + TimeDelta::minutes(3))
        .await
        .unwrap();
    let invoice = invoice_of(&h, &account).await;
    assert_eq!(invoice.status, InvoiceStatus::Paid);
    assert_eq!(invoice.attempts.len(), 1);
    assert_eq!(count(&emails(&h, &account).await, "Receipt"), 1);
    let balance = h.store.balance(&account).await.unwrap().amount;
    assert_eq!(balance, Micros::ZERO, "4.20 invoiced once");
}

/// A worker stopped after each of its calls in turn (a killed Lambda), and the job run again
/// once its claims are stale: the invoice is paid with the first attempt's payment, never a
/// second, and the receipt is sent (twice only if the stop fell between sending and marking).
pub async fn a_worker_stopped_after_each_step_resumes_without_a_second_payment<
    S: Store + Clone + 'static,
    G: PaymentGateway + Clone + 'static,
>(
    h: PurchaseHarness<S, G>,
) {
    for step in 0.. {
        let account = owing(
            &h,
            &format!("monthly-stop{step}"),
            Some("pm_card_visa"),
            6_000_000,
        )
        .await;
        let probe = Arc::new(Probe::default());
        let store = Instrumented::with_probe(h.store.clone(), probe.clone());
        let gateway = Instrumented::with_probe(h.gateway.clone(), probe.clone());
        probe.stop_after(step);
        let run = async {
            charge_account(ports(&store, &gateway, &h), &job(&account), charge_time()).await
        };
        let finished = tokio::select! {
            charged = run => Some(charged),
            () = probe.hung() => None,
        };
        if let Some(charged) = finished {
            assert!(matches!(
                charged,
                Ok(Charged::Invoiced {
                    status: InvoiceStatus::Paid,
                    ..
                })
            ));
            assert!(step >= 4, "a charge takes several calls, not {step}");
            break;
        }
        let context = format!("stopped after call {step} ({:?})", probe.log().last());
        let before = h
            .store
            .invoice(&account, &invoice_id(october()))
            .await
            .unwrap()
            .map(|v| v.value);

        let resumed = charge(&h, &account, charge_time() + TimeDelta::minutes(3)).await;

        assert!(
            matches!(
                resumed,
                Charged::Invoiced {
                    status: InvoiceStatus::Paid,
                    ..
                }
            ),
            "{context}: {resumed:?}"
        );
        let invoice = invoice_of(&h, &account).await;
        assert_eq!(invoice.attempts.len(), 1, "{context}");
        if let Some(payment) = before.and_then(|b| b.attempts[0].payment.clone()) {
            assert_eq!(invoice.attempts[0].payment, Some(payment), "{context}");
        }
        assert_eq!(
            h.store.balance(&account).await.unwrap().amount,
            Micros::ZERO,
            "{context}"
        );
        let receipts = count(&emails(&h, &account).await, "Receipt");
        assert!(
            (1..=2).contains(&receipts),
            "{context}: {receipts} receipts"
        );
    }
}

/// Stamps out the invoice contract. `$make` is an async fn returning a
/// [`PurchaseHarness`] whose store and gateway are `Clone + 'static`.
#[macro_export]
macro_rules! invoice_contract {
    ($make:path) => {
        $crate::invoice_contract!(@cases $make;
            an_owing_account_is_invoiced_and_paid_once,
            the_planner_enqueues_every_owing_account_and_no_other,
            a_declined_charge_fails_the_invoice_with_the_reason,
            no_card_fails_the_invoice_with_card_required,
            an_invoice_needing_authentication_is_paid_once_the_user_authorizes,
            a_payment_event_pays_the_invoice_once,
            a_mail_outage_leaves_the_job_to_be_run_again,
            a_busy_account_is_invoiced_while_its_usage_keeps_arriving,
            concurrent_workers_on_one_job_charge_once,
            a_worker_stopped_after_each_step_resumes_without_a_second_payment,
        );
    };
    (@cases $make:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                $crate::invoice::$case($make().await).await;
            }
        )*
    };
}
