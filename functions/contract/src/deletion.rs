//! Account deletion (issue 11), as a contract every (store, gateway, mailer) set must keep:
//! what is owed is charged first (a failure erases nothing), then every card is detached, the
//! customer deleted, the account's records erased or anonymised, and one confirmation sent;
//! stopped after any call, a later request finishes it without a second charge; 25 requests
//! at once delete once; afterwards the account refuses reads and usage, and the monthly charge
//! skips it. `deletion_contract!` stamps the cases out, with a function that reads every item
//! the store holds as text (the erasure is checked on what is stored, not through the port).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use billing_core::domain::account::{Account, AccountStatus};
use billing_core::domain::event::{NetworkEvent, NetworkEventKind};
use billing_core::domain::invoice::{AttemptTrigger, InvoiceStatus};
use billing_core::domain::purchase::PurchaseSlot;
use billing_core::ports::gateway::{ChargeOutcome, GatewayError, PaymentGateway};
use billing_core::ports::mailer::Mailer;
use billing_core::ports::store::{
    AccountStore, EventStore, Expect, InvoiceStore, LedgerStore, PurchaseStore, Record, Store,
    Transaction, Write,
};
use billing_core::rules::purchase::PurchaseStatus;
use billing_core::usecases::deletion::{
    Deleted, DeletionRequest, FinalChargeFailed, delete_account,
};
use billing_core::usecases::error::UseCaseError;
use billing_core::usecases::invoice::{Charged, Ports, charge_account};
use billing_core::usecases::overview::billing_overview;
use billing_core::usecases::purchase::{EventHandled, handle_network_event};
use billing_core::usecases::usage::{UsageEvent, record_usage};
use billing_core::{
    AccountId, Cents, CustomerId, Micros, PaymentMethodId, PurchaseId, UsageEventId,
};
use chrono::{DateTime, TimeDelta, TimeZone, Utc};

use crate::PlainLinks;
use crate::instrument::{Instrumented, Probe};
use crate::invoice::{CONCURRENT, address, charge_time, count, emails, job, october, owing, ports};
use crate::purchase::PurchaseHarness;
use crate::recovery::Issuer;

/// Every item the store holds, as text (keys and values), for the erasure scan.
pub type Scan<S> = for<'a> fn(&'a S) -> Pin<Box<dyn Future<Output = Vec<String>> + Send + 'a>>;

/// The subject of the confirmation.
const CONFIRMATION: &str = "Your billing account has been deleted";

/// When the deletions of these cases are asked for: after the cards were set and the usage
/// of October recorded, before any monthly charge.
fn deletion_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 27, 9, 30, 0).unwrap()
}

/// Deletes `account` at `now` through these adapters, confirming with its id.
async fn delete(
    store: &dyn Store,
    gateway: &dyn PaymentGateway,
    mailer: &dyn Mailer,
    account: &AccountId,
    now: DateTime<Utc>,
) -> Result<Deleted, UseCaseError> {
    let ports = Ports {
        store,
        gateway,
        mailer,
        links: &PlainLinks,
        retries: &billing_core::rules::retry::RetrySchedule::STANDARD,
    };
    let email = address(account);
    let request = DeletionRequest {
        account,
        email: Some(&email),
        confirm: account.as_str(),
        now,
    };
    delete_account(ports, request).await
}

/// The account record as stored.
async fn account_of<S: Store>(store: &S, account: &AccountId) -> Account {
    store
        .account(account)
        .await
        .unwrap()
        .expect("the account")
        .value
}

/// What the account had at the network before deletion: its customer and card.
async fn on_file<S: Store>(
    store: &S,
    account: &AccountId,
) -> (CustomerId, PaymentMethodId, String) {
    let record = account_of(store, account).await;
    let card = record.card.expect("a card on file");
    (
        record.customer.expect("a customer"),
        card.payment_method,
        card.fingerprint,
    )
}

