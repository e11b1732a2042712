"""No card number, CVC, Stripe secret key, webhook secret or JWT in anything the Lambda
functions stored, sent or logged (issue 13, "Security"), read after every other test of this
folder has run against the same moto and localstripe: cards, purchases, webhooks, usage, the
monthly charge, the charge worker, the sweep and account deletion.

What is read:
- every item of every DynamoDB table (a Scan, every page);
- every request the functions sent to moto, from moto's request recorder (started by the
  `stand` fixture once the SSM parameters are in): every item written (also those deleted
  since, as account deletion does), every email as sent (its Text part too: moto's SES keeps
  only the Html part when both are sent) and every SQS message sent;
- moto's own record of every email SES accepted and every SQS message any queue held, DLQs
  included (`/moto-api/data.json`, every service but SSM, which holds the secrets by design);
- every line `cargo lambda watch` printed for every function this session (the functions'
  own output, at `RUST_LOG=debug`: conftest `watching`).

The scan test is ordered last (conftest `pytest_collection_modifyitems`) and refuses a corpus
too small to mean anything, so run alone it fails rather than passes: run the whole folder.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.request
from pathlib import Path

import pytest

from conftest import (LINK_SECRET_PARAMETER, ROOT, SENDER, STRIPE_KEY_PARAMETER, TABLE, WATCH_LOGS,
                      WEBHOOK_SECRET, WEBHOOK_SECRET_PARAMETER, Stand)

# Stripe's test card numbers: those tests/e2e/security.rs looks for, and every number the
# localstripe compatibility layer maps a `pm_card_*` token to (the ones this suite uses among
# them). None ever reaches these functions: the browser sends them to Stripe.
SECURITY_RS_CARDS = [
    "4242424242424242", "4000056655665556", "5555555555554444", "2223003122003222", "5200828282828210",
    "5105105105105100", "378282246310005", "6011111111111117", "4000002500003155", "4000002760003184",
    "4000000000000341", "4000000000009995",
]
COMPAT_LAYER = ROOT / "tests" / "stand-ins" / "localstripe_server.py"
TEST_CARD_NUMBERS = sorted(set(SECURITY_RS_CARDS) | set(re.findall(r"'(\d{13,19})'", COMPAT_LAYER.read_text())))
# The JWT secret of the local token path, which test_local_token_lambda.py signs with.
LOCAL_JWT_SECRET = "local-dev-secret"
# Any key of Stripe's, any webhook secret, and a CVC, which would come as a field.
MARKERS = ["sk_test_", "sk_live_", "rk_test_", "rk_live_", "whsec_", '"cvc"', "cvc=", '"cvv"']
# A JWT: its header is base64url JSON and so starts `eyJ`, and a dot joins it to its payload. It
# must start a base64url word: moto's random 52-character request ids hold `eyJ` inside a word
# about once a run (CI, 29 Nov 2026), and are not tokens.
JWT = re.compile(r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+")

# The least a run of the whole folder gives: about two thirds of what one gave on 29 Nov 2026
# (84 items, 12 emails, 8 SQS messages, 391 requests, 6,527 log lines of which 6,389 at debug,
# 8 logs; a run without its monthly-charge module left 2 SQS messages and 333 requests).
# Fewer means a part of the suite, or of the capture, went missing.
AT_LEAST = {"items": 55, "emails": 8, "sqs messages": 5, "requests": 260, "log lines": 4300,
            "function log lines": 4300, "debug lines": 4200, "logs": 8}


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, digit in enumerate(reversed(digits)):
        d = int(digit)
        if i % 2 == 1:
            d = 2 * d - 9 if d > 4 else 2 * d
        total += d
    return total % 10 == 0


def card_like_numbers(text: str) -> list[str]:
    """Every number of 13–19 digits in `text` that could be a card number, as security.rs
    finds them: a word of digits only (digits inside a word of letters and digits, as in a hex
    id, are part of that word), Luhn-valid and starting with a card network's major industry
    identifier (2 for Mastercard's 2221–2720, 3 to 6). Epoch milli- and microseconds start
    with 1 and are not mistaken for one."""
    found = []
    for word in re.split(r"[^0-9A-Za-z]", text):
        if word.isdigit() and word.isascii() and 13 <= len(word) <= 19 and luhn_valid(word):
            if word[0] in "3456" or (word[0] == "2" and "2221" <= word[:4] <= "2720"):
                found.append(word)
    return found


def leaks(source: str, text: str, secrets: list[str]) -> list[str]:
    """What in `text` (from `source`) is a card number, a CVC, one of `secrets`, a Stripe key,
    a webhook secret or a JWT, each with where it was."""
    def around(needle: str) -> str:
        at = text.find(needle)
        return text[max(0, at - 60):at + len(needle) + 60]

    found = [f"{source}: a card number {n} in …{around(n)}…" for n in card_like_numbers(text)]
    found += [f"{source}: the secret {s!r} in …{around(s)}…" for s in secrets if s in text]
    found += [f"{source}: the test card {n}" for n in TEST_CARD_NUMBERS if n in text]
    found += [f"{source}: {m} in …{around(m)}…" for m in MARKERS if m in text]
    found += [f"{source}: a JWT in …{around(t)}…" for t in JWT.findall(text)]
    return found


def get_json(url: str):
    with urllib.request.urlopen(url) as response:
        return json.load(response)


def table_items(stand: Stand) -> list[tuple[str, str]]:
    """Every item of every table, as (where, JSON)."""
    found = []
    for table in stand.dynamodb.list_tables()["TableNames"]:
        for page in stand.dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
            found += [(f"DynamoDB {table} {item.get('pk')}/{item.get('sk')}", json.dumps(item)) for item in page["Items"]]
    return found


def recorded_requests(stand: Stand) -> list[tuple[str, str]]:
    """Every request moto received since its recorder started, as (where, request): its body
    decoded (SES v2 sends JSON, the SDK's DynamoDB and SQS calls JSON), headers included."""
    with urllib.request.urlopen(f"{stand.moto}/moto-api/recorder/download-recording") as response:
        lines = response.read().decode().splitlines()
    found = []
    for n, line in enumerate(lines):
        entry = json.loads(line)
        body = entry.get("body") or ""
        if entry.get("body_encoded"):
            body = base64.b64decode(body).decode("utf-8", errors="replace")
        target = entry["headers"].get("X-Amz-Target") or entry["url"]
        found.append((f"request {n} to moto ({entry['method']} {target})",
                      json.dumps(entry["headers"]) + "\n" + body))
    return found


def moto_state(stand: Stand) -> tuple[list[tuple[str, str]], int, int]:
    """moto's record of every model of every service but SSM (whose parameters hold the secrets
    the functions read), as (where, JSON); and how many emails and SQS messages it holds."""
    state = get_json(f"{stand.moto}/moto-api/data.json")
    found, emails, messages = [], 0, 0
    for service, models in state.items():
        if service == "ssm":
            continue
        for model, instances in models.items():
            found += [(f"moto {service}.{model} {n}", json.dumps(i)) for n, i in enumerate(instances)]
            if service == "ses" and model in ("Message", "RawMessage", "TemplateMessage"):
                emails += len(instances)
            if service == "sqs" and model == "Message":
                messages += len(instances)
    return found, emails, messages


def log_lines(paths: list[Path]) -> list[tuple[str, str]]:
    """Every line of every log in `paths`, as (where, line)."""
    found = []
    for path in paths:
        for n, line in enumerate(Path(path).read_text(errors="replace").splitlines(), 1):
            found.append((f"{Path(path).name}:{n}", line))
    return found


def run_secrets(stand: Stand) -> list[str]:
    """The secrets this run gave the functions, read back from moto's SSM, with the local JWT
    secret: none may be written anywhere."""
    names = [STRIPE_KEY_PARAMETER, LINK_SECRET_PARAMETER, WEBHOOK_SECRET_PARAMETER]
    values = [p["Value"] for p in stand.ssm.get_parameters(Names=names, WithDecryption=True)["Parameters"]]
    assert len(values) == 3 and WEBHOOK_SECRET in values, values
    return values + [LOCAL_JWT_SECRET]


def test_the_leak_scan_finds_each_pattern_it_looks_for() -> None:
    secrets = ["sk_test_planted", "planted-link-secret", "whsec_planted", LOCAL_JWT_SECRET]
    planted = {
        "a test card the suite uses": "pm 4242424242424242 attached",
        "another network's test card": '{"number":"6011111111111117"}',
        "a Mastercard 2-series card": "2223003122003222",
        "a card number no test uses": "pan=4111111111111111;",
        "a secret the run set": "key planted-link-secret",
        "the local JWT secret": f"hs256 {LOCAL_JWT_SECRET}",
        "the Stripe key": "Authorization: Bearer sk_test_planted",
        "a live key": "sk_live_abc",
        "a restricted key": "rk_test_abc",
        "any webhook secret": "secret=whsec_other",
        "a JWT": "authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.sig",
        "a JWT in a JSON string": '{"token":"eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."}',
        "a JWT in a query": "?token=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.sig",
        "a CVC field": '{"cvc": "123"}',
        "a CVC form field": "number=x&cvc=123",
        "a CVV field": '{"cvv": "123"}',
    }
    for what, text in planted.items():
        assert leaks("planted", text, secrets), f"{what} was not found: {text!r}"
    assert card_like_numbers("pan=4111111111111111;") == ["4111111111111111"]
    assert card_like_numbers("req_ad4111111111111111de") == [], "digits inside a hex id"
    clean = ("at 1795514400000000 µs, 17955144000000 ms, in_0123456789012345, req_ad4111111111111111de, "
             "pi_3Abc_secret_x, 12340000 micro-USD, evt_4242424242, cvc_check, "
             # A request id of moto's that holds `eyJ` inside it (it failed CI on 29 Nov 2026).
             '"request_id":"Some(\\"XhOqaqTfHXaiYIMVqseyJiNcT4oi7vbQq08cawBoJd9nrquAlNsq\\")"')
    assert leaks("clean", clean, secrets) == [], "ids, amounts and instants are no leak"


@pytest.mark.last
def test_after_the_whole_suite_nothing_stored_sent_or_logged_holds_a_card_number_cvc_secret_or_token(
    stand: Stand,
) -> None:
    secrets = run_secrets(stand)
    items = table_items(stand)
    requests = recorded_requests(stand)
    state, emails, messages = moto_state(stand)
    lines = log_lines(WATCH_LOGS)
    # The functions' own lines are JSON (billing_api::telemetry); the rest is cargo's.
    logged = [line for _, line in lines if line.startswith('{"timestamp"')]
    scanned = {"items": len(items), "emails": emails, "sqs messages": messages, "requests": len(requests),
               "log lines": len(lines), "function log lines": len(logged),
               "debug lines": sum('"level":"DEBUG"' in line for line in logged), "logs": len(WATCH_LOGS)}
    scanned["moto records"] = len(state)
    # What was read, for the report of a run (scripts/test does not show a passing test's output).
    (ROOT / "target" / "leak-scan-lambda.json").write_text(json.dumps(scanned, indent=1))

    found = []
    for where, text in items + requests + state + lines:
        found += leaks(where, text, secrets)
    too_few = {k: (scanned[k], least) for k, least in AT_LEAST.items() if scanned[k] < least}
    assert not found, "\n".join(found)
    assert not too_few, f"too little to scan (found, least): {too_few}; run the whole tests/lambda folder"


# After the scan of the run, so that what it plants is not in what the scan read.
@pytest.mark.last
def test_the_scan_reads_each_source_it_names(stand: Stand) -> None:
    """A secret planted in each source (a table item, an email, an SQS message, a log line)
    is found there by the same readers the scan uses."""
    # Arrange: one of each, each holding a different pattern.
    stand.dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "ACCOUNT#leak-planted"}, "sk": {"S": "PLANTED"},
                                                   "note": {"S": "4000002760003184"}})
    stand.sesv2.send_email(FromEmailAddress=SENDER, Destination={"ToAddresses": ["leak-planted@example.com"]},
                           Content={"Simple": {"Subject": {"Data": "Planted"},
                                               "Body": {"Text": {"Data": "cvc=999"}, "Html": {"Data": "<p>x</p>"}}}})
    queue = stand.sqs.create_queue(QueueName="billing-lambda-test-leak-planted")["QueueUrl"]
    stand.sqs.send_message(QueueUrl=queue, MessageBody='{"key":"rk_live_planted"}')
    log = ROOT / "target" / "leak-planted.log"
    log.write_text('{"level":"DEBUG","fields":{"message":"token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.sig"}}\n')
    try:
        # Act: read each source as the scan does.
        item = [t for w, t in table_items(stand) if "leak-planted" in w]
        request = [t for w, t in recorded_requests(stand) if "leak-planted" in t and "outbound-emails" in w]
        state, _, _ = moto_state(stand)
        message = [t for w, t in state if w.startswith("moto sqs.Message") and "rk_live_planted" in t]
        line = [t for _, t in log_lines([log])]

        # Assert: each found with its pattern (the Text part of an email only in the recording).
        assert any("the test card 4000002760003184" in f for t in item for f in leaks("item", t, [])), item
        assert any("cvc=" in f for t in request for f in leaks("request", t, [])), request
        assert any("rk_live_" in f for t in message for f in leaks("message", t, [])), message
        assert any("a JWT" in f for t in line for f in leaks("log", t, [])), line
    finally:
        stand.dynamodb.delete_item(TableName=TABLE, Key={"pk": {"S": "ACCOUNT#leak-planted"}, "sk": {"S": "PLANTED"}})
        stand.sqs.delete_queue(QueueUrl=queue)
        log.unlink()
