//! The events the simulated network sends, shaped as Stripe sends them (`payment_intent.*`
//! with the PaymentIntent as `data.object`; `payment_method.automatically_updated` with the
//! PaymentMethod), and Stripe's webhook signature, so the local server can deliver them to its
//! own `POST /v1/webhooks/stripe`.

use billing_core::PaymentId;
use billing_core::ports::gateway::{CardDetails, ChargeOutcome, Decline};
use billing_core::rules::card::CheckResult;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Sha256;

use super::SimPayment;

/// The API version events carry: the one async-stripe 1.0.0-rc.10 pins, as the localstripe
/// stand-in does.
pub const API_VERSION: &str = "2026-09-30.endive";

/// Decline codes Stripe reports as the error `code` itself; the rest come as `card_declined`.
const OWN_CODES: [&str; 3] = ["expired_card", "incorrect_cvc", "processing_error"];

/// One event the network sent, not yet acknowledged by the receiver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkEvent {
    /// `evt_…`.
    pub id: String,
    /// `payment_intent.succeeded`, `payment_intent.payment_failed`, ….
    #[serde(rename = "type")]
    pub kind: String,
    /// The payment it is about; `None` for an event about something else (a card).
    #[serde(default)]
    pub payment: Option<PaymentId>,
    /// The event as Stripe posts it: these exact bytes are what gets signed.
    pub payload: String,
}

/// The event Stripe sends when a payment reaches `outcome`.
pub(super) fn kind_of(outcome: &ChargeOutcome) -> &'static str {
    match outcome {
        ChargeOutcome::Succeeded { .. } => "payment_intent.succeeded",
        ChargeOutcome::Processing { .. } => "payment_intent.processing",
        ChargeOutcome::RequiresAction { .. } => "payment_intent.requires_action",
        // Off session, a bank asking for authentication fails the attempt.
        ChargeOutcome::AuthenticationRequired { .. } | ChargeOutcome::Declined { .. } => {
            "payment_intent.payment_failed"
        }
        ChargeOutcome::Canceled { .. } => "payment_intent.canceled",
    }
}

/// The card updater's event type.
pub(super) const CARD_UPDATED: &str = "payment_method.automatically_updated";

/// The JSON of a payment's event, as Stripe posts it to a webhook endpoint.
pub(super) fn event_payload(id: &str, created: i64, payment: &SimPayment) -> String {
    envelope(
        id,
        created,
        kind_of(&payment.outcome),
        json!({"object": payment_intent(payment)}),
        json!({"id": null, "idempotency_key": payment.idempotency_key}),
    )
}

/// The JSON of the card updater's event: the PaymentMethod as it is now, and the expiry it
/// had before as `previous_attributes`. No request caused it (`request.id` null).
pub(super) fn card_updated_payload(
    id: &str,
    created: i64,
    payment_method: Value,
    previous: (u32, i32),
) -> String {
    let (exp_month, exp_year) = previous;
    envelope(
        id,
        created,
        CARD_UPDATED,
        json!({
            "object": payment_method,
            "previous_attributes": {"card": {"exp_month": exp_month, "exp_year": exp_year}},
        }),
        json!({"id": null, "idempotency_key": null}),
    )
}

fn envelope(id: &str, created: i64, kind: &str, data: Value, request: Value) -> String {
    json!({
        "id": id,
        "object": "event",
        "api_version": API_VERSION,
        "created": created,
        "data": data,
        "livemode": false,
        "pending_webhooks": 1,
        "request": request,
        "type": kind,
    })
    .to_string()
}

/// A card PaymentMethod as Stripe's API returns it (the fields async-stripe requires, and
/// those a webhook handler reads: customer and the card's brand, last4 and expiry).
pub(super) fn payment_method(
    id: &str,
    customer: Option<&str>,
    created: i64,
    card: &CardDetails,
) -> Value {
    let check = |result: CheckResult| match result {
        CheckResult::Pass => Some("pass"),
        CheckResult::Fail => Some("fail"),
        CheckResult::Unavailable => Some("unavailable"),
        CheckResult::Unchecked => None,
    };
    json!({
        "id": id,
        "object": "payment_method",
        "allow_redisplay": "unspecified",
        "billing_details": {
            "address": {"city": null, "country": null, "line1": null, "line2": null,
                        "postal_code": null, "state": null},
            "email": null, "name": null, "phone": null, "tax_id": null,
        },
        "card": {
            "brand": card.brand,
            "checks": {
                "address_line1_check": check(card.address_line1_check),
                "address_postal_code_check": check(card.address_postal_code_check),
                "cvc_check": check(card.cvc_check),
            },
            "country": "US",
            "display_brand": card.brand,
            "exp_month": card.exp_month,
            "exp_year": card.exp_year,
            "fingerprint": card.fingerprint,
            "funding": card.funding.as_str(),
            "generated_from": null,
            "last4": card.last4,
            "networks": {"available": [card.brand], "preferred": null},
            "regulated_status": "unregulated",
            "three_d_secure_usage": {"supported": true},
            "wallet": null,
        },
        "created": created,
        "customer": customer,
        "livemode": false,
        "metadata": {},
        "type": "card",
    })
}

