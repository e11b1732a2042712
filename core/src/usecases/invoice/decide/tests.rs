use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use proptest::prelude::*;

use super::*;
use crate::domain::ids::{AccountId, ClientSecret, InvoiceId, PaymentMethodId};
use crate::domain::invoice::InvoiceLine;
use crate::domain::money::{Cents, Currency, Micros};
use crate::ports::gateway::Decline;
use crate::rules::period::BillingPeriod;
use crate::rules::retry::RetrySchedule;

fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 3, 3, minute, 0).unwrap()
}

fn payment(n: u8) -> PaymentId {
    PaymentId::parse(&format!("pi_{n}")).unwrap()
}

fn pending_invoice() -> Invoice {
    Invoice {
        id: InvoiceId::parse("in_202610").unwrap(),
        account: AccountId::parse("acct").unwrap(),
        period: BillingPeriod::new(2026, 10).unwrap(),
        status: InvoiceStatus::Open,
        currency: Currency::Usd,
        amount_due: Cents::new(1_250),
        amount_paid: Cents::ZERO,
        lines: vec![InvoiceLine {
            description: "Usage in October 2026".into(),
            amount_micros: Micros::new(12_500_000),
        }],
        attempts: vec![ChargeAttempt {
            number: 1,
            trigger: AttemptTrigger::Monthly,
            at: at(0),
            payment_method: Some(PaymentMethodId::parse("pm_card_visa").unwrap()),
            payment: None,
            client_secret: None,
            outcome: AttemptOutcome::Pending,
            decline_code: None,
            notice: Notice::None,
            updated_at: at(0),
        }],
        retry_at: RetrySchedule::default().instants(at(0)),
        next_payment_attempt: None,
        created_at: at(0),
    }
}

fn succeeded(n: u8) -> ChargeOutcome {
    ChargeOutcome::Succeeded {
        payment: payment(n),
    }
}

fn declined(n: u8, code: &str) -> ChargeOutcome {
    ChargeOutcome::Declined {
        payment: Some(payment(n)),
        decline: Decline {
            decline_code: Some(code.into()),
            network_message: "declined".into(),
        },
    }
}

fn authentication_required(n: u8) -> ChargeOutcome {
    ChargeOutcome::AuthenticationRequired {
        payment: payment(n),
        client_secret: ClientSecret::parse(&format!("pi_{n}_secret_x")).unwrap(),
        url: None,
    }
}

#[test]
fn a_succeeded_charge_pays_the_invoice_and_claims_the_receipt() {
    let paid = apply(
        &pending_invoice(),
        Target::Attempt(1),
        Report::Network(&succeeded(1)),
        at(1),
    )
    .expect("a change");

    assert_eq!(paid.status, InvoiceStatus::Paid);
    assert_eq!(paid.amount_paid, paid.amount_due);
    assert_eq!(paid.attempts[0].outcome, AttemptOutcome::Succeeded);
    assert_eq!(paid.attempts[0].payment, Some(payment(1)));
    assert_eq!(paid.attempts[0].notice, Notice::Sending { since: at(1) });
}

#[test]
fn a_bank_asking_for_authentication_waits_for_the_user_with_the_client_secret() {
    let waiting = apply(
        &pending_invoice(),
        Target::Attempt(1),
        Report::Network(&authentication_required(1)),
        at(1),
    )
    .expect("a change");

    assert_eq!(waiting.status, InvoiceStatus::RequiresAuthorization);
    assert!(waiting.status.is_past_due());
    assert!(waiting.attempts[0].client_secret.is_some());
    assert_eq!(waiting.attempts[0].notice, Notice::Sending { since: at(1) });
    let again = apply(
        &waiting,
        Target::Payment(&payment(1)),
        Report::Network(&authentication_required(1)),
        at(2),
    );
    assert_eq!(again, None, "the same news twice claims no second email");
}

