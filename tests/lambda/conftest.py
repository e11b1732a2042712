"""What the Lambda tests share: the stand-ins set up as the template expects (the table from
infra/template.yaml, the SSM parameters, a verified SES sender), `cargo lambda watch` started
with exactly the environment the template gives one function, `cargo lambda invoke`, and the
steps that give an account an invoice (a card, usage in the month before this one, a charge
job through the charge worker).

The stand-ins are started by scripts/with-stand-ins; every module of this folder runs against
the same moto and localstripe, so each uses accounts of its own.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import socket
import re
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import boto3
import pytest
import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
EVENTS = HERE / "events"
CARGO_LAMBDA = Path(sys.executable).parent / "cargo-lambda"
REGION = "us-east-1"
TABLE = "billing-lambda-test"
SENDER = "billing@example.com"
# The SSM parameters, named as the template's defaults, and what the tests put in them.
STRIPE_KEY_PARAMETER = "/billing/stripe/secret-key"
LINK_SECRET_PARAMETER = "/billing/links/secret"
WEBHOOK_SECRET_PARAMETER = "/billing/stripe/webhook-secret"
WEBHOOK_SECRET = "whsec_lambda_local_test"
# The one variable the tests add to a function's environment: where Stripe is.
TEST_ONLY = {"STRIPE_API_BASE"}
# The month charged: the one before today's (usage must be within the last 366 days), its
# usage dated the 15th; its invoice is `in_<yyyymm>`.
TODAY = datetime.now(timezone.utc)
CHARGED = (TODAY.replace(day=1) - timedelta(days=1)).replace(day=15, hour=12, minute=0, second=0, microsecond=0)
PERIOD = CHARGED.strftime("%Y-%m")
INVOICE = f"in_{CHARGED:%Y%m}"
USED = 12_340_000  # 12.34 USD in micro-USD


def load_template() -> dict:
    """infra/template.yaml, with intrinsic functions (`!Ref`, ...) read as None."""

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    return yaml.load((ROOT / "infra" / "template.yaml").read_text(), Loader=Loader)


def tagged_template() -> dict:
    """infra/template.yaml with each intrinsic function kept as {"!Tag": value}."""

    class Loader(yaml.SafeLoader):
        pass

    def tagged(loader, suffix, node):
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {f"!{suffix}": value}

    Loader.add_multi_constructor("!", tagged)
    return yaml.load((ROOT / "infra" / "template.yaml").read_text(), Loader=Loader)


def template_variables(function: str) -> set[str]:
    """The environment variables the template gives a function (Globals and its own)."""
    template = load_template()
    names = set(template["Globals"]["Function"]["Environment"]["Variables"])
    own = template["Resources"][function]["Properties"].get("Environment", {})
    return names | set(own.get("Variables", {}))


def every_function_variable() -> set[str]:
    """Every variable the template gives any function, and the test-only one: none of them may
    reach a function from the caller's environment."""
    functions = [name for name, resource in load_template()["Resources"].items()
                 if resource["Type"] == "AWS::Serverless::Function"]
    return set().union(*(template_variables(f) for f in functions)) | TEST_ONLY


def policy_actions(function: str) -> dict[str, list[str]]:
    """The function's allowed actions, each with the resources (as written) it is allowed on."""
    allowed: dict[str, list[str]] = {}
    for policy in load_template()["Resources"][function]["Properties"]["Policies"]:
        for statement in policy["Statement"]:
            actions = statement["Action"]
            for action in [actions] if isinstance(actions, str) else actions:
                resources = statement["Resource"]
                allowed.setdefault(action, []).extend(resources if isinstance(resources, list) else [resources])
    return allowed


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def required_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run these tests through scripts/with-stand-ins")
    return value