/// The customer is gone at the network and the card is attached to nobody.
async fn forgotten_by_the_network<G: PaymentGateway>(
    gateway: &G,
    customer: &CustomerId,
    card: &PaymentMethodId,
) {
    match gateway.customer_cards(customer).await {
        Err(GatewayError::NotFound(_)) => {}
        other => panic!("the customer must be deleted, not {other:?}"),
    }
    let method = gateway.payment_method(card).await.unwrap();
    assert_eq!(method.customer, None, "the card is detached");
}

/// The account was emptied of personal data and marked deleted, and its balance is zero.
async fn erased<S: Store>(store: &S, account: &AccountId) {
    let record = account_of(store, account).await;
    assert_eq!(record.status, AccountStatus::Deleted);
    assert_eq!(record.email, None);
    assert_eq!(record.customer, None);
    assert_eq!(record.card, None);
    let deletion = record.deletion.expect("the deletion is recorded");
    assert_eq!(
        deletion.email, None,
        "the captured address is erased once sent"
    );
    assert_eq!(store.balance(account).await.unwrap().amount, Micros::ZERO);
}

/// Usage of October, a card on file and no monthly charge yet: deleting charges 12.34 on a
/// final invoice (the sub-cent rest is written off), detaches the card, deletes the customer,
/// erases every personal datum from every item of the account (checked on what the store
/// holds), and sends one confirmation. Deleting again answers the same, with no request to the
/// network and no email.
pub async fn a_deleted_account_is_charged_erased_and_confirmed_once<
    S: Store + Clone + 'static,
    G: PaymentGateway + Clone + 'static,
>(
    h: PurchaseHarness<S, G>,
    scan: Scan<S>,
) {
    let account = owing(&h, "delete-erase", Some("pm_card_visa"), 12_345_678).await;
    let (customer, card, fingerprint) = on_file(&h.store, &account).await;
    let network = Issuer::new(h.gateway.clone());

    let deleted = delete(
        &h.store,
        &network,
        h.mail.0.as_ref(),
        &account,
        deletion_time(),
    )
    .await
    .unwrap();

    let final_invoice = deleted.final_invoice.clone().expect("a final invoice");
    assert_eq!(deleted.written_off, Micros::new(5_678));
    assert_eq!(deleted.forfeited, Micros::ZERO);
    let invoice = h
        .store
        .invoice(&account, &final_invoice)
        .await
        .unwrap()
        .unwrap()
        .value;
    assert_eq!(invoice.status, InvoiceStatus::Paid);
    assert_eq!(invoice.amount_paid, Cents::new(1_234));
    assert_eq!(invoice.attempts[0].trigger, AttemptTrigger::Deletion);
    let lines: i64 = invoice.lines.iter().map(|l| l.amount_micros.get()).sum();
    assert_eq!(lines, 12_340_000, "the lines add up: {:?}", invoice.lines);
    assert_eq!(network.payments_by_key().len(), 1, "one PaymentIntent");
    forgotten_by_the_network(&h.gateway, &customer, &card).await;
    erased(&h.store, &account).await;
    let sent = emails(&h, &account).await;
    assert_eq!(count(&sent, CONFIRMATION), 1, "{sent:?}");
    assert_eq!(
        count(&sent, "Receipt"),
        1,
        "the final invoice's receipt: {sent:?}"
    );

    let stored = scan(&h.store).await;
    let items: Vec<&String> = stored
        .iter()
        .filter(|item| item.contains(account.as_str()))
        .collect();
    assert!(
        items.len() >= 2,
        "the account and its invoice are kept: {items:?}"
    );
    // What names this account alone must be in no item at all; what any account's card may
    // share (the test card's fingerprint and last4) in none of this account's items.
    let unique = [
        address(&account).as_str().to_owned(),
        customer.to_string(),
        card.to_string(),
    ];
    let card_details = [fingerprint, "last4".to_owned(), "pi_".to_owned()];
    for datum in &unique {
        let found: Vec<&String> = stored
            .iter()
            .filter(|i| i.contains(datum.as_str()))
            .collect();
        assert!(found.is_empty(), "{datum} is still stored in {found:?}");
    }
    for item in &items {
        for datum in &card_details {
            assert!(
                !item.contains(datum.as_str()),
                "{datum} is still stored in {item}"
            );
        }
    }
    let kept = h.store.invoices(&account, None, 10).await.unwrap().items;
    let paid: i64 = kept.iter().map(|i| i.amount_paid.get()).sum();
    assert_eq!(
        paid, 1_234,
        "the anonymised invoices add up to what was charged"
    );

    let again = Issuer::new(h.gateway.clone());
    let later = deletion_time() + TimeDelta::hours(1);
    let repeated = delete(&h.store, &again, h.mail.0.as_ref(), &account, later).await;

    assert_eq!(repeated.unwrap(), deleted);
    assert_eq!(again.requests(), 0);
    assert_eq!(count(&emails(&h, &account).await, CONFIRMATION), 1);
}

