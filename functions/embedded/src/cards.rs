//! Stripe's test PaymentMethod ids and the outcome Stripe documents for each
//! (https://docs.stripe.com/testing), as the simulated card network plays them.

use billing_core::rules::card::{CheckResult, Funding};

/// What happens when a card is attached to a customer (Stripe verifies it then).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnAttach {
    /// Attaches.
    Attach,
    /// Declined with this decline code.
    Decline(&'static str),
}

/// What happens when the attached card is charged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnCharge {
    /// Paid.
    Succeed,
    /// Declined with this decline code.
    Decline(&'static str),
    /// The bank requires authentication (3-D Secure) on every payment.
    Authenticate,
    /// The payment stays processing until settled through the network's controls
    /// (`SimulatedCardNetwork::succeed` / `fail`).
    Hold,
}

/// One test card.
#[derive(Debug, Clone, Copy)]
pub struct TestCard {
    /// The test PaymentMethod id.
    pub id: &'static str,
    /// `card.brand`.
    pub brand: &'static str,
    /// `card.last4`.
    pub last4: &'static str,
    /// `card.funding`.
    pub funding: Funding,
    /// `card.checks.cvc_check` once attached.
    pub cvc: CheckResult,
    /// `card.checks.address_line1_check` once attached.
    pub line1: CheckResult,
    /// `card.checks.address_postal_code_check` once attached.
    pub zip: CheckResult,
    /// Attach outcome.
    pub attach: OnAttach,
    /// Charge outcome.
    pub charge: OnCharge,
}

const fn card(
    id: &'static str,
    brand: &'static str,
    last4: &'static str,
    funding: Funding,
) -> TestCard {
    TestCard {
        id,
        brand,
        last4,
        funding,
        cvc: CheckResult::Pass,
        line1: CheckResult::Pass,
        zip: CheckResult::Pass,
        attach: OnAttach::Attach,
        charge: OnCharge::Succeed,
    }
}

/// Not a Stripe id: attaches, then every charge is declined with `code` (Stripe's
/// `pm_card_chargeCustomerFail` with the decline code of another test card).
const fn declined_after_attach(
    id: &'static str,
    last4: &'static str,
    code: &'static str,
) -> TestCard {
    TestCard {
        charge: OnCharge::Decline(code),
        ..card(id, "visa", last4, Funding::Credit)
    }
}

const fn declined_at_attach(id: &'static str, last4: &'static str, code: &'static str) -> TestCard {
    TestCard {
        attach: OnAttach::Decline(code),
        charge: OnCharge::Decline(code),
        ..card(id, "visa", last4, Funding::Credit)
    }
}

use CheckResult::{Fail, Pass, Unavailable};

/// Every test card the simulated network knows.
pub const TEST_CARDS: &[TestCard] = &[
    card("pm_card_visa", "visa", "4242", Funding::Credit),
    card("pm_card_visa_debit", "visa", "5556", Funding::Debit),
    card("pm_card_mastercard", "mastercard", "4444", Funding::Credit),
    card(
        "pm_card_mastercard_debit",
        "mastercard",
        "8210",
        Funding::Debit,
    ),
    card(
        "pm_card_mastercard_prepaid",
        "mastercard",
        "5100",
        Funding::Prepaid,
    ),
    card("pm_card_amex", "amex", "8431", Funding::Credit),
    card("pm_card_discover", "discover", "1117", Funding::Credit),
    // Not a Stripe id: Stripe has no test card whose funding is unknown. Local only, so the
    // `card_funding_unsupported` refusal can be seen without a real card.
    card("pm_card_fundingUnknown", "visa", "0000", Funding::Unknown),
    declined_at_attach("pm_card_chargeDeclined", "0002", "generic_decline"),
    declined_at_attach(
        "pm_card_chargeDeclinedInsufficientFunds",
        "9995",
        "insufficient_funds",
    ),
    declined_at_attach("pm_card_chargeDeclinedLostCard", "9987", "lost_card"),
    declined_at_attach("pm_card_chargeDeclinedStolenCard", "9979", "stolen_card"),
    declined_at_attach("pm_card_chargeDeclinedExpiredCard", "0069", "expired_card"),
    declined_at_attach(
        "pm_card_chargeDeclinedIncorrectCvc",
        "0127",
        "incorrect_cvc",
    ),
    declined_at_attach(
        "pm_card_chargeDeclinedProcessingError",
        "0119",
        "processing_error",
    ),
    declined_at_attach("pm_card_chargeDeclinedFraudulent", "0019", "fraudulent"),
    declined_at_attach(
        "pm_card_chargeDeclinedVelocityLimitExceeded",
        "6975",
        "card_velocity_exceeded",
    ),
    TestCard {
        cvc: Fail,
        ..card("pm_card_cvcCheckFail", "visa", "0101", Funding::Credit)
    },
    TestCard {
        line1: Fail,
        zip: Fail,
        ..card("pm_card_avsFail", "visa", "0010", Funding::Credit)
    },
    TestCard {
        line1: Fail,
        zip: Pass,
        ..card("pm_card_avsLine1Fail", "visa", "0028", Funding::Credit)
    },
    TestCard {
        line1: Pass,
        zip: Fail,
        ..card("pm_card_avsZipFail", "visa", "0036", Funding::Credit)
    },
    TestCard {
        line1: Unavailable,
        zip: Unavailable,
        ..card("pm_card_avsUnchecked", "visa", "0044", Funding::Credit)
    },
    TestCard {
        charge: OnCharge::Authenticate,
        ..card(
            "pm_card_authenticationRequired",
            "visa",
            "3184",
            Funding::Credit,
        )
    },
    // Not a Stripe id: Stripe has no card whose payments stay processing. Local only, so a
    // purchase left unsettled (and settled later, by event) can be seen.
    TestCard {
        charge: OnCharge::Hold,
        ..card("pm_card_processing", "visa", "1881", Funding::Credit)
    },
    TestCard {
        charge: OnCharge::Decline("generic_decline"),
        ..card(
            "pm_card_chargeCustomerFail",
            "visa",
            "0341",
            Funding::Credit,
        )
    },
    // Not Stripe ids: Stripe's cards that decline with a specific code decline the attach
    // too, so no card on file can show that code when charged later (a renewal, a retry).
    // Local only, so the retries and emails of each kind of decline can be seen.
    declined_after_attach(
        "pm_card_chargeCustomerFailInsufficientFunds",
        "9995",
        "insufficient_funds",
    ),
    declined_after_attach("pm_card_chargeCustomerFailLostCard", "9987", "lost_card"),
    declined_after_attach(
        "pm_card_chargeCustomerFailStolenCard",
        "9979",
        "stolen_card",
    ),
    declined_after_attach(
        "pm_card_chargeCustomerFailIncorrectCvc",
        "0127",
        "incorrect_cvc",
    ),
];

/// The test card with this id.
pub fn test_card(id: &str) -> Option<&'static TestCard> {
    TEST_CARDS.iter().find(|c| c.id == id)
}
