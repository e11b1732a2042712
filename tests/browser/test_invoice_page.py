"""The authorization page of an invoice as billing-local serves it (the simulated bank), in
Chromium: the link in the email the monthly charge sends opens the page, authorizing pays the
invoice once and makes the account active again; an expired or changed link shows its page and
changes nothing."""

from __future__ import annotations

import re

from playwright.sync_api import Page
from support import Server
from test_authorize_page import call, mails_to, new_account

# December 2026 has ended, and its usage arrives before its charge date; the trigger that
# charges December 2026.
NOW = "2027-01-02T12:00:00Z"
DECEMBER_CHARGE = {"detail-type": "Scheduled Event", "source": "aws.scheduler", "time": "2027-01-03T03:00:00Z"}


def set_clock(server: Server, now: str) -> None:
    status, body = call(server, "POST", "/_local/clock", body={"now": now})
    assert status == 200, body


def invoice_waiting_for_the_bank(server: Server, account: str) -> str:
    """A card whose bank always asks, 25.00 USD of December usage, the monthly charge; returns
    the link of the email it sent."""
    set_clock(server, NOW)
    status, card = call(server, "PUT", "/v1/billing/card", account, {"payment_method": "pm_card_authenticationRequired"})
    assert status == 200, card
    event = {"id": f"{account}-u1", "account_id": account, "amount_micros": 25_000_000,
             "occurred_at": "2026-12-10T10:00:00Z", "description": "tokens"}
    status, body = call(server, "POST", "/_local/usage", body=event)
    assert status == 200, body
    status, summary = call(server, "POST", "/_local/events/monthly-charge", body=DECEMBER_CHARGE)
    assert status == 200, summary
    assert invoice(server, account)["status"] == "requires_authorization"
    mails = mails_to(server, account)
    assert len(mails) == 1, mails
    found = re.search(rf"{re.escape(server.base)}/authorize/\S+", mails[0]["text"])
    assert found, mails[0]
    return found.group(0)


def invoice(server: Server, account: str) -> dict:
    status, body = call(server, "GET", "/v1/billing/invoices/in_202612", account)
    assert status == 200, body
    return body


def billing_status(server: Server, account: str) -> str:
    status, body = call(server, "GET", "/v1/billing", account)
    assert status == 200, body
    return body["status"]


def test_an_invoice_authorized_from_the_email_link_is_paid_once_and_the_account_is_active(page: Page, local: Server) -> None:
    account = new_account()
    link = invoice_waiting_for_the_bank(local, account)
    assert billing_status(local, account) == "past_due"

    page.goto(link)
    assert page.get_by_text("Your bank asks you to confirm a payment of 25.00 USD").is_visible()
    assert page.get_by_text("Invoice for December 2026").is_visible()
    page.get_by_role("button", name="Authorize").click()

    page.get_by_role("heading", name="Payment complete").wait_for()
    assert "25.00 USD for Invoice for December 2026 has been paid." in page.inner_text("main")
    paid = invoice(local, account)
    assert (paid["status"], paid["amount_paid"]) == ("paid", 2500), paid
    assert "authorization_url" not in paid
    assert billing_status(local, account) == "active"
    # The link again: the outcome, no question; answering again pays nothing more.
    page.goto(link)
    assert page.get_by_role("heading", name="Payment complete").is_visible()
    assert page.get_by_role("button").count() == 0
    again = page.request.post(link, form={"answer": "approve"})
    assert again.status == 200, again.text()
    receipts = [m for m in mails_to(local, account) if m["subject"].startswith("Receipt")]
    assert len(receipts) == 1, receipts


def test_a_changed_invoice_link_is_not_valid_and_changes_nothing(page: Page, local: Server) -> None:
    account = new_account()
    link = invoice_waiting_for_the_bank(local, account)
    changed = link[:-1] + ("A" if link[-1] != "A" else "B")

    response = page.goto(changed)

    assert response is not None and response.status == 400
    assert page.get_by_role("heading", name="This link is not valid").is_visible()
    assert page.get_by_role("button").count() == 0
    answered = page.request.post(changed, form={"answer": "approve"})
    assert answered.status == 400
    assert invoice(local, account)["status"] == "requires_authorization"
    assert billing_status(local, account) == "past_due"
    assert len(mails_to(local, account)) == 1


def test_an_invoice_link_older_than_fourteen_days_has_expired_and_changes_nothing(page: Page, local: Server) -> None:
    account = new_account()
    link = invoice_waiting_for_the_bank(local, account)
    set_clock(local, "2027-01-17T00:00:00Z")  # the link was signed for 14 days from NOW
    try:
        response = page.goto(link)

        assert response is not None and response.status == 410
        assert page.get_by_role("heading", name="This link has expired").is_visible()
        assert page.get_by_role("button").count() == 0
        answered = page.request.post(link, form={"answer": "approve"})
        assert answered.status == 410
        waiting = invoice(local, account)
        assert waiting["status"] == "requires_authorization"
        # The API hands out a fresh link, valid from now.
        assert waiting["authorization_url"] != link
        assert len(mails_to(local, account)) == 1
    finally:
        set_clock(local, NOW)
