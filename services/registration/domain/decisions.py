"""Programme management's decisions, capacity per region and the wait-list."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from services.registration.domain.interest import DomainError

SUBMITTED = "submitted"
ADMITTED = "admitted"
WAITLISTED = "waitlisted"
DECLINED = "declined"
WITHDRAWN = "withdrawn"
DRAFT = "draft"

# From which status each decision may be taken.
ALLOWED_FROM = {
    ADMITTED: {SUBMITTED, WAITLISTED},
    WAITLISTED: {SUBMITTED},
    DECLINED: {SUBMITTED, WAITLISTED},
    WITHDRAWN: {SUBMITTED, WAITLISTED, ADMITTED},
}


class NotAllowedNow(DomainError):
    pass


class CapacityFull(DomainError):
    pass


def require_transition(current: str, target: str, municipality: str) -> None:
    if current not in ALLOWED_FROM[target]:
        raise NotAllowedNow(
            f"the application of {municipality} is {current}; it cannot be {target}"
        )


def require_place(capacity: int | None, admitted: int, region: str) -> None:
    if capacity is not None and admitted >= capacity:
        raise CapacityFull(
            f"region {region} has all its {capacity} places taken; wait-list the application instead"
        )


@dataclass(frozen=True)
class Waiting:
    municipality_number: str
    sequence: int  # the order in which they were wait-listed


def first_in_line(waiting: Sequence[Waiting]) -> Waiting | None:
    return min(waiting, key=lambda w: w.sequence, default=None)
