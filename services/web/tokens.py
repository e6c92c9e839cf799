"""Person tokens: the person's role, name and branch, HMAC-signed, short-lived.

The services take them as `Authorization: Bearer <token>` when their
`KS_<SERVICE>_PERSON_TOKEN_SECRET` holds the same secret. The format: the payload JSON
`{"role", "name", "branch", "exp"}` base64url-encoded (no padding), a dot, and the base64url
HMAC-SHA256 of that payload part under the secret. Made here, server-side, for each call;
never handed to the browser.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue_person_token(secret: str, role: str, name: str, branch: str | None, ttl_s: int) -> str:
    payload = {"role": role, "name": name, "branch": branch, "exp": int(time.time()) + ttl_s}
    body = _b64(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    mac = hmac.new(secret.encode("utf-8"), body.encode("ascii"), hashlib.sha256).digest()
    return f"{body}.{_b64(mac)}"


def read_person_token(
    secret: str, token: str, now: float | None = None
) -> dict[str, object] | None:
    """The payload of a token signed under `secret` and not expired, else None (for tests and
    for checking that the two sides agree)."""
    body, _, mac = token.partition(".")
    try:
        expected = hmac.new(secret.encode("utf-8"), body.encode("ascii"), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _unb64(mac)):
            return None
        payload = json.loads(_unb64(body))
    except (ValueError, UnicodeError):
        return None
    if not isinstance(payload, dict) or payload.get("exp", 0) <= (now or time.time()):
        return None
    return payload
