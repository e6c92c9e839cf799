"""Invitations follow registration: its events update our projection, then every gathering
still ahead in the region is brought in line (`refresh`), emitting what changed.

A redelivered or replayed event is harmless twice over: the inbox skips a known event id,
and `refresh` compares desired with actual, so it has nothing left to do the second time.
"""

from __future__ import annotations

from collections.abc import Iterable

import asyncpg

from services.scheduling.adapters import interim_work
from services.scheduling.adapters import repository as repo
from services.scheduling.domain.calendar import OSLO
from services.scheduling.domain.invitations import (
    RegionState,
    invitation_id,
    invitees,
    reconcile,
)
from services.scheduling.handlers.context import Context
from shared.contracts.events.registration import (
    AdmissionRevoked,
    ApplicationSubmitted,
    GroupMemberAdded,
    GroupMemberRemoved,
    InterestRegistered,
    InterestUpdated,
    MunicipalityAdmitted,
    MunicipalityWithdrawn,
    PersonErased,
)
from shared.contracts.events.scheduling import (
    CancellationCause,
    GatheringCancelled,
    GatheringKind,
    InterimWorkDue,
    InvitationIssued,
    InvitationWithdrawn,
    Invitee,
    InviteeRole,
)
from shared.messaging.bus import UnitOfWork


def invitation_facts(row: asyncpg.Record, invitation: asyncpg.Record) -> dict[str, object]:
    """An invitation of a gathering as its events state it."""
    return _facts(row, invitation)


def _facts(row: asyncpg.Record, invitation: asyncpg.Record) -> dict[str, object]:
    return {
        "invitation_id": invitation["id"],
        "gathering_id": row["id"],
        "round_id": row["round_id"],
        "region": row["region"],
        "kind": GatheringKind(row["kind"]),
        "person_id": invitation["person_id"],
        "municipality_number": invitation["municipality_number"],
        "branch_id": invitation["branch_id"],
        "role": InviteeRole(invitation["role"]),
        "sequence": row["sequence"],
    }


async def refresh(
    uow: UnitOfWork,
    ctx: Context,
    gathering: asyncpg.Record,
    *,
    reason: str,
    state: RegionState | None = None,
) -> None:
    """Invite exactly whom the gathering should invite now; emit each change."""
    if state is None:
        state = await repo.region_state(uow.conn, gathering["round_id"], gathering["region"])
    kind = GatheringKind(gathering["kind"])
    # Only a dialogmøte invites guests by name: other kinds save the read.
    guests = (
        await repo.gathering_guests(uow.conn, gathering["id"])
        if kind is GatheringKind.DIALOGMOTE
        else []
    )
    desired = invitees(
        kind,
        state,
        municipality=gathering["municipality_number"],
        also_invite=gathering["also_invite"],
        guests=guests,
    )
    active = [r["invitee_key"] for r in await repo.invitations(uow.conn, gathering["id"])]
    changes = reconcile(desired, active)
    if changes.withdraw:
        # Whoever is no longer invited gets a calendar CANCEL, which a calendar program only
        # takes with a SEQUENCE above the one it holds: the gathering's goes up.
        gathering = await repo.raise_sequence(uow.conn, gathering["id"])
    due = await _interim_work_due(uow, gathering) if changes.issue else None
    for invitee in changes.issue:
        the_id = invitation_id(gathering["id"], invitee.key)
        if await repo.issue_invitation(uow.conn, the_id, gathering["id"], invitee):
            invitation = await repo.find_invitation(uow.conn, gathering["id"], invitee.key)
            assert invitation is not None
            await uow.emit(
                ctx.events,
                InvitationIssued(
                    **_facts(gathering, invitation),
                    starts_at=gathering["starts_at"].astimezone(OSLO),
                    ends_at=gathering["ends_at"].astimezone(OSLO),
                    interim_work_due=due,
                ),
            )
    for key in changes.withdraw:
        withdrawn = await repo.withdraw_invitation(uow.conn, gathering["id"], key, reason)
        if withdrawn is not None:
            await uow.emit(
                ctx.events,
                InvitationWithdrawn(**_facts(gathering, withdrawn), reason=reason),
            )


