"""What the handlers need of storage, as one interface: `SqlStore` on the unit of work's
transaction (PostgreSQL, through `adapters/repository.py`), `FakeStore` (adapters/fake.py)
in memory for unit tests of the handler rules. Both hand the handlers the domain's typed
objects: boards, members, gatherings, invitations, deadlines."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Protocol
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


class SqlStore:
    """The `Store` on one connection, inside the caller's transaction."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def upsert_recipient(
        self, *, person_id: UUID, name: str, email: str, language: str
    ) -> bool:
        return await repo.upsert_recipient(
            self.conn, person_id=person_id, name=name, email=email, language=language
        )

    async def erase_recipient(self, person_id: UUID) -> None:
        await repo.erase_recipient(self.conn, person_id)

    async def plan(self, event_id: str, mails: Sequence[PlannedMail]) -> None:
        await repo.plan_deliveries(self.conn, event_id=event_id, mails=mails)

    async def save_board(
        self, *, branch_id: str, branch_name: str, county_numbers: Sequence[str], person_id: UUID
    ) -> None:
        await repo.save_board(
            self.conn,
            branch_id=branch_id,
            branch_name=branch_name,
            county_numbers=county_numbers,
            person_id=person_id,
        )

    async def save_board_and_interest(
        self,
        *,
        branch_id: str,
        branch_name: str,
        county_numbers: Sequence[str],
        person_id: UUID,
        round_id: str,
        municipality_numbers: Sequence[str],
    ) -> None:
        await repo.save_board_and_interest(
            self.conn,
            branch_id=branch_id,
            branch_name=branch_name,
            county_numbers=county_numbers,
            person_id=person_id,
            round_id=round_id,
            municipality_numbers=municipality_numbers,
        )

    async def board_of_branch(self, branch_id: str | None) -> Board | None:
        return await repo.board_of_branch(self.conn, branch_id)

    async def board_of_county(self, county: str | None) -> Board | None:
        return await repo.board_of_county(self.conn, county)

    async def all_boards(self) -> list[Board]:
        return await repo.all_boards(self.conn)

    async def interest_of_round(self, round_id: str) -> dict[str, list[str]]:
        return await repo.interest_of_round(self.conn, round_id)

    async def save_deadline(
        self,
        *,
        round_id: str,
        kind: str,
        county_number: str | None,
        deadline: date,
        closes_at: datetime,
    ) -> None:
        await repo.save_deadline(
            self.conn,
            round_id=round_id,
            kind=kind,
            county_number=county_number,
            deadline=deadline,
            closes_at=closes_at,
        )

    async def deadline_of(
        self, round_id: str, kind: str, county_number: str | None
    ) -> Deadline | None:
        row = await repo.deadline_of(self.conn, round_id, kind, county_number)
        return Deadline(row["deadline"], row["closes_at"]) if row is not None else None

    async def close_round(self, round_id: str) -> None:
        await repo.close_round(self.conn, round_id)

    async def rounds_taking_interest(self, now: datetime) -> list[tuple[str, date]]:
        rows = await repo.rounds_taking_interest(self.conn, now)
        return [(r["round_id"], r["deadline"]) for r in rows]

    async def replace_reminders(
        self, kind: ReminderKind, subject: str, reminders: Sequence[Reminder]
    ) -> None:
        await repo.replace_reminders(self.conn, kind, subject, reminders)

    async def drop_reminders(self, kind: ReminderKind, subject: str) -> None:
        await repo.drop_reminders(self.conn, kind, subject)

    async def drop_round_reminders(self, round_id: str) -> None:
        await repo.drop_round_reminders(self.conn, round_id)

    async def save_application(
        self,
        *,
        round_id: str,
        municipality_number: str,
        county_number: str,
        branch_id: str,
        status: str,
    ) -> None:
        await repo.save_application(
            self.conn,
            round_id=round_id,
            municipality_number=municipality_number,
            county_number=county_number,
            branch_id=branch_id,
            status=status,
        )

    async def submitted_municipalities(self, round_id: str) -> set[str]:
        return await repo.submitted_municipalities(self.conn, round_id)

    async def replace_group(
        self, round_id: str, municipality_number: str, members: Sequence[Member]
    ) -> None:
        await repo.replace_group(self.conn, round_id, municipality_number, members)

    async def add_member(self, round_id: str, municipality_number: str, member: Member) -> None:
        await repo.add_member(self.conn, round_id, municipality_number, member)

    async def remove_member(self, round_id: str, municipality_number: str, person_id: UUID) -> None:
        await repo.remove_member(self.conn, round_id, municipality_number, person_id)

    async def group_of(self, round_id: str, municipality_number: str) -> list[Member]:
        return await repo.group_of(self.conn, round_id, municipality_number)

    async def save_gathering(self, gathering: Gathering) -> None:
        await repo.save_gathering(self.conn, gathering)

    async def gathering(self, gathering_id: UUID) -> KnownGathering | None:
        row = await repo.gathering(self.conn, gathering_id)
        if row is None:
            return None
        return KnownGathering(repo.gathering_of(row), cancelled=row["cancelled"])

    async def cancel_gathering(self, gathering_id: UUID) -> None:
        await repo.cancel_gathering(self.conn, gathering_id)

    async def raise_gathering_sequence(self, gathering_id: UUID, sequence: int) -> None:
        await repo.raise_gathering_sequence(self.conn, gathering_id, sequence)

    async def save_initiative(self, gathering_id: UUID, *, proposed_by_programme: bool) -> None:
        await repo.save_initiative(
            self.conn, gathering_id, proposed_by_programme=proposed_by_programme
        )

    async def proposed_by_programme(self, gathering_id: UUID) -> bool:
        return await repo.proposed_by_programme(self.conn, gathering_id)

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
    ) -> None:
        await repo.save_invitation(
            self.conn,
            invitation_id=invitation_id,
            gathering_id=gathering_id,
            person_id=person_id,
            municipality_number=municipality_number,
            branch_id=branch_id,
            role=role,
            active=active,
        )

    async def active_invitations(self, gathering_id: UUID) -> list[Invited]:
        return await repo.active_invitations(self.conn, gathering_id)

    async def set_opt_out(self, person_id: UUID, opted_out: bool) -> None:
        await repo.set_opt_out(self.conn, person_id, opted_out)

    async def opted_out(self, person_ids: Sequence[str]) -> set[str]:
        return await repo.opted_out(self.conn, person_ids) if person_ids else set()

    async def save_supervisor(
        self, supervisor_id: str, *, name: str, email: str, language: str
    ) -> None:
        await repo.save_supervisor(
            self.conn, supervisor_id, name=name, email=email, language=language
        )

    async def delete_supervisor(self, supervisor_id: str) -> bool:
        return await repo.delete_supervisor(self.conn, supervisor_id)
