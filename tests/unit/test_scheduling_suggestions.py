"""Date suggestions: spread evenly, clear of public and school holidays, each skip explained."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from services.scheduling.domain.regions import REFERENCE_DIR, Regions
from services.scheduling.domain.suggestions import (
    HolidayWeeks,
    public_holidays,
    school_holiday_reasons,
    suggest_dates,
)
from shared.contracts.errors import DomainError

pytestmark = pytest.mark.unit

TUESDAY, WEDNESDAY, THURSDAY = 1, 2, 3


@pytest.fixture(scope="module")
def weeks() -> HolidayWeeks:
    return HolidayWeeks.load(REFERENCE_DIR / "skoleferie-uker.csv")


def reasons_for(suggestion_skipped: object, day: date, lang: str = "nb") -> tuple[str, ...]:
    for skipped in suggestion_skipped:  # type: ignore[attr-defined]
        if skipped.day == day:
            return tuple(r.text(lang) for r in skipped.reasons)
    return ()


def said(day: date, weeks: HolidayWeeks, lang: str = "nb") -> list[str]:
    return [r.text(lang) for r in school_holiday_reasons(day, [], weeks)]


def test_the_shipped_table_covers_every_county_of_every_region(weeks: HolidayWeeks) -> None:
    counties = {c for r in Regions.load().by_id.values() for c in r.county_numbers}
    assert counties <= set(weeks.autumn) and counties <= set(weeks.winter)
    assert weeks.autumn["46"] == (41,) and weeks.winter["46"] == (8, 9)  # both weeks avoided


def test_public_holidays_are_named_and_sundays_are_not_holidays_by_themselves() -> None:
    holiday = public_holidays([2031])
    assert holiday(date(2031, 5, 17)) == "Grunnlovsdag"
    assert holiday(date(2031, 4, 10)) == "Skjærtorsdag"  # Easter 2031 is 13 April
    assert holiday(date(2031, 5, 22)) == "Kristi himmelfartsdag"
    assert holiday(date(2031, 3, 2)) is None  # an ordinary Sunday


def test_christmas_and_easter_follow_the_calendar(weeks: HolidayWeeks) -> None:
    assert said(date(2030, 12, 20), weeks) == ["juleferie (20. desember til 2. januar)"]
    assert said(date(2031, 1, 2), weeks, "en") == ["Christmas holiday (20 December to 2 January)"]
    assert school_holiday_reasons(date(2031, 1, 3), [], weeks) == []
    # Easter 2031: 13 April. Holy Week's Monday (7 April) to Easter Monday (14 April).
    assert said(date(2031, 4, 7), weeks, "nn") == [
        "påskeferie (måndag i den stille veka til 2. påskedag)"
    ]
    assert said(date(2031, 4, 14), weeks, "en") == [
        "Easter holiday (Monday of Holy Week to Easter Monday)"
    ]
    assert school_holiday_reasons(date(2031, 4, 15), [], weeks) == []


def test_autumn_suggestions_avoid_the_regions_hostferie_and_say_so(weeks: HolidayWeeks) -> None:
    # Vestland (46) has høstferie in week 41: 6-12 October 2030.
    found = suggest_dates(
        first=date(2030, 9, 23),
        last=date(2030, 10, 25),
        count=3,
        weekdays=[WEDNESDAY],
        counties=["46"],
        weeks=weeks,
    )
    assert date(2030, 10, 9) not in found.dates
    assert reasons_for(found.skipped, date(2030, 10, 9)) == ("høstferie i Vestland (uke 41)",)
    assert reasons_for(found.skipped, date(2030, 10, 9), "nn") == (
        "haustferie i Vestland (veke 41)",
    )
    assert reasons_for(found.skipped, date(2030, 10, 9), "en") == (
        "autumn half-term in Vestland (week 41)",
    )
    assert all(d.weekday() == WEDNESDAY for d in found.dates)
    assert list(found.dates) == sorted(found.dates) and len(set(found.dates)) == 3


def test_a_region_of_several_counties_avoids_each_countys_week(weeks: HolidayWeeks) -> None:
    # Oslo og Viken: Oslo, Østfold, Akershus have winter week 8, Buskerud week 9.
    oslo_og_viken = Regions.load().by_id["oslo-og-viken"]
    found = suggest_dates(
        first=date(2031, 2, 10),
        last=date(2031, 3, 14),
        count=2,
        weekdays=[TUESDAY],
        counties=oslo_og_viken.county_numbers,
        weeks=weeks,
    )
    assert date(2031, 2, 18) not in found.dates  # week 8
    assert date(2031, 2, 25) not in found.dates  # week 9
    assert "vinterferie i Buskerud (uke 9)" in reasons_for(found.skipped, date(2031, 2, 25))
    # Evenly spread targets are 18 February and 6 March; the nearest free Tuesdays win.
    assert found.dates == (date(2031, 2, 11), date(2031, 3, 4))


def test_dates_are_spread_over_the_period_not_bunched_at_its_start(weeks: HolidayWeeks) -> None:
    found = suggest_dates(
        first=date(2031, 8, 18),
        last=date(2031, 12, 12),
        count=2,
        weekdays=[TUESDAY, WEDNESDAY, THURSDAY],
        counties=["50"],
        weeks=weeks,
    )
    first, second = found.dates
    assert date(2031, 9, 1) <= first <= date(2031, 9, 30)
    assert date(2031, 10, 30) <= second <= date(2031, 11, 30)


def test_public_holiday_and_already_booked_days_are_passed_over(weeks: HolidayWeeks) -> None:
    found = suggest_dates(
        first=date(2031, 5, 1),
        last=date(2031, 5, 31),
        count=2,
        weekdays=[THURSDAY],
        counties=["03"],
        weeks=weeks,
        taken=[date(2031, 5, 8)],
    )
    assert reasons_for(found.skipped, date(2031, 5, 1)) == ("helligdag: Arbeidernes dag",)
    assert reasons_for(found.skipped, date(2031, 5, 22), "en") == ("public holiday: Ascension Day",)
    assert reasons_for(found.skipped, date(2031, 5, 8)) == (
        "regionen har en annen samling den dagen",
    )
    assert reasons_for(found.skipped, date(2031, 5, 8), "en") == (
        "another gathering of the region that day",
    )
    assert set(found.dates) <= {date(2031, 5, 15), date(2031, 5, 29)}


def test_too_few_free_days_is_refused_with_the_count(weeks: HolidayWeeks) -> None:
    with pytest.raises(DomainError, match="only 0 free days"):
        suggest_dates(
            first=date(2030, 12, 20),
            last=date(2031, 1, 2),
            count=1,
            weekdays=[TUESDAY],
            counties=["46"],
            weeks=weeks,
        )


@pytest.mark.parametrize(
    ("first", "last", "count", "weekdays", "reason"),
    [
        (date(2031, 2, 1), date(2031, 1, 1), 1, [1], "ends before it starts"),
        (date(2031, 1, 1), date(2031, 2, 1), 0, [1], "1 to 20"),
        (date(2031, 1, 1), date(2031, 2, 1), 1, [], "weekdays"),
        (date(2031, 1, 1), date(2031, 2, 1), 1, [7], "weekdays"),
    ],
)
def test_bad_requests_are_refused(
    weeks: HolidayWeeks, first: date, last: date, count: int, weekdays: list[int], reason: str
) -> None:
    with pytest.raises(DomainError, match=reason):
        suggest_dates(
            first=first, last=last, count=count, weekdays=weekdays, counties=[], weeks=weeks
        )


def test_an_operator_table_replaces_the_default(tmp_path: Path) -> None:
    table = tmp_path / "ferie.csv"
    table.write_text(
        "fylkesnummer,fylkesnavn,hostferie_uke,vinterferie_uke,merknad\n46,Vestland,40|41,10,\n",
        encoding="utf-8",
    )
    weeks = HolidayWeeks.load(table)
    assert weeks.autumn["46"] == (40, 41)
    assert [r.text("en") for r in school_holiday_reasons(date(2031, 3, 5), ["46"], weeks)] == [
        "winter half-term in Vestland (week 10)"
    ]
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "fylkesnummer,fylkesnavn,hostferie_uke,vinterferie_uke,merknad\n46,Vestland,x,8,\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="not a week number"):
        HolidayWeeks.load(bad)