class Stand:
    """The stand-ins, reached as the functions reach them."""

    def __init__(self) -> None:
        self.moto = required_env("BILLING_TEST_MOTO_URL")
        self.stripe = required_env("BILLING_TEST_STRIPE_URL")
        clients = dict(endpoint_url=self.moto, region_name=REGION,
                       aws_access_key_id="testing", aws_secret_access_key="testing")
        self.dynamodb = boto3.client("dynamodb", **clients)
        self.ssm = boto3.client("ssm", **clients)
        self.sesv2 = boto3.client("sesv2", **clients)
        self.sqs = boto3.client("sqs", **clients)

    def aws_env(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.moto,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
        }

    def item(self, pk: str, sk: str) -> dict | None:
        return self.dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": pk}, "sk": {"S": sk}},
                                      ConsistentRead=True).get("Item")

    def balance(self, account: str) -> int:
        """The account's balance in micro-USD, read from the table."""
        found = self.item(f"ACCOUNT#{account}", "BALANCE")
        return int(found["balance"]["N"]) if found else 0

    def receipts_to(self, address: str) -> list[dict]:
        """The receipts moto's SES holds for `address` (only the Html part is kept)."""
        return self.emails_to(address, "Receipt")

    def emails_to(self, address: str, subject_prefix: str) -> list[dict]:
        """The emails moto's SES holds for `address` whose subject starts with the prefix."""
        with urllib.request.urlopen(f"{self.moto}/moto-api/data.json") as response:
            data = json.load(response)
        messages = [m for ms in data.get("ses", {}).values() if isinstance(ms, list) for m in ms]
        return [m for m in messages
                if address in (m.get("destinations") or {}).get("ToAddresses", [])
                and str(m.get("subject", "")).startswith(subject_prefix)]

    def invoice(self, account: str) -> dict | None:
        """The account's invoice for the charged month, as recorded."""
        found = self.item(f"ACCOUNT#{account}", f"INVOICE#{INVOICE}")
        return found["record"]["M"] if found else None

    def idempotency_keys(self, method: str, path_prefix: str) -> list[str]:
        """The Idempotency-Key of each Stripe request received since the last reset."""
        with urllib.request.urlopen(self.stripe.rstrip("/") + "/_compat/requests") as response:
            return [r["idempotency_key"] for r in json.load(response)
                    if r["method"] == method and r["path"].startswith(path_prefix)]

    def stripe_calls_reset(self) -> None:
        """Clears the compatibility layer's log of Stripe requests."""
        request = urllib.request.Request(self.stripe.rstrip("/") + "/_compat/requests", method="DELETE")
        urllib.request.urlopen(request).close()

    def stripe_calls(self, method: str, path_prefix: str) -> int:
        """Stripe requests received since the last reset, as Stripe would count them."""
        with urllib.request.urlopen(self.stripe.rstrip("/") + "/_compat/requests") as response:
            return sum(1 for r in json.load(response)
                       if r["method"] == method and r["path"].startswith(path_prefix))

    def stripe_requests(self) -> list[dict]:
        """Every Stripe request received since the last reset: `{method, path, idempotency_key, …}`."""
        with urllib.request.urlopen(self.stripe.rstrip("/") + "/_compat/requests") as response:
            return json.load(response)

    def scan(self) -> list[dict]:
        """Every item of the table, every page of the scan read."""
        items: list[dict] = []
        pages = self.dynamodb.get_paginator("scan").paginate(TableName=TABLE, ConsistentRead=True)
        for page in pages:
            items.extend(page["Items"])
        return items

    def stripe_get(self, path: str) -> dict:
        request = urllib.request.Request(self.stripe.rstrip("/") + path,
                                         headers={"Authorization": "Bearer sk_test_lambda_local"})
        with urllib.request.urlopen(request) as response:
            return json.load(response)


