"""The local token path refused on Lambda, on every route of the card and credits functions:
each event carries a valid HS256 token in `Authorization` (signed with billing-local's default
secret, as its banner prints it) and no authorizer claims, and each answers 401
`unauthenticated` (PRODUCT.md, "Local run": on Lambda only the API Gateway authorizer's claims
count). The card function's `GET /v1/billing` is also in test_cards_lambda.py; the account
function's deletion in test_account_lambda.py refuses claims-less events the same way.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path

import pytest

from conftest import fixture, invoke_http

LOCAL_SECRET = b"local-dev-secret"


def local_token(sub: str) -> str:
    """An HS256 JWT as billing-local signs it."""
    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()
    signing_input = f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part({'sub': sub, 'email': f'{sub}@example.com'})}"
    signature = hmac.new(LOCAL_SECRET, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


ROUTES = [
    ("cards", "get-billing.json"),
    ("cards", "put-card-visa-buyer.json"),
    ("cards", "delete-card.json"),
    ("cards", "post-setup-intent.json"),
    ("credits", "post-credit-purchase-buyer.json"),
    ("credits", "get-credit-purchase-buyer.json"),
    ("credits", "get-invoices-buyer.json"),
]


@pytest.mark.parametrize(("function", "event_fixture"), ROUTES)
def test_a_valid_local_token_without_authorizer_claims_is_refused_on_every_route(
    credits_watch: int, tmp_path: Path, function: str, event_fixture: str
) -> None:
    event = fixture(event_fixture)
    account = event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"]
    del event["requestContext"]["authorizer"]
    event["headers"]["authorization"] = f"Bearer {local_token(account)}"

    status, body = invoke_http(credits_watch, function, event, tmp_path)

    assert (status, body["error"]["code"]) == (401, "unauthenticated"), body
