"""The iCalendar part of a gathering mail: REQUEST to invite or update, CANCEL to cancel.

One UID per gathering, SEQUENCE from the gathering's own counter (raised by scheduling on
every change), times in Europe/Oslo with the zone's rules included: calendar programs then
update the one entry they have instead of adding another.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from icalendar import Calendar, Event, vCalAddress

from shared.ical import OSLO, PRODID, oslo_timezone


def _when(value: str | datetime) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(OSLO)


def invitation(
    spec: dict[str, Any],
    *,
    organizer: str,
    attendee: str,
    attendee_name: str = "",
    now: datetime | None = None,
) -> bytes:
    """The calendar object for `spec` (a planned mail's `calendar` context)."""
    method = spec["method"]
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)
    calendar.add_component(oslo_timezone())
    event = Event()
    event.add("uid", spec["uid"])
    event.add("sequence", int(spec["sequence"]))
    event.add("dtstamp", (now or datetime.now(UTC)).astimezone(UTC))
    event.add("dtstart", _when(spec["starts_at"]))
    event.add("dtend", _when(spec["ends_at"]))
    event.add("summary", spec["summary"])
    if spec.get("location"):
        event.add("location", spec["location"])
    if spec.get("url"):
        event.add("url", spec["url"])
    event.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
    event.add("organizer", vCalAddress(f"mailto:{organizer}"))
    guest = vCalAddress(f"mailto:{attendee}")
    if attendee_name:
        guest.params["cn"] = attendee_name
    guest.params["role"] = "REQ-PARTICIPANT"
    guest.params["rsvp"] = "FALSE"
    event.add("attendee", guest, encode=False)
    calendar.add_component(event)
    ical: bytes = calendar.to_ical()
    return ical