/// A final charge the card declines erases nothing: the answer names the invoice and the
/// decline, the account is active with its card and address, the customer is still there,
/// and no confirmation is sent. The invoice stays, to be collected like any other.
pub async fn a_declined_final_charge_erases_nothing<
    S: Store + Clone + 'static,
    G: PaymentGateway + Clone + 'static,
>(
    h: PurchaseHarness<S, G>,
    _scan: Scan<S>,
) {
    let account = owing(
        &h,
        "delete-declined",
        Some("pm_card_chargeCustomerFail"),
        9_000_000,
    )
    .await;
    let (customer, _, _) = on_file(&h.store, &account).await;

    let refused = delete(
        &h.store,
        &h.gateway,
        h.mail.0.as_ref(),
        &account,
        deletion_time(),
    )
    .await;

    let Err(UseCaseError::FinalCharge(FinalChargeFailed::Declined {
        invoice,
        decline_code,
    })) = refused
    else {
        panic!("a declined final charge, not {refused:?}");
    };
    assert!(!decline_code.is_empty());
    let record = account_of(&h.store, &account).await;
    assert_eq!(record.status, AccountStatus::Active);
    assert_eq!(record.deletion, None);
    assert_eq!(record.email, Some(address(&account)));
    assert!(record.card.is_some());
    assert!(h.gateway.customer_cards(&customer).await.is_ok());
    let unpaid = h
        .store
        .invoice(&account, &invoice)
        .await
        .unwrap()
        .unwrap()
        .value;
    assert_eq!(unpaid.status, InvoiceStatus::PaymentFailed);
    assert_eq!(count(&emails(&h, &account).await, CONFIRMATION), 0);
}

/// A bank that wants the cardholder: the answer is the invoice's authorization link, nothing
/// is erased, and the invoice waits for the cardholder (tests/e2e/deletion.rs approves it on
/// the page and deletes again).
pub async fn authorization_required_answers_the_link_and_erases_nothing<
    S: Store + Clone + 'static,
    G: PaymentGateway + Clone + 'static,
>(
    h: PurchaseHarness<S, G>,
    _scan: Scan<S>,
) {
    let account = owing(
        &h,
        "delete-3ds",
        Some("pm_card_authenticationRequired"),
        7_000_000,
    )
    .await;

    let refused = delete(
        &h.store,
        &h.gateway,
        h.mail.0.as_ref(),
        &account,
        deletion_time(),
    )
    .await;

    let Err(UseCaseError::FinalCharge(FinalChargeFailed::AuthorizationRequired { invoice, url })) =
        refused
    else {
        panic!("authorization required, not {refused:?}");
    };
    assert!(url.contains(invoice.as_str()), "{url}");
    let record = account_of(&h.store, &account).await;
    assert_eq!(record.status, AccountStatus::Active);
    assert!(record.card.is_some());
    let waiting = h
        .store
        .invoice(&account, &invoice)
        .await
        .unwrap()
        .unwrap()
        .value;
    assert_eq!(waiting.status, InvoiceStatus::RequiresAuthorization);
}

