"""The authorization link format of functions/api/src/links.rs, written again from its
description: `v1.` + base64url(payload ‖ first 16 bytes of HMAC-SHA256(key, "v1." ‖ payload)),
payload = kind (1 purchase, 2 invoice) ‖ expiry (i64 big-endian seconds) ‖ account length ‖
account ‖ object id. Tests sign links with billing-local's link secret through it, so a change
of the format on one side only fails here."""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct

KINDS = {"purchase": 1, "invoice": 2}


def sign_link(key: str, kind: str, account: str, object_id: str, expires_at: int) -> str:
    payload = (
        bytes([KINDS[kind]])
        + struct.pack(">q", expires_at)
        + bytes([len(account)])
        + account.encode()
        + object_id.encode()
    )
    tag = hmac.new(key.encode(), b"v1." + payload, hashlib.sha256).digest()[:16]
    return "v1." + base64.urlsafe_b64encode(payload + tag).decode().rstrip("=")


def sign_jwt(secret: str, account: str, email: str) -> str:
    """An HS256 token as billing-local accepts it (claims `sub` and `email`)."""

    def encode(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    header = encode(b'{"alg":"HS256","typ":"JWT"}')
    claims = encode(f'{{"sub":"{account}","email":"{email}"}}'.encode())
    signature = hmac.new(secret.encode(), f"{header}.{claims}".encode(), hashlib.sha256).digest()
    return f"{header}.{claims}.{encode(signature)}"