@pytest.fixture(scope="session")
def stand() -> Stand:
    """The stand-ins with what the template's functions expect to find: the table, the SSM
    parameters they read at cold start, and the verified sender."""
    stand = Stand()
    table = load_template()["Resources"]["BillingTable"]["Properties"]
    if TABLE not in stand.dynamodb.list_tables()["TableNames"]:
        stand.dynamodb.create_table(
            TableName=TABLE,
            BillingMode=table["BillingMode"],
            AttributeDefinitions=table["AttributeDefinitions"],
            KeySchema=table["KeySchema"],
            GlobalSecondaryIndexes=table["GlobalSecondaryIndexes"],
        )
    for name, value in ((STRIPE_KEY_PARAMETER, "sk_test_lambda_local"),
                        (LINK_SECRET_PARAMETER, "lambda-local-link-secret-of-32-bytes!"),
                        (WEBHOOK_SECRET_PARAMETER, WEBHOOK_SECRET)):
        stand.ssm.put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=True)
    # moto refuses SendEmail from an unverified sender, as SES does.
    identities = [i["IdentityName"] for i in stand.sesv2.list_email_identities()["EmailIdentities"]]
    if SENDER not in identities:
        stand.sesv2.create_email_identity(EmailIdentity=SENDER)
    # From here on moto records every request it receives, for the leak scan
    # (test_leaks_lambda.py): what the functions wrote, sent and queued, deleted or not.
    for step in ("reset-recording", "start-recording"):
        urllib.request.urlopen(urllib.request.Request(f"{stand.moto}/moto-api/recorder/{step}", method="POST")).close()
    return stand


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "last: runs after every other test of the session")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked `last` (the leak scan) run after all the others, whatever their file."""
    items.sort(key=lambda item: item.get_closest_marker("last") is not None)


# Each function's settings as the template sets them (the parameters' defaults where it has
# them); `function_env` checks they are exactly the template's.
SETTINGS = {
    "CreditsFunction": dict(
        TABLE_NAME=TABLE, RUST_LOG="warn", STRIPE_SECRET_PARAMETER=STRIPE_KEY_PARAMETER,
        SENDER_EMAIL=SENDER, LINK_SECRET_PARAMETER=LINK_SECRET_PARAMETER,
        PUBLIC_BASE_URL="https://billing.example.com", STRIPE_PUBLISHABLE_KEY="pk_test_lambdalocal",
    ),
    "WebhookFunction": dict(
        TABLE_NAME=TABLE, RUST_LOG="warn", STRIPE_SECRET_PARAMETER=STRIPE_KEY_PARAMETER,
        SENDER_EMAIL=SENDER, STRIPE_WEBHOOK_SECRET_PARAMETER=WEBHOOK_SECRET_PARAMETER,
        LINK_SECRET_PARAMETER=LINK_SECRET_PARAMETER, PUBLIC_BASE_URL="https://billing.example.com",
    ),
    "CardsFunction": dict(
        TABLE_NAME=TABLE, RUST_LOG="warn", STRIPE_SECRET_PARAMETER=STRIPE_KEY_PARAMETER,
        SENDER_EMAIL=SENDER, LINK_SECRET_PARAMETER=LINK_SECRET_PARAMETER,
        PUBLIC_BASE_URL="https://billing.example.com",
    ),
    "AccountFunction": dict(
        TABLE_NAME=TABLE, RUST_LOG="warn", STRIPE_SECRET_PARAMETER=STRIPE_KEY_PARAMETER,
        SENDER_EMAIL=SENDER, LINK_SECRET_PARAMETER=LINK_SECRET_PARAMETER,
        PUBLIC_BASE_URL="https://billing.example.com",
    ),
    # The charge queue's URL is moto's, known once the test has created it: the test sets it.
    "SweepFunction": dict(
        TABLE_NAME=TABLE, RUST_LOG="warn", STRIPE_SECRET_PARAMETER=STRIPE_KEY_PARAMETER,
        SENDER_EMAIL=SENDER, CHARGE_QUEUE_URL="",
    ),
    # The queue's URL is moto's, known once the test has created it: the test sets it.
    "MonthlyChargeFunction": dict(TABLE_NAME=TABLE, RUST_LOG="warn", CHARGE_QUEUE_URL=""),
    "ChargeWorkerFunction": dict(
        TABLE_NAME=TABLE, RUST_LOG="warn", STRIPE_SECRET_PARAMETER=STRIPE_KEY_PARAMETER,
        SENDER_EMAIL=SENDER, LINK_SECRET_PARAMETER=LINK_SECRET_PARAMETER,
        PUBLIC_BASE_URL="https://billing.example.com", STRIPE_REQUESTS_PER_SECOND="80",
        CHARGE_WORKER_CONCURRENCY="4", PAYMENT_RETRY_DAYS="3,5,7",
    ),
}


def function_env(stand: Stand, function: str) -> dict[str, str]:
    """The process environment of `cargo lambda watch` for `function`: nothing of the caller's
    that the template would not set, exactly the template's variables, and where Stripe is."""
    settings = SETTINGS[function]
    assert set(settings) == template_variables(function), f"{function}: the template's variables changed"
    inherited = {k: v for k, v in os.environ.items() if k not in every_function_variable()}
    return {**inherited, **stand.aws_env(), **settings, "STRIPE_API_BASE": stand.stripe}


