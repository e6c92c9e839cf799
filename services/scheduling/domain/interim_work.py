"""Mellomarbeid between samlinger: the rules, without I/O.

Programme management sets the work after a samling, due on a day before the next; each
admitted municipality's board marks it done with a report. Its state per municipality is
done, not done (still time) or overdue (the due day is over and no report).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from services.scheduling.domain.calendar import OSLO, Status
from shared.contracts.errors import DomainError
from shared.contracts.events.scheduling import GatheringKind


class InterimStatus(StrEnum):
    DONE = "done"
    NOT_DONE = "not_done"
    OVERDUE = "overdue"


def require_after_samling(
    kind: GatheringKind, status: Status, ends_at: datetime, due_on: date
) -> None:
    """Work follows a samling that takes place, and is due after it."""
    if kind != GatheringKind.SAMLING:
        raise DomainError(f"mellomarbeid follows a samling, not a {kind}")
    if status == Status.CANCELLED:
        raise DomainError("the samling was cancelled")
    if due_on <= ends_at.astimezone(OSLO).date():
        raise DomainError(
            f"the due date {due_on.isoformat()} must be after the samling "
            f"({ends_at.astimezone(OSLO).date().isoformat()})"
        )


def is_late(due_on: date, at: datetime) -> bool:
    """After the end of the due day in Oslo."""
    return at.astimezone(OSLO).date() > due_on


def status_of(due_on: date, reported_at: datetime | None, now: datetime) -> InterimStatus:
    if reported_at is not None:
        return InterimStatus.DONE
    return InterimStatus.OVERDUE if is_late(due_on, now) else InterimStatus.NOT_DONE