#[test]
fn a_decline_records_its_code_and_a_later_decline_changes_nothing() {
    let failed = apply(
        &pending_invoice(),
        Target::Attempt(1),
        Report::Network(&declined(1, "insufficient_funds")),
        at(1),
    )
    .expect("a change");

    assert_eq!(failed.status, InvoiceStatus::PaymentFailed);
    assert_eq!(
        failed.attempts[0].decline_code.as_deref(),
        Some("insufficient_funds")
    );
    let processing = ChargeOutcome::Processing {
        payment: payment(1),
    };
    for late in [declined(1, "do_not_honor"), processing] {
        assert_eq!(
            apply(
                &failed,
                Target::Payment(&payment(1)),
                Report::Network(&late),
                at(2)
            ),
            None
        );
    }
}

#[test]
fn no_card_fails_the_attempt_with_card_required() {
    let failed = apply(
        &pending_invoice(),
        Target::Attempt(1),
        Report::CardRequired,
        at(1),
    )
    .expect("a change");

    assert_eq!(failed.status, InvoiceStatus::PaymentFailed);
    assert_eq!(failed.attempts[0].outcome, AttemptOutcome::CardRequired);
    assert_eq!(
        failed.attempts[0].decline_code.as_deref(),
        Some(CARD_REQUIRED)
    );
}

#[test]
fn money_taken_after_a_recorded_decline_still_pays_the_invoice() {
    let failed = apply(
        &pending_invoice(),
        Target::Attempt(1),
        Report::Network(&declined(1, "generic_decline")),
        at(1),
    )
    .unwrap();

    let paid = apply(
        &failed,
        Target::Payment(&payment(1)),
        Report::Network(&succeeded(1)),
        at(2),
    )
    .expect("a success always wins");

    assert_eq!(paid.status, InvoiceStatus::Paid);
    assert_eq!(paid.attempts[0].decline_code, None);
}

#[test]
fn news_of_a_payment_the_invoice_never_made_changes_nothing() {
    let waiting = apply(
        &pending_invoice(),
        Target::Attempt(1),
        Report::Network(&authentication_required(1)),
        at(1),
    )
    .unwrap();

    assert_eq!(
        apply(
            &waiting,
            Target::Payment(&payment(9)),
            Report::Network(&succeeded(9)),
            at(2)
        ),
        None
    );
}

#[test]
fn a_bank_asking_again_after_a_processing_report_claims_no_second_email() {
    let asked = apply(
        &pending_invoice(),
        Target::Attempt(1),
        Report::Network(&authentication_required(1)),
        at(1),
    )
    .unwrap();
    let processing = ChargeOutcome::Processing {
        payment: payment(1),
    };
    let moved = apply(
        &asked,
        Target::Payment(&payment(1)),
        Report::Network(&processing),
        at(2),
    )
    .unwrap();

    let again = apply(
        &moved,
        Target::Payment(&payment(1)),
        Report::Network(&authentication_required(1)),
        at(3),
    )
    .unwrap();

    assert_eq!(again.status, InvoiceStatus::RequiresAuthorization);
    assert_eq!(again.attempts[0].notice, asked.attempts[0].notice);
}

fn report() -> impl Strategy<Value = ChargeOutcome> {
    prop_oneof![
        Just(succeeded(1)),
        Just(declined(1, "insufficient_funds")),
        Just(authentication_required(1)),
        Just(ChargeOutcome::Processing {
            payment: payment(1)
        }),
        Just(ChargeOutcome::Canceled {
            payment: payment(1)
        }),
    ]
}

