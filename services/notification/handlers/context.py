"""What every handler is given besides the message and its unit of work, and shared steps."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from services.notification.adapters.store import SqlStore, Store
from services.notification.domain.messages import Board, Invited, Places, PlannedMail, county_of
from shared.contracts.events.scheduling import Rsvp
from shared.messaging.bus import UnitOfWork
from shared.runtime import answer_links

# Where the service's `Context` is kept in `Runtime.extras`, for the routes and workers.
CONTEXT = "context"


def _now() -> datetime:
    return datetime.now(UTC)


def sql_store(uow: UnitOfWork) -> Store:
    return SqlStore(uow.conn)


@dataclass(frozen=True)
class Context:
    programme_mailbox: str
    # The restricted, compacted topic of contact details: a tombstone there erases the person.
    contacts_topic: str
    places: Places
    # Scheduling's restricted, compacted topic of invited guests' contact details.
    guest_contacts_topic: str = ""
    gathering_reminder_days: tuple[int, ...] = (7, 1)
    deadline_reminder_days: tuple[int, ...] = (7, 1)
    clock: Callable[[], datetime] = field(default=_now)
    # Answer links in invitations (shared.runtime.answer_links); either empty: none.
    answer_secret: str = field(default="", repr=False)
    answer_base_url: str = ""
    # Where the handlers' state lives: the unit of work's transaction (a fake in unit tests).
    store: Callable[[UnitOfWork], Store] = field(default=sql_store)

    def answer_links(self, invitation_id: uuid.UUID, expires_at: datetime) -> dict[str, str]:
        """yes/no/maybe -> the signed link to scheduling's answer form, valid until the end."""
        if not (self.answer_secret and self.answer_base_url):
            return {}
        token = answer_links.sign(invitation_id, expires_at, self.answer_secret)
        url = f"{self.answer_base_url}/answers/{token}"
        return {r.value: f"{url}?response={r.value}" for r in Rsvp}


async def plan(uow: UnitOfWork, ctx: Context, mails: Sequence[PlannedMail]) -> None:
    """The mails the message causes, under its id."""
    await ctx.store(uow).plan(uow.caused_by.id, mails)


async def boards_for(store: Store, invited: Iterable[Invited]) -> dict[str, Board]:
    """The board that speaks for each municipality invited as such (it has no group yet):
    the inviting branch's, else its county's."""
    found: dict[str, Board] = {}
    for target, branch_id in invited:
        number = target.municipality_number
        if target.person_id or not number or number in found:
            continue
        board = await store.board_of_branch(branch_id) or await store.board_of_county(
            county_of(number)
        )
        if board is not None:
            found[number] = board
    return found
