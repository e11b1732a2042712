"""The webhook function as Lambda runs it, with exactly the template's environment: Stripe's
events arrive as API Gateway v2 events without authorizer claims (events/post-stripe-webhook.json,
body and `Stripe-Signature` filled in when sent). A purchase is first bought through the
credits function; the event is the one localstripe recorded for its PaymentIntent, signed
with the secret the function reads from moto's SSM. Shared set-up: conftest.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import (WEBHOOK_SECRET, Stand, fixture, function_env, invoke_http, policy_actions,
                      stripe_signature, template_variables, watching)

ACCOUNT = "lambda-webhook-1"
CREDITED = 2_500 * 10_000


@pytest.fixture(scope="module")
def webhook_watch(stand: Stand):
    with watching(function_env(stand, "WebhookFunction"), "cargo-lambda-watch-webhook.log") as port:
        yield port


@pytest.fixture(scope="module")
def succeeded_event(credits_watch: int, stand: Stand, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A purchase bought and settled by the credits function; the body of the
    `payment_intent.succeeded` event localstripe recorded for it."""
    tmp = tmp_path_factory.mktemp("webhook")
    status, card = invoke_http(credits_watch, "cards", "put-card-visa-webhook.json", tmp)
    assert status == 200, card
    status, purchase = invoke_http(credits_watch, "credits", "post-credit-purchase-webhook.json", tmp)
    assert (status, purchase["status"]) in ((201, "succeeded"), (200, "succeeded")), purchase
    assert stand.balance(ACCOUNT) == CREDITED
    stored = stand.item(f"ACCOUNT#{ACCOUNT}", f"PURCHASE#{purchase['id']}")
    payment = stored["record"]["M"]["payment"]["S"]
    events = stand.stripe_get(f"/_compat/events?payment_intent={payment}")["data"]
    succeeded = [e for e in events if e["type"] == "payment_intent.succeeded"]
    assert succeeded, f"localstripe recorded no payment_intent.succeeded for {payment}: {events}"
    return json.dumps(succeeded[0])


def delivery(body: str, signature: str) -> dict:
    event = fixture("post-stripe-webhook.json")
    event["body"] = body
    event["headers"]["stripe-signature"] = signature
    return event


def test_an_event_with_a_bad_signature_is_refused_and_changes_nothing(
    webhook_watch: int, succeeded_event: str, stand: Stand, tmp_path: Path
) -> None:
    forged = delivery(succeeded_event, stripe_signature(succeeded_event, "whsec_not_this_endpoint"))

    status, body = invoke_http(webhook_watch, "webhook", forged, tmp_path)

    assert (status, body["error"]["code"]) == (400, "invalid_signature")
    assert stand.balance(ACCOUNT) == CREDITED


def test_a_signed_success_for_a_settled_purchase_is_acknowledged_without_a_second_credit(
    webhook_watch: int, succeeded_event: str, stand: Stand, tmp_path: Path
) -> None:
    signed = delivery(succeeded_event, stripe_signature(succeeded_event, WEBHOOK_SECRET))

    status, first = invoke_http(webhook_watch, "webhook", signed, tmp_path)
    status_again, again = invoke_http(webhook_watch, "webhook", signed, tmp_path)

    assert status == 200, first
    assert first["result"] in ("applied", "duplicate")
    assert (status_again, again["result"]) == (200, "duplicate")
    assert stand.balance(ACCOUNT) == CREDITED
    assert len(stand.receipts_to(f"{ACCOUNT}@example.com")) == 1


def test_the_webhook_function_may_use_only_what_its_code_paths_need() -> None:
    allowed = policy_actions("WebhookFunction")

    assert sorted(allowed) == ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
                               "ses:SendEmail", "ssm:GetParameters"]
    assert len(allowed["ssm:GetParameters"]) == 3, "the Stripe key, the webhook secret and the link key"
    assert template_variables("WebhookFunction") == {
        "TABLE_NAME", "RUST_LOG", "STRIPE_SECRET_PARAMETER", "SENDER_EMAIL", "STRIPE_WEBHOOK_SECRET_PARAMETER",
        "LINK_SECRET_PARAMETER", "PUBLIC_BASE_URL"}
