"""infra/template.yaml against the code and PRODUCT.md: routes, auth, schedules, queues, each
function's environment, the Stripe rate, alarms, log retention and the table (the checks are in
template_model.py; test_template_drift.py shows each failing on a drifted copy). cfn-lint
checks the template's shape, not these: it reads no cron inside a SAM schedule, and knows
nothing of the code.

Needs no stand-in. The OpenAPI document is the one billing-local generates and serves (the
same `billing_api::openapi::document()` the card function serves on Lambda), read from the
binary the test command builds before this step.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import TEST_ONLY, tagged_template
from template_model import (PRODUCT_ROUTES, ROOT, Code, check_auth, check_binaries, check_document,
                            check_environment, check_monthly_schedule, check_operations, check_product_routes,
                            check_queues, check_readme, check_routers, check_stripe_rate, check_sweep_schedule,
                            check_table, openapi_routes, product_routes, read_code)

PRODUCT_MD = Path(os.environ.get("BILLING_PRODUCT_MD", ROOT.parent / "shared" / "PRODUCT.md"))


@pytest.fixture(scope="module")
def template() -> dict:
    return tagged_template()


@pytest.fixture(scope="module")
def code() -> Code:
    return read_code()


@pytest.fixture(scope="module")
def openapi_document() -> dict:
    """`GET /v1/openapi.json` of a billing-local started on a free loopback port."""
    binary = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "debug" / "billing-local"
    if not binary.exists():
        pytest.fail(f"{binary} is missing: run `cargo build -p billing-local` first (scripts/test does)")
    with tempfile.TemporaryDirectory() as data:
        server = subprocess.Popen([str(binary), "--port", "0", "--data-dir", data],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            base = None
            deadline = time.monotonic() + 30
            while base is None and time.monotonic() < deadline:
                line = server.stdout.readline()
                if not line and server.poll() is not None:
                    pytest.fail("billing-local exited before listening")
                found = re.match(r"billing-local listening on (http://127\.0\.0\.1:\d+)$", line.strip())
                base = found.group(1) if found else None
            assert base, "billing-local did not say where it listens within 30 s"
            with urllib.request.urlopen(f"{base}/v1/openapi.json", timeout=10) as response:
                return json.load(response)
        finally:
            server.terminate()
            server.wait(timeout=30)


def test_each_binary_is_one_function_invoked_as_its_binary_expects(template: dict, code: Code) -> None:
    assert check_binaries(template, code) == []


def test_every_product_route_is_served_by_exactly_one_function_and_no_other_route_exists(
        template: dict, code: Code) -> None:
    assert check_product_routes(template, code) == []


def test_the_product_routes_transcribed_here_are_product_md_s() -> None:
    if not PRODUCT_MD.exists():
        pytest.skip(f"{PRODUCT_MD} is not on this machine (set BILLING_PRODUCT_MD)")

    assert product_routes(PRODUCT_MD.read_text()) == PRODUCT_ROUTES


def test_each_function_routes_exactly_what_its_binary_s_routers_serve(template: dict, code: Code) -> None:
    assert check_routers(template, code) == []


def test_the_generated_openapi_document_has_exactly_the_template_s_api_routes(
        template: dict, code: Code, openapi_document: dict) -> None:
    documented = openapi_routes(openapi_document)

    assert PRODUCT_ROUTES <= documented
    assert check_document(template, code, documented) == []


def test_only_the_webhook_the_document_and_the_authorization_pages_skip_the_jwt_authorizer(
        template: dict, code: Code) -> None:
    assert check_auth(template, code) == []


def test_the_monthly_charge_fires_at_the_code_s_hour_on_the_3rd_in_utc_with_a_scheduled_event(
        template: dict, code: Code) -> None:
    assert (code.charge_day, code.charge_hour) == (3, 3), "PRODUCT.md: 03:00 UTC on the 3rd"
    assert check_monthly_schedule(template, code) == []


def test_the_sweep_runs_within_the_settlement_window_and_never_beside_itself(template: dict, code: Code) -> None:
    assert check_sweep_schedule(template, code) == []


def test_each_function_is_given_exactly_the_variables_its_binary_reads(template: dict, code: Code) -> None:
    assert code.test_only == TEST_ONLY
    assert check_environment(template, code) == []


def test_each_queue_is_read_by_the_binary_its_producers_write_for(template: dict, code: Code) -> None:
    assert check_queues(template, code) == []


def test_the_charge_workers_share_the_stripe_rate_as_many_ways_as_can_run(template: dict, code: Code) -> None:
    assert check_stripe_rate(template, code) == []


def test_every_function_has_log_retention_and_error_and_throttle_alarms_and_every_dead_letter_queue_an_alarm(
        template: dict) -> None:
    assert check_operations(template) == []


def test_the_table_expires_what_the_adapter_marks_and_keeps_point_in_time_recovery(
        template: dict, code: Code) -> None:
    assert check_table(template, code) == []


def test_the_readme_s_deploy_section_names_every_parameter_secret_output_and_webhook_event(
        template: dict, code: Code) -> None:
    assert check_readme(template, code, (ROOT / "README.md").read_text()) == []


# --- The schedule reader itself ------------------------------------------------------------------

def test_the_cron_reader_follows_eventbridge_fields_names_and_time_zones() -> None:
    from datetime import date, datetime, timezone

    from template_model import cron_firings, rate_seconds

    weekdays = cron_firings("cron(30 9 ? * MON-FRI *)", "UTC", date(2027, 3, 1), date(2027, 3, 7))
    new_york = cron_firings("cron(0 3 3 JAN,JUL ? 2027)", "America/New_York", date(2027, 1, 1), date(2027, 12, 31))
    quarters = cron_firings("cron(0/15 0 1 * ? *)", "UTC", date(2027, 1, 1), date(2027, 1, 31))

    assert [d.day for d in weekdays] == [1, 2, 3, 4, 5] and {d.hour for d in weekdays} == {9}
    assert new_york == [datetime(2027, 1, 3, 8, tzinfo=timezone.utc), datetime(2027, 7, 3, 7, tzinfo=timezone.utc)]
    assert [d.minute for d in quarters] == [0, 15, 30, 45]
    assert rate_seconds("rate(5 minutes)") == 300 and rate_seconds("rate(1 day)") == 86400
    with pytest.raises(ValueError):
        cron_firings("cron(0 3 L * ? *)", "UTC", date(2027, 1, 1), date(2027, 1, 31))