# Every `cargo lambda watch` log of this session: test_leaks_lambda.py reads them all.
WATCH_LOGS: list[Path] = []


@contextmanager
def watching(env: dict[str, str], log_name: str):
    """`cargo lambda watch` on a free port with `env`; yields the port. The functions log at
    `debug`, not the template's level, so that the leak scan (test_leaks_lambda.py) reads
    everything they could ever log; cargo lambda itself logs at the template's level (its own
    debug lines echo its configuration, not what a function logs)."""
    port = free_port()
    WATCH_LOGS.append(ROOT / "target" / log_name)
    log = open(WATCH_LOGS[-1], "w")
    process = subprocess.Popen(
        [str(CARGO_LAMBDA), "lambda", "watch", "--invoke-address", "127.0.0.1", "--invoke-port", str(port),
         "--ignore-changes", "--package", "billing-lambda", "--env-var", "RUST_LOG=debug"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if process.poll() is not None:
                pytest.fail(f"cargo lambda watch exited: see {log.name}")
            time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


@pytest.fixture(scope="session")
def credits_watch(stand: Stand):
    """The credits function (and, under the same environment, the card function, which reads a
    subset of it: the tests put a card on file with it)."""
    with watching(function_env(stand, "CreditsFunction"), "cargo-lambda-watch-credits.log") as port:
        yield port


@pytest.fixture(scope="session")
def worker_watch(stand: Stand):
    """The charge worker."""
    with watching(function_env(stand, "ChargeWorkerFunction"), "cargo-lambda-watch-charge-worker.log") as port:
        yield port


def invoke_raw(port: int, function: str, event: dict | Path, tmp_path: Path) -> subprocess.CompletedProcess:
    if isinstance(event, dict):
        path = tmp_path / f"event-{time.monotonic_ns()}.json"
        path.write_text(json.dumps(event))
    else:
        path = event
    return subprocess.run(
        [str(CARGO_LAMBDA), "lambda", "invoke", function, "--data-file", str(path),
         "--invoke-address", "127.0.0.1", "--invoke-port", str(port), "--output-format", "json"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )


def invoke_http(port: int, function: str, event: dict | str, tmp_path: Path) -> tuple[int, dict]:
    """Invokes an HTTP function with an API Gateway v2 event (a fixture's name, or the event);
    returns the status and the JSON body."""
    result = invoke_raw(port, function, EVENTS / event if isinstance(event, str) else event, tmp_path)
    assert result.returncode == 0, result.stderr
    response = json.loads(result.stdout)
    return response["statusCode"], json.loads(response.get("body") or "null")


def fixture(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


def stripe_signature(body: str, secret: str, at: int | None = None) -> str:
    """`Stripe-Signature` as Stripe computes it: HMAC-SHA256 of `<t>.<body>`."""
    at = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{at}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={at},v1={mac}"


def put_card(port: int, account: str, payment_method: str, tmp_path: Path) -> dict:
    """Puts `payment_method` on file for `account` (its email `<account>@example.com`) through
    the card function; returns the card."""
    event = fixture("put-card-visa-webhook.json")
    event["requestContext"]["authorizer"]["jwt"]["claims"].update(sub=account, email=f"{account}@example.com")
    event["body"] = json.dumps({"payment_method": payment_method})
    status, card = invoke_http(port, "cards", event, tmp_path)
    assert status == 200, card
    return card


def record_usage(port: int, accounts: list[str], tmp_path: Path) -> None:
    """12.34 USD of usage in the charged month for each account, through the usage function
    (which reads a subset of any other function's environment)."""
    template = fixture("sqs-usage-good.json")["Records"][0]
    records = [{**template, "messageId": f"charge-usage-{n}",
                "body": json.dumps({"id": f"lambda-charge-usage-{account}", "account_id": account,
                                    "amount_micros": USED, "occurred_at": CHARGED.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                    "description": "tokens"})}
               for n, account in enumerate(accounts)]
    result = invoke_raw(port, "usage", {"Records": records}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"batchItemFailures": []}


def take_messages(stand: Stand, queue: str) -> list[dict]:
    """Every message on the queue, each received once (hidden for ten minutes after)."""
    taken: list[dict] = []
    while True:
        batch = stand.sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, VisibilityTimeout=600,
                                          WaitTimeSeconds=0).get("Messages", [])
        if not batch:
            return taken
        taken.extend(batch)


def sqs_event(messages: list[dict], queue_arn: str) -> dict:
    """The SQS event Lambda would deliver for `messages` (records shaped like the first of
    events/sqs-charge-jobs.json)."""
    template = fixture("sqs-charge-jobs.json")["Records"][0]
    return {"Records": [{**template, "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"],
                         "body": m["Body"], "md5OfBody": m["MD5OfBody"], "eventSourceARN": queue_arn}
                        for m in messages]}


def charge_jobs(accounts: list[str]) -> dict:
    """An SQS event with one charge job for the charged month per account, as the planner
    would have sent them."""
    template = fixture("sqs-charge-jobs.json")["Records"][0]
    return {"Records": [{**template, "messageId": f"job-{account}",
                         "body": json.dumps({"account": account, "period": PERIOD})}
                        for account in accounts]}


def charge(worker_port: int, event: dict, tmp_path: Path) -> None:
    """Runs the charge worker on an SQS event; every job must be done."""
    result = invoke_raw(worker_port, "charge-worker", event, tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"batchItemFailures": []}


def failed_invoice(card_port: int, worker_port: int, stand: Stand, account: str, payment_method: str | None,
                   tmp_path: Path) -> dict:
    """An invoice for the charged month that the charge worker could not collect: `account`
    with `payment_method` on file (or none) and 12.34 USD of usage, charged through a job as
    the planner would send it. Returns the invoice as recorded, `payment_failed`.

    The account's due mark for the charged month (written when the usage arrived in it, before
    the 3rd) is removed: its month is invoiced, and the planner's test counts the jobs it
    plans for its own accounts."""
    if payment_method:
        put_card(card_port, account, payment_method, tmp_path)
    record_usage(card_port, [account], tmp_path)
    charge(worker_port, charge_jobs([account]), tmp_path)
    stand.dynamodb.delete_item(TableName=TABLE, Key={"pk": {"S": f"ACCOUNT#{account}"},
                                                     "sk": {"S": f"DUE#{PERIOD}"}})
    invoice = stand.invoice(account)
    assert invoice and invoice["status"]["S"] == "payment_failed", invoice
    return invoice


INSTANT = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?(Z|\+00:00)")


def shifted(text: str, by: timedelta) -> str:
    """`text` with every RFC 3339 instant in it moved by `by` (whole seconds), each written as
    it was (same fraction digits, same suffix), so text that sorts as time still does."""
    def move(match: re.Match) -> str:
        at = datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S") + by
        return at.strftime("%Y-%m-%dT%H:%M:%S") + (match.group(2) or "") + match.group(3)
    return INSTANT.sub(move, text)


def moved_back(value: dict, by: timedelta) -> dict:
    """A DynamoDB attribute value with every instant in it moved back by `by`."""
    (kind, inner), = value.items()
    if kind == "S":
        return {"S": shifted(inner, -by)}
    if kind == "M":
        return {"M": {k: moved_back(v, by) for k, v in inner.items()}}
    if kind == "L":
        return {"L": [moved_back(v, by) for v in inner]}
    return value


def invoice_moved_back(stand: Stand, account: str, by: timedelta) -> None:
    """Moves every instant of the account's invoice item `by` into the past, its index keys
    included (whatever index lists it for the sweep sorts by time as text): as if the charge
    had run that much earlier. The functions run on the real clock."""
    item = stand.item(f"ACCOUNT#{account}", f"INVOICE#{INVOICE}")
    assert item, f"no {INVOICE} for {account}"
    moved = {k: (v if k in ("pk", "sk") else moved_back(v, by)) for k, v in item.items()}
    stand.dynamodb.put_item(TableName=TABLE, Item=moved)
