"""What every handler is given besides the message and its unit of work, and shared steps."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID
from zoneinfo import ZoneInfo

from services.registration.adapters.repositories import Repositories
from services.registration.adapters.sql import sql_repositories
from services.registration.domain.reference import Branch, ReferenceData, branch_named
from services.registration.domain.rounds import Round, require_round
from shared.contracts.events.base import Contract
from shared.contracts.events.registration import (
    ContactDetails,
    ContactHandover,
    ContactPerson,
    GroupMember,
    contacts_topic,
)
from shared.contracts.topics import events_topic
from shared.messaging.bus import UnitOfWork
from shared.runtime.commands import acting

OSLO = ZoneInfo("Europe/Oslo")


def oslo_now() -> datetime:
    return datetime.now(OSLO)


def on_transaction(uow: UnitOfWork) -> Repositories:
    return sql_repositories(uow.conn)


@dataclass(frozen=True)
class Context:
    reference: ReferenceData
    topic_prefix: str
    clock: Callable[[], datetime] = field(default=oslo_now)
    # Where the aggregates live: the unit of work's transaction (in memory in unit tests).
    repositories: Callable[[UnitOfWork], Repositories] = field(default=on_transaction)

    @property
    def events(self) -> str:
        return events_topic("registration", self.topic_prefix)

    @property
    def contacts(self) -> str:
        return contacts_topic(self.topic_prefix)

    def municipality_name(self, number: str) -> str:
        """A municipality as people read it in a refusal: its name (the number if unknown)."""
        found = self.reference.municipalities.get(number)
        return found.name if found else number

    def county_name(self, number: str) -> str:
        return self.reference.counties.get(number, number)

    def branch(self, name_or_id: str, *, field: str = "branch") -> Branch:
        return branch_named(self.reference, name_or_id, field=field)


def actor() -> str | None:
    """Who sends the command being handled (the principal's name); None for a system."""
    principal = acting()
    return principal.name if principal is not None else None


async def emit_all(uow: UnitOfWork, topic: str, events: Sequence[Contract]) -> None:
    for event in events:
        await uow.emit(topic, event)


async def load_round(
    repos: Repositories, round_id: str, *, changes: bool = False, intake: bool = False
) -> Round:
    """The round, locked so that a deadline cannot move under a command that checks it.

    Only a command that changes the round takes it exclusively; the rest share it, so they
    do not queue behind one another. `intake`: the command adds interest or applications,
    which a closed round no longer takes. A cancelled round takes nothing.
    """
    found = await repos.rounds.get(round_id, lock="update" if changes else "share")
    return require_round(found, round_id, intake=intake)


async def publish_contact(
    uow: UnitOfWork,
    ctx: Context,
    person_id: UUID,
    who: ContactPerson | GroupMember,
    *,
    handed_over: ContactHandover | None = None,
) -> None:
    await uow.emit(ctx.contacts, contact_details(person_id, who, handed_over=handed_over))


def contact_details(
    person_id: UUID, who: ContactPerson | GroupMember, *, handed_over: ContactHandover | None = None
) -> ContactDetails:
    """The contact-details event of a person from a command, which validated every field with
    the contract's own types when it came in: built without validating them again, as the
    e-mail check is a large share of a registration's cost (docs/performance.md)."""
    return ContactDetails.model_construct(
        person_id=person_id,
        name=who.name,
        email=who.email,
        phone=who.phone,
        language=who.language,
        handed_over=handed_over,
    )
