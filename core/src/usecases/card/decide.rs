//! The decisions of a card change, as pure functions over plain values: what to do with the
//! card the user sent, whether the account's lease can be taken, and what a repair must fix.

use chrono::{DateTime, TimeDelta, Utc};

use crate::domain::account::{Account, StoredCard};
use crate::domain::ids::{CustomerId, PaymentMethodId};
use crate::ports::gateway::{CustomerCards, PaymentMethod};
use crate::rules::card::{CardRefusal, Funding, is_expired};

/// How long a card change may hold its account's lease. Far above what one change can take
/// (four network calls with a 5 s timeout each, inside a function killed at 28 s), so a live
/// holder never outlives it; a holder that died is taken over once it has passed.
pub const LEASE: TimeDelta = TimeDelta::minutes(2);

/// What to do with the PaymentMethod the user sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardDecision {
    /// It is not ours to use (unknown, or attached to another customer): answer as unknown.
    Unknown,
    /// It is the card on file again: nothing changes. `release` names a duplicate copy a
    /// SetupIntent attached, to detach so that one copy stays.
    Keep {
        /// The card on file.
        card: StoredCard,
        /// A duplicate to detach.
        release: Option<PaymentMethodId>,
    },
    /// Refuse it before attaching. `release` names it when a SetupIntent already attached it.
    Refuse {
        /// Why.
        refusal: CardRefusal,
        /// The refused card, to detach.
        release: Option<PaymentMethodId>,
    },
    /// Change to it; `attach` is false when a SetupIntent already attached it to the customer.
    Change {
        /// Whether it must be attached first.
        attach: bool,
    },
}

/// The card on file again: the same number (fingerprint) *and* the same expiry. A reissued
/// card keeps its number but not its expiry, and must replace the one on file.
fn is_same_card(on_file: &StoredCard, method: &PaymentMethod) -> bool {
    on_file.fingerprint == method.card.fingerprint
        && (on_file.exp_month, on_file.exp_year) == (method.card.exp_month, method.card.exp_year)
}

/// The part of the acceptance rule that needs no verification by the issuer.
fn refuse_before_attach(method: &PaymentMethod, now: DateTime<Utc>) -> Option<CardRefusal> {
    let facts = method.card.facts();
    match facts.funding {
        Funding::Prepaid => Some(CardRefusal::PrepaidNotSupported),
        Funding::Unknown => Some(CardRefusal::FundingUnsupported),
        Funding::Credit | Funding::Debit
            if is_expired(facts.exp_month, facts.exp_year, now.date_naive()) =>
        {
            Some(CardRefusal::Expired)
        }
        Funding::Credit | Funding::Debit => None,
    }
}

/// Decides what a `PUT /v1/billing/card` with `method` does, given the account's customer and
/// the card on file. An expired card is refused even when it is the one on file.
pub fn decide_card(
    customer: Option<&CustomerId>,
    on_file: Option<&StoredCard>,
    method: &PaymentMethod,
    now: DateTime<Utc>,
) -> CardDecision {
    // Someone else's card is treated as unknown: its existence is not ours to reveal.
    if method.customer.is_some() && method.customer.as_ref() != customer {
        return CardDecision::Unknown;
    }
    let attached_by_setup_intent = method.customer.is_some();
    let ours = |same: bool| (attached_by_setup_intent && !same).then(|| method.id.clone());
    if let Some(refusal) = refuse_before_attach(method, now) {
        let is_on_file = on_file.is_some_and(|c| c.payment_method == method.id);
        return CardDecision::Refuse {
            refusal,
            release: ours(is_on_file),
        };
    }
    if let Some(card) = on_file.filter(|card| is_same_card(card, method)) {
        return CardDecision::Keep {
            card: card.clone(),
            release: ours(card.payment_method == method.id),
        };
    }
    CardDecision::Change {
        attach: !attached_by_setup_intent,
    }
}

/// Whether a card change may start on this account now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseState {
    /// No change is in progress.
    Free,
    /// A change is in progress; it ends (or is presumed dead) within `retry_after` seconds.
    Held {
        /// Whole seconds, rounded up.
        retry_after: u64,
    },
    /// A change started and its holder died: take the lease, and repair before going on.
    Abandoned,
}

