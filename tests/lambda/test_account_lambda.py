"""The account function as Lambda runs it: `cargo lambda watch` serves the real binary with
exactly the template's environment, and `cargo lambda invoke` sends it `DELETE /v1/account`
events (events/delete-account*.json) whose request context carries the JWT authorizer's
claims. The account is set up through the other functions (a card put, credits bought, usage
recorded), its deletion charges the rest on localstripe, and the proof of erasure is a scan of
the whole table on moto. Shared set-up: conftest.py.
"""

from __future__ import annotations

import json
import urllib.error
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from conftest import (Stand, fixture, function_env, invoke_http, invoke_raw, load_template, policy_actions,
                      put_card, template_variables, watching)

# Deleted end to end: a Discover card (its last4 and fingerprint are no other test's), 25.00 USD
# of credits bought, then 40.00 USD of usage: 15.00 USD owed at deletion.
ACCOUNT = "lambda-delete-1"
EMAIL = f"{ACCOUNT}@example.com"
CARD = "pm_card_discover"
LAST4 = "1117"
CREDITS_CENTS = 2_500
USED = 40_000_000  # micro-USD
OWED_CENTS = 1_500
# Its final charge declines: nothing may be erased.
DECLINING = "lambda-delete-declined"
# Sent a confirmation that is not its id: nothing may change.
MISMATCHED = "lambda-delete-mismatch"
CONFIRMATION = "Your billing account has been deleted"


@pytest.fixture(scope="module")
def watch(stand: Stand):
    """The account function with exactly the template's variables (conftest `function_env`)."""
    with watching(function_env(stand, "AccountFunction"), "cargo-lambda-watch-account.log") as port:
        yield port


def deletion_event(account: str, confirm: str) -> dict:
    """events/delete-account.json for `account` (its email `<account>@example.com`),
    confirmed with `confirm`."""
    event = fixture("delete-account.json")
    event["requestContext"]["authorizer"]["jwt"]["claims"].update(sub=account, email=f"{account}@example.com")
    event["body"] = json.dumps({"confirm": confirm})
    return event


def delete(port: int, account: str, tmp_path: Path, confirm: str | None = None) -> tuple[int, dict]:
    """`DELETE /v1/account` as `account`, confirmed with its id unless told otherwise."""
    return invoke_http(port, "account", deletion_event(account, confirm or account), tmp_path)


def record_usage_now(port: int, account: str, event_id: str, micros: int, tmp_path: Path) -> dict:
    """`micros` of usage a minute ago for `account`, through the usage function; its answer."""
    template = fixture("sqs-usage-good.json")["Records"][0]
    at = datetime.now(timezone.utc) - timedelta(minutes=1)
    body = {"id": event_id, "account_id": account, "amount_micros": micros,
            "occurred_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "description": "tokens"}
    result = invoke_raw(port, "usage", {"Records": [{**template, "messageId": event_id,
                                                     "body": json.dumps(body)}]}, tmp_path)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def buy_credits(port: int, account: str, cents: int, tmp_path: Path) -> None:
    """Buys `cents` of credits for `account` through the credits function."""
    event = fixture("post-credit-purchase-buyer.json")
    event["requestContext"]["authorizer"]["jwt"]["claims"].update(sub=account, email=f"{account}@example.com")
    event["headers"]["idempotency-key"] = f"{account}-credits"
    event["body"] = json.dumps({"amount": cents, "currency": "usd"})
    status, purchase = invoke_http(port, "credits", event, tmp_path)
    assert (status, purchase["status"]) == (201, "succeeded"), purchase


def account_record(stand: Stand, account: str) -> dict:
    item = stand.item(f"ACCOUNT#{account}", "ACCOUNT")
    assert item, f"no account item for {account}"
    return item["record"]["M"]


def stripe_object(stand: Stand, path: str) -> dict | None:
    """A Stripe object, or None when Stripe answers 404."""
    try:
        return stand.stripe_get(path)
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return None
        raise


def succeeded_invoice_payments(stand: Stand, account: str) -> int:
    """The cents of every succeeded PaymentIntent that paid an invoice of `account` (its
    metadata names the account and an `in_` reference; purchases of credits are `cp_`)."""
    total, after = 0, None
    while True:
        page = stand.stripe_get("/v1/payment_intents?limit=100" + (f"&starting_after={after}" if after else ""))
        for intent in page["data"]:
            metadata = intent.get("metadata") or {}
            if (metadata.get("account_id") == account and str(metadata.get("reference", "")).startswith("in_")
                    and intent["status"] == "succeeded"):
                total += intent["amount"]
        if not page["has_more"]:
            return total
        after = page["data"][-1]["id"]


def invoices_paid(stand: Stand, account: str) -> int:
    """The sum of `amount_paid` (cents) of the account's invoices in the table."""
    items = stand.dynamodb.query(
        TableName="billing-lambda-test", ConsistentRead=True,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :invoice)",
        ExpressionAttributeValues={":pk": {"S": f"ACCOUNT#{account}"}, ":invoice": {"S": "INVOICE#"}},
    )["Items"]
    assert items, f"{account} has invoices"
    return sum(int(item["record"]["M"]["amount_paid"]["N"]) for item in items)


