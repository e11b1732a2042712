//! The pure decisions of a purchase: what a report from the card network does to it.
//!
//! Reports arrive in any order and any number of times (the charge's answer, webhooks, the
//! authorization page, the sweep). [`apply`] is written so that whether a purchase ends
//! succeeded, failed or still waiting depends only on which reports arrived, never on their
//! order or repetition, and so that it is credited exactly once when the network said its
//! payment succeeded.

use chrono::{DateTime, Utc};

use crate::domain::ids::{PaymentId, PurchaseId};
use crate::domain::purchase::{NextAction, Purchase, PurchaseFailure, Receipt};
use crate::ports::gateway::ChargeOutcome;
use crate::rules::decline::decline_advice;
use crate::rules::purchase::PurchaseStatus;

/// The idempotency key the purchase's charge carries to the network: one per purchase, so a
/// charge sent again (a retried request, the sweep) can never create a second payment.
pub fn network_key(purchase: &PurchaseId) -> String {
    format!("credit-purchase-{purchase}")
}

/// The decline code given to a purchase canceled before it completed (Stripe has none).
pub const CANCELED: &str = "purchase_canceled";

/// What a report does to a purchase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// Nothing: the purchase already says this, or it is final.
    Unchanged,
    /// The purchase becomes this; `credit` when this is the report that it succeeded (the
    /// ledger credit goes in the same write).
    Update {
        /// The purchase afterwards.
        purchase: Box<Purchase>,
        /// Whether the credit is added now.
        credit: bool,
    },
    /// The report is about another payment than the purchase's: ignored.
    OtherPayment {
        /// The purchase's payment.
        ours: PaymentId,
    },
}