/// An invoice left unpaid for want of a card, then a card put on file: deleting charges the
/// October invoice (a `deletion` attempt) and the November usage on the final invoice, one
/// PaymentIntent each, oldest first.
pub async fn an_unpaid_invoice_is_charged_before_the_account_is_deleted<
    S: Store + Clone + 'static,
    G: PaymentGateway + Clone + 'static,
>(
    h: PurchaseHarness<S, G>,
    _scan: Scan<S>,
) {
    let account = owing(&h, "delete-unpaid", None, 6_000_000).await;
    charge_account(
        ports(&h.store, &h.gateway, &h),
        &job(&account),
        charge_time(),
    )
    .await
    .unwrap();
    put_card(&h, &account, "pm_card_visa").await;
    use_in_november(&h, &account, 3_000_000).await;
    let network = Issuer::new(h.gateway.clone());

    let deleted = delete(
        &h.store,
        &network,
        h.mail.0.as_ref(),
        &account,
        deletion_time(),
    )
    .await
    .unwrap();

    let october = h
        .store
        .invoice(
            &account,
            &billing_core::usecases::close::invoice_id(october()),
        )
        .await
        .unwrap()
        .unwrap()
        .value;
    assert_eq!(october.status, InvoiceStatus::Paid);
    assert_eq!(
        october.attempts.last().unwrap().trigger,
        AttemptTrigger::Deletion
    );
    let last = deleted
        .final_invoice
        .expect("the November usage is invoiced");
    let last = h
        .store
        .invoice(&account, &last)
        .await
        .unwrap()
        .unwrap()
        .value;
    assert_eq!(last.amount_paid, Cents::new(300));
    assert_eq!(network.payments_by_key().len(), 2);
    erased(&h.store, &account).await;
}

/// Credits bought and partly used: nothing is charged, the rest is forfeited (said in the
/// answer and the email), and the purchase record is erased while the ledger keeps its credit.
pub async fn credits_left_are_forfeited<
    S: Store + Clone + 'static,
    G: PaymentGateway + Clone + 'static,
>(
    h: PurchaseHarness<S, G>,
    _scan: Scan<S>,
) {
    let account = owing(&h, "delete-credits", Some("pm_card_visa"), 0).await;
    let purchase = buy(&h, &account, Cents::new(2_500)).await;
    use_in_november(&h, &account, 5_000_000).await;
    let network = Issuer::new(h.gateway.clone());

    let deleted = delete(
        &h.store,
        &network,
        h.mail.0.as_ref(),
        &account,
        deletion_time(),
    )
    .await
    .unwrap();

    assert_eq!(deleted.final_invoice, None);
    assert_eq!(deleted.forfeited, Micros::new(20_000_000));
    assert_eq!(network.payments_by_key().len(), 0);
    assert!(
        h.store
            .purchase(&account, &purchase)
            .await
            .unwrap()
            .is_none()
    );
    let confirmation = emails(&h, &account).await;
    assert!(
        confirmation
            .iter()
            .any(|(subject, html)| subject == CONFIRMATION && html.contains("20.00 USD")),
        "{confirmation:?}"
    );
    erased(&h.store, &account).await;
}

/// A purchase in flight blocks deletion, which touches nothing; a confirmation that does not
/// name the account is refused before anything is read.
pub async fn a_purchase_in_flight_or_a_wrong_confirmation_refuses<
    S: Store + Clone + 'static,
    G: PaymentGateway + Clone + 'static,
