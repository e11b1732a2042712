//! The card acceptance rule (PRODUCT.md, Behaviour 1).
//!
//! It runs on what Stripe reports about a PaymentMethod, never on what a client claims.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// How the card is funded, as Stripe's `card.funding` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Funding {
    /// A credit card.
    Credit,
    /// A debit card.
    Debit,
    /// A prepaid card: refused.
    Prepaid,
    /// The network did not say: refused.
    Unknown,
}

impl Funding {
    /// Parses Stripe's value; anything unrecognised is `Unknown` (and so refused).
    pub fn from_stripe(value: &str) -> Self {
        match value {
            "credit" => Self::Credit,
            "debit" => Self::Debit,
            "prepaid" => Self::Prepaid,
            _ => Self::Unknown,
        }
    }

    /// Stripe's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Credit => "credit",
            Self::Debit => "debit",
            Self::Prepaid => "prepaid",
            Self::Unknown => "unknown",
        }
    }
}

/// The outcome of one verification check (`card.checks.*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckResult {
    /// The issuer confirmed the value.
    Pass,
    /// The issuer says the value is wrong: refused.
    Fail,
    /// The issuer does not support the check.
    Unavailable,
    /// The check was not performed (yet).
    Unchecked,
}

impl CheckResult {
    /// Parses Stripe's value; `None` (no check reported) is treated as unchecked.
    pub fn from_stripe(value: Option<&str>) -> Self {
        match value {
            Some("pass") => Self::Pass,
            Some("fail") => Self::Fail,
            Some("unavailable") => Self::Unavailable,
            _ => Self::Unchecked,
        }
    }
}

/// What the acceptance rule needs to know about a card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardFacts {
    /// `card.funding`.
    pub funding: Funding,
    /// `card.exp_month`, 1–12.
    pub exp_month: u32,
    /// `card.exp_year`, four digits.
    pub exp_year: i32,
    /// `card.checks.cvc_check`.
    pub cvc_check: CheckResult,
    /// `card.checks.address_line1_check`.
    pub address_line1_check: CheckResult,
    /// `card.checks.address_postal_code_check`.
    pub address_postal_code_check: CheckResult,
}

/// Why a card was refused. Each carries a stable API code and a message a person can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Error, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardRefusal {
    /// The card is prepaid.
    #[error("Prepaid cards are not supported. Please use a credit or debit card.")]
    PrepaidNotSupported,
    /// The card's funding is unknown.
    #[error(
        "This card could not be confirmed as a credit or debit card. Please use a credit or debit card (prepaid cards are not supported)."
    )]
    FundingUnsupported,
    /// The card is past its expiry month, or its expiry date is not a real month.
    #[error(
        "This card has expired. Check the expiry date, or use a card that is active and unexpired."
    )]
    Expired,
    /// The issuer reported the CVC as wrong.
    #[error("The card's security code (CVC) was rejected. Check the CVC and try again.")]
    CvcCheckFailed,
    /// The issuer reported the billing address as wrong.
    #[error(
        "The billing address did not match the one your bank has on file. Check the street address and postal code and try again."
    )]
    AddressCheckFailed,
}

impl CardRefusal {
    /// Every refusal, in the order the rule checks them.
    pub const ALL: [Self; 5] = [
        Self::PrepaidNotSupported,
        Self::FundingUnsupported,
        Self::Expired,
        Self::CvcCheckFailed,
        Self::AddressCheckFailed,
    ];

    /// The API error code (PRODUCT.md, `PUT /v1/billing/card`).
    pub fn code(self) -> &'static str {
        match self {
            Self::PrepaidNotSupported => "card_prepaid_not_supported",
            Self::FundingUnsupported => "card_funding_unsupported",
            Self::Expired => "card_expired",
            Self::CvcCheckFailed => "card_cvc_check_failed",
            Self::AddressCheckFailed => "card_address_check_failed",
        }
    }

    /// The human message (the same as `Display`).
    pub fn message(self) -> String {
        self.to_string()
    }
}

/// Whether a card is expired on `today` (a UTC date). A card is good through the last day of
/// its expiry month, so it is expired exactly when its (year, month) is before today's; a month
/// outside 1–12 is not a real expiry and counts as expired.
pub fn is_expired(exp_month: u32, exp_year: i32, today: NaiveDate) -> bool {
    !(1..=12).contains(&exp_month) || (exp_year, exp_month) < (today.year(), today.month())
}