/// The PaymentIntent as Stripe's API returns it (the fields async-stripe requires, and those
/// a webhook handler reads: status, amounts, customer, metadata, the error, the next action).
pub(super) fn payment_intent(payment: &SimPayment) -> Value {
    let (status, last_payment_error, next_action) = match &payment.outcome {
        ChargeOutcome::Succeeded { .. } => ("succeeded", Value::Null, Value::Null),
        ChargeOutcome::Processing { .. } => ("processing", Value::Null, Value::Null),
        ChargeOutcome::RequiresAction { url, .. } => (
            "requires_action",
            Value::Null,
            json!({"type": "redirect_to_url", "redirect_to_url": {"url": url, "return_url": null}}),
        ),
        ChargeOutcome::AuthenticationRequired { .. } => (
            "requires_payment_method",
            json!({
                "type": "card_error",
                "code": "authentication_required",
                "decline_code": "authentication_required",
                "message": "Your card was declined. This transaction requires authentication.",
            }),
            Value::Null,
        ),
        ChargeOutcome::Declined { decline, .. } => {
            ("requires_payment_method", api_error(decline), Value::Null)
        }
        ChargeOutcome::Canceled { .. } => ("canceled", Value::Null, Value::Null),
    };
    let succeeded = matches!(payment.outcome, ChargeOutcome::Succeeded { .. });
    json!({
        "id": payment.id,
        "object": "payment_intent",
        "amount": payment.amount.get(),
        "amount_capturable": 0,
        "amount_received": if succeeded { payment.amount.get() } else { 0 },
        "canceled_at": payment.canceled_at,
        "cancellation_reason": payment.canceled_at.map(|_| "abandoned"),
        "capture_method": "automatic",
        "client_secret": payment.client_secret(),
        "confirmation_method": "automatic",
        "created": payment.created,
        "currency": payment.currency,
        "customer": payment.customer,
        "description": payment.description,
        "last_payment_error": last_payment_error,
        "latest_charge": null,
        "livemode": false,
        "metadata": payment.metadata,
        "next_action": next_action,
        "payment_method": payment.payment_method,
        "payment_method_types": ["card"],
        "status": status,
    })
}

fn api_error(decline: &Decline) -> Value {
    match decline.decline_code.as_deref() {
        // The cardholder failed (or refused) authentication: Stripe's own code, no decline code.
        Some(code @ "payment_intent_authentication_failure") => json!({
            "type": "invalid_request_error",
            "code": code,
            "message": decline.network_message,
        }),
        Some(code) => json!({
            "type": "card_error",
            "code": if OWN_CODES.contains(&code) { code } else { "card_declined" },
            "decline_code": code,
            "message": decline.network_message,
        }),
        None => json!({
            "type": "card_error",
            "code": "card_declined",
            "message": decline.network_message,
        }),
    }
}

/// The `Stripe-Signature` header Stripe sends with `payload` at `timestamp` (Unix seconds):
/// `t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>.<payload>" keyed by the endpoint's
/// signing secret>`. The timestamp is an argument so that tests can sign stale events.
pub fn stripe_signature(secret: &str, timestamp: i64, payload: &str) -> String {
    // HMAC accepts a key of any length, so this cannot fail.
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload.as_bytes());
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("t={timestamp},v1={hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_stripes_hmac_of_timestamp_dot_payload() {
        // Computed independently: printf '1700000000.{"id":"evt_1"}' |
        //   openssl dgst -sha256 -hmac whsec_test
        let header = stripe_signature("whsec_test", 1_700_000_000, r#"{"id":"evt_1"}"#);

        assert_eq!(
            header,
            "t=1700000000,v1=c89214b5b5da833daed6f0b8c5bb6bd58cea9022bd80ccc78230f3942d632925"
        );
    }

    #[test]
    fn another_secret_or_time_gives_another_signature() {
        let payload = r#"{"id":"evt_1"}"#;
        let base = stripe_signature("whsec_test", 1_700_000_000, payload);

        assert_ne!(
            base,
            stripe_signature("whsec_other", 1_700_000_000, payload)
        );
        assert_ne!(
            base.split_once(",v1=").unwrap().1,
            stripe_signature("whsec_test", 1_700_000_001, payload)
                .split_once(",v1=")
                .unwrap()
                .1
        );
    }
}