>(
    h: PurchaseHarness<S, G>,
    _scan: Scan<S>,
) {
    let account = owing(&h, "delete-inflight", Some("pm_card_visa"), 1_000_000).await;
    let slot = PurchaseSlot {
        account: account.clone(),
        purchase: PurchaseId::parse("cp_inflight").unwrap(),
        status: PurchaseStatus::Processing,
        created_at: deletion_time() - TimeDelta::minutes(1),
        receipt_pending: false,
    };
    let write = Write::Put {
        record: Record::PurchaseSlot(slot),
        expect: Expect::Absent,
    };
    h.store
        .commit(Transaction::new().with(write))
        .await
        .unwrap();
    let before = account_of(&h.store, &account).await;

    let blocked = delete(
        &h.store,
        &h.gateway,
        h.mail.0.as_ref(),
        &account,
        deletion_time(),
    )
    .await;
    let ports = ports(&h.store, &h.gateway, &h);
    let request = DeletionRequest {
        account: &account,
        email: None,
        confirm: "someone-else",
        now: deletion_time(),
    };
    let mismatched = delete_account(ports, request).await;

    assert!(
        matches!(
            blocked,
            Err(UseCaseError::PurchaseInProgress { retry_after: 840 })
        ),
        "{blocked:?}"
    );
    assert!(
        matches!(mismatched, Err(UseCaseError::ConfirmationMismatch)),
        "{mismatched:?}"
    );
    assert_eq!(account_of(&h.store, &account).await, before);
}

/// A deletion stopped dead after each of its store, network and mail calls in turn, then asked
/// again once its lease and its email claim expired: it finishes with one PaymentIntent, the
/// customer deleted, everything erased, and one confirmation (two only if it stopped between
/// the mail provider accepting it and the mark).
pub async fn a_deletion_stopped_after_each_step_finishes_without_a_second_charge<
    S: Store + Clone + 'static,
    G: PaymentGateway + Clone + 'static,
>(
    h: PurchaseHarness<S, G>,
    _scan: Scan<S>,
) {
    for step in 0.. {
        let account = owing(
            &h,
            &format!("delete-stop{step}"),
            Some("pm_card_visa"),
            4_200_000,
        )
        .await;
        let (customer, card, _) = on_file(&h.store, &account).await;
        let network = Issuer::new(h.gateway.clone());
        let probe = Arc::new(Probe::default());
        let store = Instrumented::with_probe(h.store.clone(), probe.clone());
        let gateway = Instrumented::with_probe(network.clone(), probe.clone());
        let mailer = Instrumented::with_probe(h.mail.0.clone(), probe.clone());
        probe.stop_after(step);
        let run = delete(&store, &gateway, &mailer, &account, deletion_time());
        let finished = tokio::select! {
            answer = run => Some(answer),
            () = probe.hung() => None,
        };
        let log = probe.log();
        let context = format!("stopped after call {step} ({:?})", log.last());
        if finished.is_none() {
            let later = deletion_time() + TimeDelta::minutes(3);
            delete(&h.store, &network, h.mail.0.as_ref(), &account, later)
                .await
                .unwrap_or_else(|error| panic!("{context}: {error:?}"));
        }

        let payments = network.payments_by_key();
        assert_eq!(payments.len(), 1, "{context}: {payments:?}");
        assert!(
            payments.values().all(|p| p.len() == 1),
            "{context}: {payments:?}"
        );
        forgotten_by_the_network(&h.gateway, &customer, &card).await;
        erased(&h.store, &account).await;
        let confirmations = count(&emails(&h, &account).await, CONFIRMATION);
        // The first email is the final invoice's receipt, the second the confirmation.
        let sent = log.iter().filter(|call| **call == "send_email").count();
        let stopped_after_sending =
            finished.is_none() && log.last() == Some(&"send_email") && sent == 2;
        let expected = if stopped_after_sending { 2 } else { 1 };
        assert_eq!(confirmations, expected, "{context}");
        if let Some(answer) = finished {
            answer.unwrap_or_else(|error| panic!("{context}: {error:?}"));
            assert!(step >= 10, "a deletion takes many calls, not {step}");
            break;
        }
    }
}

/// 25 deletions of one account at once: one holds the lease and deletes, the others are told
/// it is in progress (or find it done); one PaymentIntent, one confirmation.
pub async fn twenty_five_deletions_at_once_delete_once<
    S: Store + Clone + 'static,
    G: PaymentGateway + Clone + 'static,