@dataclass
class Deletion:
    """What the deletion of ACCOUNT answered and what it was before."""

    status: int
    body: dict
    customer: str
    payment_methods: list[str]
    fingerprint: str
    stripe_requests: list[dict]


@pytest.fixture(scope="module")
def prepared(stand: Stand, credits_watch: int, tmp_path_factory: pytest.TempPathFactory) -> None:
    """ACCOUNT with its card, its credits bought, and usage beyond them."""
    tmp_path = tmp_path_factory.mktemp("account")
    card = put_card(credits_watch, ACCOUNT, CARD, tmp_path)
    assert card["last4"] == LAST4
    buy_credits(credits_watch, ACCOUNT, CREDITS_CENTS, tmp_path)
    assert record_usage_now(credits_watch, ACCOUNT, f"{ACCOUNT}-usage", USED, tmp_path) == {"batchItemFailures": []}
    assert stand.balance(ACCOUNT) == CREDITS_CENTS * 10_000 - USED


@pytest.fixture(scope="module")
def deleted(prepared: None, watch: int, stand: Stand, tmp_path_factory: pytest.TempPathFactory) -> Deletion:
    """ACCOUNT deleted once, with what named it at Stripe read beforehand and the Stripe
    requests the deletion made."""
    record = account_record(stand, ACCOUNT)
    customer = record["customer"]["S"]
    fingerprint = record["card"]["M"]["fingerprint"]["S"]
    methods = stand.stripe_get(f"/v1/payment_methods?customer={customer}&type=card")["data"]
    assert methods, "the card is attached to the customer"
    stand.stripe_calls_reset()

    status, body = delete(watch, ACCOUNT, tmp_path_factory.mktemp("deletion"))

    return Deletion(status, body, customer, [m["id"] for m in methods], fingerprint, stand.stripe_requests())


def test_a_confirmation_that_is_not_the_account_id_changes_nothing(
    watch: int, credits_watch: int, stand: Stand, tmp_path: Path
) -> None:
    put_card(credits_watch, MISMATCHED, "pm_card_visa", tmp_path)
    before = stand.item(f"ACCOUNT#{MISMATCHED}", "ACCOUNT")
    stand.stripe_calls_reset()

    # It names another account (ACCOUNT's id), not its own.
    status, body = invoke_http(watch, "account", "delete-account-mismatch.json", tmp_path)

    assert (status, body["error"]["code"]) == (400, "confirmation_mismatch")
    assert stand.item(f"ACCOUNT#{MISMATCHED}", "ACCOUNT") == before, "the account item is as it was"
    assert stand.stripe_requests() == [], "no Stripe request"
    assert stand.emails_to(f"{MISMATCHED}@example.com", CONFIRMATION) == []