/// **The settlement rule.** A succeeded payment always wins: it settles the purchase as
/// `succeeded` and credits it, even one recorded `failed` (money the network took is never
/// lost). Otherwise a settled purchase never changes. An unsettled one takes the state the
/// network reports: waiting for authentication, processing, or failed (declined or canceled).
pub fn apply(purchase: &Purchase, outcome: &ChargeOutcome, now: DateTime<Utc>) -> Transition {
    if let (Some(ours), Some(theirs)) = (&purchase.payment, outcome.payment())
        && ours != theirs
    {
        return Transition::OtherPayment { ours: ours.clone() };
    }
    let succeeded = matches!(outcome, ChargeOutcome::Succeeded { .. });
    if purchase.status == PurchaseStatus::Succeeded || (purchase.status.is_settled() && !succeeded)
    {
        return Transition::Unchanged;
    }
    let mut next = purchase.clone();
    next.payment = outcome.payment().cloned().or(next.payment);
    next.next_action = None;
    next.failure = None;
    match outcome {
        ChargeOutcome::Succeeded { .. } => {
            next.status = PurchaseStatus::Succeeded;
            next.receipt = Receipt::Sending { since: now };
        }
        ChargeOutcome::Processing { .. } => next.status = PurchaseStatus::Processing,
        ChargeOutcome::RequiresAction { client_secret, .. }
        | ChargeOutcome::AuthenticationRequired { client_secret, .. } => {
            next.status = PurchaseStatus::RequiresAction;
            next.next_action = Some(NextAction {
                client_secret: client_secret.clone(),
            });
        }
        ChargeOutcome::Declined { decline, .. } => {
            let advice = decline_advice(decline.decline_code.as_deref());
            next.status = PurchaseStatus::Failed;
            next.failure = Some(PurchaseFailure {
                decline_code: advice.code.to_owned(),
                message: advice.message().to_owned(),
            });
        }
        ChargeOutcome::Canceled { .. } => {
            next.status = PurchaseStatus::Failed;
            next.failure = Some(PurchaseFailure {
                decline_code: CANCELED.to_owned(),
                message: "The purchase was not completed within 15 minutes and was canceled; \
                          nothing was charged. You can buy credits again."
                    .to_owned(),
            });
        }
    }
    if next == *purchase {
        return Transition::Unchanged;
    }
    next.updated_at = now;
    Transition::Update {
        purchase: Box::new(next),
        credit: succeeded,
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use proptest::prelude::*;

    use super::*;
    use crate::domain::ids::{AccountId, ClientSecret, CustomerId, PaymentMethodId};
    use crate::domain::money::{Cents, Currency};
    use crate::ports::gateway::Decline;

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-28T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn pi() -> PaymentId {
        PaymentId::parse("pi_1").unwrap()
    }

    fn started() -> Purchase {
        Purchase {
            id: PurchaseId::parse("cp_1").unwrap(),
            account: AccountId::parse("acct_1").unwrap(),
            amount: Cents::new(2_500),
            currency: Currency::Usd,
            status: PurchaseStatus::Processing,
            customer: CustomerId::parse("cus_1").unwrap(),
            payment_method: PaymentMethodId::parse("pm_1").unwrap(),
            payment: None,
            next_action: None,
            failure: None,
            idempotency_key: None,
            receipt: Receipt::NotDue,
            created_at: t0(),
            updated_at: t0(),
        }
    }

    fn outcomes() -> Vec<ChargeOutcome> {
        let secret = ClientSecret::parse("pi_1_secret_x").unwrap();
        vec![
            ChargeOutcome::Succeeded { payment: pi() },
            ChargeOutcome::Processing { payment: pi() },
            ChargeOutcome::RequiresAction {
                payment: pi(),
                client_secret: secret,
                url: None,
            },
            ChargeOutcome::Declined {
                payment: Some(pi()),
                decline: Decline {
                    decline_code: Some("insufficient_funds".into()),
                    network_message: "no".into(),
                },
            },
            ChargeOutcome::Canceled { payment: pi() },
        ]
    }

    /// Applies reports in order; returns the final purchase and how many credits were added.
    fn run(reports: &[ChargeOutcome]) -> (Purchase, usize) {
        let mut purchase = started();
        let mut credits = 0;
        for (n, report) in reports.iter().enumerate() {
            let at = t0() + Duration::seconds(n as i64);
            if let Transition::Update {
                purchase: next,
                credit,
            } = apply(&purchase, report, at)
            {
                credits += usize::from(credit);
                purchase = *next;
            }
        }
        (purchase, credits)
    }

    #[test]
    fn a_success_credits_once_however_often_it_is_reported() {
        let succeeded = ChargeOutcome::Succeeded { payment: pi() };
        let (purchase, credits) = run(&[succeeded.clone(), succeeded.clone(), succeeded]);
        assert_eq!(purchase.status, PurchaseStatus::Succeeded);
        assert_eq!(credits, 1);
        assert!(matches!(purchase.receipt, Receipt::Sending { .. }));
    }

    #[test]
    fn a_decline_fails_the_purchase_with_the_rules_message() {
        let (purchase, credits) = run(&[outcomes()[3].clone()]);
        assert_eq!(purchase.status, PurchaseStatus::Failed);
        assert_eq!(credits, 0);
        let failure = purchase.failure.unwrap();
        assert_eq!(failure.decline_code, "insufficient_funds");
        assert_eq!(
            failure.message,
            decline_advice(Some("insufficient_funds")).message()
        );
    }

    #[test]
    fn a_success_after_a_failure_still_credits_the_money_taken() {
        let (purchase, credits) = run(&[outcomes()[4].clone(), outcomes()[0].clone()]);
        assert_eq!(purchase.status, PurchaseStatus::Succeeded);
        assert_eq!(purchase.failure, None);
        assert_eq!(credits, 1);
    }

    #[test]
    fn authentication_carries_the_client_secret_until_the_purchase_moves_on() {
        let (waiting, _) = run(&[outcomes()[2].clone()]);
        assert_eq!(waiting.status, PurchaseStatus::RequiresAction);
        assert!(waiting.next_action.is_some());
        let (done, _) = run(&[outcomes()[2].clone(), outcomes()[0].clone()]);
        assert_eq!(done.next_action, None);
    }

    #[test]
    fn a_report_about_another_payment_is_ignored() {
        let mut purchase = started();
        purchase.payment = Some(PaymentId::parse("pi_other").unwrap());
        assert!(matches!(
            apply(&purchase, &outcomes()[0], t0()),
            Transition::OtherPayment { .. }
        ));
    }

    proptest! {
        /// Any reports, in any order, any number of times: credited once exactly when one of
        /// them said it succeeded, and then `succeeded`; failed only when the network said so.
        #[test]
        fn the_outcome_depends_only_on_which_reports_arrived(
            picks in proptest::collection::vec(0usize..5, 0..12)
        ) {
            let all = outcomes();
            let reports: Vec<ChargeOutcome> = picks.iter().map(|&n| all[n].clone()).collect();
            let (purchase, credits) = run(&reports);
            let any_success = picks.contains(&0);
            prop_assert_eq!(credits, usize::from(any_success));
            prop_assert_eq!(purchase.status == PurchaseStatus::Succeeded, any_success);
            if purchase.status == PurchaseStatus::Failed {
                prop_assert!(picks.contains(&3) || picks.contains(&4));
            }
        }
    }
}
