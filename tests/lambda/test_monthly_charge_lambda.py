"""The monthly charge as Lambda runs it: the planner (`monthly-charge`) invoked with the event
EventBridge Scheduler sends (events/scheduled-monthly-charge.json, the schedule's Input in the
template), and the worker (`charge-worker`) invoked with an SQS batch built from the messages
the planner left on a moto queue (each record shaped like events/sqs-charge-jobs.json, whose
second record, not a charge job, rides along). Each function runs with exactly the template's
environment, against moto (table, queue, SSM, SES) and localstripe. Shared set-up: conftest.py.

Usage must have occurred within the last 366 days, so the trigger is dated the 3rd of the
month the tests run in (the fixture's own date, 2026-11-03, in November 2026) and the usage
the 15th of the month before. Usage recorded after the 3rd is due with the month it arrives in
(the charge of its own month has begun); each account's due mark is copied to the month
before, as if its usage had arrived in time.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import (INVOICE, PERIOD, TODAY, Stand, fixture, function_env, invoke_raw, policy_actions, put_card,
                      record_usage, tagged_template, take_messages, template_variables, watching)
from conftest import sqs_event as job_records

PAID = ["lambda-charge-1", "lambda-charge-2"]
NO_CARD = "lambda-charge-3"
TRIGGER = TODAY.replace(day=3, hour=3, minute=0, second=0, microsecond=0)


@pytest.fixture(scope="module")
def charge_queue(stand: Stand) -> str:
    return stand.sqs.create_queue(QueueName="billing-lambda-test-charge")["QueueUrl"]


@pytest.fixture(scope="module")
def planner_watch(stand: Stand, charge_queue: str):
    env = {**function_env(stand, "MonthlyChargeFunction"), "CHARGE_QUEUE_URL": charge_queue}
    with watching(env, "cargo-lambda-watch-monthly-charge.log") as port:
        yield port


def due_in_charged_month(stand: Stand, account: str) -> None:
    """The account's due mark for the charged month, copied from the one of the month its usage
    arrived in when the usage arrived after the charge of its own month began."""
    pk = f"ACCOUNT#{account}"
    if stand.item(pk, f"DUE#{PERIOD}"):
        return
    arrived = TODAY.strftime("%Y-%m")
    mark = stand.item(pk, f"DUE#{arrived}")
    assert mark, f"no due mark for {account}"
    assert mark["record"]["M"]["period"]["S"] == arrived
    mark["sk"] = {"S": f"DUE#{PERIOD}"}
    mark["gsi1pk"] = {"S": mark["gsi1pk"]["S"].replace(f"DUE#{arrived}#", f"DUE#{PERIOD}#")}
    mark["record"]["M"]["period"] = {"S": PERIOD}
    stand.dynamodb.put_item(TableName="billing-lambda-test", Item=mark)


@pytest.fixture(scope="module")
def owing(credits_watch: int, stand: Stand, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Two accounts with a card and one without, each owing 12.34 USD for the charged month."""
    tmp = tmp_path_factory.mktemp("owing")
    for account in PAID:
        put_card(credits_watch, account, "pm_card_visa", tmp)
    accounts = [*PAID, NO_CARD]
    record_usage(credits_watch, accounts, tmp)
    for account in accounts:
        due_in_charged_month(stand, account)
    return accounts


def trigger(tmp_path: Path) -> Path:
    event = fixture("scheduled-monthly-charge.json")
    event["time"] = TRIGGER.strftime("%Y-%m-%dT%H:%M:%SZ")
    path = tmp_path / "scheduled-monthly-charge.json"
    path.write_text(json.dumps(event))
    return path


def sqs_event(messages: list[dict], queue_arn: str) -> dict:
    """The SQS event Lambda would deliver for `messages`, and the fixture's unusable record."""
    unusable = fixture("sqs-charge-jobs.json")["Records"][1]
    return {"Records": [*job_records(messages, queue_arn)["Records"], unusable]}


def invoice(stand: Stand, account: str) -> dict | None:
    return stand.invoice(account)