proptest! {
    /// Whatever the network reports, in any order and any number of times: the invoice is
    /// paid exactly when one report said succeeded, a paid invoice stays paid, and each
    /// email is claimed once per outcome recorded.
    #[test]
    fn the_invoice_is_paid_exactly_when_a_report_said_succeeded(
        reports in prop::collection::vec(report(), 0..8)
    ) {
        let mut invoice = pending_invoice();
        let mut claims = 0;
        for (n, outcome) in reports.iter().enumerate() {
            let target = if n == 0 { Target::Attempt(1) } else { Target::Payment(&payment(1)) };
            let was_paid = invoice.status == InvoiceStatus::Paid;
            if let Some(next) = apply(&invoice, target, Report::Network(outcome), at(n as u32 + 1)) {
                prop_assert!(!was_paid, "a paid invoice never changes");
                claims += usize::from(matches!(next.attempts[0].notice, Notice::Sending { .. })
                    && next.attempts[0].notice != invoice.attempts[0].notice);
                invoice = next;
            }
        }
        let any_success = reports.iter().any(|r| matches!(r, ChargeOutcome::Succeeded { .. }));
        prop_assert_eq!(invoice.status == InvoiceStatus::Paid, any_success);
        prop_assert_eq!(invoice.amount_paid, if any_success { invoice.amount_due } else { Cents::ZERO });
        prop_assert!(claims <= 3, "at most: waiting, failed, paid");
    }
}

fn day(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, hour, 0, 0).unwrap()
}

fn card(name: &str) -> PaymentMethodId {
    PaymentMethodId::parse(name).unwrap()
}

/// The invoice after its latest attempt was sent and answered `outcome`.
fn answered(invoice: &Invoice, outcome: &ChargeOutcome, now: DateTime<Utc>) -> Invoice {
    let number = invoice.latest().unwrap().number;
    apply(
        invoice,
        Target::Attempt(number),
        Report::Network(outcome),
        now,
    )
    .unwrap()
}

#[test]
fn a_soft_decline_schedules_the_retries_and_the_last_one_makes_the_invoice_uncollectible() {
    let mut invoice = answered(
        &pending_invoice(),
        &declined(1, "insufficient_funds"),
        at(1),
    );
    for (retry, due) in [day(6, 0), day(8, 0), day(10, 0)].into_iter().enumerate() {
        assert_eq!(invoice.status, InvoiceStatus::PaymentFailed);
        assert_eq!(invoice.next_payment_attempt, Some(due), "retry {retry}");
        assert_eq!(
            invoice.visit_at(),
            Some(invoice.latest().unwrap().updated_at + Notice::CLAIM_TIMEOUT),
            "the email first"
        );
        invoice.attempts.last_mut().unwrap().notice = Notice::Sent;
        assert_eq!(invoice.visit_at(), Some(due));
        assert_eq!(
            claim(
                &invoice,
                Claim::Retry,
                Some(&card("pm_card_visa")),
                due - TimeDelta::minutes(1)
            ),
            None,
            "not before it is due"
        );
        let claimed = claim(&invoice, Claim::Retry, Some(&card("pm_card_visa")), due).unwrap();
        assert_eq!(claimed.status, InvoiceStatus::Open);
        assert!(
            claimed.is_past_due(),
            "a retry in flight keeps the account past due"
        );
        assert_eq!(claimed.next_payment_attempt, None);
        assert_eq!(
            claim(&claimed, Claim::Retry, Some(&card("pm_card_visa")), due),
            None
        );
        let latest = claimed.latest().unwrap();
        assert_eq!(
            (latest.number, latest.trigger),
            (retry as u32 + 2, AttemptTrigger::Retry)
        );
        invoice = answered(
            &claimed,
            &declined(retry as u8 + 2, "insufficient_funds"),
            due,
        );
        assert_eq!(
            invoice.latest().unwrap().notice,
            Notice::Sending { since: due }
        );
    }
    assert_eq!(invoice.status, InvoiceStatus::Uncollectible);
    assert_eq!(invoice.next_payment_attempt, None);
    assert_eq!(invoice.attempts.len(), 4);
    assert!(invoice.is_past_due());
}

