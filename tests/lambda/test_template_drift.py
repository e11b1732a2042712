"""Each check of test_template.py fails when the template, the code or the README drifts: every
case drifts one thing in a scratch copy (the template as loaded, the code as read, or a copy of
a Rust source), and the check that guards it must report a problem, while the same check on
the untouched inputs reports none.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

import template_model as model
from conftest import tagged_template
from template_model import Code, mutated, read_code

TEMPLATE = tagged_template()
CODE = read_code()
README = (model.ROOT / "README.md").read_text()
# The routes the generated document lists (test_template.py checks the real document against
# them): the routers' routes without the pages.
DOCUMENTED = frozenset(r for routes in CODE.routes.values() for r in routes) - CODE.pages

CHECKS = {
    "binaries": lambda t, c, d: model.check_binaries(t, c),
    "product routes": lambda t, c, d: model.check_product_routes(t, c),
    "routers": lambda t, c, d: model.check_routers(t, c),
    "document": lambda t, c, d: model.check_document(t, c, d),
    "auth": lambda t, c, d: model.check_auth(t, c),
    "monthly schedule": lambda t, c, d: model.check_monthly_schedule(t, c),
    "sweep schedule": lambda t, c, d: model.check_sweep_schedule(t, c),
    "environment": lambda t, c, d: model.check_environment(t, c),
    "queues": lambda t, c, d: model.check_queues(t, c),
    "stripe rate": lambda t, c, d: model.check_stripe_rate(t, c),
    "operations": lambda t, c, d: model.check_operations(t),
    "table": lambda t, c, d: model.check_table(t, c),
    "readme": lambda t, c, d: model.check_readme(t, c, README),
}


def props(template: dict, resource: str) -> dict:
    return template["Resources"][resource]["Properties"]


def event(template: dict, function: str, name: str) -> dict:
    return props(template, function)["Events"][name]["Properties"]


def variables(template: dict, function: str) -> dict:
    return props(template, function).setdefault("Environment", {}).setdefault("Variables", {})


def set_in(getter, key, value):
    """A template change that sets `key` of what `getter` finds."""
    return lambda t: getter(t).__setitem__(key, value)


def drop(getter, key):
    return lambda t: getter(t).pop(key)


MONTHLY = lambda t: event(t, "MonthlyChargeFunction", "On3rd")  # noqa: E731
SWEEP = lambda t: event(t, "SweepFunction", "Every5Minutes")  # noqa: E731
WORKER_JOBS = lambda t: event(t, "ChargeWorkerFunction", "ChargeJobs")  # noqa: E731


def move_event(source: str, target: str, name: str):
    def change(t):
        props(t, target)["Events"][name] = props(t, source)["Events"].pop(name)
    return change


def add_route(function: str, method: str, path: str):
    def change(t):
        props(t, function)["Events"]["Extra"] = {
            "Type": "HttpApi", "Properties": {"ApiId": {"!Ref": "HttpApi"}, "Method": method, "Path": path}}
    return change


# (case, check that must fail, template change)
TEMPLATE_DRIFTS = [
    ("the monthly charge on the 1st", "monthly schedule", set_in(MONTHLY, "ScheduleExpression", "cron(0 3 1 * ? *)")),
    ("the monthly charge every day", "monthly schedule", set_in(MONTHLY, "ScheduleExpression", "cron(0 3 * * ? *)")),
    ("the monthly charge at 04:00", "monthly schedule", set_in(MONTHLY, "ScheduleExpression", "cron(0 4 3 * ? *)")),
    ("the monthly charge in Berlin time", "monthly schedule",
     set_in(MONTHLY, "ScheduleExpressionTimezone", "Europe/Berlin")),
    ("the monthly charge's input without the scheduled time", "monthly schedule",
     set_in(MONTHLY, "Input", '{"detail-type":"Scheduled Event","time":"2026-01-03T03:00:00Z"}')),
    ("the planner cut to 5 minutes", "monthly schedule",
     set_in(lambda t: props(t, "MonthlyChargeFunction"), "Timeout", 300)),
    ("the sweep every 30 minutes", "sweep schedule", set_in(SWEEP, "ScheduleExpression", "rate(30 minutes)")),
    ("the sweep longer than its period", "sweep schedule",
     set_in(lambda t: props(t, "SweepFunction"), "Timeout", 600)),
    ("the sweep's events kept an hour", "sweep schedule",
     set_in(lambda t: props(t, "SweepFunction")["EventInvokeConfig"], "MaximumEventAgeInSeconds", 3600)),
    ("the sweep's input not a scheduled event", "sweep schedule",
     set_in(SWEEP, "Input", '{"detail-type":"Sweep","time":"<aws.scheduler.scheduled-time>"}')),
    ("DELETE /v1/billing/card missing", "product routes",
     lambda t: props(t, "CardsFunction")["Events"].pop("DeleteCard")),
    ("a route PRODUCT.md does not list", "product routes", add_route("CreditsFunction", "GET", "/v1/billing/balance")),
    ("a PRODUCT.md route on two functions", "product routes", add_route("AccountFunction", "GET", "/v1/billing")),
    ("PUT /v1/billing/card served by the credits function", "routers",
     move_event("CardsFunction", "CreditsFunction", "PutCard")),
    ("the invoice route at another path", "document", set_in(lambda t: event(t, "CreditsFunction", "GetInvoice"),
                                                             "Path", "/v1/invoices/{id}")),
    ("the card route without the JWT authorizer", "auth",
     set_in(lambda t: event(t, "CardsFunction", "PutCard"), "Auth", {"Authorizer": "NONE"})),
    ("the webhook behind the JWT authorizer", "auth",
     drop(lambda t: event(t, "WebhookFunction", "StripeEvent"), "Auth")),
    ("no default authorizer", "auth", drop(lambda t: props(t, "HttpApi")["Auth"], "DefaultAuthorizer")),
    ("the usage function given the sender", "environment",
     set_in(lambda t: variables(t, "UsageFunction"), "SENDER_EMAIL", {"!Ref": "SenderEmail"})),
    ("the card function without its links' base", "environment",
     drop(lambda t: variables(t, "CardsFunction"), "PUBLIC_BASE_URL")),
    ("a test-only variable deployed", "environment",
     set_in(lambda t: variables(t, "CreditsFunction"), "STRIPE_API_BASE", "http://127.0.0.1:12111/")),
    ("two functions with different Stripe keys", "environment",
     set_in(lambda t: variables(t, "SweepFunction"), "STRIPE_SECRET_PARAMETER", "/billing/other")),
    ("the sweep sending jobs to the usage queue", "queues",
     set_in(lambda t: variables(t, "SweepFunction"), "CHARGE_QUEUE_URL", {"!Ref": "UsageQueue"})),
    ("the worker reading the usage queue", "queues", set_in(WORKER_JOBS, "Queue", {"!GetAtt": "UsageQueue.Arn"})),
    ("the worker in batches of 5", "queues", set_in(WORKER_JOBS, "BatchSize", 5)),
    ("usage without partial batch failures", "queues",
     drop(lambda t: event(t, "UsageFunction", "Usage"), "FunctionResponseTypes")),
    ("the charge queue's visibility under the worker's timeout", "queues",
     set_in(lambda t: props(t, "ChargeQueue"), "VisibilityTimeout", 60)),
    ("the usage queue without a dead-letter queue", "queues", drop(lambda t: props(t, "UsageQueue"), "RedrivePolicy")),
    ("the worker without reserved concurrency", "stripe rate",
     drop(lambda t: props(t, "ChargeWorkerFunction"), "ReservedConcurrentExecutions")),
    ("the worker's event source running more than share the rate", "stripe rate",
     set_in(lambda t: WORKER_JOBS(t)["ScalingConfig"], "MaximumConcurrency", 10)),
    ("the Stripe rate at Stripe's whole limit", "stripe rate",
     set_in(lambda t: t["Parameters"]["StripeRequestsPerSecond"], "Default", 100)),
    ("the sweep without reserved concurrency", "stripe rate",
     drop(lambda t: props(t, "SweepFunction"), "ReservedConcurrentExecutions")),
    ("no throttles alarm on the webhook", "operations",
     lambda t: t["Resources"].pop("WebhookFunctionThrottleAlarm")),
    ("no errors alarm on the planner", "operations",
     lambda t: t["Resources"].pop("MonthlyChargeFunctionErrorAlarm")),
    ("no log retention for the credits function", "operations",
     lambda t: t["Resources"].pop("CreditsFunctionLogGroup")),
    ("no alarm on the charge dead-letter queue", "operations", lambda t: t["Resources"].pop("ChargeDeadLetterAlarm")),
    ("no alarm on the usage backlog", "operations", lambda t: t["Resources"].pop("UsageQueueAgeAlarm")),
    ("the sweep's failures going nowhere", "operations",
     drop(lambda t: props(t, "SweepFunction"), "EventInvokeConfig")),
    ("an alarm that notifies no one", "operations",
     drop(lambda t: props(t, "HttpApi5xxAlarm"), "AlarmActions")),
    ("TTL on another attribute", "table",
     set_in(lambda t: props(t, "BillingTable")["TimeToLiveSpecification"], "AttributeName", "ttl")),
    ("point-in-time recovery off", "table",
     set_in(lambda t: props(t, "BillingTable")["PointInTimeRecoverySpecification"],
            "PointInTimeRecoveryEnabled", False)),
    ("a parameter the README does not explain", "readme",
     set_in(lambda t: t["Parameters"], "SweepInterval", {"Type": "String", "Default": "rate(5 minutes)"})),
    ("the webhook output at another path", "readme",
     set_in(lambda t: t["Outputs"]["StripeWebhookUrl"], "Value", {"!Sub": "https://${HttpApi}.example/stripe"})),
    ("a binary without a function", "binaries", lambda t: t["Resources"].pop("AccountFunction")),
]

# (case, check that must fail, code change)
CODE_DRIFTS = [
    ("the code charging on the 1st", "monthly schedule", lambda c: dataclasses.replace(c, charge_day=1)),
    ("the usage binary reading a new variable", "environment",
     lambda c: dataclasses.replace(c, variables={**c.variables, "usage": c.variables["usage"] | {"USAGE_BATCH"}})),
    ("the worker running 20 jobs at once", "queues", lambda c: dataclasses.replace(c, jobs_at_once=20)),
    ("a 4-minute settlement window", "sweep schedule", lambda c: dataclasses.replace(c, settlement_window=240)),
    ("the adapter writing expiry elsewhere", "table", lambda c: dataclasses.replace(c, expires_attribute="expires_at")),
    ("the table keyed otherwise", "table", lambda c: dataclasses.replace(c, keys={**c.keys, "GSI1": "due"})),
    ("a new default Stripe rate", "stripe rate", lambda c: dataclasses.replace(c, default_requests_per_second=90)),
    ("the webhook acting on a new event type", "readme",
     lambda c: dataclasses.replace(c, webhook_events=c.webhook_events | {"charge.refunded"})),
    ("the usage handler no longer answering partial failures", "queues",
     lambda c: dataclasses.replace(c, partial_failures=c.partial_failures - {"usage"})),
    ("a new page route", "product routes",
     lambda c: dataclasses.replace(c, pages=c.pages | {("GET", "/authorize/{token}/done")})),
]


def run(check: str, template: dict = TEMPLATE, code: Code = CODE, documented=DOCUMENTED) -> list[str]:
    return CHECKS[check](template, code, documented)


@pytest.mark.parametrize("check", sorted(CHECKS))
def test_every_check_passes_on_the_untouched_template_and_code(check: str) -> None:
    assert run(check) == []


@pytest.mark.parametrize("case, check, change", TEMPLATE_DRIFTS, ids=[c[0] for c in TEMPLATE_DRIFTS])
def test_a_drifted_template_fails_its_check(case: str, check: str, change) -> None:
    drifted = mutated(TEMPLATE, change)

    problems = run(check, template=drifted)

    assert problems, f"{check} did not notice: {case}"


@pytest.mark.parametrize("case, check, change", CODE_DRIFTS, ids=[c[0] for c in CODE_DRIFTS])
def test_drifted_code_fails_its_check(case: str, check: str, change) -> None:
    problems = run(check, code=change(CODE))

    assert problems, f"{check} did not notice: {case}"


def test_an_operation_the_document_adds_fails_the_document_check() -> None:
    problems = run("document", documented=DOCUMENTED | {("DELETE", "/v1/billing/invoices/{id}")})

    assert problems


def scratch_sources(tmp_path: Path, source: Path, edit: str, before: str, after: str) -> Path:
    """A copy of the source folder `source` with one replacement in its file `edit`."""
    copy = tmp_path / source.name
    shutil.copytree(source, copy)
    text = (copy / edit).read_text()
    assert before in text, f"{edit} changed: update this test's edit"
    (copy / edit).write_text(text.replace(before, after, 1))
    return copy


def test_a_settings_struct_reading_a_new_variable_is_read_from_the_source(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    scratch = scratch_sources(tmp_path, model.LAMBDA_SRC, "settings.rs",
                              'table: required(env, "TABLE_NAME")?,',
                              'table: required(env, "TABLE_NAME")?.clone() + &required(env, "TABLE_REGION")?,')
    monkeypatch.setattr(model, "LAMBDA_SRC", scratch)

    problems = model.check_environment(TEMPLATE, read_code())

    assert any("TABLE_REGION" in p for p in problems), problems


def test_a_handler_moved_to_another_path_is_read_from_its_utoipa_attribute(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    scratch = scratch_sources(tmp_path, model.API_SRC, "routes/card.rs",
                              'path = "/v1/billing/setup-intents"', 'path = "/v1/billing/setup_intents"')
    monkeypatch.setattr(model, "API_SRC", scratch)
    code = read_code()

    assert model.check_routers(TEMPLATE, code)
    assert model.check_document(TEMPLATE, code, DOCUMENTED | {("POST", "/v1/billing/setup_intents")}
                                - {("POST", "/v1/billing/setup-intents")})
