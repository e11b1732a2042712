//! The mapping module on JSON fixtures shaped like real Stripe responses, parsed as the
//! gateway parses them (billing-stripe's `objects`, serde_json).

use billing_core::ports::gateway::{ChargeOutcome, Decline, GatewayError};
use billing_core::rules::card::{CheckResult, Funding};
use billing_core::{ClientSecret, PaymentId};
use billing_stripe::Failure;
use billing_stripe::mapping;
use billing_stripe::objects::{ErrorBody, PaymentIntent, PaymentMethod};
use serde::de::DeserializeOwned;

fn fixture<T: DeserializeOwned>(name: &str) -> T {
    let path = format!("{}/tests/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path} does not parse: {e}"))
}

fn stripe_error(name: &str, status: u16) -> Failure {
    let body: ErrorBody = fixture(name);
    Failure::Refused {
        error: Box::new(body.error),
        status,
    }
}

/// The fixtures are what real Stripe sends, not only what the gateway reads: each parses as
/// async-stripe's full generated type too (with miniserde, as async-stripe parses).
#[test]
fn every_fixture_parses_as_async_stripes_full_type() {
    let dir = format!("{}/tests/fixtures", env!("CARGO_MANIFEST_DIR"));
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let parses = if name.starts_with("payment_intent_") {
            miniserde::json::from_str::<stripe_shared::PaymentIntent>(&text).is_ok()
        } else if name.starts_with("payment_method_") {
            miniserde::json::from_str::<stripe_shared::PaymentMethod>(&text).is_ok()
        } else if name.starts_with("error_") {
            miniserde::json::from_str::<stripe_shared::Error>(&text).is_ok()
        } else {
            continue;
        };
        assert!(parses, "{name} is not what Stripe sends");
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} fixtures checked");
}

#[test]
fn an_attached_visa_maps_to_its_card_checks_and_customer() {
    let method =
        mapping::payment_method(&fixture::<PaymentMethod>("payment_method_visa_attached")).unwrap();
    assert_eq!(method.id.as_str(), "pm_1QxVisaAttached0001");
    assert_eq!(
        method.customer.as_ref().map(|c| c.as_str()),
        Some("cus_RealStripe00001")
    );
    let card = &method.card;
    assert_eq!(
        (
            card.brand.as_str(),
            card.last4.as_str(),
            card.exp_month,
            card.exp_year
        ),
        ("visa", "4242", 8, 2029)
    );
    assert_eq!(card.funding, Funding::Credit);
    assert_eq!(card.fingerprint, "Xt5EWLLDS7FJjR1c");
    assert_eq!(card.cvc_check, CheckResult::Pass);
    assert_eq!(card.address_postal_code_check, CheckResult::Pass);
    assert_eq!(card.address_line1_check, CheckResult::Unchecked);
}

#[test]
fn a_prepaid_card_not_yet_verified_reads_as_prepaid_and_unchecked() {
    let method = mapping::payment_method(&fixture::<PaymentMethod>(
        "payment_method_prepaid_unattached",
    ))
    .unwrap();
    assert_eq!(method.customer, None);
    assert_eq!(method.card.funding, Funding::Prepaid);
    assert_eq!(
        [
            method.card.cvc_check,
            method.card.address_line1_check,
            method.card.address_postal_code_check
        ],
        [CheckResult::Unchecked; 3]
    );
}

#[test]
fn unknown_funding_and_failing_checks_are_reported_as_such() {
    let method = mapping::payment_method(&fixture::<PaymentMethod>(
        "payment_method_unknown_funding_failing_checks",
    ))
    .unwrap();
    assert_eq!(method.card.funding, Funding::Unknown);
    assert_eq!(method.card.cvc_check, CheckResult::Fail);
    assert_eq!(method.card.address_line1_check, CheckResult::Fail);
    assert_eq!(
        method.card.address_postal_code_check,
        CheckResult::Unavailable
    );
    // An expanded customer maps to its id.
    assert_eq!(
        method.customer.as_ref().map(|c| c.as_str()),
        Some("cus_RealStripe00002")
    );
}

#[test]
fn a_card_without_a_fingerprint_never_looks_like_another_card() {
    let method = mapping::payment_method(&fixture::<PaymentMethod>(
        "payment_method_unknown_funding_failing_checks",
    ))
    .unwrap();
    assert!(!method.card.fingerprint.is_empty());
    assert!(method.card.fingerprint.contains("pm_1QxUnknownFunding03"));
}

