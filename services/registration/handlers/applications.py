"""A municipality's application: drafted by its county board, submitted whole in its window."""

from __future__ import annotations

import uuid
from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, Field

from services.registration.domain import areas
from services.registration.domain import decisions as rules
from services.registration.domain.deadlines import require_before, require_open
from services.registration.domain.decisions import Application
from services.registration.domain.groups import Member, MemberRole, check_group
from services.registration.domain.interest import municipality_in_branch, require_members
from services.registration.domain.rounds import Window
from services.registration.handlers.context import Context, load_round, publish_contact
from shared.contracts.errors import Conflict, DomainError, NotFound
from shared.contracts.events.registration import (
    ApplicationSubmitted,
    ContactPerson,
    GroupMember,
    GroupMemberRef,
    SaveApplicationDraft,
    SubmitApplication,
)
from shared.messaging.bus import UnitOfWork


class DraftSaved(BaseModel):
    """What a saved draft holds now (its text is read back with GET .../applications/{nr})."""

    id: UUID = Field(description="The application's id, the same through every save")
    round_id: str
    municipality_number: str
    status: rules.Status
    group_size: int = Field(description="Members in the draft's kommunegruppe")


def place(ctx: Context, municipality: str) -> tuple[str, str]:
    county, branch = municipality_in_branch(ctx.reference, municipality)
    return county, branch.id


async def load_application(
    uow: UnitOfWork, ctx: Context, round_id: str, municipality: str
) -> Application:
    found = await ctx.store(uow).get_application(round_id, municipality)
    if found is None:
        name = ctx.municipality_name(municipality)
        raise NotFound(
            f"no application from {name} in round {round_id}",
            nb=f"Det finnes ingen søknad fra {name} i runde {round_id}.",
            nn=f"Det finst ingen søknad frå {name} i runde {round_id}.",
            field="municipality_number",
        )
    return found


async def window_of(uow: UnitOfWork, ctx: Context, round_id: str, county: str) -> Window:
    window = await ctx.store(uow).get_window(round_id, county)
    if window is None:
        name = ctx.county_name(county)
        raise Conflict(
            f"{name} has no application window in round {round_id} yet "
            "(it opens after the county's annual meeting)",
            nb=f"{name} har ingen søknadsperiode i runde {round_id} ennå (den åpnes "
            "etter fylkesårsmøtet). Et utkast kan lagres allerede nå.",
            nn=f"{name} har ingen søknadsperiode i runde {round_id} enno (han vert opna "
            "etter fylkesårsmøtet). Eit utkast kan lagrast alt no.",
            field="municipality_number",
        )
    return window


async def require_window_open(uow: UnitOfWork, ctx: Context, round_id: str, county: str) -> None:
    window = await window_of(uow, ctx, round_id, county)
    require_open(
        window.opens_on,
        window.deadline,
        ctx.clock(),
        f"applications from {ctx.county_name(county)}",
    )


def _already(municipality: str, status: rules.Status) -> Conflict:
    status_nb = rules.STATUS_NB[status]
    return Conflict(
        f"the application of {municipality} is already {status}",
        nb=f"Søknaden fra {municipality} er allerede {status_nb}.",
        nn=f"Søknaden frå {municipality} er alt {status_nb}.",
        field="municipality_number",
    )


async def save_application_draft(
    cmd: SaveApplicationDraft, uow: UnitOfWork, ctx: Context
) -> DraftSaved:
    await load_round(uow, ctx, cmd.round_id, intake=True)
    county, branch_id = place(ctx, cmd.municipality_number)
    require_members(
        ctx.reference,
        await ctx.store(uow).members_among([cmd.municipality_number]),
        [cmd.municipality_number],
    )
    # A draft may be saved before the window opens, not after it has closed.
    window = await ctx.store(uow).get_window(cmd.round_id, county)
    if window is not None:
        require_before(window.deadline, ctx.clock(), f"applications from {ctx.county_name(county)}")
    existing = await ctx.store(uow).get_application(cmd.round_id, cmd.municipality_number)
    if existing is not None and existing.status not in rules.REDRAFTABLE:
        raise _already(ctx.municipality_name(cmd.municipality_number), existing.status)
    if existing is not None and existing.status is rules.WITHDRAWN:
        # A withdrawn municipality may apply again, while its county's window is open.
        await require_window_open(uow, ctx, cmd.round_id, county)
        await ctx.store(uow).reopen_as_draft(existing.id)
    adopted = await ctx.store(uow).development_areas(cmd.round_id, branch_id)
    picked = areas.pick(cmd.development_areas, adopted, ctx.branch(branch_id).name)
    application_id = existing.id if existing is not None else uuid.uuid4()
    await ctx.store(uow).save_draft(
        application_id=application_id,
        round_id=cmd.round_id,
        municipality=cmd.municipality_number,
        county=county,
        branch_id=branch_id,
        motivation=cmd.motivation,
        development_areas=picked,
        co_creation_plan=cmd.co_creation_plan,
        draft_group=[m.model_dump(mode="json") for m in cmd.group],
        own_development_areas=areas.tidy(cmd.own_development_areas),
        themes=list(dict.fromkeys(t.value for t in cmd.themes)),
    )
    return DraftSaved(
        id=application_id,
        round_id=cmd.round_id,
        municipality_number=cmd.municipality_number,
        status=rules.DRAFT,
        group_size=len(cmd.group),
    )