>(
    h: PurchaseHarness<S, G>,
    _scan: Scan<S>,
) {
    let account = owing(&h, "delete-25", Some("pm_card_visa"), 8_800_000).await;
    let network = Issuer::new(h.gateway.clone());

    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..CONCURRENT {
        let (store, network) = (h.store.clone(), network.clone());
        let (mailer, account) = (h.mail.0.clone(), account.clone());
        tasks.spawn(async move {
            delete(&store, &network, mailer.as_ref(), &account, deletion_time()).await
        });
    }
    let answers = tasks.join_all().await;

    let done = answers.iter().filter(|a| a.is_ok()).count();
    let busy = answers
        .iter()
        .filter(|a| matches!(a, Err(UseCaseError::DeletionInProgress { .. })))
        .count();
    assert!(done >= 1, "{answers:?}");
    assert_eq!(done + busy, CONCURRENT, "{answers:?}");
    assert_eq!(network.payments_by_key().len(), 1);
    assert!(network.payments_by_key().values().all(|p| p.len() == 1));
    erased(&h.store, &account).await;
    assert_eq!(count(&emails(&h, &account).await, CONFIRMATION), 1);
}

/// After deletion: the overview says `deleted` and nothing else, other reads refuse
/// (`AccountDeleted`), usage is refused and recorded with the
/// reason, the monthly charge of the month skips the account, and a webhook about its
/// payment is acknowledged and ignored without writing anything.
pub async fn a_deleted_account_refuses_reads_and_usage_and_is_not_charged<
    S: Store + Clone + 'static,
    G: PaymentGateway + Clone + 'static,
>(
    h: PurchaseHarness<S, G>,
    _scan: Scan<S>,
) {
    let account = owing(&h, "delete-after", Some("pm_card_visa"), 2_000_000).await;
    let network = Issuer::new(h.gateway.clone());
    let deleted = delete(
        &h.store,
        &network,
        h.mail.0.as_ref(),
        &account,
        deletion_time(),
    )
    .await
    .unwrap();
    let final_invoice = deleted.final_invoice.expect("a final invoice");
    let (_, payments) = network.payments_by_key().pop_first().expect("one payment");
    let payment = payments.first().cloned().expect("its PaymentIntent");
    let later = deletion_time() + TimeDelta::hours(2);
    let event = UsageEvent {
        id: UsageEventId::parse(&format!("{account}-late")).unwrap(),
        account_id: account.clone(),
        amount_micros: 1_000,
        occurred_at: later,
        description: "model calls".into(),
    };

    let usage = record_usage(&h.store, &event, later).await;
    let overview = billing_overview(&h.store, &account, None, later).await;
    let november =
        billing_core::ports::queue::ChargeJob::monthly(account.clone(), october().next());
    let december_3rd = Utc.with_ymd_and_hms(2026, 12, 3, 3, 0, 0).unwrap();
    let charged = charge_account(ports(&h.store, &h.gateway, &h), &november, december_3rd).await;
    let late_news = NetworkEvent {
        id: format!("evt_late_{account}"),
        created: later,
        kind: NetworkEventKind::Payment {
            account: Some(account.clone()),
            reference: Some(final_invoice.to_string()),
            outcome: ChargeOutcome::Succeeded { payment },
        },
    };
    let purchases = billing_core::usecases::purchase::Ports {
        store: &h.store,
        gateway: &h.gateway,
        mailer: h.mail.0.as_ref(),
    };
    let webhook = handle_network_event(purchases, &PlainLinks, &late_news, later).await;

    assert!(
        matches!(usage, Err(UseCaseError::AccountDeleted)),
        "{usage:?}"
    );
    let refused = h.store.refused_usage(&account, &event.id).await.unwrap();
    assert_eq!(
        refused.map(|r| r.value.reason).as_deref(),
        Some("account_deleted")
    );
    let overview = overview.unwrap();
    assert_eq!(overview.status, AccountStatus::Deleted);
    assert_eq!(
        (overview.card, overview.credits, overview.outstanding),
        (None, Cents::ZERO, Cents::ZERO),
        "the old token learns only that the account is deleted"
    );
    let invoices =
        billing_core::usecases::invoice::list_invoices(&h.store, &account, None, 10).await;
    assert!(
        matches!(invoices, Err(UseCaseError::AccountDeleted)),
        "{invoices:?}"
    );
    assert_eq!(charged.unwrap(), Charged::Skipped);
    assert_eq!(webhook.unwrap(), EventHandled::Ignored("account deleted"));
    let remembered = h
        .store
        .handled_event(&account, &late_news.id)
        .await
        .unwrap();
    assert!(
        remembered.is_none(),
        "nothing is written about a deleted account"
    );
    assert_eq!(
        h.store.balance(&account).await.unwrap().amount,
        Micros::ZERO
    );
}

