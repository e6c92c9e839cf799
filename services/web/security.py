"""Sessions, CSRF, sign-in links and rate limits of the web front.

The session is a signed cookie (itsdangerous): who the person is (role, name, branch) and a
CSRF token; no token for the services is in it (they are made server-side per call, see
`tokens.py`). A sign-in link is a signed, timed value naming the address and a nonce; the
nonce is spent on use, so a link works once. Spent nonces and rate-limit counts live in this
process's memory: one replica, or sticky sign-in, until they move to a shared store.
"""

from __future__ import annotations

import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

SESSION_COOKIE = "ks_session"
LANGUAGE_COOKIE = "ks_lang"


@dataclass
class Person:
    role: str  # programme | county_board | observer (shared.runtime.auth.Role's values)
    name: str
    email: str
    branch: str | None = None


class Sessions:
    def __init__(self, secret: str, max_age_s: int) -> None:
        self.max_age_s = max_age_s
        self._serializer = URLSafeTimedSerializer(secret, salt="ks-web-session")

    def load(self, cookie: str | None) -> dict[str, Any]:
        if not cookie:
            return {}
        try:
            found = self._serializer.loads(cookie, max_age=self.max_age_s)
        except (BadSignature, SignatureExpired):
            return {}
        return found if isinstance(found, dict) else {}

    def dump(self, session: dict[str, Any]) -> str:
        return self._serializer.dumps(session)


def person_of(session: dict[str, Any]) -> Person | None:
    found = session.get("person")
    if not isinstance(found, dict):
        return None
    return Person(found["role"], found["name"], found["email"], found.get("branch"))


def new_csrf() -> str:
    return secrets.token_urlsafe(24)


def csrf_ok(session: dict[str, Any], given: str | None) -> bool:
    expected = session.get("csrf")
    return bool(expected and given) and secrets.compare_digest(str(expected), str(given))


class SignInLinks:
    """One-time, short-lived sign-in links."""

    def __init__(self, secret: str, ttl_s: int) -> None:
        self.ttl_s = ttl_s
        self._serializer = URLSafeTimedSerializer(secret, salt="ks-web-sign-in")
        self._spent: dict[str, float] = {}

    def make(self, email: str) -> str:
        return self._serializer.dumps({"email": email, "nonce": secrets.token_urlsafe(16)})

    def peek(self, token: str) -> str | None:
        """The address a valid, unspent link names, without spending it."""
        found = self._read(token)
        return found["email"] if found else None

    def spend(self, token: str) -> str | None:
        found = self._read(token)
        if not found:
            return None
        self._spent[found["nonce"]] = time.monotonic() + self.ttl_s
        return str(found["email"])

    def _read(self, token: str) -> dict[str, str] | None:
        now = time.monotonic()
        # A nonce need only be remembered as long as its link could still be valid.
        self._spent = {n: until for n, until in self._spent.items() if until > now}
        try:
            found = self._serializer.loads(token, max_age=self.ttl_s)
        except (BadSignature, SignatureExpired):
            return None
        if not isinstance(found, dict) or found.get("nonce") in self._spent:
            return None
        return found


@dataclass
class RateLimit:
    """At most `limit` events per key within `window_s` (a sliding window)."""

    limit: int
    window_s: float = 3600.0
    _seen: dict[str, deque[float]] = field(default_factory=dict)

    def allow(self, key: str) -> bool:
        now = time.monotonic()
        if len(self._seen) > 10_000:
            # Many addresses or clients: forget those with nothing left in the window.
            self._seen = {k: v for k, v in self._seen.items() if v and v[-1] > now - self.window_s}
        times = self._seen.setdefault(key, deque())
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if len(times) >= self.limit:
            return False
        times.append(now)
        return True


# No inline script or style anywhere; Designsystemet's icons are data: URIs in its CSS.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "connect-src 'self'"
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
