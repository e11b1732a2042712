"""The card function as Lambda runs it: `cargo lambda watch` serves the real binary, and
`cargo lambda invoke` sends it API Gateway v2 events (fixtures in events/) whose request
context carries the JWT authorizer's claims. Its adapters talk to moto (DynamoDB, SSM)
and localstripe, started by scripts/with-stand-ins.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from conftest import every_function_variable, load_template, required_env, template_variables, watching

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
EVENTS = HERE / "events"
CARGO_LAMBDA = Path(sys.executable).parent / "cargo-lambda"
REGION = "us-east-1"
TABLE = "billing-lambda-test"
SECRET_PARAMETER = "/billing/stripe/secret-key"
# Every variable the template gives any function (and the test-only STRIPE_API_BASE): none
# reaches the function from the caller's environment.
FUNCTION_SETTINGS = every_function_variable()


def template_table() -> dict:
    """The BillingTable properties exactly as infra/template.yaml declares them."""
    return load_template()["Resources"]["BillingTable"]["Properties"]


@pytest.fixture(scope="module")
def aws_env() -> dict[str, str]:
    moto = required_env("BILLING_TEST_MOTO_URL")
    stripe = required_env("BILLING_TEST_STRIPE_URL")
    env = {
        "AWS_ENDPOINT_URL": moto,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
    }
    clients = dict(endpoint_url=moto, region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")
    table = template_table()
    dynamodb = boto3.client("dynamodb", **clients)
    if TABLE not in dynamodb.list_tables()["TableNames"]:
        dynamodb.create_table(
            TableName=TABLE,
            BillingMode=table["BillingMode"],
            AttributeDefinitions=table["AttributeDefinitions"],
            KeySchema=table["KeySchema"],
            GlobalSecondaryIndexes=table["GlobalSecondaryIndexes"],
        )
    boto3.client("ssm", **clients).put_parameter(
        Name=SECRET_PARAMETER, Value="sk_test_lambda_local", Type="SecureString", Overwrite=True
    )
    # Exactly the variables the template gives the card function, so a setting it needs and
    # the template lacks fails here; STRIPE_API_BASE is the one test-only addition.
    settings = dict(TABLE_NAME=TABLE, STRIPE_SECRET_PARAMETER=SECRET_PARAMETER, RUST_LOG="warn")
    assert set(settings) == template_variables("CardsFunction")
    env.update(settings, STRIPE_API_BASE=stripe)
    return env


@pytest.fixture(scope="module")
def watch(aws_env: dict[str, str]):
    # Nothing of the caller's environment the template would not set reaches the function.
    env = {**{k: v for k, v in os.environ.items() if k not in FUNCTION_SETTINGS}, **aws_env}
    with watching(env, "cargo-lambda-watch.log") as port:
        yield port


def invoke(port: int, fixture: str) -> tuple[int, dict]:
    """Invokes the `cards` function with an event fixture; returns status and JSON body."""
    result = subprocess.run(
        [str(CARGO_LAMBDA), "lambda", "invoke", "cards", "--data-file", str(EVENTS / fixture),
         "--invoke-address", "127.0.0.1", "--invoke-port", str(port), "--output-format", "json"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    response = json.loads(result.stdout)
    return response["statusCode"], json.loads(response.get("body") or "null")


def test_a_card_put_with_authorizer_claims_is_on_file(watch: int) -> None:
    status, card = invoke(watch, "put-card-visa.json")
    assert status == 200, card
    assert (card["brand"], card["last4"], card["funding"]) == ("visa", "4242", "credit")
    status, billing = invoke(watch, "get-billing.json")
    assert status == 200
    assert billing["account_id"] == "lambda-user-1"
    assert billing["card"] == card


def test_a_prepaid_card_is_refused_with_its_code(watch: int) -> None:
    status, body = invoke(watch, "put-card-prepaid.json")
    assert (status, body["error"]["code"]) == (422, "card_prepaid_not_supported")


def test_the_card_cannot_be_deleted(watch: int) -> None:
    status, body = invoke(watch, "delete-card.json")
    assert (status, body["error"]["code"]) == (409, "card_required")


def test_a_setup_intent_is_created_on_the_customer(watch: int) -> None:
    status, body = invoke(watch, "post-setup-intent.json")
    assert status == 201, body
    assert body["id"].startswith("seti_") and body["client_secret"]


def test_a_valid_local_token_without_authorizer_claims_is_refused(watch: int) -> None:
    status, body = invoke(watch, "get-billing-local-token-only.json")
    assert (status, body["error"]["code"]) == (401, "unauthenticated")


def test_the_table_holds_no_card_number_or_cvc(watch: int, aws_env: dict[str, str]) -> None:
    dynamodb = boto3.client("dynamodb", endpoint_url=aws_env["AWS_ENDPOINT_URL"], region_name=REGION,
                            aws_access_key_id="testing", aws_secret_access_key="testing")
    items = dynamodb.scan(TableName=TABLE)["Items"]
    assert items, "the function wrote the account"
    dump = json.dumps(items)
    assert "4242424242424242" not in dump and "cvc" not in dump.lower().replace("cvc_check", "")


def test_the_card_function_reads_no_sender_and_may_not_send_mail() -> None:
    function = load_template()["Resources"]["CardsFunction"]["Properties"]
    actions = [
        action
        for policy in function["Policies"]
        for statement in policy["Statement"]
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    ]
    assert "SENDER_EMAIL" not in template_variables("CardsFunction")
    assert actions and not [a for a in actions if a.lower().startswith("ses:")]
