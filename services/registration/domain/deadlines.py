"""Deadlines: a date means the end of that day in Europe/Oslo, whatever the season."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from shared.contracts.errors import Conflict, DomainError

OSLO = ZoneInfo("Europe/Oslo")


class Late(DomainError):
    slug = "deadline-passed"


class NotOpenYet(DomainError):
    slug = "not-open-yet"


class InThePast(DomainError):
    slug = "date-in-the-past"


class NotClosedYet(Conflict):
    slug = "window-still-open"


def closes_at(deadline: date) -> datetime:
    """The first instant after the deadline day: midnight that starts the next day, in Oslo."""
    return datetime.combine(deadline + timedelta(days=1), time(0), tzinfo=OSLO)


def opens_at(first_day: date) -> datetime:
    return datetime.combine(first_day, time(0), tzinfo=OSLO)


def default_interest_deadline(round_id: str) -> date:
    """15 September of the year before the round starts, as in the invitation."""
    year = int(round_id)
    if not 2000 <= year <= 2200:
        raise DomainError(
            f"round {round_id} is not a programme year (2000-2200)",
            nb=f"Runde {round_id} er ikke et gyldig programår (2000-2200).",
            nn=f"Runde {round_id} er ikkje eit gyldig programår (2000-2200).",
            field="round_id",
        )
    return date(year - 1, 9, 15)


def require_before(deadline: date, now: datetime, what: str) -> None:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if now >= closes_at(deadline):
        raise Late(
            f"{what} closed at the end of {deadline:%d.%m.%Y} (Europe/Oslo)",
            nb=f"Fristen gikk ut ved slutten av {deadline:%d.%m.%Y} (norsk tid).",
            nn=f"Fristen gjekk ut ved slutten av {deadline:%d.%m.%Y} (norsk tid).",
        )


def require_not_past(deadline: date, now: datetime, what: str, field: str) -> None:
    """A deadline already over when it is set is most likely a typo."""
    if now >= closes_at(deadline):
        raise InThePast(
            f"{what}: {deadline:%d.%m.%Y} is already past; check the year",
            nb=f"Datoen {deadline:%d.%m.%Y} er allerede passert; sjekk årstallet.",
            nn=f"Datoen {deadline:%d.%m.%Y} er alt passert; sjekk årstalet.",
            field=field,
        )


def require_closed(deadline: date, now: datetime, county: str) -> None:
    """Decisions wait until the county's application window has closed."""
    if now < closes_at(deadline):
        raise NotClosedYet(
            f"the application window of county {county} is open until the end of "
            f"{deadline:%d.%m.%Y}; decide after it, or mark the decision early with a reason "
            "(early_reason)",
            nb=f"Søknadsfristen for fylke {county} er {deadline:%d.%m.%Y}. Vent til fristen har "
            "gått ut, eller oppgi hvorfor vedtaket gjøres tidlig (early_reason).",
            nn=f"Søknadsfristen for fylke {county} er {deadline:%d.%m.%Y}. Vent til fristen har "
            "gått ut, eller oppgje kvifor vedtaket vert gjort tidleg (early_reason).",
            field="early_reason",
        )


def require_open(first_day: date, deadline: date, now: datetime, what: str) -> None:
    if now < opens_at(first_day):
        raise NotOpenYet(
            f"{what} opens {first_day:%d.%m.%Y} (Europe/Oslo)",
            nb=f"Søknaden kan sendes fra {first_day:%d.%m.%Y}; et utkast kan lagres før det.",
            nn=f"Søknaden kan sendast frå {first_day:%d.%m.%Y}; eit utkast kan lagrast før det.",
        )
    require_before(deadline, now, what)


def require_later(previous: date, new: date) -> None:
    if new <= previous:
        raise DomainError(
            f"a deadline can only be extended: {new:%d.%m.%Y} is not after {previous:%d.%m.%Y}",
            nb=f"En frist kan bare forlenges: {new:%d.%m.%Y} er ikke etter {previous:%d.%m.%Y}.",
            nn=f"Ein frist kan berre forlengjast: {new:%d.%m.%Y} er ikkje etter "
            f"{previous:%d.%m.%Y}.",
            field="new_deadline",
        )
