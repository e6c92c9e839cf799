"""When reminders fall due, and what one plans when it does. Pure; no clock of its own."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from services.notification.domain.messages import (
    Board,
    Gathering,
    InvitationTarget,
    Places,
    PlannedMail,
    mails_for_gathering,
    person,
)


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


# --- what a reminder falling due plans ----------------------------------------------------------


def deadline_kind(kind: str) -> ReminderKind:
    """The reminder of a deadline of registration's kind ("interest" or "application")."""
    return (
        ReminderKind.INTEREST_DEADLINE if kind == "interest" else ReminderKind.APPLICATION_DEADLINE
    )


def deadline_subject(kind: str, round_id: str, county_number: str | None) -> str:
    """An interest deadline is the round's; an application deadline the county's in it."""
    return round_id if kind == "interest" else f"{round_id}:{county_number}"


@dataclass(frozen=True)
class Due:
    """A reminder that fell due, as the worker claimed it."""

    id: str
    kind: ReminderKind
    subject: str
    days_before: int

    @property
    def key(self) -> str:
        """The mails of one reminder are planned once, under its own key."""
        return f"reminder:{self.id}"


@dataclass(frozen=True)
class Deadline:
    deadline: date
    closes_at: datetime


def gathering_reminders(
    due: Due,
    gathering: Gathering,
    targets: Sequence[InvitationTarget],
    *,
    board_of: Mapping[str, Board],
    places: Places,
) -> list[PlannedMail]:
    """Everyone still invited; a plain letter: the invitation already put it in the calendar."""
    mails = mails_for_gathering(
        TEMPLATES[due.kind],
        gathering,
        targets,
        board_of=board_of,
        method="REQUEST",
        places=places,
        days_before=due.days_before,
    )
    return [
        PlannedMail(
            m.recipient_key,
            m.template,
            {k: v for k, v in m.context.items() if k != "calendar"},
            person_id=m.person_id,
            reminder=True,
        )
        for m in mails
    ]


def interest_deadline_reminders(
    due: Due, deadline: Deadline, *, boards: Sequence[Board], registered: Iterable[str]
) -> list[PlannedMail]:
    """The boards whose branch has not registered interest in the round yet."""
    by_branch = {b.branch_id: b for b in boards}
    waiting = branches_without_interest(
        {b: board.person_id for b, board in by_branch.items()}, registered
    )
    return [
        person(
            person_id,
            TEMPLATES[due.kind],
            {
                "days_before": due.days_before,
                "round_id": due.subject,
                "branch_name": by_branch[branch_id].branch_name,
                "deadline": deadline.deadline.isoformat(),
                "closes_at": deadline.closes_at.isoformat(),
            },
            reminder=True,
        )
        for branch_id, person_id in sorted(waiting.items())
    ]


def application_deadline_reminders(
    due: Due,
    deadline: Deadline,
    *,
    board: Board,
    interest: Mapping[str, Sequence[str]],
    submitted: Iterable[str],
    places: Places,
) -> list[PlannedMail]:
    """The county's board, naming the municipalities it put forward that have not applied."""
    round_id, county = due.subject.split(":", 1)
    named = [n for numbers in interest.values() for n in numbers if n.startswith(county)]
    missing = unsubmitted(named, submitted)
    if not missing:
        return []
    context = {
        "days_before": due.days_before,
        "round_id": round_id,
        "county_name": places.county(county),
        "branch_name": board.branch_name,
        "deadline": deadline.deadline.isoformat(),
        "closes_at": deadline.closes_at.isoformat(),
        "municipalities": places.municipalities(missing),
    }
    return [person(board.person_id, TEMPLATES[due.kind], context, reminder=True)]


def without_opted_out(mails: Sequence[PlannedMail], opted_out: Iterable[str]) -> list[PlannedMail]:
    """Opting out of reminders is honoured here; mandatory messages never ask."""
    out = set(opted_out)
    return [m for m in mails if m.person_id not in out]