/// Reads the lease on an account at `now`.
pub fn lease_state(account: Option<&Account>, now: DateTime<Utc>) -> LeaseState {
    match account.and_then(|a| a.card_change.as_ref()) {
        None => LeaseState::Free,
        Some(change) if change.expires_at <= now => LeaseState::Abandoned,
        Some(change) => {
            let millis = u64::try_from((change.expires_at - now).num_milliseconds()).unwrap_or(1);
            LeaseState::Held {
                retry_after: millis.div_ceil(1000).max(1),
            }
        }
    }
}

/// What a repair does to bring the network back to the record: the card on file is the one
/// attached card and the customer's default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepairPlan {
    /// Make this the default (it is not).
    pub set_default: Option<PaymentMethodId>,
    /// Detach these (attached, but not the card on file).
    pub detach: Vec<PaymentMethodId>,
    /// The card on file is not attached at all: the network lost it, and nothing is detached
    /// (detaching would leave the customer with no card); the caller reports it.
    pub on_file_missing: bool,
}

impl RepairPlan {
    /// True when the network already agrees with the record.
    pub fn is_empty(&self) -> bool {
        self.set_default.is_none() && self.detach.is_empty() && !self.on_file_missing
    }
}

/// Plans the repair of an interrupted card change. The record is the truth: a change that got
/// as far as recording its card is finished (made default, the others detached); one that did
/// not is undone (the card it attached is detached).
pub fn plan_repair(on_file: Option<&StoredCard>, network: &CustomerCards) -> RepairPlan {
    let attached = |id: &PaymentMethodId| network.attached.iter().any(|pm| pm.id == *id);
    match on_file {
        Some(card) if !attached(&card.payment_method) => RepairPlan {
            on_file_missing: true,
            ..RepairPlan::default()
        },
        Some(card) => RepairPlan {
            set_default: (network.default_payment_method.as_ref() != Some(&card.payment_method))
                .then(|| card.payment_method.clone()),
            detach: network
                .attached
                .iter()
                .filter(|pm| pm.id != card.payment_method)
                .map(|pm| pm.id.clone())
                .collect(),
            on_file_missing: false,
        },
        None => RepairPlan {
            set_default: None,
            detach: network.attached.iter().map(|pm| pm.id.clone()).collect(),
            on_file_missing: false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::account::CardChange;
    use crate::domain::ids::AccountId;
    use crate::ports::gateway::CardDetails;
    use crate::rules::card::CheckResult;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn id(raw: &str) -> PaymentMethodId {
        PaymentMethodId::parse(raw).unwrap()
    }

    fn customer(raw: &str) -> CustomerId {
        CustomerId::parse(raw).unwrap()
    }

    fn method(pm: &str, owner: Option<&str>, fingerprint: &str, exp: (u32, i32)) -> PaymentMethod {
        PaymentMethod {
            id: id(pm),
            customer: owner.map(customer),
            card: CardDetails {
                brand: "visa".into(),
                last4: "4242".into(),
                exp_month: exp.0,
                exp_year: exp.1,
                funding: Funding::Credit,
                fingerprint: fingerprint.into(),
                cvc_check: CheckResult::Pass,
                address_line1_check: CheckResult::Pass,
                address_postal_code_check: CheckResult::Pass,
            },
        }
    }

    fn stored(pm: &PaymentMethod) -> StoredCard {
        StoredCard {
            payment_method: pm.id.clone(),
            brand: pm.card.brand.clone(),
            last4: pm.card.last4.clone(),
            exp_month: pm.card.exp_month,
            exp_year: pm.card.exp_year,
            funding: pm.card.funding,
            fingerprint: pm.card.fingerprint.clone(),
        }
    }

    #[test]
    fn a_card_attached_to_another_customer_is_unknown() {
        let theirs = method("pm_1", Some("cus_other"), "fp", (12, 2029));
        let decision = decide_card(Some(&customer("cus_ours")), None, &theirs, now());
        assert_eq!(decision, CardDecision::Unknown);
    }

    #[test]
    fn the_card_on_file_again_is_kept_and_a_duplicate_copy_released() {
        let on_file = method("pm_on_file", Some("cus_ours"), "fp", (12, 2029));
        let copy = method("pm_copy", Some("cus_ours"), "fp", (12, 2029));
        let ours = customer("cus_ours");

        let same = decide_card(Some(&ours), Some(&stored(&on_file)), &on_file, now());
        let duplicate = decide_card(Some(&ours), Some(&stored(&on_file)), &copy, now());

        assert_eq!(
            same,
            CardDecision::Keep {
                card: stored(&on_file),
                release: None
            }
        );
        assert_eq!(
            duplicate,
            CardDecision::Keep {
                card: stored(&on_file),
                release: Some(id("pm_copy"))
            }
        );
    }

    #[test]
    fn the_expired_card_on_file_sent_again_is_refused_and_left_attached() {
        let on_file = method("pm_on_file", Some("cus_ours"), "fp", (10, 2026));
        let decision = decide_card(
            Some(&customer("cus_ours")),
            Some(&stored(&on_file)),
            &on_file,
            now(),
        );
        assert_eq!(
            decision,
            CardDecision::Refuse {
                refusal: CardRefusal::Expired,
                release: None
            }
        );
    }

    #[test]
    fn a_reissued_card_with_a_new_expiry_is_a_change() {
        let on_file = method("pm_old", Some("cus_ours"), "fp", (12, 2026));
        let reissued = method("pm_new", None, "fp", (12, 2030));
        let decision = decide_card(
            Some(&customer("cus_ours")),
            Some(&stored(&on_file)),
            &reissued,
            now(),
        );
        assert_eq!(decision, CardDecision::Change { attach: true });
    }

    #[test]
    fn a_prepaid_card_a_setup_intent_attached_is_refused_and_released() {
        let mut prepaid = method("pm_prepaid", Some("cus_ours"), "fp2", (12, 2029));
        prepaid.card.funding = Funding::Prepaid;
        let decision = decide_card(Some(&customer("cus_ours")), None, &prepaid, now());
        assert_eq!(
            decision,
            CardDecision::Refuse {
                refusal: CardRefusal::PrepaidNotSupported,
                release: Some(id("pm_prepaid"))
            }
        );
    }

    fn account_with_lease(expires_at: DateTime<Utc>) -> Account {
        let mut account = Account::new(AccountId::parse("a").unwrap(), None, now());
        account.card_change = Some(CardChange {
            claim: 3,
            started_at: expires_at - LEASE,
            expires_at,
        });
        account
    }

    #[test]
    fn a_lease_is_held_until_it_expires_then_abandoned() {
        let expires = now() + TimeDelta::milliseconds(1_500);
        let account = account_with_lease(expires);
        assert_eq!(lease_state(None, now()), LeaseState::Free);
        assert_eq!(
            lease_state(Some(&account), now()),
            LeaseState::Held { retry_after: 2 }
        );
        assert_eq!(lease_state(Some(&account), expires), LeaseState::Abandoned);
    }

    fn network(default: Option<&str>, attached: &[&str]) -> CustomerCards {
        CustomerCards {
            default_payment_method: default.map(id),
            attached: attached
                .iter()
                .map(|pm| method(pm, Some("cus_ours"), pm, (12, 2029)))
                .collect(),
        }
    }

    #[test]
    fn a_repair_finishes_a_change_that_recorded_its_card() {
        let new = stored(&method("pm_new", Some("cus_ours"), "fp", (12, 2029)));
        let plan = plan_repair(Some(&new), &network(Some("pm_old"), &["pm_old", "pm_new"]));
        assert_eq!(plan.set_default, Some(id("pm_new")));
        assert_eq!(plan.detach, vec![id("pm_old")]);
    }

    #[test]
    fn a_repair_undoes_a_change_that_did_not_record_its_card() {
        let old = stored(&method("pm_old", Some("cus_ours"), "fp", (12, 2029)));
        let plan = plan_repair(Some(&old), &network(Some("pm_old"), &["pm_old", "pm_new"]));
        assert_eq!(plan.set_default, None);
        assert_eq!(plan.detach, vec![id("pm_new")]);
        let first = plan_repair(None, &network(None, &["pm_new"]));
        assert_eq!(first.detach, vec![id("pm_new")]);
    }

    #[test]
    fn a_repair_never_detaches_the_last_card_when_the_one_on_file_is_gone() {
        let lost = stored(&method("pm_lost", Some("cus_ours"), "fp", (12, 2029)));
        let plan = plan_repair(Some(&lost), &network(Some("pm_other"), &["pm_other"]));
        assert!(plan.on_file_missing);
        assert!(plan.detach.is_empty());
    }

    #[test]
    fn a_network_that_agrees_with_the_record_needs_no_repair() {
        let card = stored(&method("pm_card", Some("cus_ours"), "fp", (12, 2029)));
        assert!(plan_repair(Some(&card), &network(Some("pm_card"), &["pm_card"])).is_empty());
    }
}
