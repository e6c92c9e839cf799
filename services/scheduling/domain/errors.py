"""What the domain refuses, by what kind of refusal it is; the edge maps each to 4xx once."""

from __future__ import annotations


class DomainError(Exception):
    """A rule says no (422)."""

    status = 422


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    """The current state stands in the way (409): full, double booked, cancelled, past."""

    status = 409