def test_an_account_with_a_card_credits_and_usage_beyond_them_is_deleted_after_a_final_charge(
    deleted: Deletion, stand: Stand
) -> None:
    assert deleted.status == 200, deleted.body
    assert (deleted.body["status"], deleted.body["forfeited_credits"], deleted.body["currency"]) == \
        ("deleted", 0, "usd")
    final = deleted.body["final_invoice"]
    assert final and final.startswith("in_"), deleted.body
    charges = [r for r in deleted.stripe_requests if (r["method"], r["path"]) == ("POST", "/v1/payment_intents")]
    assert [r["idempotency_key"] for r in charges] == [f"invoice-{ACCOUNT}-{final}-1"], "one final charge"
    invoice = stand.item(f"ACCOUNT#{ACCOUNT}", f"INVOICE#{final}")["record"]["M"]
    assert (invoice["status"]["S"], int(invoice["amount_paid"]["N"])) == ("paid", OWED_CENTS)


def test_the_deleted_customer_is_gone_at_stripe_and_its_cards_detached(deleted: Deletion, stand: Stand) -> None:
    assert deleted.status == 200, deleted.body
    requests = [(r["method"], r["path"]) for r in deleted.stripe_requests]
    assert ("DELETE", f"/v1/customers/{deleted.customer}") in requests
    customer = stripe_object(stand, f"/v1/customers/{deleted.customer}")
    assert customer is None or customer.get("deleted") is True, customer
    for method in deleted.payment_methods:
        assert ("POST", f"/v1/payment_methods/{method}/detach") in requests
        assert stand.stripe_get(f"/v1/payment_methods/{method}")["customer"] is None, method


def test_one_confirmation_is_sent_to_the_address_captured_before_erasure(deleted: Deletion, stand: Stand) -> None:
    assert deleted.status == 200, deleted.body
    assert len(stand.emails_to(EMAIL, CONFIRMATION)) == 1


def test_a_scan_of_the_whole_table_finds_none_of_the_accounts_personal_data(deleted: Deletion, stand: Stand) -> None:
    assert deleted.status == 200, deleted.body
    items = stand.scan()
    everything = json.dumps(items)
    # The account's own items, wherever they are keyed: any item that names the account.
    its_own = json.dumps([item for item in items if ACCOUNT in json.dumps(item)])

    assert its_own, "the account's invoices and ledger are kept"
    for unique in [EMAIL, deleted.customer, deleted.fingerprint, *deleted.payment_methods]:
        assert unique not in everything, f"{unique} is still in the table"
    assert f'"{LAST4}"' not in its_own, "the card's last4 is still in an item of the account"
    assert '"pm_' not in its_own and '"pi_' not in its_own and "cus_" not in its_own
    record = account_record(stand, ACCOUNT)
    assert record["status"]["S"] == "deleted"
    assert record["email"] == {"NULL": True} and record["card"] == {"NULL": True}


def test_the_anonymised_invoices_still_add_up_to_what_stripe_charged(deleted: Deletion, stand: Stand) -> None:
    assert deleted.status == 200, deleted.body

    assert invoices_paid(stand, ACCOUNT) == succeeded_invoice_payments(stand, ACCOUNT) == OWED_CENTS


def test_the_same_deletion_again_answers_the_same_without_stripe_or_email(
    deleted: Deletion, watch: int, stand: Stand, tmp_path: Path
) -> None:
    assert deleted.status == 200, deleted.body
    stand.stripe_calls_reset()

    status, body = delete(watch, ACCOUNT, tmp_path)

    assert (status, body) == (deleted.status, deleted.body)
    assert stand.stripe_requests() == [], "no Stripe request"
    assert len(stand.emails_to(EMAIL, CONFIRMATION)) == 1, "no second email"


