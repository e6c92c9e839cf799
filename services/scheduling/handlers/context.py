"""What every handler is given besides the message and the bus's unit of work."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from services.scheduling.adapters.sql import sql_unit
from services.scheduling.adapters.unit import Unit
from services.scheduling.domain.calendar import OSLO
from services.scheduling.domain.regions import Region, Regions
from services.scheduling.domain.suggestions import HolidayWeeks
from shared.contracts.errors import DomainError
from shared.contracts.events.scheduling import guest_contacts_topic
from shared.contracts.topics import events_topic
from shared.messaging.bus import UnitOfWork


def oslo_now() -> datetime:
    return datetime.now(OSLO)


@dataclass(frozen=True)
class Context:
    regions: Regions
    holiday_weeks: HolidayWeeks
    topic_prefix: str
    clock: Callable[[], datetime] = field(default=oslo_now)
    # Municipality names by number, for refusals that name them.
    municipality_names: Mapping[str, str] = field(default_factory=dict)

    def municipality(self, number: str) -> str:
        return self.municipality_names.get(number, number)

    def region_name(self, region_id: str) -> str:
        found = self.regions.by_id.get(region_id)
        return found.name if found else region_id

    # Shared with notification, which signs the answer links in invitations; empty: no links.
    answer_secret: str = field(default="", repr=False)
    # Where the handlers' aggregates live: the bus's transaction (in memory in unit tests).
    unit: Callable[[UnitOfWork], Unit] = field(default=sql_unit)

    @property
    def region_names(self) -> Mapping[str, str]:
        return {r.id: r.name for r in self.regions.by_id.values()}

    @property
    def events(self) -> str:
        return events_topic("scheduling", self.topic_prefix)

    @property
    def contacts(self) -> str:
        """The restricted, compacted topic of invited guests' contact data."""
        return guest_contacts_topic(self.topic_prefix)

    def region(self, region_id: str) -> Region:
        found = self.regions.by_id.get(region_id)
        if found is None:
            known = ", ".join(sorted(self.regions.by_id))
            raise DomainError(
                f"unknown region {region_id!r}; the regions are: {known}",
                nb=f"Ukjent region «{region_id}». Regionene er: {known}.",
                nn=f"Ukjend region «{region_id}». Regionane er: {known}.",
                field="region",
                slug="unknown-region",
            )
        return found
