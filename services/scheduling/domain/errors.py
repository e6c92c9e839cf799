"""What the scheduling domain refuses; the edge maps each to a problem document once.

The same shape as registration's: a stable `slug` (the problem `type`), an HTTP-like
`status`, the text in English (the dead letter's reason), bokmål and nynorsk, and the field to
blame when one is. Texts name things (regions, municipalities, dates), not ids.
"""

from __future__ import annotations


class DomainError(Exception):
    """A rule says no (422)."""

    status = 422
    slug = "refused"

    def __init__(
        self,
        en: str,
        *,
        nb: str | None = None,
        nn: str | None = None,
        field: str | None = None,
        slug: str | None = None,
    ) -> None:
        super().__init__(en)
        self.en = en
        self.nb = nb
        self.nn = nn
        self.field = field
        if slug is not None:
            self.slug = slug


class NotFound(DomainError):
    status = 404
    slug = "not-found"


class Conflict(DomainError):
    """The current state stands in the way (409): full, double booked, cancelled, past."""

    status = 409
    slug = "conflict"
