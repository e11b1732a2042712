"""The card function as Lambda runs it: `cargo lambda watch` serves the real binary, and
`cargo lambda invoke` sends it API Gateway v2 events (fixtures in events/) whose request
context carries the JWT authorizer's claims. Its adapters talk to moto (DynamoDB, SSM, SES)
and localstripe, started by scripts/with-stand-ins. A card put for an account whose invoice a
declining card left `payment_failed` (charged through the charge worker) pays it at once.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import (INVOICE, Stand, failed_invoice, function_env, invoke_http, policy_actions,
                      template_variables, watching)

PAST_DUE = "lambda-past-due-1"


@pytest.fixture(scope="module")
def watch(stand: Stand):
    """The card function with exactly the template's variables (conftest `function_env`)."""
    with watching(function_env(stand, "CardsFunction"), "cargo-lambda-watch.log") as port:
        yield port


def invoke(port: int, fixture: str, tmp_path: Path) -> tuple[int, dict]:
    """Invokes the `cards` function with an event fixture; returns status and JSON body."""
    return invoke_http(port, "cards", fixture, tmp_path)


def test_a_card_put_with_authorizer_claims_is_on_file(watch: int, tmp_path: Path) -> None:
    status, card = invoke(watch, "put-card-visa.json", tmp_path)
    assert status == 200, card
    assert (card["brand"], card["last4"], card["funding"]) == ("visa", "4242", "credit")
    status, billing = invoke(watch, "get-billing.json", tmp_path)
    assert status == 200
    assert billing["account_id"] == "lambda-user-1"
    assert billing["card"] == card


def test_a_prepaid_card_is_refused_with_its_code(watch: int, tmp_path: Path) -> None:
    status, body = invoke(watch, "put-card-prepaid.json", tmp_path)
    assert (status, body["error"]["code"]) == (422, "card_prepaid_not_supported")


def test_the_card_cannot_be_deleted(watch: int, tmp_path: Path) -> None:
    status, body = invoke(watch, "delete-card.json", tmp_path)
    assert (status, body["error"]["code"]) == (409, "card_required")


def test_a_setup_intent_is_created_on_the_customer(watch: int, tmp_path: Path) -> None:
    status, body = invoke(watch, "post-setup-intent.json", tmp_path)
    assert status == 201, body
    assert body["id"].startswith("seti_") and body["client_secret"]


def test_a_valid_local_token_without_authorizer_claims_is_refused(watch: int, tmp_path: Path) -> None:
    status, body = invoke(watch, "get-billing-local-token-only.json", tmp_path)
    assert (status, body["error"]["code"]) == (401, "unauthenticated")


def test_a_malformed_email_claim_is_refused_not_dropped(watch: int, tmp_path: Path) -> None:
    """API Gateway hands claims over as strings: a token whose `email` is the number 42 arrives
    as "42", which is no address."""
    status, body = invoke(watch, "get-billing-malformed-email.json", tmp_path)
    assert (status, body["error"]["code"]) == (401, "unauthenticated"), body
    assert "`email`" in body["error"]["message"]


def test_the_table_holds_no_card_number_or_cvc(watch: int, stand: Stand) -> None:
    items = stand.dynamodb.scan(TableName="billing-lambda-test")["Items"]
    assert items, "the function wrote the account"
    dump = json.dumps(items)
    assert "4242424242424242" not in dump and "cvc" not in dump.lower().replace("cvc_check", "")


def test_a_new_card_pays_the_invoice_a_declined_card_left_with_one_payment_and_one_receipt(
    watch: int, worker_watch: int, stand: Stand, tmp_path: Path
) -> None:
    declined = failed_invoice(watch, worker_watch, stand, PAST_DUE, "pm_card_chargeCustomerFail", tmp_path)
    assert [a["M"]["outcome"]["S"] for a in declined["attempts"]["L"]] == ["declined"]
    stand.stripe_calls_reset()

    status, card = invoke(watch, "put-card-visa-past-due.json", tmp_path)

    assert status == 200, card
    assert (card["brand"], card["last4"]) == ("visa", "4242"), "the answer is the card"
    paid = stand.invoice(PAST_DUE)
    assert (paid["status"]["S"], paid["amount_paid"]["N"]) == ("paid", "1234")
    assert [a["M"]["trigger"]["S"] for a in paid["attempts"]["L"]] == ["monthly", "new_card"]
    assert stand.idempotency_keys("POST", "/v1/payment_intents") == [f"invoice-{PAST_DUE}-{INVOICE}-2"], \
        "one PaymentIntent, keyed by the new attempt"
    assert len(stand.receipts_to(f"{PAST_DUE}@example.com")) == 1
    assert len(stand.emails_to(f"{PAST_DUE}@example.com", "Payment failed")) == 1, "the decline's, before"


def test_the_card_function_may_send_mail_from_the_sender_and_read_the_link_key() -> None:
    allowed = policy_actions("CardsFunction")

    assert sorted(allowed) == ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem", "ses:SendEmail",
                               "ssm:GetParameters"]
    assert len(allowed["ssm:GetParameters"]) == 2, "the Stripe key and the link key"
    assert template_variables("CardsFunction") == {
        "TABLE_NAME", "RUST_LOG", "STRIPE_SECRET_PARAMETER", "SENDER_EMAIL", "LINK_SECRET_PARAMETER",
        "PUBLIC_BASE_URL"}
