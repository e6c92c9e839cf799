"""What a service's domain refuses, in one shape for every service.

A refusal has a stable `slug` (the problem document's `type`, which a client may act on), an
HTTP-like `status`, the text in English (a dead letter's reason) and in bokmål and nynorsk
(bokmål stands in for a missing nynorsk), and the field to blame when there is one. Texts
name things (regions, municipalities, dates), not ids. The edge maps a refusal once: to a
problem document over HTTP in the caller's language (`shared.runtime.problems.refusal`), to a
dead letter with its reason from Kafka.
"""

from __future__ import annotations


class DomainError(Exception):
    """A rule says no (422); the message says why, in words a caller can act on."""

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


class Forbidden(DomainError):
    """The caller may not act on this (403): another county's branch, say."""

    status = 403
    slug = "forbidden"
