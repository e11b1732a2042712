"""The usage function as Lambda runs it: `cargo lambda watch` serves the real binary, and
`cargo lambda invoke` sends it SQS events (fixtures events/sqs-usage-*.json, in the shape
Lambda delivers them). It records into a DynamoDB table on moto created from
infra/template.yaml, started by scripts/with-stand-ins; the tests read the table back.

Usage must have occurred within the last 366 days, so the fixtures' bodies say
`__OCCURRED_AT__` and the tests send them with one instant, a minute before the module
started, in its place: the same event sent twice is the same event.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import boto3
import pytest

from conftest import every_function_variable, load_template, template_variables, watching

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
EVENTS = HERE / "events"
CARGO_LAMBDA = Path(sys.executable).parent / "cargo-lambda"
REGION = "us-east-1"
TABLE = "billing-lambda-test"
# Every variable the template gives any function (and the test-only STRIPE_API_BASE): none
# reaches the function from the caller's environment.
FUNCTION_SETTINGS = every_function_variable()
OCCURRED_AT = (datetime.now(timezone.utc) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def moto_url() -> str:
    url = os.environ.get("BILLING_TEST_MOTO_URL")
    if not url:
        pytest.fail("BILLING_TEST_MOTO_URL is not set: run these tests through scripts/with-stand-ins")
    return url


@pytest.fixture(scope="module")
def dynamodb(moto_url: str):
    client = boto3.client("dynamodb", endpoint_url=moto_url, region_name=REGION,
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    table = load_template()["Resources"]["BillingTable"]["Properties"]
    if TABLE not in client.list_tables()["TableNames"]:
        client.create_table(
            TableName=TABLE,
            BillingMode=table["BillingMode"],
            AttributeDefinitions=table["AttributeDefinitions"],
            KeySchema=table["KeySchema"],
            GlobalSecondaryIndexes=table["GlobalSecondaryIndexes"],
        )
    return client


@pytest.fixture(scope="module")
def watch(moto_url: str, dynamodb) -> int:
    # Exactly the variables the template gives the usage function: a setting it needs and
    # the template lacks fails here.
    settings = dict(TABLE_NAME=TABLE, RUST_LOG="warn")
    assert set(settings) == template_variables("UsageFunction")
    env = {
        **{k: v for k, v in os.environ.items() if k not in FUNCTION_SETTINGS},
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        **settings,
    }
    with watching(env, "cargo-lambda-watch-usage.log") as port:
        yield port


def invoke(port: int, fixture: str, tmp_path: Path) -> dict:
    """Sends an SQS fixture, dated OCCURRED_AT, to the `usage` function; returns its answer."""
    event = tmp_path / fixture
    event.write_text((EVENTS / fixture).read_text().replace("__OCCURRED_AT__", OCCURRED_AT))
    result = subprocess.run(
        [str(CARGO_LAMBDA), "lambda", "invoke", "usage", "--data-file", str(event),
         "--invoke-address", "127.0.0.1", "--invoke-port", str(port), "--output-format", "json"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def message_ids(fixture: str) -> list[str]:
    return [record["messageId"] for record in json.loads((EVENTS / fixture).read_text())["Records"]]


def item(dynamodb, pk: str, sk: str) -> dict | None:
    return dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": pk}, "sk": {"S": sk}},
                             ConsistentRead=True).get("Item")


def balance(dynamodb, account: str) -> int:
    found = item(dynamodb, f"ACCOUNT#{account}", "BALANCE")
    assert found, f"no balance item for {account}"
    return int(found["balance"]["N"])


def test_a_batch_delivered_twice_is_recorded_once(watch: int, dynamodb, tmp_path: Path) -> None:
    first = invoke(watch, "sqs-usage-good.json", tmp_path)
    again = invoke(watch, "sqs-usage-good.json", tmp_path)

    assert first == {"batchItemFailures": []}
    assert again == {"batchItemFailures": []}
    assert balance(dynamodb, "lambda-usage-a") == -4_000_000
    assert balance(dynamodb, "lambda-usage-b") == -4_000_000
    # Duplicates, not conflicts: nothing of the batch was refused.
    for account, event in [("lambda-usage-a", "lambda-usage-good-1"), ("lambda-usage-a", "lambda-usage-good-2"),
                           ("lambda-usage-b", "lambda-usage-good-3")]:
        assert item(dynamodb, f"ACCOUNT#{account}", f"REFUSED#{event}") is None


def test_a_malformed_message_is_the_only_failure_reported(watch: int, dynamodb, tmp_path: Path) -> None:
    malformed = message_ids("sqs-usage-malformed.json")[1]

    answer = invoke(watch, "sqs-usage-malformed.json", tmp_path)

    assert answer == {"batchItemFailures": [{"itemIdentifier": malformed}]}
    assert balance(dynamodb, "lambda-usage-c") == -3_000_000


def test_usage_for_a_deleted_account_is_acknowledged_and_its_refusal_stored(
    watch: int, dynamodb, tmp_path: Path
) -> None:
    account = "lambda-usage-deleted"
    # The account item as the store writes it (functions/aws/src/store/items.rs): the record
    # whole under `record`, with its version and its `gsi1` key.
    dynamodb.put_item(TableName=TABLE, Item={
        "pk": {"S": f"ACCOUNT#{account}"},
        "sk": {"S": "ACCOUNT"},
        "gsi1pk": {"S": "ACCOUNTS"},
        "gsi1sk": {"S": account},
        "version": {"N": "1"},
        "record": {"M": {
            "type": {"S": "account"},
            "id": {"S": account},
            "email": {"NULL": True},
            "status": {"S": "deleted"},
            "customer": {"NULL": True},
            "card": {"NULL": True},
            "created_at": {"S": "2026-01-01T00:00:00Z"},
        }},
    })

    answer = invoke(watch, "sqs-usage-deleted-account.json", tmp_path)

    assert answer == {"batchItemFailures": []}
    refusal = item(dynamodb, f"ACCOUNT#{account}", "REFUSED#lambda-usage-deleted-1")
    assert refusal, "the refusal is in the table"
    record = refusal["record"]["M"]
    assert record["type"]["S"] == "refused_usage"
    assert record["reason"]["S"] == "account_deleted"
    assert record["amount"]["N"] == "3000000"
    assert item(dynamodb, f"ACCOUNT#{account}", "BALANCE") is None
    assert item(dynamodb, "ENTRY#usage:lambda-usage-deleted-1", "ENTRY") is None


def test_the_usage_function_may_only_touch_the_table_it_records_into() -> None:
    function = load_template()["Resources"]["UsageFunction"]["Properties"]
    actions = sorted(
        action
        for policy in function["Policies"]
        for statement in policy["Statement"]
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    )
    assert actions == ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
    assert template_variables("UsageFunction") == {"TABLE_NAME", "RUST_LOG"}
