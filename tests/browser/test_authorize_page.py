"""The authorization page as billing-local serves it (the simulated bank), in Chromium: links
that are expired or changed show their page and change nothing, and a purchase the bank asks
about is authorized, or declined, in the browser and settles exactly once."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from datetime import datetime
from typing import Any

import pytest
from links import sign_jwt, sign_link
from playwright.sync_api import Page
from support import JWT_SECRET, LINK_SECRET, Server


def call(server: Server, method: str, path: str, account: str | None = None, body: Any = None) -> tuple[int, Any]:
    """A request; the status and the JSON body (or the text of a page)."""
    request = urllib.request.Request(server.base + path, method=method)
    if account is not None:
        request.add_header("Authorization", f"Bearer {sign_jwt(JWT_SECRET, account, email(account))}")
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, data, timeout=30) as response:
            return response.status, parse(response.read())
    except urllib.error.HTTPError as error:
        return error.code, parse(error.read())


def parse(raw: bytes) -> Any:
    try:
        return json.loads(raw or b"null")
    except ValueError:
        return raw.decode()


def email(account: str) -> str:
    return f"{account}@example.com"


def new_account() -> str:
    return f"browser-{uuid.uuid4().hex[:12]}"


def local_now(server: Server) -> int:
    status, body = call(server, "GET", "/_local/clock")
    assert status == 200, body
    return int(datetime.fromisoformat(body["now"].replace("Z", "+00:00")).timestamp())


def mails_to(server: Server, account: str) -> list[dict]:
    status, body = call(server, "GET", "/_local/outbox")
    assert status == 200, body
    messages = body if isinstance(body, list) else body["data"]
    return [m for m in messages if m["to"] == email(account)]


def credits(server: Server, account: str) -> int:
    status, body = call(server, "GET", "/v1/billing", account)
    assert status == 200, body
    return body["balance"]["credits"]


def purchase_needing_authentication(server: Server, account: str) -> dict:
    """A card whose bank always asks, and a 25.00 USD purchase with it."""
    status, card = call(server, "PUT", "/v1/billing/card", account, {"payment_method": "pm_card_authenticationRequired"})
    assert status == 200, card
    status, purchase = call(server, "POST", "/v1/billing/credit-purchases", account, {"amount": 2500, "currency": "usd"})
    assert status == 201, purchase
    assert purchase["status"] == "requires_action", purchase
    assert purchase["next_action"]["url"].startswith(f"{server.base}/authorize/"), purchase
    return purchase


@pytest.fixture(autouse=True)
def page_is_mounted(local: Server) -> None:
    """billing-local mounts the page once the purchase flow's `Authorizations` is wired in
    (functions/local); until then every test here is reported as skipped, never as passed."""
    status, body = call(local, "GET", "/authorize/probe")
    if status == 404 and isinstance(body, dict) and body.get("error", {}).get("code") == "route_not_found":
        pytest.skip("billing-local does not mount /authorize/ yet (needs the purchase flow's Authorizations)")


def test_an_expired_link_shows_that_it_has_expired_and_changes_nothing(page: Page, local: Server) -> None:
    account = new_account()
    token = sign_link(LINK_SECRET, "purchase", account, "cp_expired1", local_now(local) - 60)

    response = page.goto(f"{local.base}/authorize/{token}")

    assert response is not None and response.status == 410
    assert page.get_by_role("heading", name="This link has expired").is_visible()
    assert page.get_by_role("button").count() == 0
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert call(local, "GET", "/v1/billing", account)[1]["purchase_in_flight"] is False


def test_a_tampered_link_is_not_valid_and_changes_nothing(page: Page, local: Server) -> None:
    account = new_account()
    token = sign_link(LINK_SECRET, "purchase", account, "cp_tampered1", local_now(local) + 3600)
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    foreign = sign_link("not-the-local-secret", "purchase", account, "cp_tampered1", local_now(local) + 3600)

    for link in (tampered, foreign, "v1.garbage"):
        response = page.goto(f"{local.base}/authorize/{link}")

        assert response is not None and response.status == 400, link
        assert page.get_by_role("heading", name="This link is not valid").is_visible()
        assert page.get_by_role("button").count() == 0


def test_a_genuine_link_to_no_purchase_is_not_found(page: Page, local: Server) -> None:
    token = sign_link(LINK_SECRET, "purchase", new_account(), "cp_nothing1", local_now(local) + 3600)

    response = page.goto(f"{local.base}/authorize/{token}")

    assert response is not None and response.status == 404
    assert page.get_by_role("heading", name="No payment to confirm").is_visible()


def test_a_purchase_authorized_in_the_browser_settles_once(page: Page, local: Server) -> None:
    account = new_account()
    purchase = purchase_needing_authentication(local, account)
    before = credits(local, account)

    page.goto(purchase["next_action"]["url"])
    page.reload()  # opening the link again changes nothing
    assert page.get_by_text("Your bank asks you to confirm a payment of 25.00 USD").is_visible()
    page.get_by_role("button", name="Authorize").click()

    page.get_by_role("heading", name="Payment complete").wait_for()
    status, settled = call(local, "GET", f"/v1/billing/credit-purchases/{purchase['id']}", account)
    assert (status, settled["status"]) == (200, "succeeded")
    assert credits(local, account) == before + 2500
    # The link again, once settled: the outcome, no question, no second credit.
    page.goto(purchase["next_action"]["url"])
    assert page.get_by_role("heading", name="Payment complete").is_visible()
    assert page.get_by_role("button").count() == 0
    assert credits(local, account) == before + 2500
    # Answering again, either way, changes nothing either.
    for answer in ("approve", "decline"):
        again = page.request.post(purchase["next_action"]["url"], form={"answer": answer})
        assert again.status == 200, again.text()
        assert "Payment complete" in again.text()
    assert credits(local, account) == before + 2500
    receipts = mails_to(local, account)
    assert len(receipts) == 1, receipts


def test_a_purchase_declined_in_the_browser_fails_and_credits_nothing(page: Page, local: Server) -> None:
    account = new_account()
    purchase = purchase_needing_authentication(local, account)
    before = credits(local, account)

    page.goto(purchase["next_action"]["url"])
    page.get_by_role("button", name="Decline").click()

    page.get_by_role("heading", name="Payment failed").wait_for()
    status, failed = call(local, "GET", f"/v1/billing/credit-purchases/{purchase['id']}", account)
    assert (status, failed["status"]) == (200, "failed")
    assert credits(local, account) == before
    assert mails_to(local, account) == []
    # A declined purchase never blocks the next one.
    status, next_purchase = call(local, "POST", "/v1/billing/credit-purchases", account, {"amount": 2500, "currency": "usd"})
    assert status == 201, next_purchase
