"""The sweep function as Lambda runs it, with exactly the template's environment (its charge
queue a moto queue of its own), invoked with the scheduled event EventBridge Scheduler sends
(events/scheduled-sweep.json, the schedule's Input in the template).

- A 3-D Secure purchase is started through the credits function and abandoned; its start is
  then set 16 minutes back in the table, as if the cardholder had walked away.
- An invoice is declined by the charge worker (a card that attaches and then declines); the
  functions run on the real clock, so every instant of the invoice item is then moved three
  days back, as if it had been charged three days ago: its first retry is due now.

Shared set-up: conftest.py.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from conftest import (EVENTS, INVOICE, PERIOD, Stand, charge, failed_invoice, function_env, invoice_moved_back,
                      invoke_http, invoke_raw, policy_actions, sqs_event, tagged_template, take_messages,
                      template_variables, watching)

ACCOUNT = "lambda-abandoned-1"
RETRIED = "lambda-retry-1"


@pytest.fixture(scope="module")
def sweep_queue(stand: Stand) -> str:
    """The charge queue the sweep sends to: the test reads it, no worker does."""
    return stand.sqs.create_queue(QueueName="billing-lambda-test-sweep-charge")["QueueUrl"]


@pytest.fixture(scope="module")
def sweep_watch(stand: Stand, sweep_queue: str):
    env = {**function_env(stand, "SweepFunction"), "CHARGE_QUEUE_URL": sweep_queue}
    with watching(env, "cargo-lambda-watch-sweep.log") as port:
        yield port


def sweep(port: int, tmp_path: Path) -> dict:
    """One scheduled sweep; returns its report."""
    result = invoke_raw(port, "sweep", EVENTS / "scheduled-sweep.json", tmp_path)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def started_back(stand: Stand, purchase: str, minutes: int) -> None:
    """Moves the purchase's start `minutes` back: on the purchase and on its slot, whose
    `gsi1sk` (`<start>#<account>`, fixed-width nanoseconds) is what the sweep lists by."""
    at = datetime.now(timezone.utc) - timedelta(minutes=minutes)
    instant = at.strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"
    pk = {"S": f"ACCOUNT#{ACCOUNT}"}
    stand.dynamodb.update_item(
        TableName="billing-lambda-test", Key={"pk": pk, "sk": {"S": f"PURCHASE#{purchase}"}},
        UpdateExpression="SET #r.created_at = :at", ExpressionAttributeNames={"#r": "record"},
        ExpressionAttributeValues={":at": {"S": instant}})
    stand.dynamodb.update_item(
        TableName="billing-lambda-test", Key={"pk": pk, "sk": {"S": "PURCHASE_SLOT"}},
        UpdateExpression="SET #r.created_at = :at, gsi1sk = :sk", ExpressionAttributeNames={"#r": "record"},
        ExpressionAttributeValues={":at": {"S": instant}, ":sk": {"S": f"{instant}#{ACCOUNT}"}})


def test_an_abandoned_3ds_purchase_is_failed_and_canceled_by_the_scheduled_sweep(
    credits_watch: int, sweep_watch: int, stand: Stand, tmp_path: Path
) -> None:
    status, card = invoke_http(credits_watch, "cards", "put-card-3ds-abandoned.json", tmp_path)
    assert status == 200, card
    status, waiting = invoke_http(credits_watch, "credits", "post-credit-purchase-3ds-abandoned.json", tmp_path)
    assert (status, waiting["status"]) == (201, "requires_action"), waiting
    assert waiting["next_action"]["url"].startswith("https://billing.example.com/authorize/")
    payment = stand.item(f"ACCOUNT#{ACCOUNT}", f"PURCHASE#{waiting['id']}")["record"]["M"]["payment"]["S"]
    started_back(stand, waiting["id"], minutes=16)

    summary = sweep(sweep_watch, tmp_path)["purchases"]

    assert summary["failed"] >= 1 and summary["errors"] == 0, summary
    stored = stand.item(f"ACCOUNT#{ACCOUNT}", f"PURCHASE#{waiting['id']}")["record"]["M"]
    assert stored["status"]["S"] == "failed"
    assert stand.stripe_get(f"/v1/payment_intents/{payment}")["status"] == "canceled"
    assert stand.balance(ACCOUNT) == 0
    assert stand.receipts_to(f"{ACCOUNT}@example.com") == []


def jobs_for(messages: list[dict], account: str) -> list[dict]:
    return [json.loads(m["Body"]) for m in messages if json.loads(m["Body"])["account"] == account]


def test_a_due_retry_is_sent_to_the_worker_once_and_made_once_with_its_own_key(
    credits_watch: int, sweep_watch: int, worker_watch: int, sweep_queue: str, stand: Stand, tmp_path: Path
) -> None:
    failed_invoice(credits_watch, worker_watch, stand, RETRIED, "pm_card_chargeCustomerFail", tmp_path)
    invoice_moved_back(stand, RETRIED, timedelta(days=3))
    arn = stand.sqs.get_queue_attributes(QueueUrl=sweep_queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    report = sweep(sweep_watch, tmp_path)
    messages = take_messages(stand, sweep_queue)

    assert report["invoices"]["enqueued"] == len(messages), report
    assert jobs_for(messages, RETRIED) == [{"account": RETRIED, "period": PERIOD, "invoice": INVOICE}]
    stand.stripe_calls_reset()
    charge(worker_watch, sqs_event(messages, arn), tmp_path)
    assert stand.idempotency_keys("POST", "/v1/payment_intents") == [f"invoice-{RETRIED}-{INVOICE}-2"]
    retried = stand.invoice(RETRIED)
    assert [(a["M"]["trigger"]["S"], a["M"]["outcome"]["S"]) for a in retried["attempts"]["L"]] == \
        [("monthly", "declined"), ("retry", "declined")]
    assert retried["status"]["S"] == "payment_failed"
    assert retried["next_payment_attempt"]["S"] > datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"), \
        "the next retry is on a later day"

    again = sweep(sweep_watch, tmp_path)
    messages_again = take_messages(stand, sweep_queue)
    stand.stripe_calls_reset()
    charge(worker_watch, sqs_event(messages, arn), tmp_path)

    assert again["invoices"]["enqueued"] == len(messages_again)
    assert jobs_for(messages_again, RETRIED) == [], "not due again on the same day"
    assert stand.stripe_calls("POST", "/v1/payment_intents") == 0, "the job delivered again makes no attempt"
    assert len(stand.invoice(RETRIED)["attempts"]["L"]) == 2
    assert len(stand.emails_to(f"{RETRIED}@example.com", "Payment failed")) == 2, "one email per failed attempt"


def test_the_sweep_function_may_query_only_the_index_send_to_the_charge_queue_and_reads_no_links() -> None:
    allowed = policy_actions("SweepFunction")

    assert sorted(allowed) == ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query",
                               "dynamodb:UpdateItem", "ses:SendEmail", "sqs:SendMessage", "ssm:GetParameters"]
    assert len(allowed["ssm:GetParameters"]) == 1, "the Stripe key only"
    statements = tagged_template()["Resources"]["SweepFunction"]["Properties"]["Policies"][0]["Statement"]
    assert [s["Resource"] for s in statements if s["Action"] == "sqs:SendMessage"] == \
        [{"!GetAtt": "ChargeQueue.Arn"}], "the charge queue only"
    environment = tagged_template()["Resources"]["SweepFunction"]["Properties"]["Environment"]["Variables"]
    assert environment["CHARGE_QUEUE_URL"] == {"!Ref": "ChargeQueue"}
    assert template_variables("SweepFunction") == {"TABLE_NAME", "RUST_LOG", "STRIPE_SECRET_PARAMETER", "SENDER_EMAIL",
                                                   "CHARGE_QUEUE_URL"}