async def register_member(
    uow: UnitOfWork, ctx: Context, application_id: UUID, member: GroupMember
) -> UUID:
    """A group member becomes a person here; their contact goes to the restricted topic."""
    person_id = uuid.uuid4()
    await ctx.store(uow).add_person(
        person_id=person_id,
        contact=ContactPerson(
            name=member.name, email=member.email, phone=member.phone, language=member.language
        ),
    )
    await ctx.store(uow).add_group_member(
        application_id=application_id,
        person_id=person_id,
        role=MemberRole(member.role.value),
        organisation=member.organisation,
        committed=member.commits_to_gatherings,
    )
    await publish_contact(uow, ctx, person_id, member)
    return person_id


def require_complete(draft: Application) -> list[GroupMember]:
    """Motivation, development areas, a co-creation plan and a complete, committed group."""
    missing = [
        (en, nb, name)
        for en, nb, name, value in (
            ("motivation", "motivasjon", "motivation", draft.motivation),
            (
                "development areas",
                "utviklingsområder",
                "development_areas",
                draft.development_areas + draft.own_development_areas,
            ),
            (
                "a local co-creation plan",
                "en plan for lokal samskaping",
                "co_creation_plan",
                draft.co_creation_plan,
            ),
        )
        if not value
    ]
    if missing:
        raise DomainError(
            f"the application needs {', '.join(m[0] for m in missing)} before it is submitted",
            nb=f"Søknaden mangler {', '.join(m[1] for m in missing)} før den kan sendes inn.",
            nn=f"Søknaden manglar {', '.join(m[1] for m in missing)} før han kan sendast inn.",
            field=missing[0][2],
        )
    group = [GroupMember.model_validate(m) for m in draft.draft_group]
    check_group(
        [Member(str(m.email), MemberRole(m.role.value), m.commits_to_gatherings) for m in group]
    )
    return group


async def submit_application(
    cmd: SubmitApplication, uow: UnitOfWork, ctx: Context
) -> ApplicationSubmitted:
    await load_round(uow, ctx, cmd.round_id, intake=True)
    draft = await load_application(uow, ctx, cmd.round_id, cmd.municipality_number)
    if draft.status is not rules.DRAFT:
        raise _already(ctx.municipality_name(cmd.municipality_number), draft.status)
    await require_window_open(uow, ctx, cmd.round_id, draft.county_number)
    require_members(
        ctx.reference,
        await ctx.store(uow).members_among([cmd.municipality_number]),
        [cmd.municipality_number],
    )
    group = require_complete(draft)
    # The whole group in this one transaction: registered all or nothing.
    refs = []
    for member in group:
        person_id = await register_member(uow, ctx, draft.id, member)
        refs.append(GroupMemberRef(person_id=person_id, role=member.role))
    now: datetime = ctx.clock()
    await ctx.store(uow).mark_submitted(draft.id, now)
    event = ApplicationSubmitted(
        application_id=draft.id,
        round_id=cmd.round_id,
        municipality_number=cmd.municipality_number,
        county_number=draft.county_number,
        branch_id=draft.branch_id,
        development_areas=list(draft.development_areas),
        group=refs,
        submitted_at=now,
        own_development_areas=list(draft.own_development_areas),
        themes=list(draft.themes),
    )
    await uow.emit(ctx.events, event)
    return event
