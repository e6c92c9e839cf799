"""Gatherings in time: Oslo time, order of start and end, overlaps, capacity, sequence."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from shared.contracts.errors import Conflict, DomainError

OSLO = ZoneInfo("Europe/Oslo")


class Status(StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"


def in_oslo(moment: datetime) -> datetime:
    """The same instant on the programme's clock; a naive time is refused, not guessed."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise DomainError(
            f"{moment.isoformat()} has no time zone: give an offset",
            nb=f"{moment.isoformat()} mangler tidssone: oppgi tiden med forskyvning, f.eks. +01:00.",
            nn=f"{moment.isoformat()} manglar tidssone: oppgi tida med forskyving, t.d. +01:00.",
            field="starts_at",
        )
    return moment.astimezone(OSLO)


def oslo_time(day: date, at: time) -> datetime:
    """Wall-clock time `at` on `day` in Oslo, with that day's offset (CET or CEST)."""
    return datetime.combine(day, at, tzinfo=OSLO)


@dataclass(frozen=True)
class Slot:
    """A span of time, kept in UTC: Python compares and subtracts two datetimes of the same
    zone by their wall clocks, which is wrong across a DST change; UTC instants are not."""

    starts_at: datetime
    ends_at: datetime

    @classmethod
    def of(cls, starts_at: datetime, ends_at: datetime) -> Slot:
        start, end = in_oslo(starts_at).astimezone(UTC), in_oslo(ends_at).astimezone(UTC)
        if end <= start:
            ends, begins = in_oslo(end), in_oslo(start)
            raise DomainError(
                f"a gathering cannot end ({ends.isoformat()}) before it starts "
                f"({begins.isoformat()})",
                nb=f"En samling kan ikke slutte ({ends:%d.%m.%Y kl. %H:%M}) før den begynner "
                f"({begins:%d.%m.%Y kl. %H:%M}).",
                nn=f"Ei samling kan ikkje slutte ({ends:%d.%m.%Y kl. %H:%M}) før ho byrjar "
                f"({begins:%d.%m.%Y kl. %H:%M}).",
                field="ends_at",
                slug="ends-before-start",
            )
        return cls(start, end)

    @property
    def local_start(self) -> datetime:
        return self.starts_at.astimezone(OSLO)

    @property
    def local_end(self) -> datetime:
        return self.ends_at.astimezone(OSLO)

    @property
    def duration(self) -> timedelta:
        """Elapsed time: a gathering over the night clocks change counts its real hours."""
        return self.ends_at - self.starts_at

    def overlaps(self, other: Slot) -> bool:
        """Half-open intervals: one ending at 12:00 and the next starting at 12:00 do not."""
        return self.starts_at < other.ends_at and other.starts_at < self.ends_at


@dataclass(frozen=True)
class Gathering:
    """What the rules need of a gathering."""

    slot: Slot
    status: Status = Status.SCHEDULED
    sequence: int = 0
    capacity: int | None = None
    confirmed: int = 0  # yes answers

    def require_open(self, now: datetime) -> None:
        if self.status is Status.CANCELLED:
            raise Conflict(
                "the gathering is cancelled",
                nb="Samlingen er avlyst.",
                nn="Samlinga er avlyst.",
                field="gathering_id",
                slug="cancelled",
            )
        if self.slot.ends_at <= now:
            raise Conflict(
                "the gathering is over",
                nb="Samlingen er over.",
                nn="Samlinga er over.",
                field="gathering_id",
                slug="over",
            )

    def rescheduled(self, slot: Slot, capacity: int | None, now: datetime) -> Gathering:
        """Same gathering, new times: the sequence goes up (RFC 5545 SEQUENCE)."""
        self.require_open(now)
        new_capacity = capacity if capacity is not None else self.capacity
        check_capacity(new_capacity, self.confirmed)
        return replace(self, slot=slot, capacity=new_capacity, sequence=self.sequence + 1)

    def cancelled(self, now: datetime) -> Gathering:
        self.require_open(now)
        return replace(self, status=Status.CANCELLED, sequence=self.sequence + 1)

    def with_answer(self, was_yes: bool, is_yes: bool, now: datetime) -> Gathering:
        """An RSVP changes the count of seats taken; a yes beyond capacity is refused."""
        self.require_open(now)
        confirmed = self.confirmed - was_yes + is_yes
        if is_yes and not was_yes:
            check_capacity(self.capacity, confirmed)
        return replace(self, confirmed=confirmed)


def check_capacity(capacity: int | None, taken: int) -> None:
    if capacity is not None and taken > capacity:
        raise Conflict(
            f"capacity {capacity} is less than the {taken} seats it would need",
            nb=f"Kapasiteten {capacity} er mindre enn de {taken} plassene som trengs.",
            nn=f"Kapasiteten {capacity} er mindre enn dei {taken} plassane som trengst.",
            field="capacity",
            slug="capacity-full",
        )


def require_started(slot: Slot, now: datetime) -> None:
    """Attendance is a fact after the gathering has begun, not a plan."""
    if now < slot.starts_at:
        when = f"{slot.local_start:%d.%m.%Y kl. %H:%M}"
        raise Conflict(
            f"attendance can be recorded once the gathering has started ({when})",
            nb=f"Oppmøte kan registreres når samlingen har begynt ({when}).",
            nn=f"Oppmøte kan registrerast når samlinga har byrja ({when}).",
            field="gathering_id",
            slug="not-started",
        )


def clashes(slot: Slot, booked: list[Slot]) -> list[Slot]:
    """The booked slots `slot` would overlap (a supervisor cannot be in two places)."""
    return [other for other in booked if slot.overlaps(other)]


def current_round(
    gatherings: Iterable[tuple[str, datetime]], rounds: Mapping[str, str], now: datetime
) -> str | None:
    """The round a feed shows by default, from its gatherings' (round, end) and the rounds'
    states: the earliest round (registration opened it, not cancelled) with a gathering not
    yet over, the one under way; when none has, the latest such round with any."""
    ends: dict[str, datetime] = {}
    for round_id, ends_at in gatherings:
        if rounds.get(round_id, "cancelled") != "cancelled":
            ends[round_id] = max(ends_at, ends.get(round_id, ends_at))
    ahead = sorted(r for r, last in ends.items() if last > now)
    if ahead:
        return ahead[0]
    return max(ends) if ends else None
