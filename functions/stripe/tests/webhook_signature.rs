//! `Stripe-Signature` verification: Stripe's scheme, secret rotation, the 300 s tolerance both
//! ways, and every malformed header refused with its reason. Headers are made by the signing
//! helper the simulated network uses (`billing_embedded::stripe_signature`) and checked once
//! against a vector computed independently with openssl.

use billing_embedded::stripe_signature;
use billing_stripe::webhook::{SignatureError, verify_signature};
use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;

const PAYLOAD: &str = r#"{"id":"evt_test_webhook","object":"event"}"#;
const SECRET: &str = "whsec_test_secret";
const OLD_SECRET: &str = "whsec_old_secret";
const SIGNED_AT: i64 = 1_700_000_000;
/// `printf '1700000000.{"id":"evt_test_webhook","object":"event"}' |
///  openssl dgst -sha256 -hmac whsec_test_secret`
const OPENSSL_V1: &str = "d95c6b7477fbd7e9f90b1b0ef5f9c7ac25abca5382460e0d988c2b2a5b71b990";

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).unwrap()
}

fn signed_now() -> DateTime<Utc> {
    at(SIGNED_AT)
}

fn verify(header: &str, secrets: &[&str]) -> Result<(), SignatureError> {
    verify_signature(PAYLOAD.as_bytes(), Some(header), secrets, signed_now())
}

#[test]
fn an_event_signed_as_stripe_signs_it_passes() {
    let header = format!("t={SIGNED_AT},v1={OPENSSL_V1}");

    assert_eq!(verify(&header, &[SECRET]), Ok(()));
}

#[test]
fn the_simulated_networks_signature_is_accepted() {
    let header = stripe_signature(SECRET, SIGNED_AT, PAYLOAD);

    assert_eq!(header, format!("t={SIGNED_AT},v1={OPENSSL_V1}"));
    assert_eq!(verify(&header, &[SECRET]), Ok(()));
}

#[test]
fn a_tampered_body_is_a_mismatch() {
    let header = stripe_signature(SECRET, SIGNED_AT, PAYLOAD);
    let tampered = PAYLOAD.replace("evt_test_webhook", "evt_test_webhooK");

    let result = verify_signature(tampered.as_bytes(), Some(&header), &[SECRET], signed_now());

    assert_eq!(result, Err(SignatureError::Mismatch));
}

#[test]
fn a_signature_made_with_another_secret_is_a_mismatch() {
    let forged = stripe_signature("whsec_forger", SIGNED_AT, PAYLOAD);

    assert_eq!(verify(&forged, &[SECRET]), Err(SignatureError::Mismatch));
}

#[test]
fn a_tampered_timestamp_is_a_mismatch() {
    let header = stripe_signature(SECRET, SIGNED_AT, PAYLOAD);
    let moved = header.replace(&SIGNED_AT.to_string(), &(SIGNED_AT + 1).to_string());

    assert_eq!(verify(&moved, &[SECRET]), Err(SignatureError::Mismatch));
}

#[test]
fn during_a_secret_roll_either_secret_passes() {
    // Stripe signs with the old and the new secret while an endpoint's secret is rolled.
    let new = stripe_signature(SECRET, SIGNED_AT, PAYLOAD);
    let old = stripe_signature(OLD_SECRET, SIGNED_AT, PAYLOAD);
    let old_v1 = old.split_once(",v1=").unwrap().1;
    let both = format!("{new},v1={old_v1}");

    assert_eq!(
        verify(&both, &[SECRET]),
        Ok(()),
        "the endpoint has the new one"
    );
    assert_eq!(
        verify(&both, &[OLD_SECRET]),
        Ok(()),
        "the endpoint has the old one"
    );
    assert_eq!(
        verify(&old, &[SECRET, OLD_SECRET]),
        Ok(()),
        "configured with both"
    );
    assert_eq!(verify(&old, &[SECRET]), Err(SignatureError::Mismatch));
}

#[test]
fn an_event_signed_up_to_300_seconds_ago_passes_and_older_is_refused() {
    let header = stripe_signature(SECRET, SIGNED_AT, PAYLOAD);
    let payload = PAYLOAD.as_bytes();

    let at_limit = verify_signature(payload, Some(&header), &[SECRET], at(SIGNED_AT + 300));
    let too_old = verify_signature(payload, Some(&header), &[SECRET], at(SIGNED_AT + 301));

    assert_eq!(at_limit, Ok(()));
    assert_eq!(too_old, Err(SignatureError::TooOld { age_seconds: 301 }));
}

#[test]
fn an_event_signed_more_than_300_seconds_ahead_is_refused() {
    let header = stripe_signature(SECRET, SIGNED_AT, PAYLOAD);
    let payload = PAYLOAD.as_bytes();

    let at_limit = verify_signature(payload, Some(&header), &[SECRET], at(SIGNED_AT - 300));
    let ahead = verify_signature(payload, Some(&header), &[SECRET], at(SIGNED_AT - 301));

    assert_eq!(at_limit, Ok(()));
    assert_eq!(
        ahead,
        Err(SignatureError::FromTheFuture { ahead_seconds: 301 })
    );
}