def test_the_planner_enqueues_one_job_per_owing_account_and_the_worker_charges_each_once(
    owing: list[str], planner_watch: int, worker_watch: int, charge_queue: str, stand: Stand, tmp_path: Path
) -> None:
    planned = invoke_raw(planner_watch, "monthly-charge", trigger(tmp_path), tmp_path)
    assert planned.returncode == 0, planned.stderr
    assert json.loads(planned.stdout) == {"period": PERIOD, "enqueued": 3}
    messages = take_messages(stand, charge_queue)
    assert sorted(json.loads(m["Body"])["account"] for m in messages) == sorted(owing)
    assert {json.loads(m["Body"])["period"] for m in messages} == {PERIOD}
    arn = stand.sqs.get_queue_attributes(QueueUrl=charge_queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    event = sqs_event(messages, arn)
    unusable = event["Records"][-1]["messageId"]
    stand.stripe_calls_reset()

    first = invoke_raw(worker_watch, "charge-worker", event, tmp_path)

    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout) == {"batchItemFailures": [{"itemIdentifier": unusable}]}
    assert stand.stripe_calls("POST", "/v1/payment_intents") == len(PAID), "one PaymentIntent per paying account"
    for account in PAID:
        paid = invoice(stand, account)
        assert paid, f"no {INVOICE} for {account}"
        assert (paid["status"]["S"], paid["amount_due"]["N"], paid["amount_paid"]["N"]) == ("paid", "1234", "1234")
        assert len(stand.receipts_to(f"{account}@example.com")) == 1
    failed = invoice(stand, NO_CARD)
    assert failed["status"]["S"] == "payment_failed"
    assert [a["M"]["outcome"]["S"] for a in failed["attempts"]["L"]] == ["card_required"]

    stand.stripe_calls_reset()
    again = invoke_raw(worker_watch, "charge-worker", event, tmp_path)

    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout) == {"batchItemFailures": [{"itemIdentifier": unusable}]}
    assert stand.stripe_calls("POST", "/v1/payment_intents") == 0, "no second PaymentIntent"
    for account in PAID:
        assert invoice(stand, account)["status"]["S"] == "paid"
        assert len(invoice(stand, account)["attempts"]["L"]) == 1
        assert len(stand.receipts_to(f"{account}@example.com")) == 1


def test_the_planner_refuses_an_event_that_is_not_scheduled_and_enqueues_nothing(
    planner_watch: int, charge_queue: str, stand: Stand, tmp_path: Path
) -> None:
    event = fixture("scheduled-monthly-charge.json")
    event["detail-type"] = "Object Created"

    result = invoke_raw(planner_watch, "monthly-charge", event, tmp_path)

    assert result.returncode != 0
    assert "MonthlyChargeFailed.NotScheduled" in result.stdout + result.stderr
    assert take_messages(stand, charge_queue) == []


# --- The template: the schedule, the queues and least privilege -------------------------------

def test_the_schedule_fires_at_3_utc_on_the_3rd_with_the_event_the_fixture_holds() -> None:
    event = tagged_template()["Resources"]["MonthlyChargeFunction"]["Properties"]["Events"]["On3rd"]
    schedule = event["Properties"]
    sent = (schedule["Input"]["!Sub"]
            .replace("${AWS::AccountId}", "123456789012").replace("${AWS::Region}", "us-east-1")
            .replace("<aws.scheduler.scheduled-time>", "2026-11-03T03:00:00Z"))
    held = fixture("scheduled-monthly-charge.json")

    assert event["Type"] == "ScheduleV2"
    assert (schedule["ScheduleExpression"], schedule["ScheduleExpressionTimezone"]) == ("cron(0 3 3 * ? *)", "UTC")
    assert schedule["DeadLetterConfig"]["Arn"] == {"!GetAtt": "MonthlyChargeDeadLetterQueue.Arn"}
    assert {k: v for k, v in json.loads(sent).items() if k not in ("id", "resources")} == \
        {k: v for k, v in held.items() if k not in ("id", "resources")}


