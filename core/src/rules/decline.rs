//! Stripe decline codes turned into messages a person can act on, and the retry decision.
//!
//! Messages draw on the troubleshooting list of PRODUCT.md. Unknown codes get a sound default
//! rather than an error: Stripe adds codes over time.

use serde::{Deserialize, Serialize};

/// Whether charging the same card again can succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetryPolicy {
    /// A soft decline: a later attempt on the same card may succeed.
    Retry,
    /// A hard decline: the same card will fail again; only a new card helps.
    Never,
    /// The bank wants the cardholder to authenticate; only the user can complete it.
    AfterAuthentication,
}

/// What to tell the user, grouped by the troubleshooting item it points to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Advice {
    /// Card active, unexpired, details correct.
    CheckDetails,
    /// The CVC specifically.
    CheckCvc,
    /// The billing address / postal code.
    CheckAddress,
    /// Funds available.
    Funds,
    /// Approve the bank's notification.
    BankAuthorization,
    /// No spending limits or blocks set by the bank.
    BankLimits,
    /// The card is expired or inactive.
    CardInactive,
    /// The card cannot be used at all: use another credit or debit card.
    UseAnotherCard,
    /// A temporary problem; try again shortly.
    TryLater,
    /// Nothing more specific is known.
    Generic,
}

impl Advice {
    /// The message shown to the user.
    pub fn message(self) -> &'static str {
        match self {
            Self::CheckDetails => {
                "Your card was declined. Check that the card is active and unexpired and that its details (number, expiry date, CVC and billing address) are correct."
            }
            Self::CheckCvc => {
                "Your card was declined because the security code (CVC) is incorrect. Check the CVC and try again."
            }
            Self::CheckAddress => {
                "Your card was declined because the billing address or postal code did not match. Check the billing address and try again."
            }
            Self::Funds => {
                "Your card was declined for insufficient funds. Make sure funds are available on the card, or use another card."
            }
            Self::BankAuthorization => {
                "Your bank needs you to authorize this payment. Approve the notification from your bank, then complete the payment."
            }
            Self::BankLimits => {
                "Your bank declined the payment. Check that no spending limits or blocks are set on the card by your bank, or contact your bank."
            }
            Self::CardInactive => {
                "Your card was declined because it is expired or no longer active. Use an active, unexpired credit or debit card."
            }
            Self::UseAnotherCard => {
                "This card cannot be used. Please use a different credit or debit card (prepaid cards are not supported)."
            }
            Self::TryLater => {
                "The payment could not be processed because of a temporary problem. A purchase can take up to 15 minutes to settle; do not re-enter your card details meanwhile, and try again shortly."
            }
            Self::Generic => {
                "Your card was declined. Check that the card is active and unexpired, its details are correct, funds are available and your bank has set no spending limits or blocks; or use another credit or debit card."
            }
        }
    }
}

/// The decision for one decline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeclineAdvice {
    /// The decline code, normalised: an unknown or missing code reads `generic_decline`.
    pub code: &'static str,
    /// What to tell the user.
    pub advice: Advice,
    /// Whether to retry the same card.
    pub retry: RetryPolicy,
}

impl DeclineAdvice {
    /// The message shown to the user.
    pub fn message(&self) -> &'static str {
        self.advice.message()
    }
}

use Advice as A;
use RetryPolicy as R;

