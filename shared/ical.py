"""What every iCalendar object of the platform shares: its PRODID and Europe/Oslo's VTIMEZONE.

Scheduling's subscribed feeds and notification's invitation parts both write times local to
Europe/Oslo, so both carry the zone. It is written as the EU rule (since 1996: summer time
from the last Sunday of March to the last Sunday of October) rather than icalendar's list of
transitions between two dates: a subscribed feed stays right for years nobody listed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Timezone, TimezoneDaylight, TimezoneStandard, vRecur

OSLO = ZoneInfo("Europe/Oslo")
PRODID = "-//Norsk kulturskoleråd//Fremtidens kulturskole//NB"
CET, CEST = timedelta(hours=1), timedelta(hours=2)


def oslo_timezone() -> Timezone:
    """Europe/Oslo as a VTIMEZONE of two yearly rules."""
    zone = Timezone()
    zone.add("tzid", "Europe/Oslo")
    zone.add("x-lic-location", "Europe/Oslo")
    summer = TimezoneDaylight()
    summer.add("tzname", "CEST")
    summer.add("tzoffsetfrom", CET)
    summer.add("tzoffsetto", CEST)
    summer.add("dtstart", datetime(1970, 3, 29, 2, 0))
    summer.add("rrule", vRecur(freq="YEARLY", bymonth=3, byday="-1SU"))
    winter = TimezoneStandard()
    winter.add("tzname", "CET")
    winter.add("tzoffsetfrom", CEST)
    winter.add("tzoffsetto", CET)
    winter.add("dtstart", datetime(1970, 10, 25, 3, 0))
    winter.add("rrule", vRecur(freq="YEARLY", bymonth=10, byday="-1SU"))
    zone.add_component(summer)
    zone.add_component(winter)
    return zone