/// **The card acceptance rule**: a credit or debit card, not expired on `today`, and neither
/// the CVC check nor an address check reports `fail`. The first failing condition, in the
/// order of [`CardRefusal::ALL`], is the one reported.
pub fn accept_card(card: &CardFacts, today: NaiveDate) -> Result<(), CardRefusal> {
    match card.funding {
        Funding::Credit | Funding::Debit => {}
        Funding::Prepaid => return Err(CardRefusal::PrepaidNotSupported),
        Funding::Unknown => return Err(CardRefusal::FundingUnsupported),
    }
    if is_expired(card.exp_month, card.exp_year, today) {
        return Err(CardRefusal::Expired);
    }
    if card.cvc_check == CheckResult::Fail {
        return Err(CardRefusal::CvcCheckFailed);
    }
    if card.address_line1_check == CheckResult::Fail
        || card.address_postal_code_check == CheckResult::Fail
    {
        return Err(CardRefusal::AddressCheckFailed);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn good_card() -> CardFacts {
        CardFacts {
            funding: Funding::Credit,
            exp_month: 12,
            exp_year: 2030,
            cvc_check: CheckResult::Pass,
            address_line1_check: CheckResult::Pass,
            address_postal_code_check: CheckResult::Pass,
        }
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn a_credit_or_debit_card_with_passing_checks_is_accepted() {
        let today = day(2026, 11, 25);
        assert_eq!(accept_card(&good_card(), today), Ok(()));
        let debit = CardFacts {
            funding: Funding::Debit,
            ..good_card()
        };
        assert_eq!(accept_card(&debit, today), Ok(()));
    }

    #[test]
    fn prepaid_and_unknown_funding_are_refused_with_distinct_codes() {
        let today = day(2026, 11, 25);
        let prepaid = CardFacts {
            funding: Funding::Prepaid,
            ..good_card()
        };
        let unknown = CardFacts {
            funding: Funding::Unknown,
            ..good_card()
        };
        assert_eq!(
            accept_card(&prepaid, today),
            Err(CardRefusal::PrepaidNotSupported)
        );
        assert_eq!(
            accept_card(&unknown, today),
            Err(CardRefusal::FundingUnsupported)
        );
    }

    #[test]
    fn a_card_is_good_through_the_last_day_of_its_expiry_month() {
        let card = CardFacts {
            exp_month: 2,
            exp_year: 2028,
            ..good_card()
        };
        assert_eq!(accept_card(&card, day(2028, 2, 29)), Ok(()));
        assert_eq!(
            accept_card(&card, day(2028, 3, 1)),
            Err(CardRefusal::Expired)
        );
        let december = CardFacts {
            exp_month: 12,
            exp_year: 2026,
            ..good_card()
        };
        assert_eq!(accept_card(&december, day(2026, 12, 31)), Ok(()));
        assert_eq!(
            accept_card(&december, day(2027, 1, 1)),
            Err(CardRefusal::Expired)
        );
    }

    #[test]
    fn an_impossible_expiry_month_counts_as_expired() {
        let card = CardFacts {
            exp_month: 13,
            ..good_card()
        };
        assert_eq!(
            accept_card(&card, day(2026, 1, 1)),
            Err(CardRefusal::Expired)
        );
    }

    #[test]
    fn a_failed_cvc_or_address_check_is_refused_but_unavailable_is_not() {
        let today = day(2026, 11, 25);
        let cvc = CardFacts {
            cvc_check: CheckResult::Fail,
            ..good_card()
        };
        let line1 = CardFacts {
            address_line1_check: CheckResult::Fail,
            ..good_card()
        };
        let zip = CardFacts {
            address_postal_code_check: CheckResult::Fail,
            ..good_card()
        };
        let unavailable = CardFacts {
            cvc_check: CheckResult::Unavailable,
            address_line1_check: CheckResult::Unchecked,
            address_postal_code_check: CheckResult::Unavailable,
            ..good_card()
        };
        assert_eq!(accept_card(&cvc, today), Err(CardRefusal::CvcCheckFailed));
        assert_eq!(
            accept_card(&line1, today),
            Err(CardRefusal::AddressCheckFailed)
        );
        assert_eq!(
            accept_card(&zip, today),
            Err(CardRefusal::AddressCheckFailed)
        );
        assert_eq!(accept_card(&unavailable, today), Ok(()));
    }

    #[test]
    fn every_refusal_has_a_distinct_code_and_an_actionable_message() {
        let codes: std::collections::HashSet<_> =
            CardRefusal::ALL.iter().map(|r| r.code()).collect();
        assert_eq!(codes.len(), CardRefusal::ALL.len());
        assert!(CardRefusal::ALL.iter().all(|r| r.message().len() > 30));
    }

    fn any_check() -> impl Strategy<Value = CheckResult> {
        prop_oneof![
            Just(CheckResult::Pass),
            Just(CheckResult::Fail),
            Just(CheckResult::Unavailable),
            Just(CheckResult::Unchecked)
        ]
    }

    proptest! {
        #[test]
        fn accepted_cards_are_credit_or_debit_unexpired_and_never_failed_a_check(
            funding in prop_oneof![Just(Funding::Credit), Just(Funding::Debit), Just(Funding::Prepaid), Just(Funding::Unknown)],
            exp_month in 0u32..=14, exp_year in 2020i32..2035,
            cvc in any_check(), line1 in any_check(), zip in any_check(),
            days in 0i64..(15 * 366),
        ) {
            let today = day(2020, 1, 1) + chrono::Days::new(days.unsigned_abs());
            let card = CardFacts { funding, exp_month, exp_year, cvc_check: cvc, address_line1_check: line1, address_postal_code_check: zip };
            if accept_card(&card, today).is_ok() {
                prop_assert!(matches!(funding, Funding::Credit | Funding::Debit));
                prop_assert!((1..=12).contains(&exp_month));
                prop_assert!((exp_year, exp_month) >= (today.year(), today.month()));
                prop_assert!(![cvc, line1, zip].contains(&CheckResult::Fail));
            }
        }
    }
}
