"""What the handlers need of storage, as one interface: `SqlStore` on the unit of work's
transaction (PostgreSQL, through `adapters/repository.py`), `FakeStore` (adapters/fake.py)
in memory for unit tests of the handler rules. Both hand the handlers the domain's typed
objects: boards, members, gatherings, invitations, deadlines."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from datetime import date, datetime
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar
from uuid import UUID

import asyncpg

from services.notification.adapters import repository as repo
from services.notification.domain.messages import (
    Board,
    Gathering,
    Invited,
    KnownGathering,
    Member,
    PlannedMail,
)
from services.notification.domain.reminders import Deadline, Reminder, ReminderKind

P = ParamSpec("P")
R = TypeVar("R")


class Store(Protocol):
    # --- recipients, erasure, planned mails ---
    async def upsert_recipient(
        self, *, person_id: UUID, name: str, email: str, language: str
    ) -> bool: ...
    async def erase_recipient(self, person_id: UUID) -> None: ...
    async def plan(self, event_id: str, mails: Sequence[PlannedMail]) -> None: ...

    # --- boards, interest, deadlines ---
    async def save_board(
        self, *, branch_id: str, branch_name: str, county_numbers: Sequence[str], person_id: UUID
    ) -> None: ...
    async def save_board_and_interest(
        self,
        *,
        branch_id: str,
        branch_name: str,
        county_numbers: Sequence[str],
        person_id: UUID,
        round_id: str,
        municipality_numbers: Sequence[str],
    ) -> None: ...
    async def board_of_branch(self, branch_id: str | None) -> Board | None: ...
    async def board_of_county(self, county: str | None) -> Board | None: ...
    async def all_boards(self) -> list[Board]: ...
    async def interest_of_round(self, round_id: str) -> dict[str, list[str]]: ...
    async def save_deadline(
        self,
        *,
        round_id: str,
        kind: str,
        county_number: str | None,
        deadline: date,
        closes_at: datetime,
    ) -> None: ...
    async def deadline_of(
        self, round_id: str, kind: str, county_number: str | None
    ) -> Deadline | None: ...
    async def close_round(self, round_id: str) -> None: ...
    async def rounds_taking_interest(self, now: datetime) -> list[tuple[str, date]]: ...

    # --- reminders ---
    async def replace_reminders(
        self, kind: ReminderKind, subject: str, reminders: Sequence[Reminder]
    ) -> None: ...
    async def drop_reminders(self, kind: ReminderKind, subject: str) -> None: ...
    async def drop_round_reminders(self, round_id: str) -> None: ...

    # --- applications and kommunegrupper ---
    async def save_application(
        self,
        *,
        round_id: str,
        municipality_number: str,
        county_number: str,
        branch_id: str,
        status: str,
    ) -> None: ...
    async def submitted_municipalities(self, round_id: str) -> set[str]: ...
    async def replace_group(
        self, round_id: str, municipality_number: str, members: Sequence[Member]
    ) -> None: ...
    async def add_member(self, round_id: str, municipality_number: str, member: Member) -> None: ...
    async def remove_member(
        self, round_id: str, municipality_number: str, person_id: UUID
    ) -> None: ...
    async def group_of(self, round_id: str, municipality_number: str) -> list[Member]: ...

    # --- gatherings and invitations ---
    async def save_gathering(self, gathering: Gathering) -> None: ...
    async def gathering(self, gathering_id: UUID) -> KnownGathering | None: ...
    async def cancel_gathering(self, gathering_id: UUID) -> None: ...
    async def raise_gathering_sequence(self, gathering_id: UUID, sequence: int) -> None: ...
    async def save_initiative(self, gathering_id: UUID, *, proposed_by_programme: bool) -> None: ...
    async def proposed_by_programme(self, gathering_id: UUID) -> bool: ...
    async def save_invitation(
        self,
        *,
        invitation_id: UUID,
        gathering_id: UUID,
        person_id: UUID | None,
        municipality_number: str | None,
        branch_id: str | None,
        role: str,
        active: bool,
    ) -> None: ...
    async def active_invitations(self, gathering_id: UUID) -> list[Invited]: ...

    # --- programme management's settings ---
    async def set_opt_out(self, person_id: UUID, opted_out: bool) -> None: ...
    async def opted_out(self, person_ids: Sequence[str]) -> set[str]: ...
    async def save_supervisor(
        self, supervisor_id: str, *, name: str, email: str, language: str
    ) -> None: ...
    async def delete_supervisor(self, supervisor_id: str) -> bool: ...


def _on_conn(
    query: Callable[Concatenate[asyncpg.Connection, P], Coroutine[Any, Any, R]],
) -> Callable[Concatenate[SqlStore, P], Coroutine[Any, Any, R]]:
    """A repository function as a method of `SqlStore`, on its connection."""

    def method(self: SqlStore, /, *args: P.args, **kwargs: P.kwargs) -> Coroutine[Any, Any, R]:
        return query(self.conn, *args, **kwargs)

    method.__name__ = method.__qualname__ = query.__name__
    method.__doc__ = query.__doc__
    return method


class SqlStore:
    """The `Store` on one connection, inside the caller's transaction: the repository's
    statements, and the domain's objects made of the rows some of them return."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    upsert_recipient = _on_conn(repo.upsert_recipient)
    erase_recipient = _on_conn(repo.erase_recipient)
    save_board = _on_conn(repo.save_board)
    save_board_and_interest = _on_conn(repo.save_board_and_interest)
    board_of_branch = _on_conn(repo.board_of_branch)
    board_of_county = _on_conn(repo.board_of_county)
    all_boards = _on_conn(repo.all_boards)
    interest_of_round = _on_conn(repo.interest_of_round)
    save_deadline = _on_conn(repo.save_deadline)
    close_round = _on_conn(repo.close_round)
    replace_reminders = _on_conn(repo.replace_reminders)
    drop_reminders = _on_conn(repo.drop_reminders)
    drop_round_reminders = _on_conn(repo.drop_round_reminders)
    save_application = _on_conn(repo.save_application)
    submitted_municipalities = _on_conn(repo.submitted_municipalities)
    replace_group = _on_conn(repo.replace_group)
    add_member = _on_conn(repo.add_member)
    remove_member = _on_conn(repo.remove_member)
    group_of = _on_conn(repo.group_of)
    save_gathering = _on_conn(repo.save_gathering)
    cancel_gathering = _on_conn(repo.cancel_gathering)
    raise_gathering_sequence = _on_conn(repo.raise_gathering_sequence)
    save_initiative = _on_conn(repo.save_initiative)
    proposed_by_programme = _on_conn(repo.proposed_by_programme)
    save_invitation = _on_conn(repo.save_invitation)
    active_invitations = _on_conn(repo.active_invitations)
    set_opt_out = _on_conn(repo.set_opt_out)
    save_supervisor = _on_conn(repo.save_supervisor)
    delete_supervisor = _on_conn(repo.delete_supervisor)

    async def plan(self, event_id: str, mails: Sequence[PlannedMail]) -> None:
        await repo.plan_deliveries(self.conn, event_id=event_id, mails=mails)

    async def deadline_of(
        self, round_id: str, kind: str, county_number: str | None
    ) -> Deadline | None:
        row = await repo.deadline_of(self.conn, round_id, kind, county_number)
        return Deadline(row["deadline"], row["closes_at"]) if row is not None else None

    async def rounds_taking_interest(self, now: datetime) -> list[tuple[str, date]]:
        rows = await repo.rounds_taking_interest(self.conn, now)
        return [(r["round_id"], r["deadline"]) for r in rows]

    async def gathering(self, gathering_id: UUID) -> KnownGathering | None:
        row = await repo.gathering(self.conn, gathering_id)
        if row is None:
            return None
        return KnownGathering(repo.gathering_of(row), cancelled=row["cancelled"])

    async def opted_out(self, person_ids: Sequence[str]) -> set[str]:
        return await repo.opted_out(self.conn, person_ids) if person_ids else set()