#[test]
fn declines_that_cannot_succeed_and_a_missing_card_wait_for_a_new_card_without_retries() {
    let lost = answered(&pending_invoice(), &declined(1, "lost_card"), at(1));
    let auth = answered(
        &pending_invoice(),
        &declined(1, "authentication_required"),
        at(1),
    );
    let no_card = apply(
        &pending_invoice(),
        Target::Attempt(1),
        Report::CardRequired,
        at(1),
    )
    .unwrap();
    for waiting in [lost, auth, no_card] {
        assert_eq!(waiting.status, InvoiceStatus::PaymentFailed);
        assert_eq!(waiting.next_payment_attempt, None);
        assert_eq!(waiting.retries_made(), 0);
        assert_eq!(
            claim(
                &waiting,
                Claim::Retry,
                Some(&card("pm_card_visa")),
                day(20, 0)
            ),
            None
        );
        let visa = card("pm_card_visa");
        let expected = if waiting.latest().unwrap().payment_method.as_ref() == Some(&visa) {
            None
        } else {
            Some(NewCardCharge::Now)
        };
        assert_eq!(
            new_card_charge(&waiting, &visa),
            expected,
            "the same card is not charged again"
        );
        let new = card("pm_card_mastercard");
        assert_eq!(new_card_charge(&waiting, &new), Some(NewCardCharge::Now));
        let claimed = claim(
            &waiting,
            Claim::NewCard { canceled: None },
            Some(&new),
            day(4, 9),
        )
        .unwrap();
        let latest = claimed.latest().unwrap();
        assert_eq!(
            (latest.trigger, latest.payment_method.as_ref()),
            (AttemptTrigger::NewCard, Some(&new))
        );
    }
}

#[test]
fn a_new_card_pays_an_uncollectible_invoice_and_replaces_a_payment_waiting_for_authorization() {
    let mut uncollectible = pending_invoice();
    uncollectible.retry_at.clear();
    let uncollectible = answered(&uncollectible, &declined(1, "insufficient_funds"), at(1));
    assert_eq!(uncollectible.status, InvoiceStatus::Uncollectible);
    let new = card("pm_card_mastercard");
    let claimed = claim(
        &uncollectible,
        Claim::NewCard { canceled: None },
        Some(&new),
        day(20, 0),
    )
    .unwrap();
    let paid = answered(&claimed, &succeeded(2), day(20, 0));
    assert_eq!(paid.status, InvoiceStatus::Paid);
    assert!(!paid.is_past_due());

    let waiting = answered(&pending_invoice(), &authentication_required(1), at(1));
    assert_eq!(
        new_card_charge(&waiting, &new),
        Some(NewCardCharge::AfterCanceling(payment(1)))
    );
    assert_eq!(
        claim(
            &waiting,
            Claim::NewCard { canceled: None },
            Some(&new),
            at(5)
        ),
        None,
        "not while the old payment may still be authorized"
    );
    let claimed = claim(
        &waiting,
        Claim::NewCard {
            canceled: Some(&payment(1)),
        },
        Some(&new),
        at(5),
    )
    .unwrap();
    assert_eq!(claimed.attempts[0].outcome, AttemptOutcome::Declined);
    assert_eq!(
        claimed.attempts[0].decline_code.as_deref(),
        Some(PAYMENT_CANCELED)
    );
    assert_eq!(
        claimed.attempts[0].notice, waiting.attempts[0].notice,
        "no email for the replaced payment"
    );
    assert_eq!(claimed.attempts[1].outcome, AttemptOutcome::Pending);
}

#[test]
fn a_deletion_charges_a_card_that_declined_again_at_most_once_a_day_and_never_after_a_hopeless_decline()
 {
    let visa = card("pm_card_visa");
    let soft = answered(
        &pending_invoice(),
        &declined(1, "insufficient_funds"),
        at(1),
    );
    assert_eq!(
        claim(&soft, Claim::Deletion, Some(&visa), day(3, 23)),
        None,
        "not on the day the card declined: a repeated request gets that decline again"
    );
    let claimed = claim(&soft, Claim::Deletion, Some(&visa), day(4, 0)).unwrap();
    let latest = claimed.latest().unwrap();
    assert_eq!(
        (latest.trigger, latest.payment_method.as_ref()),
        (AttemptTrigger::Deletion, Some(&visa))
    );
    let again = answered(&claimed, &declined(2, "insufficient_funds"), day(4, 0));
    assert_eq!(
        claim(&again, Claim::Deletion, Some(&visa), day(4, 12)),
        None,
        "once a day"
    );
    assert_eq!(
        again.next_payment_attempt,
        Some(day(6, 0)),
        "the schedule holds: a deletion uses up no retry"
    );
    let mastercard = card("pm_card_mastercard");
    assert!(
        claim(&again, Claim::Deletion, Some(&mastercard), day(4, 12)).is_some(),
        "another card at once"
    );

    let lost = answered(&pending_invoice(), &declined(1, "lost_card"), at(1));
    assert_eq!(claim(&lost, Claim::Deletion, Some(&visa), day(20, 0)), None);
    assert!(claim(&lost, Claim::Deletion, Some(&mastercard), at(2)).is_some());
    assert_eq!(
        claim(&pending_invoice(), Claim::Deletion, Some(&visa), day(20, 0)),
        None,
        "not while an attempt is in flight"
    );
}