#[test]
fn a_stale_forgery_is_reported_as_a_mismatch_not_as_stale() {
    let forged = stripe_signature("whsec_forger", SIGNED_AT, PAYLOAD);

    let result = verify_signature(
        PAYLOAD.as_bytes(),
        Some(&forged),
        &[SECRET],
        signed_now() + Duration::hours(1),
    );

    assert_eq!(result, Err(SignatureError::Mismatch));
}

#[test]
fn a_missing_header_is_refused() {
    let result = verify_signature(PAYLOAD.as_bytes(), None, &[SECRET], signed_now());

    assert_eq!(result, Err(SignatureError::MissingHeader));
}

#[test]
fn malformed_headers_are_refused_with_their_reason() {
    let v1 = format!("v1={OPENSSL_V1}");
    for (header, reason) in [
        (String::new(), SignatureError::MalformedHeader),
        ("garbage".to_owned(), SignatureError::MalformedHeader),
        (
            format!("t={SIGNED_AT},{v1},junk"),
            SignatureError::MalformedHeader,
        ),
        (
            format!("t={SIGNED_AT},t={SIGNED_AT},{v1}"),
            SignatureError::MalformedHeader,
        ),
        (v1.clone(), SignatureError::MissingTimestamp),
        (format!("t=,{v1}"), SignatureError::InvalidTimestamp),
        (format!("t=abc,{v1}"), SignatureError::InvalidTimestamp),
        (
            format!("t=-{SIGNED_AT},{v1}"),
            SignatureError::InvalidTimestamp,
        ),
        (
            format!("t=+{SIGNED_AT},{v1}"),
            SignatureError::InvalidTimestamp,
        ),
        (format!("t=1.5,{v1}"), SignatureError::InvalidTimestamp),
        (
            format!("t=99999999999999999999,{v1}"),
            SignatureError::InvalidTimestamp,
        ),
        (format!("t={SIGNED_AT}"), SignatureError::MissingSignature),
        (
            format!("t={SIGNED_AT},v0={OPENSSL_V1}"),
            SignatureError::MissingSignature,
        ),
        (
            format!("t={SIGNED_AT},v1="),
            SignatureError::InvalidSignatureEncoding,
        ),
        (
            format!("t={SIGNED_AT},v1=abc"),
            SignatureError::InvalidSignatureEncoding,
        ),
        (
            format!("t={SIGNED_AT},v1=zz"),
            SignatureError::InvalidSignatureEncoding,
        ),
        (
            format!("t={SIGNED_AT},v1=+f"),
            SignatureError::InvalidSignatureEncoding,
        ),
        (
            format!("t={SIGNED_AT},{v1},v1=0g"),
            SignatureError::InvalidSignatureEncoding,
        ),
    ] {
        assert_eq!(verify(&header, &[SECRET]), Err(reason), "{header:?}");
    }
}

#[test]
fn a_signature_of_the_wrong_length_is_a_mismatch() {
    let truncated = format!("t={SIGNED_AT},v1={}", &OPENSSL_V1[..62]);

    assert_eq!(verify(&truncated, &[SECRET]), Err(SignatureError::Mismatch));
}

#[test]
fn unknown_schemes_and_spaces_around_elements_are_tolerated() {
    let header = format!("t={SIGNED_AT}, v1={OPENSSL_V1}, v0=ffff, v9=anything");

    assert_eq!(verify(&header, &[SECRET]), Ok(()));
}

#[test]
fn without_a_secret_nothing_passes() {
    let header = stripe_signature("", SIGNED_AT, PAYLOAD);

    assert_eq!(verify(&header, &[]), Err(SignatureError::NoSecret));
    assert_eq!(verify(&header, &[""]), Err(SignatureError::NoSecret));
}

proptest! {
    #[test]
    fn any_header_is_answered_without_panicking(header in ".{0,200}", payload in any::<Vec<u8>>()) {
        let _ = verify_signature(&payload, Some(&header), &[SECRET], signed_now());
    }

    #[test]
    fn any_body_signed_now_passes_and_any_changed_byte_fails(
        payload in "[ -~]{1,300}",
        index in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let header = stripe_signature(SECRET, SIGNED_AT, &payload);
        let mut changed = payload.clone().into_bytes();
        let at = index.index(changed.len());
        changed[at] ^= flip;

        prop_assert_eq!(
            verify_signature(payload.as_bytes(), Some(&header), &[SECRET], signed_now()),
            Ok(())
        );
        prop_assert_eq!(
            verify_signature(&changed, Some(&header), &[SECRET], signed_now()),
            Err(SignatureError::Mismatch)
        );
    }
}