#[test]
fn a_payment_method_that_is_not_a_card_is_refused() {
    let result = mapping::payment_method(&fixture::<PaymentMethod>("payment_method_sepa_debit"));
    assert!(
        matches!(result, Err(GatewayError::Invalid(_))),
        "{result:?}"
    );
}

fn payment(id: &str) -> PaymentId {
    PaymentId::parse(id).unwrap()
}

fn secret(raw: &str) -> ClientSecret {
    ClientSecret::parse(raw).unwrap()
}

#[test]
fn a_succeeded_intent_is_a_success() {
    let intent: PaymentIntent = fixture("payment_intent_succeeded");
    assert_eq!(
        mapping::charge_outcome(&intent).unwrap(),
        ChargeOutcome::Succeeded {
            payment: payment("pi_3QxSucceeded000001")
        }
    );
}

#[test]
fn a_processing_intent_is_not_final() {
    let intent: PaymentIntent = fixture("payment_intent_processing");
    assert_eq!(
        mapping::charge_outcome(&intent).unwrap(),
        ChargeOutcome::Processing {
            payment: payment("pi_3QxProcessing000005")
        }
    );
}

#[test]
fn requires_action_carries_the_client_secret_and_the_redirect_url() {
    let intent: PaymentIntent = fixture("payment_intent_requires_action_redirect");
    assert_eq!(
        mapping::charge_outcome(&intent).unwrap(),
        ChargeOutcome::RequiresAction {
            payment: payment("pi_3QxRequiresAction02"),
            client_secret: secret("pi_3QxRequiresAction02_secret_def"),
            url: Some(
                "https://hooks.stripe.com/3d_secure_2/hosted?merchant=acct_1&payment_intent=pi_3QxRequiresAction02"
                    .into()
            ),
        }
    );
}

#[test]
fn requires_action_for_stripe_js_has_no_url() {
    let intent: PaymentIntent = fixture("payment_intent_requires_action_sdk");
    let ChargeOutcome::RequiresAction {
        client_secret, url, ..
    } = mapping::charge_outcome(&intent).unwrap()
    else {
        panic!("expected requires_action")
    };
    assert_eq!(client_secret.expose(), "pi_3QxRequiresAction03_secret_ghi");
    assert_eq!(url, None);
}

#[test]
fn requires_action_without_a_client_secret_is_an_error_not_an_empty_secret() {
    let intent: PaymentIntent = fixture("payment_intent_requires_action_without_secret");

    let result = mapping::charge_outcome(&intent);

    let Err(GatewayError::Unavailable(reason)) = result else {
        panic!("expected an error, got {result:?}")
    };
    assert!(reason.contains("pi_3QxNoSecret000007"), "{reason}");
}

#[test]
fn an_intent_back_to_requires_payment_method_is_declined_with_its_last_error() {
    let intent: PaymentIntent = fixture("payment_intent_declined");
    assert_eq!(
        mapping::charge_outcome(&intent).unwrap(),
        ChargeOutcome::Declined {
            payment: Some(payment("pi_3QxDeclined0000004")),
            decline: Decline {
                decline_code: Some("insufficient_funds".into()),
                network_message: "Your card has insufficient funds.".into(),
            },
        }
    );
}

#[test]
fn an_intent_waiting_for_authentication_off_session_keeps_its_id_and_secret() {
    let intent: PaymentIntent = fixture("payment_intent_authentication_required");
    assert_eq!(
        mapping::charge_outcome(&intent).unwrap(),
        ChargeOutcome::AuthenticationRequired {
            payment: payment("pi_3QxAuthRequired0006"),
            client_secret: secret("pi_3QxAuthRequired0006_secret_pqr"),
            url: None,
        }
    );
}

#[test]
fn a_canceled_intent_is_canceled() {
    let intent: PaymentIntent = fixture("payment_intent_canceled");
    assert_eq!(
        mapping::charge_outcome(&intent).unwrap(),
        ChargeOutcome::Canceled {
            payment: payment("pi_3QxCanceled0000008")
        }
    );
}

#[test]
fn a_402_on_charge_is_a_decline_naming_the_payment_and_the_decline_code() {
    let outcome =
        mapping::charge_failure(&stripe_error("error_card_declined_on_charge", 402)).unwrap();
    assert_eq!(
        outcome,
        ChargeOutcome::Declined {
            payment: Some(payment("pi_3QxDeclined0000004")),
            decline: Decline {
                decline_code: Some("insufficient_funds".into()),
                network_message: "Your card has insufficient funds.".into(),
            },
        }
    );
}

