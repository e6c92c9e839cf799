"""A municipality's application: drafted by its county board (also before its county's
window opens), submitted whole in the window. Pure: the handlers load, this decides."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from uuid import UUID

from services.registration.domain import areas
from services.registration.domain.deadlines import require_before, require_open
from services.registration.domain.decisions import (
    CHANGEABLE,
    DRAFT,
    REDRAFTABLE,
    STATUS_NB,
    SUBMITTED,
    WITHDRAWN,
    Application,
    Status,
)
from services.registration.domain.groups import IncompleteGroup, Member, MemberRole, check_group
from services.registration.domain.rounds import Window
from shared.contracts.errors import Conflict, DomainError, NotFound
from shared.contracts.events.registration import (
    ApplicationSubmitted,
    GroupMember,
    GroupMemberAdded,
    GroupMemberRef,
    GroupMemberRemoved,
    GroupRole,
    SaveApplicationDraft,
)


def already(name: str, status: Status) -> Conflict:
    status_nb = STATUS_NB[status]
    return Conflict(
        f"the application of {name} is already {status}",
        nb=f"Søknaden fra {name} er allerede {status_nb}.",
        nn=f"Søknaden frå {name} er alt {status_nb}.",
        field="municipality_number",
    )


def require_window_open(
    window: Window | None, now: datetime, *, round_id: str, county_name: str
) -> None:
    """Applications go in while their county's window is open; it opens after the county's
    annual meeting."""
    if window is None:
        raise Conflict(
            f"{county_name} has no application window in round {round_id} yet "
            "(it opens after the county's annual meeting)",
            nb=f"{county_name} har ingen søknadsperiode i runde {round_id} ennå (den åpnes "
            "etter fylkesårsmøtet). Et utkast kan lagres allerede nå.",
            nn=f"{county_name} har ingen søknadsperiode i runde {round_id} enno (han vert opna "
            "etter fylkesårsmøtet). Eit utkast kan lagrast alt no.",
            field="municipality_number",
        )
    require_open(window.opens_on, window.deadline, now, f"applications from {county_name}")


def draft(
    cmd: SaveApplicationDraft,
    existing: Application | None,
    *,
    new_id: UUID,
    county: str,
    branch_id: str,
    adopted: list[str] | None,
    window: Window | None,
    now: datetime,
    name: str,
    county_name: str,
    branch_name: str,
) -> Application:
    """The draft as saved: a draft may come before the window opens, not after it has
    closed; a withdrawn application may start again while the window is open."""
    if window is not None:
        require_before(window.deadline, now, f"applications from {county_name}")
    if existing is not None and existing.status not in REDRAFTABLE:
        raise already(name, existing.status)
    if existing is not None and existing.status is WITHDRAWN:
        require_window_open(window, now, round_id=cmd.round_id, county_name=county_name)
    picked = areas.pick(cmd.development_areas, adopted, branch_name)
    base = existing or Application(
        id=new_id,
        round_id=cmd.round_id,
        municipality_number=cmd.municipality_number,
        county_number=county,
        branch_id=branch_id,
        status=DRAFT,
    )
    # A draft starts with no decision; its earlier group (if any) steps down as it is saved.
    return replace(
        base.with_decision(DRAFT, at=None, by=None),
        motivation=cmd.motivation,
        development_areas=tuple(picked),
        co_creation_plan=cmd.co_creation_plan,
        draft_group=tuple(m.model_dump(mode="json") for m in cmd.group),
        own_development_areas=tuple(areas.tidy(cmd.own_development_areas)),
        themes=tuple(dict.fromkeys(t.value for t in cmd.themes)),
        submitted_at=None,
    )


def require_complete(app: Application) -> list[GroupMember]:
    """Motivation, development areas, a co-creation plan and a complete, committed group."""
    missing = [
        (en, nb, name)
        for en, nb, name, value in (
            ("motivation", "motivasjon", "motivation", app.motivation),
            (
                "development areas",
                "utviklingsområder",
                "development_areas",
                app.development_areas + app.own_development_areas,
            ),
            (
                "a local co-creation plan",
                "en plan for lokal samskaping",
                "co_creation_plan",
                app.co_creation_plan,
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
    group = [GroupMember.model_validate(m) for m in app.draft_group]
    check_group(
        [Member(str(m.email), MemberRole(m.role.value), m.commits_to_gatherings) for m in group]
    )
    return group


def require_draft(app: Application, name: str) -> None:
    if app.status is not DRAFT:
        raise already(name, app.status)


def submit(
    app: Application, group: Sequence[GroupMemberRef], now: datetime
) -> tuple[Application, list[ApplicationSubmitted]]:
    """The draft submitted with its group registered (`group`): no longer a draft's text."""
    submitted = replace(app, status=SUBMITTED, submitted_at=now, draft_group=())
    event = ApplicationSubmitted(
        application_id=app.id,
        round_id=app.round_id,
        municipality_number=app.municipality_number,
        county_number=app.county_number,
        branch_id=app.branch_id,
        development_areas=list(app.development_areas),
        group=list(group),
        submitted_at=now,
        own_development_areas=list(app.own_development_areas),
        themes=list(app.themes),
    )
    return submitted, [event]


def require_changeable(app: Application) -> None:
    """Only a submitted, wait-listed or admitted application's kommunegruppe changes."""
    if app.status not in CHANGEABLE:
        municipality = app.municipality_number
        status_nb = STATUS_NB[app.status]
        raise Conflict(
            f"the group of {municipality} cannot change: the application is {app.status}",
            nb=f"Kommunegruppen til {municipality} kan ikke endres: søknaden er {status_nb}.",
            nn=f"Kommunegruppa til {municipality} kan ikkje endrast: søknaden er {status_nb}.",
            field="municipality_number",
        )


def require_committed(member: GroupMember) -> None:
    if not member.commits_to_gatherings:
        raise DomainError(
            "a new member must commit to the gatherings and the work between them",
            nb="Et nytt medlem må forplikte seg til samlingene og mellomarbeidet.",
            nn="Eit nytt medlem må forplikte seg til samlingane og mellomarbeidet.",
            field="member.commits_to_gatherings",
        )


def member_to_remove(app: Application, group: Sequence[Member], person_id: UUID) -> Member:
    found = next((m for m in group if m.person_id == person_id), None)
    if found is None:
        municipality = app.municipality_number
        raise NotFound(
            f"{person_id} is not in the group of {municipality}",
            nb=f"Personen er ikke med i kommunegruppen til {municipality}.",
            nn=f"Personen er ikkje med i kommunegruppa til {municipality}.",
            field="person_id",
        )
    return found


def change_group(
    app: Application,
    after: Sequence[Member],
    *,
    removed: Member | None,
    added: tuple[UUID, GroupMember] | None,
    now: datetime,
) -> tuple[GroupMemberRemoved | None, GroupMemberAdded | None]:
    """The events of a change to the kommunegruppe (who left, who came), if the group it
    leaves (`after`) is complete: an incomplete one conflicts with what is there."""
    try:
        check_group(after)
    except IncompleteGroup as error:
        raise Conflict(error.en, nb=error.nb, nn=error.nn, field=error.field) from error
    where = {
        "application_id": app.id,
        "round_id": app.round_id,
        "municipality_number": app.municipality_number,
        "changed_at": now,
    }
    gone = None
    if removed is not None and removed.person_id is not None:
        role = GroupRole(removed.role.value)
        gone = GroupMemberRemoved(**where, person_id=removed.person_id, role=role)
    came = None
    if added is not None:
        came = GroupMemberAdded(**where, person_id=added[0], role=added[1].role)
    return gone, came