async def _interim_work_due(
    uow: UnitOfWork, gathering: asyncpg.Record
) -> list[InterimWorkDue] | None:
    """A samling's invitations list the mellomarbeid set after the samling before it."""
    if gathering["kind"] != GatheringKind.SAMLING:
        return None
    found = await interim_work.due_before(
        uow.conn, gathering["round_id"], gathering["region"], gathering["starts_at"]
    )
    return [InterimWorkDue(interim_work_id=i, title=t, due_on=d) for i, t, d in found]


async def refresh_region(
    uow: UnitOfWork, ctx: Context, round_id: str, region: str | None, *, reason: str
) -> None:
    """Every gathering ahead in the round's region (or all regions) brought in line."""
    await repo.lock_round(uow.conn, round_id)
    states: dict[str, RegionState] = {}
    for gathering in await repo.gatherings_ahead(
        uow.conn, round_id=round_id, region=region, now=ctx.clock()
    ):
        where = gathering["region"]
        if where not in states:
            states[where] = await repo.region_state(uow.conn, round_id, where)
        await refresh(uow, ctx, gathering, reason=reason, state=states[where])


# --- registration's events --------------------------------------------------------------------


async def interest_registered(
    event: InterestRegistered | InterestUpdated, uow: UnitOfWork, ctx: Context
) -> None:
    await repo.save_interest(
        uow.conn,
        round_id=event.round_id,
        branch_id=event.branch_id,
        contact_person_id=event.contact_person_id,
        municipality_numbers=event.municipality_numbers,
    )
    named = event.municipality_contacts or []  # absent in events from before contacts
    await repo.save_municipality_contacts(
        uow.conn,
        round_id=event.round_id,
        branch_id=event.branch_id,
        contacts={
            c.municipality_number: c.person_id
            for c in named
            if c.municipality_number in event.municipality_numbers
        },
    )
    await refresh_region(
        uow, ctx, event.round_id, event.branch_id, reason="the region's interest changed"
    )


async def application_submitted(event: ApplicationSubmitted, uow: UnitOfWork, ctx: Context) -> None:
    current = await repo.participant(uow.conn, event.round_id, event.municipality_number)
    if current is not None and current["status"] == "admitted":
        return  # a late copy of an older event: admission has the group since
    await repo.save_participant(
        uow.conn,
        round_id=event.round_id,
        municipality_number=event.municipality_number,
        branch_id=event.branch_id,
        county_number=event.county_number,
        status="submitted",
    )
    await repo.replace_group(
        uow.conn,
        event.round_id,
        event.municipality_number,
        [(m.person_id, m.role.value) for m in event.group],
    )


async def municipality_admitted(event: MunicipalityAdmitted, uow: UnitOfWork, ctx: Context) -> None:
    await repo.save_participant(
        uow.conn,
        round_id=event.round_id,
        municipality_number=event.municipality_number,
        branch_id=event.branch_id,
        county_number=event.county_number,
        status="admitted",
    )
    await repo.replace_group(
        uow.conn,
        event.round_id,
        event.municipality_number,
        [(m.person_id, m.role.value) for m in event.group],
    )
    await refresh_region(
        uow, ctx, event.round_id, event.branch_id, reason="the municipality was admitted"
    )