async fn put_card<S: Store + Clone + 'static, G: PaymentGateway + Clone + 'static>(
    h: &PurchaseHarness<S, G>,
    account: &AccountId,
    card: &str,
) {
    let email = address(account);
    let holder = billing_core::usecases::card::Holder {
        account,
        email: Some(&email),
    };
    let card = PaymentMethodId::parse(card).unwrap();
    billing_core::usecases::card::set_card(&h.store, &h.gateway, &holder, &card, charge_time())
        .await
        .expect("the card is accepted");
}

async fn use_in_november<S: Store + Clone + 'static, G: PaymentGateway + Clone + 'static>(
    h: &PurchaseHarness<S, G>,
    account: &AccountId,
    micros: i64,
) {
    let occurred_at = Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap();
    let event = UsageEvent {
        id: UsageEventId::parse(&format!("{account}-november")).unwrap(),
        account_id: account.clone(),
        amount_micros: micros,
        occurred_at,
        description: "model calls".into(),
    };
    record_usage(&h.store, &event, occurred_at).await.unwrap();
}

/// Buys `amount` of credits with the card on file; returns the purchase, settled.
async fn buy<S: Store + Clone + 'static, G: PaymentGateway + Clone + 'static>(
    h: &PurchaseHarness<S, G>,
    account: &AccountId,
    amount: Cents,
) -> PurchaseId {
    use billing_core::usecases::purchase::{
        self, PurchaseAnswer, PurchaseRequest, create_purchase,
    };
    let id = PurchaseId::parse(&format!("cp_{}", account.as_str().replace('-', ""))).unwrap();
    let bought = create_purchase(
        purchase::Ports {
            store: &h.store,
            gateway: &h.gateway,
            mailer: h.mail.0.as_ref(),
        },
        PurchaseRequest {
            account,
            amount,
            currency: billing_core::Currency::Usd,
            keyed: None,
            new_id: id.clone(),
            limits: billing_core::rules::purchase::PurchaseLimits::default(),
            now: charge_time(),
        },
    )
    .await
    .unwrap();
    let PurchaseAnswer::Purchase(settled) = bought else {
        panic!("the purchase goes through, not {bought:?}");
    };
    assert_eq!(settled.status, PurchaseStatus::Succeeded);
    id
}

/// Stamps the deletion cases out as tests of one adapter set: `$make` builds the harness,
/// `$scan` reads every item its store holds as text.
#[macro_export]
macro_rules! deletion_contract {
    ($make:path, $scan:path) => {
        $crate::deletion_contract!(@cases $make, $scan;
            a_deleted_account_is_charged_erased_and_confirmed_once,
            a_declined_final_charge_erases_nothing,
            authorization_required_answers_the_link_and_erases_nothing,
            an_unpaid_invoice_is_charged_before_the_account_is_deleted,
            credits_left_are_forfeited,
            a_purchase_in_flight_or_a_wrong_confirmation_refuses,
            a_deletion_stopped_after_each_step_finishes_without_a_second_charge,
            twenty_five_deletions_at_once_delete_once,
            a_deleted_account_refuses_reads_and_usage_and_is_not_charged,
        );
    };
    (@cases $make:path, $scan:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                $crate::deletion::$case($make().await, $scan).await;
            }
        )*
    };
}
