"""The sweep function as Lambda runs it, with exactly the template's environment, invoked
with the scheduled event EventBridge Scheduler sends (events/scheduled-sweep.json, the
schedule's Input in the template). A 3-D Secure purchase is started through the credits
function and abandoned; its start is then set 16 minutes back in the table, as if the
cardholder had walked away. Shared set-up: conftest.py.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from conftest import (EVENTS, Stand, function_env, invoke_http, invoke_raw, policy_actions,
                      template_variables, watching)

ACCOUNT = "lambda-abandoned-1"


@pytest.fixture(scope="module")
def sweep_watch(stand: Stand):
    with watching(function_env(stand, "SweepFunction"), "cargo-lambda-watch-sweep.log") as port:
        yield port


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

    result = invoke_raw(sweep_watch, "sweep", EVENTS / "scheduled-sweep.json", tmp_path)

    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["failed"] >= 1 and summary["errors"] == 0, summary
    stored = stand.item(f"ACCOUNT#{ACCOUNT}", f"PURCHASE#{waiting['id']}")["record"]["M"]
    assert stored["status"]["S"] == "failed"
    assert stand.stripe_get(f"/v1/payment_intents/{payment}")["status"] == "canceled"
    assert stand.balance(ACCOUNT) == 0
    assert stand.receipts_to(f"{ACCOUNT}@example.com") == []


def test_the_sweep_function_may_query_only_the_index_and_reads_no_links() -> None:
    allowed = policy_actions("SweepFunction")

    assert sorted(allowed) == ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query",
                               "dynamodb:UpdateItem", "ses:SendEmail", "ssm:GetParameters"]
    assert len(allowed["ssm:GetParameters"]) == 1, "the Stripe key only"
    assert template_variables("SweepFunction") == {"TABLE_NAME", "RUST_LOG", "STRIPE_SECRET_PARAMETER", "SENDER_EMAIL"}
