"""The credits function as Lambda runs it: `cargo lambda watch` serves the real binary with
exactly the template's environment, and `cargo lambda invoke` sends it API Gateway v2 events
whose request context carries the JWT authorizer's claims (fixtures in events/). It buys
credits on localstripe, records them in a table on moto created from the template, and sends
the receipt through moto's SES. Shared set-up: conftest.py.
"""

from __future__ import annotations

import json
from pathlib import Path

from conftest import Stand, fixture, invoke_http, invoke_raw, policy_actions, template_variables

BUYER = "lambda-buyer-1"
# 25.00 USD in micro-USD, the ledger's unit.
CREDITED = 2_500 * 10_000


def test_a_purchase_with_a_good_card_succeeds_and_credits_once_with_one_receipt(
    credits_watch: int, stand: Stand, tmp_path: Path
) -> None:
    status, card = invoke_http(credits_watch, "cards", "put-card-visa-buyer.json", tmp_path)
    assert status == 200, card

    status, purchase = invoke_http(credits_watch, "credits", "post-credit-purchase-buyer.json", tmp_path)

    assert status == 201, purchase
    assert (purchase["status"], purchase["amount"], purchase["currency"]) == ("succeeded", 2_500, "usd")
    assert purchase["id"].startswith("cp_")
    assert stand.balance(BUYER) == CREDITED
    assert len(stand.receipts_to(f"{BUYER}@example.com")) == 1


def test_the_same_idempotency_key_replays_the_first_answer_and_charges_once(
    credits_watch: int, stand: Stand, tmp_path: Path
) -> None:
    status, first = invoke_http(credits_watch, "credits", "post-credit-purchase-buyer.json", tmp_path)
    assert status in (200, 201), first

    stand.stripe_calls_reset()

    again_status, again = invoke_http(credits_watch, "credits", "post-credit-purchase-buyer.json", tmp_path)

    assert (again_status, again) == (status, first)
    assert stand.stripe_calls("POST", "/v1/payment_intents") == 0, "no second charge"
    assert stand.balance(BUYER) == CREDITED
    assert len(stand.receipts_to(f"{BUYER}@example.com")) == 1


def test_the_purchase_reads_back_as_it_was_answered(credits_watch: int, tmp_path: Path) -> None:
    status, purchase = invoke_http(credits_watch, "credits", "post-credit-purchase-buyer.json", tmp_path)
    assert status in (200, 201), purchase
    event = fixture("get-credit-purchase-buyer.json")
    path = event["rawPath"].replace("__PURCHASE_ID__", purchase["id"])
    event["rawPath"] = event["requestContext"]["http"]["path"] = path

    status, read = invoke_http(credits_watch, "credits", event, tmp_path)

    assert status == 200, read
    assert read == purchase


def test_a_purchase_without_authorizer_claims_is_refused(credits_watch: int, tmp_path: Path) -> None:
    event = fixture("post-credit-purchase-buyer.json")
    del event["requestContext"]["authorizer"]

    status, body = invoke_http(credits_watch, "credits", event, tmp_path)

    assert (status, body["error"]["code"]) == (401, "unauthenticated")


def test_the_invoices_of_an_account_never_billed_are_an_empty_list_and_a_bad_limit_is_refused(
    credits_watch: int, tmp_path: Path
) -> None:
    status, listed = invoke_http(credits_watch, "credits", "get-invoices-buyer.json", tmp_path)
    bad = fixture("get-invoices-buyer.json")
    bad["rawQueryString"] = "limit=0"
    bad["queryStringParameters"] = {"limit": "0"}
    bad_status, refused = invoke_http(credits_watch, "credits", bad, tmp_path)

    assert (status, listed) == (200, {"data": [], "has_more": False})
    assert (bad_status, refused["error"]["code"], refused["error"]["param"]) == (400, "invalid_limit", "limit")


def test_the_credits_function_may_use_only_what_its_code_paths_need() -> None:
    allowed = policy_actions("CreditsFunction")

    assert sorted(allowed) == ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query",
                               "dynamodb:UpdateItem", "ses:SendEmail", "ssm:GetParameters"]
    assert len(allowed["ssm:GetParameters"]) == 2, "the Stripe key and the link secret"
    assert template_variables("CreditsFunction") == {
        "TABLE_NAME", "RUST_LOG", "STRIPE_SECRET_PARAMETER", "SENDER_EMAIL",
        "LINK_SECRET_PARAMETER", "PUBLIC_BASE_URL", "STRIPE_PUBLISHABLE_KEY"}


def test_a_3ds_purchase_links_to_its_stripe_js_page_which_opens_without_claims(
    credits_watch: int, tmp_path: Path
) -> None:
    status, card = invoke_http(credits_watch, "cards", "put-card-3ds-page.json", tmp_path)
    assert status == 200, card
    status, waiting = invoke_http(credits_watch, "credits", "post-credit-purchase-3ds-page.json", tmp_path)
    assert (status, waiting["status"]) == (201, "requires_action"), waiting
    url = waiting["next_action"]["url"]
    assert url.startswith("https://billing.example.com/authorize/"), url
    event = fixture("get-authorize-page.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = url.removeprefix("https://billing.example.com")

    result = invoke_raw(credits_watch, "credits", event, tmp_path)

    assert result.returncode == 0, result.stderr
    page = json.loads(result.stdout)
    assert page["statusCode"] == 200, page
    assert page["headers"]["content-type"].startswith("text/html")
    assert "pk_test_lambdalocal" in page["body"], "Stripe.js gets the publishable key"
    assert waiting["next_action"]["client_secret"] in page["body"]


def test_a_forged_authorization_link_is_refused(credits_watch: int, tmp_path: Path) -> None:
    event = fixture("get-authorize-page.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/authorize/not-a-signed-token"

    result = invoke_raw(credits_watch, "credits", event, tmp_path)

    assert result.returncode == 0, result.stderr
    page = json.loads(result.stdout)
    assert page["statusCode"] in (400, 403, 404), page
    assert "pk_test_lambdalocal" not in page.get("body", "")
