use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;

use super::*;
use crate::domain::ids::{AccountId, ClientSecret, InvoiceId, PaymentMethodId};
use crate::domain::invoice::InvoiceLine;
use crate::domain::money::{Cents, Currency, Micros};
use crate::ports::gateway::Decline;
use crate::rules::period::BillingPeriod;

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
            at: at(0),
            payment_method: Some(PaymentMethodId::parse("pm_card_visa").unwrap()),
            payment: None,
            client_secret: None,
            outcome: AttemptOutcome::Pending,
            decline_code: None,
            notice: Notice::None,
            updated_at: at(0),
        }],
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
