"""The iCalendar feed, parsed back: stable UID, SEQUENCE, Europe/Oslo times and VTIMEZONE."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from icalendar import Calendar

from services.scheduling.domain.calendar import OSLO
from services.scheduling.entrypoints.ical import feed
from shared.ical import oslo_timezone

pytestmark = pytest.mark.unit

NOW = datetime(2030, 9, 1, 12, tzinfo=OSLO)


def row(**kwargs: Any) -> dict[str, Any]:
    base = {
        "id": uuid.uuid4(),
        "round_id": "2030",
        "region": "vestland",
        "kind": "samling",
        "title": "Samling 1: Samskaping",
        "venue": json.dumps({"name": "Grieghallen", "address": "Edvard Griegs plass 1, Bergen"}),
        "starts_at": datetime(2030, 10, 1, 8, tzinfo=UTC),
        "ends_at": datetime(2030, 10, 1, 14, tzinfo=UTC),
        "status": "scheduled",
        "sequence": 0,
        "updated_at": NOW,
    }
    return base | kwargs


def parsed(*rows: dict[str, Any]) -> Calendar:
    return Calendar.from_ical(feed("Fremtidens kulturskole - Vestland", rows, now=NOW))


def test_a_feed_parses_back_with_uid_sequence_and_oslo_times() -> None:
    gathering = row(sequence=2)
    calendar = parsed(gathering)
    assert calendar["version"] == "2.0" and calendar["prodid"]
    (event,) = calendar.walk("VEVENT")
    assert str(event["uid"]) == f"{gathering['id']}@kulturskoleradet.no"
    assert int(event["sequence"]) == 2
    start = event.decoded("dtstart")
    assert start == datetime(2030, 10, 1, 10, tzinfo=OSLO)  # 08:00 UTC in summer time
    assert event["dtstart"].params["TZID"] == "Europe/Oslo"
    assert event.decoded("dtend") - start == timedelta(hours=6)
    assert str(event["status"]) == "CONFIRMED"
    assert "Grieghallen" in str(event["location"])


def test_the_feed_carries_a_vtimezone_that_agrees_with_the_zone_database() -> None:
    calendar = parsed(row())
    (zone,) = calendar.walk("VTIMEZONE")
    assert str(zone["tzid"]) == "Europe/Oslo"
    # Built from the feed's own rules (not looked up by name), as a calendar app would.
    tz = zone.to_tz(lookup_tzid=False)
    for moment in (
        datetime(2030, 1, 15, 12),
        datetime(2030, 7, 15, 12),
        datetime(2030, 10, 27, 1),
        datetime(2030, 10, 27, 4),
        datetime(2045, 3, 26, 4),
    ):
        assert moment.replace(tzinfo=tz).utcoffset() == moment.replace(tzinfo=OSLO).utcoffset()


def test_winter_times_keep_their_own_offset() -> None:
    winter = row(
        starts_at=datetime(2031, 2, 4, 9, tzinfo=UTC), ends_at=datetime(2031, 2, 4, 15, tzinfo=UTC)
    )
    (event,) = parsed(winter).walk("VEVENT")
    assert event.decoded("dtstart") == datetime(2031, 2, 4, 10, tzinfo=OSLO)
    assert "DTSTART;TZID=Europe/Oslo:20310204T100000" in event.to_ical().decode()


def test_a_cancelled_gathering_stays_in_the_feed_as_cancelled() -> None:
    gathering = row(status="cancelled", sequence=1)
    (event,) = parsed(gathering).walk("VEVENT")
    assert str(event["status"]) == "CANCELLED"
    assert int(event["sequence"]) == 1


def test_the_uid_does_not_change_when_a_gathering_moves() -> None:
    gathering = row()
    moved = gathering | {
        "starts_at": datetime(2030, 10, 8, 8, tzinfo=UTC),
        "ends_at": datetime(2030, 10, 8, 14, tzinfo=UTC),
        "sequence": 1,
    }
    (before,) = parsed(gathering).walk("VEVENT")
    (after,) = parsed(moved).walk("VEVENT")
    assert before["uid"] == after["uid"]
    assert int(after["sequence"]) == int(before["sequence"]) + 1


def test_a_digital_gathering_has_its_link() -> None:
    digital = row(
        venue=json.dumps({"name": "Teams", "digital_link": "https://teams.example/meet/1"})
    )
    (event,) = parsed(digital).walk("VEVENT")
    assert str(event["url"]) == "https://teams.example/meet/1"


def test_the_timezone_is_a_rule_not_a_list_of_years() -> None:
    text = oslo_timezone().to_ical().decode()
    assert "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3" in text
    assert "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10" in text
    assert "RDATE" not in text
