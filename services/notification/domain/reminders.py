"""When reminders fall due, and whom a deadline reminder is for. Pure; no clock of its own."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class ReminderKind(StrEnum):
    INTEREST_DEADLINE = "interest_deadline"
    APPLICATION_DEADLINE = "application_deadline"
    GATHERING = "gathering"


TEMPLATES = {
    ReminderKind.INTEREST_DEADLINE: "reminder_interest_deadline",
    ReminderKind.APPLICATION_DEADLINE: "reminder_application_deadline",
    ReminderKind.GATHERING: "reminder_gathering",
}


@dataclass(frozen=True)
class Reminder:
    kind: ReminderKind
    subject: str  # the round, "round:county", or the gathering id
    version: str  # the deadline, or the gathering's sequence: a moved date is a new version
    days_before: int
    due_at: datetime


def plan(
    kind: ReminderKind,
    subject: str,
    version: str,
    moment: datetime,
    days_before: Iterable[int],
    *,
    now: datetime,
) -> list[Reminder]:
    """A reminder `days` before `moment` for each of `days_before`, if that is still ahead.

    A date set (or moved) so late that the reminder's time has passed gets none for that
    offset: a "7 days before" mail two days before would say something untrue.
    """
    found = []
    for days in sorted(set(days_before), reverse=True):
        due = moment - timedelta(days=days)
        if due > now:
            found.append(Reminder(kind, subject, version, days, due))
    return found


def branches_without_interest(
    boards: Mapping[str, str], registered: Iterable[str]
) -> dict[str, str]:
    """Boards (branch id -> contact person) whose branch has not registered for the round."""
    done = set(registered)
    return {branch: contact for branch, contact in boards.items() if branch not in done}


def unsubmitted(interested: Iterable[str], submitted: Iterable[str]) -> list[str]:
    """Municipalities a board named in its interest whose application is not submitted."""
    done = set(submitted)
    return sorted({n for n in interested if n not in done})
