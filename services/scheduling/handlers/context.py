"""What every handler is given besides the message and its unit of work."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from services.scheduling.domain.calendar import OSLO
from services.scheduling.domain.errors import DomainError
from services.scheduling.domain.regions import Region, Regions
from services.scheduling.domain.suggestions import HolidayWeeks
from shared.topics import events_topic


def oslo_now() -> datetime:
    return datetime.now(OSLO)


@dataclass(frozen=True)
class Context:
    regions: Regions
    holiday_weeks: HolidayWeeks
    topic_prefix: str
    clock: Callable[[], datetime] = field(default=oslo_now)
    # Shared with notification, which signs the answer links in invitations; empty: no links.
    answer_secret: str = field(default="", repr=False)

    @property
    def events(self) -> str:
        return events_topic("scheduling", self.topic_prefix)

    def region(self, region_id: str) -> Region:
        found = self.regions.by_id.get(region_id)
        if found is None:
            known = ", ".join(sorted(self.regions.by_id))
            raise DomainError(f"unknown region {region_id!r}; the regions are: {known}")
        return found
