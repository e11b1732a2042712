"""schemathesis hooks for scripts/openapi-conformance.

`POST /v1/webhooks/stripe` authenticates its caller by `Stripe-Signature`, an HMAC of the
exact body bytes. Unsigned, every generated case would stop at `400 invalid_signature` and
never reach the event parser or the handler. This hook serialises the generated body itself,
sends exactly those bytes, and signs them with the server's webhook secret
(`BILLING_LOCAL_STRIPE_WEBHOOK_SECRET`, which the script sets), so the cases reach the code
past the signature. The refusals of unsigned, forged, tampered and stale events are tested in
tests/e2e/security.rs and tests/e2e/webhooks.rs.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time

import schemathesis

WEBHOOK_PATH = "/v1/webhooks/stripe"


@schemathesis.hook
def before_call(context, case, kwargs):
    if case.path != WEBHOOK_PATH or case.method.upper() != "POST":
        return
    body = case.body
    if isinstance(body, (bytes, str)) or type(body).__name__ == "NotSet":
        return
    try:
        payload = json.dumps(body, allow_nan=False).encode()
    except (TypeError, ValueError):
        return
    secret = os.environ["BILLING_LOCAL_STRIPE_WEBHOOK_SECRET"].encode()
    timestamp = str(int(time.time()))
    digest = hmac.new(secret, timestamp.encode() + b"." + payload, hashlib.sha256).hexdigest()
    kwargs["data"] = payload
    case.headers = {**(case.headers or {}), "Stripe-Signature": f"t={timestamp},v1={digest}",
                    "Content-Type": "application/json"}
