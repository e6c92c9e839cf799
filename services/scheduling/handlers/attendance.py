"""Answers before a gathering (RSVP) and who came after it (attendance)."""

from __future__ import annotations

import asyncpg

from services.scheduling.adapters import repository as repo
from services.scheduling.domain.calendar import require_started
from services.scheduling.domain.invitations import Invitee as Target
from services.scheduling.handlers.context import Context
from services.scheduling.handlers.gatherings import load_gathering
from shared.contracts.errors import Conflict, DomainError, NotFound
from shared.contracts.events.scheduling import (
    AttendanceRecorded,
    Invitee,
    InviteeRole,
    RecordAttendance,
    RecordRsvp,
    Rsvp,
    RsvpRecorded,
)
from shared.messaging.bus import UnitOfWork


def _require_region(ctx: Context, row_region: str, region: str) -> None:
    if row_region != region:
        there, here = ctx.region_name(row_region), ctx.region_name(region)
        raise DomainError(
            f"the gathering is in the region {there}, not {here}",
            nb=f"Samlingen hører til {there}, ikke {here}.",
            nn=f"Samlinga høyrer til {there}, ikkje {here}.",
            field="region",
            slug="wrong-region",
        )


async def record_rsvp(cmd: RecordRsvp, uow: UnitOfWork, ctx: Context) -> RsvpRecorded:
    row, gathering = await load_gathering(uow, cmd.gathering_id)
    _require_region(ctx, row["region"], cmd.region)
    key = (
        Target.person(cmd.person_id, InviteeRole.OTHER).key
        if cmd.person_id is not None
        else Target.municipality(str(cmd.municipality_number)).key
    )
    invitation = await repo.find_invitation(uow.conn, row["id"], key)
    if invitation is None:
        if cmd.person_id is not None:
            raise NotFound(
                "the person is not invited to this gathering",
                nb="Personen er ikke invitert til denne samlingen.",
                nn="Personen er ikkje invitert til denne samlinga.",
                field="person_id",
                slug="not-invited",
            )
        name = ctx.municipality(str(cmd.municipality_number))
        raise NotFound(
            f"{name} is not invited to this gathering",
            nb=f"{name} er ikke invitert til denne samlingen.",
            nn=f"{name} er ikkje invitert til denne samlinga.",
            field="municipality_number",
            slug="not-invited",
        )
    was_yes = invitation["rsvp"] == Rsvp.YES
    changed = gathering.with_answer(was_yes, cmd.response is Rsvp.YES, ctx.clock())
    await repo.set_rsvp(uow.conn, invitation["id"], cmd.response.value)
    event = RsvpRecorded(
        invitation_id=invitation["id"],
        gathering_id=row["id"],
        person_id=invitation["person_id"],
        municipality_number=invitation["municipality_number"],
        response=cmd.response,
        confirmed=changed.confirmed,
        capacity=changed.capacity,
    )
    await uow.emit(ctx.events, event)
    return event


async def record_attendance(
    cmd: RecordAttendance, uow: UnitOfWork, ctx: Context
) -> AttendanceRecorded:
    row, gathering = await load_gathering(uow, cmd.gathering_id)
    _require_region(ctx, row["region"], cmd.region)
    if gathering.status.value == "cancelled":
        raise Conflict(
            "the gathering was cancelled: there is no attendance to record",
            nb="Samlingen ble avlyst: det er ikke noe oppmøte å registrere.",
            nn="Samlinga vart avlyst: det er ikkje noko oppmøte å registrere.",
            field="gathering_id",
            slug="cancelled",
        )
    require_started(gathering.slot, ctx.clock())
    invited = {r["invitee_key"] for r in await repo.invitations(uow.conn, row["id"])}
    present = [Target.person(p, InviteeRole.OTHER).key for p in cmd.present_persons]
    present += [Target.municipality(m).key for m in cmd.present_municipalities]
    strangers = sorted(set(present) - invited)
    if strangers:
        persons = sum(1 for s in strangers if s.startswith("person:"))
        places = [ctx.municipality(s.split(":", 1)[1]) for s in strangers if s.startswith("mun")]
        en = ", ".join([*places, *([f"{persons} person(s)"] if persons else [])])
        nb = ", ".join([*places, *([f"{persons} person(er)"] if persons else [])])
        raise DomainError(
            f"not invited to this gathering: {en}",
            nb=f"Ikke invitert til denne samlingen: {nb}.",
            nn=f"Ikkje invitert til denne samlinga: {nb}.",
            field="present_persons" if persons else "present_municipalities",
            slug="not-invited",
        )
    rows = await repo.set_attendance(uow.conn, row["id"], present)

    def invitee(r: asyncpg.Record) -> Invitee:
        return Invitee(
            invitation_id=r["id"],
            person_id=r["person_id"],
            municipality_number=r["municipality_number"],
            branch_id=r["branch_id"],
            role=InviteeRole(r["role"]),
        )

    ordered = sorted(rows, key=lambda r: r["invitee_key"])
    event = AttendanceRecorded(
        gathering_id=row["id"],
        round_id=row["round_id"],
        region=row["region"],
        present=[invitee(r) for r in ordered if r["attended"]],
        absent=[invitee(r) for r in ordered if not r["attended"]],
    )
    await uow.emit(ctx.events, event)
    return event
