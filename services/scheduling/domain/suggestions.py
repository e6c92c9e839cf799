"""Date suggestions: evenly spread days on chosen weekdays, clear of holidays.

A day is passed over, with the reason, when it is a Norwegian public holiday (the `holidays`
package), in the Christmas holiday (20 December to 2 January), in the Easter holiday (Monday
of Holy Week to Easter Monday), or in the usual autumn or winter holiday week of one of the
region's counties (a table an operator can replace, see reference/SOURCE.md).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from pathlib import Path

from dateutil.easter import easter
from holidays.countries.norway import Norway

from shared.contracts.errors import DomainError

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MAX_SPAN_DAYS = 400


@dataclass(frozen=True)
class HolidayWeeks:
    """Per county: the usual ISO weeks of høstferie and vinterferie."""

    autumn: dict[str, tuple[int, ...]]
    winter: dict[str, tuple[int, ...]]
    names: dict[str, str]

    @classmethod
    def load(cls, path: Path) -> HolidayWeeks:
        autumn: dict[str, tuple[int, ...]] = {}
        winter: dict[str, tuple[int, ...]] = {}
        names: dict[str, str] = {}
        with path.open(encoding="utf-8") as f:
            for row in csv.DictReader(f):
                county = row["fylkesnummer"].strip().zfill(2)
                names[county] = row["fylkesnavn"]
                autumn[county] = _weeks(row["hostferie_uke"], path)
                winter[county] = _weeks(row["vinterferie_uke"], path)
        return cls(autumn, winter, names)


def _weeks(cell: str, path: Path) -> tuple[int, ...]:
    """`41` or `8|9` (both weeks avoided)."""
    try:
        weeks = tuple(int(part) for part in cell.split("|") if part.strip())
    except ValueError as error:
        raise ValueError(f"{path}: not a week number: {cell!r}") from error
    if any(not 1 <= week <= 53 for week in weeks):
        raise ValueError(f"{path}: week out of range: {cell!r}")
    return weeks


class Why(StrEnum):
    PUBLIC_HOLIDAY = "public-holiday"
    CHRISTMAS = "christmas"
    EASTER = "easter"
    AUTUMN = "autumn-holiday"
    WINTER = "winter-holiday"
    TAKEN = "taken"


# Each reason in bokmål, nynorsk and English; {place}, {week} and {name} are filled in.
_TEXTS: dict[Why, dict[str, str]] = {
    Why.PUBLIC_HOLIDAY: {
        "nb": "helligdag: {name}",
        "nn": "heilagdag: {name}",
        "en": "public holiday: {name}",
    },
    Why.CHRISTMAS: {
        "nb": "juleferie (20. desember til 2. januar)",
        "nn": "juleferie (20. desember til 2. januar)",
        "en": "Christmas holiday (20 December to 2 January)",
    },
    Why.EASTER: {
        "nb": "påskeferie (mandag i den stille uke til 2. påskedag)",
        "nn": "påskeferie (måndag i den stille veka til 2. påskedag)",
        "en": "Easter holiday (Monday of Holy Week to Easter Monday)",
    },
    Why.AUTUMN: {
        "nb": "høstferie i {place} (uke {week})",
        "nn": "haustferie i {place} (veke {week})",
        "en": "autumn half-term in {place} (week {week})",
    },
    Why.WINTER: {
        "nb": "vinterferie i {place} (uke {week})",
        "nn": "vinterferie i {place} (veke {week})",
        "en": "winter half-term in {place} (week {week})",
    },
    Why.TAKEN: {
        "nb": "regionen har en annen samling den dagen",
        "nn": "regionen har ei anna samling den dagen",
        "en": "another gathering of the region that day",
    },
}


@dataclass(frozen=True)
class Reason:
    """Why a day was passed over; said in the reader's language by `text`."""

    why: Why
    place: str = ""  # a county, by name
    week: int = 0
    names: tuple[tuple[str, str], ...] = ()  # a public holiday's name per language

    def text(self, language: str = "nb") -> str:
        texts = _TEXTS[self.why]
        found = dict(self.names)
        name = found.get(language) or found.get("nb", "")
        return texts.get(language, texts["nb"]).format(place=self.place, week=self.week, name=name)


@dataclass(frozen=True)
class Skipped:
    day: date
    reasons: tuple[Reason, ...]


@dataclass(frozen=True)
class Suggestion:
    dates: tuple[date, ...]
    skipped: tuple[Skipped, ...]  # every candidate day (right weekday) passed over, and why


def public_holidays(years: Iterable[int], language: str = "no") -> Callable[[date], str | None]:
    """Norwegian public holidays by day (Sundays are not holidays here: weekdays decide);
    named in Norwegian (`no`) or English (`en_US`)."""
    # The package counts every Sunday as a holiday unless told not to; we want named days only.
    known = Norway(years=list(years), language=language, include_sundays=False)
    return lambda day: known.get(day)