#[test]
fn nothing_claims_an_attempt_while_one_is_in_flight_or_the_invoice_is_paid() {
    let new = card("pm_card_mastercard");
    let pending = pending_invoice();
    let paid = answered(&pending, &succeeded(1), at(1));
    for invoice in [pending, paid] {
        assert_eq!(new_card_charge(&invoice, &new), None);
        assert_eq!(
            claim(
                &invoice,
                Claim::NewCard { canceled: None },
                Some(&new),
                day(20, 0)
            ),
            None
        );
        assert_eq!(claim(&invoice, Claim::Retry, Some(&new), day(20, 0)), None);
    }
}

fn step() -> impl Strategy<Value = (u8, u8)> {
    // (what happens, hour of the day it happens at)
    (0u8..6, 0u8..24)
}

proptest! {
    /// Over a month of sweeps, new cards and answers in any order: attempts are never made
    /// while one is in flight, scheduled retries never exceed the schedule and never fall on
    /// one day, and an invoice is uncollectible only after its last scheduled retry failed.
    #[test]
    fn retries_follow_the_schedule_whatever_happens(steps in prop::collection::vec(step(), 0..40)) {
        let mut invoice = answered(&pending_invoice(), &declined(1, "insufficient_funds"), at(1));
        let mut now = at(1);
        let mut cards = 0u8;
        for (n, (event, hour)) in steps.into_iter().enumerate() {
            now = now.max(day(3 + (n as u32) / 2, u32::from(hour)));
            let before = invoice.clone();
            let latest = invoice.latest().unwrap().number as u8;
            let next = match event {
                0 | 1 => claim(&invoice, Claim::Retry, Some(&card("pm_card_visa")), now),
                2 => {
                    cards += 1;
                    claim(&invoice, Claim::NewCard { canceled: None }, Some(&card(&format!("pm_new_{cards}"))), now)
                }
                3 => apply(&invoice, Target::Attempt(latest.into()), Report::Network(&declined(latest, "insufficient_funds")), now),
                4 => apply(&invoice, Target::Attempt(latest.into()), Report::Network(&declined(latest, "lost_card")), now),
                _ => apply(&invoice, Target::Attempt(latest.into()), Report::Network(&succeeded(latest)), now),
            };
            if let Some(next) = next {
                if next.attempts.len() > before.attempts.len() {
                    prop_assert!(before.latest().unwrap().outcome.is_failed()
                        || before.latest().unwrap().outcome == AttemptOutcome::RequiresAuthorization,
                        "a new attempt only after the last one ended");
                }
                invoice = next;
            }
        }
        let retries: Vec<_> = invoice.attempts.iter().filter(|a| a.trigger == AttemptTrigger::Retry).collect();
        prop_assert!(retries.len() <= invoice.retry_at.len());
        for (retry, due) in retries.iter().zip(&invoice.retry_at) {
            prop_assert!(retry.at >= *due, "no retry before it is due");
        }
        for pair in invoice.attempts.windows(2) {
            if pair[1].trigger == AttemptTrigger::Retry {
                prop_assert!(pair[1].at.date_naive() > pair[0].at.date_naive(), "one attempt a day");
            }
        }
        if invoice.status == InvoiceStatus::Uncollectible {
            prop_assert_eq!(retries.len(), invoice.retry_at.len());
        }
    }
}