#[test]
fn a_402_authentication_required_keeps_the_payment_and_its_client_secret() {
    let outcome =
        mapping::charge_failure(&stripe_error("error_authentication_required", 402)).unwrap();
    assert_eq!(
        outcome,
        ChargeOutcome::AuthenticationRequired {
            payment: payment("pi_3QxAuthRequired0006"),
            client_secret: secret("pi_3QxAuthRequired0006_secret_pqr"),
            url: None,
        }
    );
}

#[test]
fn a_402_authentication_required_without_a_client_secret_is_an_error() {
    let result = mapping::charge_failure(&stripe_error(
        "error_authentication_required_without_secret",
        402,
    ));
    assert!(
        matches!(result, Err(GatewayError::Unavailable(_))),
        "{result:?}"
    );
}

#[test]
fn refusing_to_cancel_for_the_payments_state_is_recognised() {
    assert!(mapping::is_unexpected_state(&stripe_error(
        "error_payment_intent_unexpected_state",
        400
    )));
    assert!(!mapping::is_unexpected_state(&stripe_error(
        "error_resource_missing",
        400
    )));
}

#[test]
fn a_402_at_attach_is_a_card_declined_error_with_its_decline_code() {
    let error = mapping::gateway_error(&stripe_error("error_card_declined_on_attach", 402), "pm");
    assert_eq!(
        error,
        GatewayError::CardDeclined(Decline {
            decline_code: Some("generic_decline".into()),
            network_message: "Your card was declined.".into(),
        })
    );
}

#[test]
fn resource_missing_is_not_found_whatever_the_status() {
    for status in [404, 400] {
        let error = mapping::gateway_error(
            &stripe_error("error_resource_missing", status),
            "payment method pm_doesNotExist123",
        );
        assert_eq!(
            error,
            GatewayError::NotFound("payment method pm_doesNotExist123".into())
        );
    }
}

#[test]
fn other_client_errors_are_invalid_and_never_carry_stripes_message() {
    // Stripe's messages may quote what was sent (an e-mail address), and these errors are
    // logged: only the status, code and parameter are kept.
    let error = mapping::gateway_error(&stripe_error("error_detach_not_attached", 400), "pm");
    assert_eq!(error, GatewayError::Invalid("HTTP 400 without code".into()));
    let GatewayError::Invalid(text) = error else {
        unreachable!()
    };
    assert!(!text.contains("not attached to a customer"), "{text}");
}

#[test]
fn a_key_in_use_is_busy_and_unavailable_not_invalid() {
    let error = stripe_error("error_idempotency_key_in_use", 409);
    assert!(mapping::is_busy(&error));
    assert!(matches!(
        mapping::gateway_error(&error, "customer"),
        GatewayError::Unavailable(_)
    ));
    assert!(!mapping::is_busy(&stripe_error(
        "error_resource_missing",
        404
    )));
}

#[test]
fn a_charge_failing_for_a_reason_other_than_a_decline_is_an_error() {
    let result = mapping::charge_failure(&stripe_error("error_detach_not_attached", 400));
    assert!(
        matches!(result, Err(GatewayError::Invalid(_))),
        "{result:?}"
    );
}

#[test]
fn transport_failures_and_server_errors_are_unavailable() {
    for error in [
        Failure::Unreachable("connection refused".into()),
        Failure::Timeout,
        Failure::Unreadable { status: 200 },
        Failure::Unreadable { status: 502 },
        stripe_error("error_card_declined_on_attach", 500),
    ] {
        assert!(
            matches!(
                mapping::gateway_error(&error, "customer"),
                GatewayError::Unavailable(_)
            ),
            "{error:?}"
        );
    }
}

#[test]
fn a_refusal_prints_its_status_and_code_never_stripes_message() {
    // Stripe's message may quote what was sent; a failure may be logged with `{:?}`.
    let failure = stripe_error("error_card_declined_on_charge", 402);
    let printed = format!("{failure:?}");
    assert!(
        printed.contains("402") && printed.contains("card_declined"),
        "{printed}"
    );
    assert!(!printed.contains("insufficient funds"), "{printed}");
    assert!(!printed.contains("secret"), "{printed}");
}
