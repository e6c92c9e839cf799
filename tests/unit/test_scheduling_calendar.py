"""Calendar rules: Oslo time across DST, end after start, overlaps, capacity, sequence."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest

from services.scheduling.domain.calendar import (
    OSLO,
    Gathering,
    Slot,
    Status,
    clashes,
    current_round,
    oslo_time,
    require_started,
)
from shared.contracts.errors import Conflict, DomainError

pytestmark = pytest.mark.unit

NOW = datetime(2030, 9, 1, 12, 0, tzinfo=OSLO)


def slot(day: date, start: int, end: int) -> Slot:
    return Slot.of(oslo_time(day, time(start)), oslo_time(day, time(end)))


# --- time zones and DST -------------------------------------------------------------------


def test_oslo_wall_clock_gets_the_offset_of_its_day() -> None:
    winter = oslo_time(date(2030, 1, 15), time(10))
    summer = oslo_time(date(2030, 6, 15), time(10))
    assert winter.utcoffset() == timedelta(hours=1)
    assert summer.utcoffset() == timedelta(hours=2)
    assert winter.astimezone(UTC).hour == 9
    assert summer.astimezone(UTC).hour == 8


def test_a_gathering_over_the_spring_dst_night_lasts_its_real_hours() -> None:
    # 30 March 2030 at 18:00 to 31 March at 12:00: clocks jump 02:00 -> 03:00 that night.
    over_night = Slot.of(
        oslo_time(date(2030, 3, 30), time(18)), oslo_time(date(2030, 3, 31), time(12))
    )
    assert over_night.duration == timedelta(hours=17)  # not the 18 the wall clock shows
    assert over_night.local_start.utcoffset() == timedelta(hours=1)
    assert over_night.local_end.utcoffset() == timedelta(hours=2)


def test_a_gathering_over_the_autumn_dst_night_lasts_its_real_hours() -> None:
    over_night = Slot.of(
        oslo_time(date(2030, 10, 26), time(18)), oslo_time(date(2030, 10, 27), time(12))
    )
    assert over_night.duration == timedelta(hours=19)


def test_times_given_in_another_offset_are_the_same_instants_in_oslo() -> None:
    given = Slot.of(
        datetime(2030, 10, 8, 8, 0, tzinfo=UTC),
        datetime(2030, 10, 8, 16, 0, tzinfo=timezone(timedelta(hours=2))),
    )
    assert given.local_start == datetime(2030, 10, 8, 10, 0, tzinfo=OSLO)
    assert given.local_end == datetime(2030, 10, 8, 16, 0, tzinfo=OSLO)


def test_a_time_without_a_zone_is_refused_not_guessed() -> None:
    with pytest.raises(DomainError, match="no time zone"):
        Slot.of(datetime(2030, 10, 8, 10), datetime(2030, 10, 8, 16, tzinfo=OSLO))


@pytest.mark.parametrize("end_hour", [10, 9])
def test_a_gathering_cannot_end_before_it_starts_or_when_it_starts(end_hour: int) -> None:
    with pytest.raises(DomainError, match="cannot end"):
        slot(date(2030, 10, 8), 10, end_hour)


def test_end_after_start_is_judged_by_instants_across_the_autumn_change() -> None:
    # 02:30 happens twice on 27 October 2030: the second (fold=1, CET) is after the first.
    first = datetime(2030, 10, 27, 2, 30, tzinfo=OSLO)
    second = datetime(2030, 10, 27, 2, 30, fold=1, tzinfo=OSLO)
    assert Slot.of(first, second).duration == timedelta(hours=1)
    with pytest.raises(DomainError):
        Slot.of(second, first)


# --- overlaps (a supervisor cannot be booked twice) --------------------------------------


def test_overlapping_slots_clash_and_touching_ones_do_not() -> None:
    day = date(2030, 11, 5)
    booked = [slot(day, 9, 11), slot(day, 13, 15)]
    assert clashes(slot(day, 10, 12), booked) == [booked[0]]
    assert clashes(slot(day, 11, 13), booked) == []  # ends as the next begins
    assert clashes(slot(day, 8, 16), booked) == booked
    assert clashes(slot(date(2030, 11, 6), 9, 11), booked) == []


def test_overlap_is_by_instant_not_wall_clock() -> None:
    # 08:00-10:00 UTC is 09:00-11:00 in Oslo in November: it clashes with an Oslo 10-12.
    utc_slot = Slot.of(datetime(2030, 11, 5, 8, tzinfo=UTC), datetime(2030, 11, 5, 10, tzinfo=UTC))
    assert clashes(utc_slot, [slot(date(2030, 11, 5), 10, 12)])


# --- capacity and sequence ------------------------------------------------------------------


def gathering(**kwargs: object) -> Gathering:
    base: dict[str, object] = {"slot": slot(date(2030, 10, 8), 10, 16)}
    return Gathering(**(base | kwargs))  # type: ignore[arg-type]


def test_a_yes_beyond_capacity_is_refused_but_a_no_is_always_welcome() -> None:
    full = gathering(capacity=2, confirmed=2)
    with pytest.raises(Conflict, match="capacity 2"):
        full.with_answer(was_yes=False, is_yes=True, now=NOW)
    assert full.with_answer(was_yes=True, is_yes=False, now=NOW).confirmed == 1
    assert full.with_answer(was_yes=False, is_yes=False, now=NOW).confirmed == 2
    # Saying yes again does not take a second seat.
    assert full.with_answer(was_yes=True, is_yes=True, now=NOW).confirmed == 2


def test_no_capacity_means_no_limit() -> None:
    assert gathering(confirmed=500).with_answer(False, True, NOW).confirmed == 501


def test_capacity_cannot_be_lowered_below_the_seats_taken() -> None:
    taken = gathering(capacity=10, confirmed=6)
    new = slot(date(2030, 10, 9), 10, 16)
    with pytest.raises(Conflict, match="capacity 5"):
        taken.rescheduled(new, 5, NOW)
    assert taken.rescheduled(new, 6, NOW).capacity == 6
    assert taken.rescheduled(new, None, NOW).capacity == 10  # unchanged when not given


def test_rescheduling_raises_the_sequence_and_keeps_the_rest() -> None:
    first = gathering(capacity=10)
    moved = first.rescheduled(slot(date(2030, 10, 15), 10, 16), None, NOW)
    moved_again = moved.rescheduled(slot(date(2030, 10, 16), 9, 15), None, NOW)
    assert (first.sequence, moved.sequence, moved_again.sequence) == (0, 1, 2)
    assert moved_again.slot == slot(date(2030, 10, 16), 9, 15)
    assert moved_again.status is Status.SCHEDULED


def test_cancelling_raises_the_sequence_once_and_closes_the_gathering() -> None:
    cancelled = gathering(sequence=3).cancelled(NOW)
    assert (cancelled.status, cancelled.sequence) == (Status.CANCELLED, 4)
    with pytest.raises(Conflict, match="cancelled"):
        cancelled.cancelled(NOW)
    with pytest.raises(Conflict, match="cancelled"):
        cancelled.rescheduled(slot(date(2030, 10, 9), 10, 16), None, NOW)
    with pytest.raises(Conflict, match="cancelled"):
        cancelled.with_answer(False, True, NOW)


def test_a_gathering_that_is_over_cannot_be_moved() -> None:
    after = datetime(2030, 10, 8, 17, tzinfo=OSLO)
    with pytest.raises(Conflict, match="over"):
        gathering().rescheduled(slot(date(2030, 10, 20), 10, 16), None, after)


def test_attendance_waits_until_the_gathering_has_started() -> None:
    the_slot = slot(date(2030, 10, 8), 10, 16)
    with pytest.raises(Conflict, match="once the gathering has started"):
        require_started(the_slot, datetime(2030, 10, 8, 9, 59, tzinfo=OSLO))
    require_started(the_slot, datetime(2030, 10, 8, 10, 0, tzinfo=OSLO))


def test_a_feed_shows_the_round_under_way_by_default() -> None:
    now = datetime(2029, 12, 1, tzinfo=OSLO)
    past, ahead = datetime(2029, 11, 1, tzinfo=OSLO), datetime(2030, 2, 1, tzinfo=OSLO)
    states = {"2030": "closed", "2031": "open", "2032": "cancelled"}
    # 2030 is under way, 2031's presamlinger are ahead too: the earlier one shows.
    assert current_round([("2031", ahead), ("2030", past), ("2030", ahead)], states, now) == "2030"
    # A round registration never opened (2099) or cancelled (2032) is never the default.
    assert current_round([("2099", ahead), ("2032", ahead), ("2030", past)], states, now) == "2030"
    # Nothing ahead: the latest round with gatherings; nothing at all: none.
    assert current_round([("2030", past), ("2031", past)], states, now) == "2031"
    assert current_round([], states, now) is None
