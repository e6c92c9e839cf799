"""Deadlines: a date is the whole of that day in Europe/Oslo, in summer and in winter."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.registration.domain.deadlines import (
    Late,
    NotOpenYet,
    closes_at,
    default_interest_deadline,
    require_before,
    require_later,
    require_open,
)
from services.registration.domain.interest import DomainError

pytestmark = pytest.mark.unit

OSLO = ZoneInfo("Europe/Oslo")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- closes_at -----------------------------------------------------------------------------


def test_closes_at_is_midnight_starting_the_next_day_in_oslo() -> None:
    closing = closes_at(date(2024, 9, 15))

    assert closing.tzinfo is not None
    assert closing.utcoffset() is not None
    local = closing.astimezone(OSLO)
    assert (local.date(), local.hour, local.minute, local.second) == (date(2024, 9, 16), 0, 0, 0)


@pytest.mark.parametrize(
    ("deadline", "local_offset_hours", "closes_utc"),
    [
        # the day before summer time starts (31 March 2024): still CET at the next midnight
        (date(2024, 3, 30), 1, utc(2024, 3, 30, 23, 0)),
        # the day summer time starts: the next midnight is in CEST
        (date(2024, 3, 31), 2, utc(2024, 3, 31, 22, 0)),
        # the day before summer time ends (27 October 2024): the next midnight is still CEST
        (date(2024, 10, 26), 2, utc(2024, 10, 26, 22, 0)),
        # the day summer time ends: the next midnight is CET
        (date(2024, 10, 27), 1, utc(2024, 10, 27, 23, 0)),
    ],
)
def test_closes_at_across_daylight_saving_changes(
    deadline: date, local_offset_hours: int, closes_utc: datetime
) -> None:
    closing = closes_at(deadline)

    assert closing == closes_utc
    assert closing.astimezone(UTC) == closes_utc
    local = closing.astimezone(OSLO)
    assert local.date() == deadline + timedelta(days=1)
    assert (local.hour, local.minute) == (0, 0)
    assert local.utcoffset() == timedelta(hours=local_offset_hours)


def test_closes_at_in_winter_and_summer_differ_by_one_hour_in_utc() -> None:
    assert closes_at(date(2024, 1, 15)) == utc(2024, 1, 15, 23, 0)
    assert closes_at(date(2024, 7, 15)) == utc(2024, 7, 15, 22, 0)


# --- require_before --------------------------------------------------------------------------


def test_accepted_in_the_last_millisecond_of_the_deadline_day() -> None:
    # 23:59:59.999 on 15 September in Oslo (CEST, UTC+2), given in UTC
    now = utc(2024, 9, 15, 21, 59, 59, 999_000)

    require_before(date(2024, 9, 15), now, "interest registration")


def test_accepted_last_moment_given_in_oslo_time() -> None:
    now = datetime(2024, 9, 15, 23, 59, 59, 999_000, tzinfo=OSLO)

    require_before(date(2024, 9, 15), now, "interest registration")


def test_refused_at_exactly_closes_at() -> None:
    now = utc(2024, 9, 15, 22, 0)  # midnight starting 16 September in Oslo

    with pytest.raises(Late) as raised:
        require_before(date(2024, 9, 15), now, "interest registration")

    message = str(raised.value)
    assert "15.09.2024" in message
    assert "Europe/Oslo" in message
    assert "interest registration" in message


def test_late_is_a_domain_error() -> None:
    with pytest.raises(DomainError):
        require_before(date(2024, 9, 15), utc(2024, 9, 16, 12, 0), "interest registration")


def test_utc_evening_of_the_deadline_day_is_already_late_in_oslo() -> None:
    # 22:30 UTC on the 15th is 00:30 on the 16th in Oslo: closed, though still the 15th in UTC.
    with pytest.raises(Late):
        require_before(date(2024, 9, 15), utc(2024, 9, 15, 22, 30), "application")


def test_winter_deadline_is_open_until_23_utc() -> None:
    deadline = date(2024, 1, 15)

    require_before(deadline, utc(2024, 1, 15, 22, 59, 59), "application")
    with pytest.raises(Late):
        require_before(deadline, utc(2024, 1, 15, 23, 0), "application")


def test_naive_now_raises_value_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        require_before(date(2024, 9, 15), datetime(2024, 9, 15, 12, 0), "application")


# --- default interest deadline -----------------------------------------------------------------


def test_default_interest_deadline_is_15_september_the_year_before() -> None:
    assert default_interest_deadline("2024") == date(2023, 9, 15)
    assert default_interest_deadline("2026") == date(2025, 9, 15)


# --- require_open -------------------------------------------------------------------------------


OPENS = date(2024, 9, 1)
DEADLINE = date(2024, 10, 1)


def test_not_open_the_instant_before_the_first_day() -> None:
    # 00:00 on 1 September in Oslo is 22:00 UTC on 31 August
    now = utc(2024, 8, 31, 21, 59, 59, 999_999)

    with pytest.raises(NotOpenYet) as raised:
        require_open(OPENS, DEADLINE, now, "the application window")

    message = str(raised.value)
    assert "01.09.2024" in message
    assert "the application window" in message


def test_not_open_yet_is_a_domain_error() -> None:
    with pytest.raises(DomainError):
        require_open(OPENS, DEADLINE, utc(2024, 8, 1, 12, 0), "the application window")


def test_open_at_midnight_starting_the_first_day_in_oslo() -> None:
    require_open(OPENS, DEADLINE, utc(2024, 8, 31, 22, 0), "the application window")


def test_open_on_the_deadline_day() -> None:
    require_open(OPENS, DEADLINE, utc(2024, 10, 1, 21, 59, 59), "the application window")


def test_late_after_the_deadline() -> None:
    with pytest.raises(Late) as raised:
        require_open(OPENS, DEADLINE, utc(2024, 10, 1, 22, 0), "the application window")

    assert "01.10.2024" in str(raised.value)


# --- require_later ------------------------------------------------------------------------------


def test_later_deadline_is_accepted() -> None:
    require_later(date(2024, 9, 15), date(2024, 9, 16))


@pytest.mark.parametrize("new", [date(2024, 9, 15), date(2024, 9, 14), date(2023, 12, 31)])
def test_same_or_earlier_deadline_is_refused(new: date) -> None:
    with pytest.raises(DomainError) as raised:
        require_later(date(2024, 9, 15), new)

    message = str(raised.value)
    assert "15.09.2024" in message
    assert f"{new:%d.%m.%Y}" in message