/// Stripe's decline codes (https://docs.stripe.com/declines/codes), with `card_declined`
/// itself for errors that carry no decline code.
const TABLE: &[(&str, Advice, RetryPolicy)] = &[
    (
        "authentication_required",
        A::BankAuthorization,
        R::AfterAuthentication,
    ),
    ("approve_with_id", A::TryLater, R::Retry),
    ("call_issuer", A::BankLimits, R::Retry),
    ("card_declined", A::Generic, R::Retry),
    ("card_not_supported", A::UseAnotherCard, R::Never),
    ("card_velocity_exceeded", A::BankLimits, R::Retry),
    ("currency_not_supported", A::UseAnotherCard, R::Never),
    ("do_not_honor", A::BankLimits, R::Retry),
    ("do_not_try_again", A::UseAnotherCard, R::Never),
    ("duplicate_transaction", A::TryLater, R::Retry),
    ("expired_card", A::CardInactive, R::Never),
    ("fraudulent", A::UseAnotherCard, R::Never),
    ("generic_decline", A::Generic, R::Retry),
    ("incorrect_address", A::CheckAddress, R::Never),
    ("incorrect_cvc", A::CheckCvc, R::Never),
    ("incorrect_number", A::CheckDetails, R::Never),
    ("incorrect_pin", A::CheckDetails, R::Never),
    ("incorrect_zip", A::CheckAddress, R::Never),
    ("insufficient_funds", A::Funds, R::Retry),
    ("invalid_account", A::CardInactive, R::Never),
    ("invalid_amount", A::BankLimits, R::Retry),
    ("invalid_cvc", A::CheckCvc, R::Never),
    ("invalid_expiry_month", A::CheckDetails, R::Never),
    ("invalid_expiry_year", A::CheckDetails, R::Never),
    ("invalid_number", A::CheckDetails, R::Never),
    ("invalid_pin", A::CheckDetails, R::Never),
    ("issuer_not_available", A::TryLater, R::Retry),
    ("lost_card", A::UseAnotherCard, R::Never),
    ("merchant_blacklist", A::UseAnotherCard, R::Never),
    (
        "new_account_information_available",
        A::CardInactive,
        R::Never,
    ),
    ("no_action_taken", A::BankLimits, R::Retry),
    ("not_permitted", A::BankLimits, R::Never),
    (
        "offline_pin_required",
        A::BankAuthorization,
        R::AfterAuthentication,
    ),
    (
        "online_or_offline_pin_required",
        A::BankAuthorization,
        R::AfterAuthentication,
    ),
    ("pickup_card", A::UseAnotherCard, R::Never),
    ("pin_try_exceeded", A::BankLimits, R::Never),
    ("processing_error", A::TryLater, R::Retry),
    ("reenter_transaction", A::TryLater, R::Retry),
    ("restricted_card", A::UseAnotherCard, R::Never),
    ("revocation_of_all_authorizations", A::BankLimits, R::Never),
    ("revocation_of_authorization", A::BankLimits, R::Never),
    ("security_violation", A::UseAnotherCard, R::Never),
    ("service_not_allowed", A::BankLimits, R::Never),
    ("stolen_card", A::UseAnotherCard, R::Never),
    ("stop_payment_order", A::BankLimits, R::Never),
    ("testmode_decline", A::UseAnotherCard, R::Never),
    ("transaction_not_allowed", A::BankLimits, R::Never),
    ("try_again_later", A::TryLater, R::Retry),
    ("withdrawal_count_exceeded", A::BankLimits, R::Retry),
];

/// Every decline code this crate knows.
pub fn known_decline_codes() -> impl Iterator<Item = &'static str> {
    TABLE.iter().map(|(code, _, _)| *code)
}

/// **The decline rule**: advice and retry decision for a Stripe decline code. A missing or
/// unknown code is treated as `generic_decline` (retryable, generic advice).
pub fn decline_advice(code: Option<&str>) -> DeclineAdvice {
    let (code, advice, retry) = code
        .and_then(|c| TABLE.iter().find(|(known, _, _)| *known == c))
        .or_else(|| {
            TABLE
                .iter()
                .find(|(known, _, _)| *known == "generic_decline")
        })
        .copied()
        .expect("generic_decline is in the table");
    DeclineAdvice {
        code,
        advice,
        retry,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insufficient_funds_points_at_funds_and_may_be_retried() {
        let advice = decline_advice(Some("insufficient_funds"));
        assert_eq!(advice.retry, RetryPolicy::Retry);
        assert!(advice.message().contains("funds"));
    }

    #[test]
    fn lost_stolen_and_pickup_cards_are_never_retried() {
        for code in [
            "lost_card",
            "stolen_card",
            "pickup_card",
            "fraudulent",
            "expired_card",
            "incorrect_cvc",
        ] {
            assert_eq!(
                decline_advice(Some(code)).retry,
                RetryPolicy::Never,
                "{code}"
            );
        }
    }

    #[test]
    fn authentication_required_waits_for_the_user() {
        let advice = decline_advice(Some("authentication_required"));
        assert_eq!(advice.retry, RetryPolicy::AfterAuthentication);
        assert!(
            advice
                .message()
                .contains("Approve the notification from your bank")
        );
    }

    #[test]
    fn unknown_and_missing_codes_fall_back_to_a_generic_retryable_decline() {
        for code in [None, Some("some_future_code")] {
            let advice = decline_advice(code);
            assert_eq!(advice.code, "generic_decline");
            assert_eq!(advice.retry, RetryPolicy::Retry);
        }
    }

    #[test]
    fn the_table_has_no_duplicate_codes() {
        let mut codes: Vec<_> = known_decline_codes().collect();
        let total = codes.len();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), total);
        assert!(total >= 45);
    }
}
