"""Deadlines: a date means the end of that day in Europe/Oslo, whatever the season."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from services.registration.domain.interest import DomainError

OSLO = ZoneInfo("Europe/Oslo")


class Late(DomainError):
    pass


class NotOpenYet(DomainError):
    pass


def closes_at(deadline: date) -> datetime:
    """The first instant after the deadline day: midnight that starts the next day, in Oslo."""
    return datetime.combine(deadline + timedelta(days=1), time(0), tzinfo=OSLO)


def opens_at(first_day: date) -> datetime:
    return datetime.combine(first_day, time(0), tzinfo=OSLO)


def default_interest_deadline(round_id: str) -> date:
    """15 September of the year before the round starts, as in the invitation."""
    return date(int(round_id) - 1, 9, 15)


def require_before(deadline: date, now: datetime, what: str) -> None:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if now >= closes_at(deadline):
        raise Late(f"{what} closed at the end of {deadline:%d.%m.%Y} (Europe/Oslo)")


def require_open(first_day: date, deadline: date, now: datetime, what: str) -> None:
    if now < opens_at(first_day):
        raise NotOpenYet(f"{what} opens {first_day:%d.%m.%Y} (Europe/Oslo)")
    require_before(deadline, now, what)


def require_later(previous: date, new: date) -> None:
    if new <= previous:
        raise DomainError(
            f"a deadline can only be extended: {new:%d.%m.%Y} is not after {previous:%d.%m.%Y}"
        )
