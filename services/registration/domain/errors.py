"""What the registration domain refuses; the edge maps each to a problem document once.

Each error has a stable `slug` (the problem `type`), an HTTP-like `status`, the text in
English (the dead letter's reason) and, where written, in bokmål and nynorsk, and the field
to blame when one is.
"""

from __future__ import annotations


class DomainError(Exception):
    """A rule says no (422); the message says why, in words a caller can act on."""

    status = 422
    slug = "refused"

    def __init__(
        self, en: str, *, nb: str | None = None, nn: str | None = None, field: str | None = None
    ) -> None:
        super().__init__(en)
        self.en = en
        self.nb = nb
        self.nn = nn
        self.field = field


class NotFound(DomainError):
    status = 404
    slug = "not-found"


class Conflict(DomainError):
    """The current state stands in the way (409)."""

    status = 409
    slug = "conflict"


class Forbidden(DomainError):
    status = 403
    slug = "forbidden"