def school_holiday_reasons(day: date, counties: Sequence[str], weeks: HolidayWeeks) -> list[Reason]:
    reasons: list[Reason] = []
    if (day.month, day.day) >= (12, 20) or (day.month, day.day) <= (1, 2):
        reasons.append(Reason(Why.CHRISTMAS))
    easter_sunday = easter(day.year)
    if easter_sunday - timedelta(days=6) <= day <= easter_sunday + timedelta(days=1):
        reasons.append(Reason(Why.EASTER))
    iso_week = day.isocalendar().week
    for county in counties:
        name = weeks.names.get(county, county)
        if iso_week in weeks.autumn.get(county, ()) and day.month >= 8:
            reasons.append(Reason(Why.AUTUMN, name, iso_week))
        if iso_week in weeks.winter.get(county, ()) and day.month <= 4:
            reasons.append(Reason(Why.WINTER, name, iso_week))
    return reasons


def suggest_dates(
    *,
    first: date,
    last: date,
    count: int,
    weekdays: Sequence[int],
    counties: Sequence[str],
    weeks: HolidayWeeks,
    taken: Iterable[date] = (),
) -> Suggestion:
    """`count` days in [first, last] on `weekdays` (0 = Monday), as evenly spread as the
    holidays allow; days in `taken` (already booked) are passed over too."""
    if last < first:
        raise DomainError(
            "the period ends before it starts",
            nb="Perioden slutter før den begynner.",
            nn="Perioden sluttar før han byrjar.",
            field="last",
        )
    if (last - first).days > MAX_SPAN_DAYS:
        raise DomainError(
            f"a period of at most {MAX_SPAN_DAYS} days, please",
            nb=f"Perioden kan være høyst {MAX_SPAN_DAYS} dager.",
            nn=f"Perioden kan vere høgst {MAX_SPAN_DAYS} dagar.",
            field="last",
        )
    if not 1 <= count <= 20:
        raise DomainError(
            "ask for 1 to 20 dates",
            nb="Be om 1 til 20 datoer.",
            nn="Be om 1 til 20 datoar.",
            field="count",
        )
    if not weekdays or any(not 0 <= w <= 6 for w in weekdays):
        raise DomainError(
            "weekdays are 0 (Monday) to 6 (Sunday), at least one",
            nb="Ukedagene er 0 (mandag) til 6 (søndag), minst én.",
            nn="Vekedagane er 0 (måndag) til 6 (sundag), minst éin.",
            field="weekdays",
        )
    years = range(first.year, last.year + 1)
    holiday, holiday_en = public_holidays(years), public_holidays(years, "en_US")
    busy = set(taken)
    free: list[date] = []
    skipped: list[Skipped] = []
    day = first
    while day <= last:
        if day.weekday() in weekdays:
            reasons = []
            if name := holiday(day):
                names = (("nb", name), ("nn", name), ("en", holiday_en(day) or name))
                reasons.append(Reason(Why.PUBLIC_HOLIDAY, names=names))
            reasons += school_holiday_reasons(day, counties, weeks)
            if day in busy:
                reasons.append(Reason(Why.TAKEN))
            if reasons:
                skipped.append(Skipped(day, tuple(reasons)))
            else:
                free.append(day)
        day += timedelta(days=1)
    if len(free) < count:
        span = f"{first:%d.%m.%Y} {{}} {last:%d.%m.%Y}"
        raise DomainError(
            f"only {len(free)} free days on those weekdays between {first} and {last}; "
            f"{count} asked",
            nb=f"Bare {len(free)} ledige dager på de ukedagene mellom {span.format('og')}; "
            f"{count} ønsket.",
            nn=f"Berre {len(free)} ledige dagar på dei vekedagane mellom {span.format('og')}; "
            f"{count} ønskte.",
            field="count",
            slug="too-few-free-days",
        )
    return Suggestion(tuple(spread(free, count, first, last)), tuple(skipped))


def spread(free: Sequence[date], count: int, first: date, last: date) -> list[date]:
    """Pick `count` of `free`, each nearest to evenly spaced targets across the period."""
    span = (last - first).days
    chosen: list[date] = []
    remaining = list(free)
    for i in range(count):
        target = first + timedelta(days=span * (2 * i + 1) / (2 * count))
        # Leave enough days after the pick for the picks still to come.
        still = count - i - 1
        pool = remaining[: len(remaining) - still] if still else remaining
        pool = [d for d in pool if not chosen or d > chosen[-1]]
        best = min(pool, key=lambda d: (abs((d - target).days), d))
        chosen.append(best)
        remaining = [d for d in remaining if d > best]
    return chosen