async def municipality_withdrawn(
    event: MunicipalityWithdrawn | AdmissionRevoked, uow: UnitOfWork, ctx: Context
) -> None:
    """Withdrawn or revoked: its veiledning is released, its invitations ahead withdrawn."""
    revoked = isinstance(event, AdmissionRevoked)
    await repo.save_participant(
        uow.conn,
        round_id=event.round_id,
        municipality_number=event.municipality_number,
        branch_id=event.branch_id,
        county_number=event.county_number,
        status="revoked" if revoked else "withdrawn",
    )
    await repo.lock_round(uow.conn, event.round_id)
    cause = CancellationCause.ADMISSION_REVOKED if revoked else CancellationCause.WITHDRAWN
    for booking in await repo.supervisions_ahead(
        uow.conn, event.round_id, event.municipality_number, ctx.clock()
    ):
        await release_supervision(uow, ctx, booking, cause)
    await refresh_region(
        uow,
        ctx,
        event.round_id,
        event.branch_id,
        reason=f"{event.municipality_number} "
        + ("lost its admission" if revoked else "withdrew from the programme"),
    )


async def release_supervision(
    uow: UnitOfWork, ctx: Context, booking: asyncpg.Record, cause: CancellationCause
) -> None:
    """A veiledning without its municipality: cancelled, so the supervisor is free again;
    the event names the supervisor and everyone invited, so each is told."""
    cancelled = await repo.cancel_booking(uow.conn, booking["id"])
    invitees = [
        Invitee(
            invitation_id=r["id"],
            person_id=r["person_id"],
            municipality_number=r["municipality_number"],
            branch_id=r["branch_id"],
            role=InviteeRole(r["role"]),
        )
        for r in await repo.invitations(uow.conn, booking["id"])
    ]
    await uow.emit(
        ctx.events,
        GatheringCancelled(
            gathering_id=cancelled["id"],
            round_id=cancelled["round_id"],
            region=cancelled["region"],
            kind=GatheringKind(cancelled["kind"]),
            title=cancelled["title"],
            starts_at=cancelled["starts_at"].astimezone(OSLO),
            ends_at=cancelled["ends_at"].astimezone(OSLO),
            sequence=cancelled["sequence"],
            reason="",
            invitees=invitees,
            supervisor_id=cancelled["supervisor_id"],
            municipality_number=cancelled["municipality_number"],
            cause=cause,
        ),
    )


async def _group_changed(
    uow: UnitOfWork, ctx: Context, round_id: str, municipality: str, reason: str
) -> None:
    found = await repo.participant(uow.conn, round_id, municipality)
    if found is not None:
        await refresh_region(uow, ctx, round_id, found["branch_id"], reason=reason)


async def group_member_added(event: GroupMemberAdded, uow: UnitOfWork, ctx: Context) -> None:
    await repo.add_member(
        uow.conn, event.round_id, event.municipality_number, event.person_id, event.role.value
    )
    await _group_changed(
        uow, ctx, event.round_id, event.municipality_number, "joined the kommunegruppe"
    )


async def group_member_removed(event: GroupMemberRemoved, uow: UnitOfWork, ctx: Context) -> None:
    await repo.remove_member(uow.conn, event.round_id, event.municipality_number, event.person_id)
    await _group_changed(
        uow, ctx, event.round_id, event.municipality_number, "left the kommunegruppe"
    )


async def person_erased(event: PersonErased, uow: UnitOfWork, ctx: Context) -> None:
    """The person goes: future invitations are withdrawn, past ones keep only the
    municipality (for its attendance rate)."""
    rounds: Iterable[str] = await repo.erase_person(uow.conn, event.person_id)
    for round_id in sorted(rounds):  # one lock order for every handler
        await refresh_region(uow, ctx, round_id, None, reason="personal data erased")
    # Gatherings ahead that invited the person by name elsewhere (a round we know no group of).
    for gathering in await repo.gatherings_ahead_of_person(uow.conn, event.person_id, ctx.clock()):
        withdrawn = await repo.withdraw_invitation(
            uow.conn, gathering["id"], f"person:{event.person_id}", "personal data erased"
        )
        if withdrawn is not None:
            await uow.emit(
                ctx.events,
                InvitationWithdrawn(**_facts(gathering, withdrawn), reason="personal data erased"),
            )
    await repo.forget_person_in_invitations(uow.conn, event.person_id)
