"""Signed answer links: an invitee answers their own invitation without an account.

A token names one invitation and when it stops being valid, signed with HMAC-SHA256 under a
secret that the service that writes the mail (notification) and the one that records the
answer (scheduling) share. Nothing personal is in it: an invitation id and a time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime
from uuid import UUID


class InvalidAnswerLink(ValueError):
    """Not a token we signed, altered, or expired."""


def _mac(secret: str, payload: str) -> str:
    digest = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign(invitation_id: UUID, expires_at: datetime, secret: str) -> str:
    """`<invitation id hex>.<expiry, unix seconds>.<signature>`: URL-safe as it stands."""
    if not secret:
        raise ValueError("an answer link needs a secret")
    payload = f"{invitation_id.hex}.{int(expires_at.timestamp())}"
    return f"{payload}.{_mac(secret, payload)}"


def verify(token: str, secret: str, now: datetime) -> UUID:
    """The invitation id of a valid token; `InvalidAnswerLink` says what is wrong."""
    parts = token.split(".")
    if not secret or len(parts) != 3:
        raise InvalidAnswerLink("not an answer link")
    raw_id, raw_expiry, signature = parts
    if not hmac.compare_digest(_mac(secret, f"{raw_id}.{raw_expiry}"), signature):
        raise InvalidAnswerLink("the link's signature does not match")
    try:
        invitation_id = UUID(hex=raw_id)
        expires_at = datetime.fromtimestamp(int(raw_expiry), UTC)
    except (ValueError, OverflowError, OSError) as error:
        raise InvalidAnswerLink("not an answer link") from error
    if now >= expires_at:
        raise InvalidAnswerLink("the link has expired")
    return invitation_id