def test_the_charge_queue_redrives_to_its_dead_letter_queue_which_is_alarmed() -> None:
    resources = tagged_template()["Resources"]
    queue = resources["ChargeQueue"]["Properties"]
    worker = resources["ChargeWorkerFunction"]["Properties"]
    alarm = resources["ChargeDeadLetterAlarm"]["Properties"]

    assert queue["VisibilityTimeout"] >= 6 * worker["Timeout"]
    assert queue["RedrivePolicy"] == {"deadLetterTargetArn": {"!GetAtt": "ChargeDeadLetterQueue.Arn"},
                                      "maxReceiveCount": 5}
    assert alarm["Dimensions"][0]["Value"] == {"!GetAtt": "ChargeDeadLetterQueue.QueueName"}
    assert alarm["AlarmActions"]["!If"][1] == [{"!Ref": "AlarmTopicArn"}]


def test_the_worker_runs_as_many_invocations_as_share_the_stripe_rate() -> None:
    worker = tagged_template()["Resources"]["ChargeWorkerFunction"]["Properties"]
    source = worker["Events"]["ChargeJobs"]["Properties"]
    concurrency = {"!Ref": "ChargeWorkerConcurrency"}

    assert (source["BatchSize"], source["FunctionResponseTypes"]) == (10, ["ReportBatchItemFailures"])
    assert source["ScalingConfig"]["MaximumConcurrency"] == concurrency
    assert worker["ReservedConcurrentExecutions"] == concurrency
    assert worker["Environment"]["Variables"]["CHARGE_WORKER_CONCURRENCY"] == concurrency
    assert worker["Environment"]["Variables"]["STRIPE_REQUESTS_PER_SECOND"] == {"!Ref": "StripeRequestsPerSecond"}


def test_the_planner_may_only_query_the_index_and_send_to_the_charge_queue() -> None:
    allowed = policy_actions("MonthlyChargeFunction")
    statements = tagged_template()["Resources"]["MonthlyChargeFunction"]["Properties"]["Policies"][0]["Statement"]

    assert sorted(allowed) == ["dynamodb:Query", "sqs:SendMessage"]
    resources = {s["Action"]: s["Resource"] for s in statements}
    assert resources == {"dynamodb:Query": {"!Sub": "${BillingTable.Arn}/index/gsi1"},
                         "sqs:SendMessage": {"!GetAtt": "ChargeQueue.Arn"}}
    assert template_variables("MonthlyChargeFunction") == {"TABLE_NAME", "RUST_LOG", "CHARGE_QUEUE_URL"}


def test_the_worker_may_read_and_write_table_items_by_key_and_send_mail_but_not_list() -> None:
    allowed = policy_actions("ChargeWorkerFunction")

    assert sorted(allowed) == ["dynamodb:BatchGetItem", "dynamodb:ConditionCheckItem", "dynamodb:GetItem",
                               "dynamodb:PutItem", "dynamodb:UpdateItem", "ses:SendEmail", "ssm:GetParameters"]
    assert len(allowed["ssm:GetParameters"]) == 2, "the Stripe key and the link key"
    assert template_variables("ChargeWorkerFunction") == {
        "TABLE_NAME", "RUST_LOG", "STRIPE_SECRET_PARAMETER", "SENDER_EMAIL", "LINK_SECRET_PARAMETER",
        "PUBLIC_BASE_URL", "STRIPE_REQUESTS_PER_SECOND", "CHARGE_WORKER_CONCURRENCY", "PAYMENT_RETRY_DAYS"}


def test_the_retry_days_default_to_3_5_7_and_reach_the_charge_worker_only() -> None:
    template = tagged_template()
    parameter = template["Parameters"]["PaymentRetryDays"]
    functions = {name: resource["Properties"] for name, resource in template["Resources"].items()
                 if resource["Type"] == "AWS::Serverless::Function"}

    assert parameter["Default"] == "3,5,7"
    given = {name for name, function in functions.items()
             if "PAYMENT_RETRY_DAYS" in function.get("Environment", {}).get("Variables", {})}
    assert given == {"ChargeWorkerFunction"}
    assert functions["ChargeWorkerFunction"]["Environment"]["Variables"]["PAYMENT_RETRY_DAYS"] == \
        {"!Ref": "PaymentRetryDays"}