def test_the_old_token_gets_no_billing_data_afterwards(deleted: Deletion, credits_watch: int, tmp_path: Path) -> None:
    assert deleted.status == 200, deleted.body
    event = fixture("get-billing.json")
    event["requestContext"]["authorizer"]["jwt"]["claims"].update(sub=ACCOUNT, email=EMAIL)

    status, body = invoke_http(credits_watch, "cards", event, tmp_path)

    assert status == 200, body
    assert body["status"] == "deleted"
    assert (body["card"], body["balance"]["credits"], body["balance"]["outstanding"]) == (None, 0, 0)


def test_usage_for_the_deleted_account_is_refused_and_recorded(
    deleted: Deletion, credits_watch: int, stand: Stand, tmp_path: Path
) -> None:
    assert deleted.status == 200, deleted.body
    balance = stand.balance(ACCOUNT)

    answer = record_usage_now(credits_watch, ACCOUNT, f"{ACCOUNT}-late-usage", 1_000_000, tmp_path)

    assert answer == {"batchItemFailures": []}, "acknowledged, not sent again"
    refusal = stand.item(f"ACCOUNT#{ACCOUNT}", f"REFUSED#{ACCOUNT}-late-usage")
    assert refusal and refusal["record"]["M"]["reason"]["S"] == "account_deleted", refusal
    assert stand.balance(ACCOUNT) == balance == 0


def test_a_final_charge_that_declines_answers_402_and_erases_nothing(
    watch: int, credits_watch: int, stand: Stand, tmp_path: Path
) -> None:
    put_card(credits_watch, DECLINING, "pm_card_chargeCustomerFail", tmp_path)
    assert record_usage_now(credits_watch, DECLINING, f"{DECLINING}-usage", 12_340_000, tmp_path) == \
        {"batchItemFailures": []}
    customer = account_record(stand, DECLINING)["customer"]["S"]
    stand.stripe_calls_reset()

    status, body = delete(watch, DECLINING, tmp_path)

    assert (status, body["error"]["code"]) == (402, "card_declined"), body
    assert body["error"]["invoice"].startswith("in_"), body
    record = account_record(stand, DECLINING)
    assert record["status"]["S"] != "deleted"
    assert record["email"]["S"] == f"{DECLINING}@example.com"
    assert (record["customer"]["S"], record["card"]["M"]["last4"]["S"]) == (customer, "0341")
    requests = [(r["method"], r["path"]) for r in stand.stripe_requests()]
    assert not any(method == "DELETE" or path.endswith("/detach") for method, path in requests), requests
    assert stand.emails_to(f"{DECLINING}@example.com", CONFIRMATION) == []


def test_the_account_function_serves_delete_account_behind_the_jwt_authorizer() -> None:
    function = load_template()["Resources"]["AccountFunction"]

    events = function["Properties"]["Events"]

    assert function["Metadata"]["BuildProperties"]["Binary"] == "account"
    assert [(e["Type"], e["Properties"]["Method"], e["Properties"]["Path"]) for e in events.values()] == \
        [("HttpApi", "DELETE", "/v1/account")]
    assert all("Auth" not in e["Properties"] for e in events.values()), "the API's default JWT authorizer"
    assert "AccountFunctionLogGroup" in load_template()["Resources"]


def test_the_account_function_may_use_only_what_a_deletion_needs() -> None:
    allowed = policy_actions("AccountFunction")

    assert sorted(allowed) == ["dynamodb:BatchGetItem", "dynamodb:ConditionCheckItem", "dynamodb:DeleteItem",
                               "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem",
                               "ses:SendEmail", "ssm:GetParameters"]
    assert len(allowed["ssm:GetParameters"]) == 2, "the Stripe key and the link key"
    assert template_variables("AccountFunction") == {
        "TABLE_NAME", "RUST_LOG", "STRIPE_SECRET_PARAMETER", "SENDER_EMAIL", "LINK_SECRET_PARAMETER",
        "PUBLIC_BASE_URL"}
