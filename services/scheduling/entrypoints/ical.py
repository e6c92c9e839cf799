"""iCalendar (RFC 5545) feeds a calendar app can subscribe to.

Each gathering is one VEVENT whose UID never changes (the gathering id), whose SEQUENCE is
the gathering's (raised by each reschedule and by cancelling), and whose times are local to
Europe/Oslo with that zone's VTIMEZONE in the feed. A cancelled gathering stays in the feed
with STATUS:CANCELLED, so subscribers drop it rather than keep a stale copy.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

import asyncpg
from icalendar import Calendar, Event

from services.scheduling.adapters import queries as repo
from services.scheduling.domain.calendar import OSLO
from shared.ical import PRODID, oslo_timezone

UID_DOMAIN = "kulturskoleradet.no"
KIND_NAMES = {
    "presamling": "Presamling",
    "samling": "Samling",
    "dialogmote": "Dialogmøte",
    "veiledning": "Veiledning",
    "delingsarena": "Delingsarena",
}


def uid(gathering_id: object) -> str:
    return f"{gathering_id}@{UID_DOMAIN}"


def feed(
    name: str,
    gatherings: Iterable[asyncpg.Record],
    *,
    now: datetime,
    region_names: Mapping[str, str] | None = None,
) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    calendar.add("x-wr-timezone", "Europe/Oslo")
    calendar.add_component(oslo_timezone())
    stamp = now.astimezone(UTC)
    for row in gatherings:
        venue = repo.venue_of(row)
        event = Event()
        event.add("uid", uid(row["id"]))
        event.add("sequence", row["sequence"])
        event.add("dtstamp", stamp)
        event.add("last-modified", row["updated_at"].astimezone(UTC))
        event.add("dtstart", row["starts_at"].astimezone(OSLO))
        event.add("dtend", row["ends_at"].astimezone(OSLO))
        cancelled = row["status"] == "cancelled"
        # STATUS says it to calendar programs; the title says it to people whose program
        # shows a cancelled entry of a subscribed feed anyway.
        event.add("summary", f"Avlyst: {row['title']}" if cancelled else row["title"])
        event.add("categories", [KIND_NAMES.get(row["kind"], row["kind"])])
        event.add("location", ", ".join(v for v in (venue.get("name"), venue.get("address")) if v))
        if venue.get("digital_link"):
            event.add("url", venue["digital_link"])
        region = (region_names or {}).get(row["region"], row["region"])
        event.add("description", _description(row, venue, region))
        event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
        event.add("transp", "OPAQUE")
        calendar.add_component(event)
    ical: bytes = calendar.to_ical()
    return ical


def _description(row: asyncpg.Record, venue: dict[str, str], region: str) -> str:
    lines = [f"{KIND_NAMES.get(row['kind'], row['kind'])} i Fremtidens kulturskole"]
    lines.append(f"Runde {row['round_id']}, {region}")
    if venue.get("digital_link"):
        lines.append(f"Digitalt: {venue['digital_link']}")
    return "\n".join(lines)
