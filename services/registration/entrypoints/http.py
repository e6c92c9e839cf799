"""HTTP reads, the membership CSV and the participants export.

Commands are routed by the registry `services.registration.app` composes (one entry each;
the few with their own HTTP shape in `command_routes`, given the registry). Reads
follow least privilege: programme management reads everything; a county board reads its own
branch's details; an observer reads counts only (no messages, contacts or reasons).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from services.registration.adapters import reads
from services.registration.domain.access import Principal, Role
from services.registration.domain.deadlines import closes_at, opens_at
from services.registration.domain.reference import Branch, ReferenceData
from services.registration.entrypoints.auth import PrincipalDep, may_read_branch
from services.registration.handlers.context import Context
from shared.contracts.events.registration import (
    BranchContactSet,
    ContactPerson,
    DevelopmentArea,
    DevelopmentAreasSet,
    ImportMembers,
    MembershipChanged,
    SetBranchContact,
    SetDevelopmentAreas,
    Theme,
)
from shared.runtime.commands import (
    READ_REFUSALS,
    REFUSALS,
    REPLAYED,
    Accepted,
    CommandRegistry,
    IdempotencyKey,
    accepted_model,
)
from shared.runtime.problems import Problem, require_json, texts
from shared.runtime.spec import Runtime, RuntimeDep

router = APIRouter()

RoundPath = Annotated[str, Path(pattern=r"^\d{4}$", description="The round's starting year")]
MunicipalityPath = Annotated[str, Path(pattern=r"^\d{4}$", description="Kommunenummer")]
CountyPath = Annotated[str, Path(pattern=r"^\d{2}$", description="Fylkesnummer")]


def _context(runtime: Runtime) -> Context:
    ctx: Context = runtime.extras["context"]
    return ctx


def _not_found(en: str, nb: str, nn: str, field: str) -> Problem:
    return Problem("not-found", texts(nb, nn, en), status=404, field=field)


def _forbidden() -> Problem:
    return Problem(
        "forbidden",
        texts(
            "Du har bare tilgang til opplysningene til din egen fylkesavdeling.",
            "Du har berre tilgang til opplysningane til di eiga fylkesavdeling.",
            "You may read your own branch's details only.",
        ),
        status=403,
    )


async def _round(runtime: Runtime, round_id: str) -> Any:
    found = await reads.get_round(runtime.pool, round_id)
    if found is None:
        raise _not_found(
            f"no programme round {round_id}",
            f"Programrunden {round_id} finnes ikke.",
            f"Programrunden {round_id} finst ikkje.",
            "round_id",
        )
    return found


def _branch_param(reference: ReferenceData, value: str | None) -> Branch | None:
    if not value:
        return None
    found = reference.branch(value)
    if found is None:
        raise _not_found(
            "unknown county branch",
            "Ukjent fylkesavdeling.",
            "Ukjend fylkesavdeling.",
            "branch",
        )
    return found


def _scope(principal: Principal, branch: Branch | None) -> str | None:
    """Which branch's details the principal may list: all (None), or their own."""
    if principal.role is Role.PROGRAMME:
        return branch.id if branch else None
    if principal.role is Role.COUNTY_BOARD and principal.branch_id:
        if branch is not None and branch.id != principal.branch_id:
            raise _forbidden()
        return principal.branch_id
    raise _forbidden()


def _municipalities(reference: ReferenceData, numbers: list[str]) -> list[dict[str, str]]:
    return [
        {"number": n, "name": m.name if (m := reference.municipalities.get(n)) else ""}
        for n in numbers
    ]


# --- membership ---------------------------------------------------------------------------------


def parse_membership_csv(text: str) -> list[str]:
    """Municipality numbers from a CSV with a `kommunenummer` column: comma or semicolon
    separated, with or without a byte order mark (as Excel saves it), numbers with or without
    their leading zero."""
    text = text.removeprefix("\ufeff")
    header = text.split("\n", 1)[0]
    delimiter = ";" if header.count(";") > header.count(",") else ","
    # newline="": a carriage return inside a field is the field's (as the csv module asks).
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        return _kommunenummer(reader)
    except csv.Error as error:
        raise Problem(
            "csv-unreadable",
            texts(
                f"CSV-filen kan ikke leses: {error}.",
                f"CSV-fila kan ikkje lesast: {error}.",
                f"the CSV cannot be read: {error}",
            ),
        ) from error


def _kommunenummer(reader: csv.DictReader[str]) -> list[str]:
    fields = [f.strip().lower() for f in reader.fieldnames or []]
    if "kommunenummer" not in fields:
        raise Problem(
            "csv-without-kommunenummer",
            texts(
                "CSV-filen trenger en overskriftsrad med kolonnen «kommunenummer».",
                "CSV-fila treng ei overskriftsrad med kolonnen «kommunenummer».",
                "the CSV needs a header row with a `kommunenummer` column",
            ),
            field="kommunenummer",
        )
    column = (reader.fieldnames or [])[fields.index("kommunenummer")]
    return [value.strip().zfill(4) for row in reader if (value := (row.get(column) or "").strip())]


class AdoptedAreas(BaseModel):
    model_config = ConfigDict(extra="forbid")
    areas: list[DevelopmentArea] = Field(max_length=30, description="In the board's words")


def command_routes(
    commands: CommandRegistry[Context], context: Callable[[Runtime], Context]
) -> APIRouter:
    """The commands whose HTTP shape is not the registry's `POST` of the contract: the
    membership list as CSV, and two `PUT`s on a resource's path. Each runs through the
    registry (its rule, idempotency, refusals) like every other command."""
    routes = APIRouter()

    @routes.post(
        "/members/csv",
        tags=["members"],
        summary="Replace the membership list from a CSV export (Excel's too)",
        responses={200: REPLAYED, **REFUSALS},
        response_model=accepted_model(ImportMembers, MembershipChanged),
    )
    async def import_members_csv(
        request: Request,
        runtime: RuntimeDep,
        principal: PrincipalDep,
        body: Annotated[
            str,
            Body(
                media_type="text/csv",
                description="CSV with a `kommunenummer` column; `,` or `;`, UTF-8 with or without BOM",
            ),
        ],
        idempotency_key: IdempotencyKey = None,
    ) -> Response:
        """Replace the membership list from a CSV export (column `kommunenummer`)."""
        numbers = parse_membership_csv(body)
        if any(not n.isdigit() or len(n) != 4 for n in numbers) or len(numbers) > 400:
            raise Problem(
                "csv-bad-kommunenummer",
                texts(
                    "Kolonnen «kommunenummer» må ha firesifrede kommunenummer (høyst 400).",
                    "Kolonnen «kommunenummer» må ha firesifra kommunenummer (høgst 400).",
                    "`kommunenummer` must hold four-digit municipality numbers (at most 400)",
                ),
                field="kommunenummer",
            )
        command = ImportMembers(municipality_numbers=numbers)
        # Bound to the membership list the CSV says, not to the file's layout.
        return await commands.run(
            runtime,
            principal,
            command,
            context(runtime),
            key=idempotency_key,
            route="POST /members/csv",
        )

    # --- county branches ---------------------------------------------------------------------------

    @routes.put(
        "/branches/{branch}/contact",
        tags=["branches"],
        summary="Set a county branch's board contact (told when a round opens, reminded before "
        "its interest deadline)",
        responses={200: REPLAYED, **REFUSALS},
        response_model=accepted_model(SetBranchContact, BranchContactSet),
        dependencies=[Depends(require_json)],
    )
    async def set_branch_contact(
        branch: Annotated[
            str, Path(min_length=1, max_length=100, description="The branch's id or name")
        ],
        contact: ContactPerson,
        runtime: RuntimeDep,
        principal: PrincipalDep,
        idempotency_key: IdempotencyKey = None,
    ) -> Response:
        """Programme management keeps each branch's board contact. The contact's details travel
        on the restricted contacts topic only; the `branch-contact-set` event names them by id."""
        return await commands.run(
            runtime,
            principal,
            SetBranchContact(branch=branch, contact=contact),
            context(runtime),
            key=idempotency_key,
            route="PUT /branches/{branch}/contact",
        )

    @routes.put(
        "/rounds/{round_id}/branches/{branch}/development-areas",
        tags=["branches"],
        summary="Set the development areas a county branch has adopted for a round",
        responses={200: REPLAYED, **REFUSALS},
        response_model=accepted_model(SetDevelopmentAreas, DevelopmentAreasSet),
        dependencies=[Depends(require_json)],
    )
    async def set_development_areas(
        round_id: RoundPath,
        branch: Annotated[
            str, Path(min_length=1, max_length=100, description="The branch's id or name")
        ],
        body: AdoptedAreas,
        runtime: RuntimeDep,
        principal: PrincipalDep,
        idempotency_key: IdempotencyKey = None,
    ) -> Response:
        """The whole list at once (it replaces the one before); applications from the branch's
        municipalities pick from it, beside areas of their own."""
        return await commands.run(
            runtime,
            principal,
            SetDevelopmentAreas(round_id=round_id, branch=branch, areas=body.areas),
            context(runtime),
            key=idempotency_key,
            route="PUT /rounds/{round_id}/branches/{branch}/development-areas",
        )

    return routes


class BranchAreas(BaseModel):
    branch_id: str
    branch_name: str
    areas: list[str]
    set_at: datetime | None


@router.get("/rounds/{round_id}/development-areas", tags=["branches"], responses=READ_REFUSALS)
async def list_development_areas(
    round_id: RoundPath, runtime: RuntimeDep, principal: PrincipalDep
) -> list[BranchAreas]:
    """Each branch's adopted development areas for the round (none yet: an empty list), and
    the programme's themes an application may be tagged with: in `GET /themes`."""
    await _round(runtime, round_id)
    reference = _context(runtime).reference
    found = {r["branch_id"]: r for r in await reads.round_development_areas(runtime.pool, round_id)}
    return [
        BranchAreas(
            branch_id=b.id,
            branch_name=b.name,
            areas=list(found[b.id]["areas"]) if b.id in found else [],
            set_at=found[b.id]["set_at"] if b.id in found else None,
        )
        for b in reference.branches.values()
    ]


@router.get("/themes", tags=["branches"], responses=READ_REFUSALS)
async def list_themes(principal: PrincipalDep) -> list[str]:
    """The programme's themes (medvirkning, bærekraft, innovasjon, samskaping)."""
    return [t.value for t in Theme]


@router.get("/members", tags=["members"], responses=READ_REFUSALS)
async def list_members(runtime: RuntimeDep, principal: PrincipalDep) -> list[str]:
    return sorted(await reads.members(runtime.pool))


# --- rounds, windows ----------------------------------------------------------------------------


class Window(BaseModel):
    county_number: str
    county_name: str
    opens_on: date
    deadline: date
    closes_at: datetime = Field(description="The end of the deadline day, Europe/Oslo")
    open_now: bool


class RoundView(BaseModel):
    round_id: str
    state: str
    state_reason: str | None = None
    interest_deadline: date
    interest_closes_at: datetime
    capacity_per_branch: dict[str, int]
    branch_names: dict[str, str] = Field(description="Branch id to name, for the capacity")
    windows: list[Window]


def _windows(ctx: Context, rows: list[Any]) -> list[Window]:
    now = ctx.clock()
    return [
        Window(
            county_number=w["county_number"],
            county_name=ctx.reference.counties.get(w["county_number"], ""),
            opens_on=w["opens_on"],
            deadline=w["deadline"],
            closes_at=closes_at(w["deadline"]),
            open_now=opens_at(w["opens_on"]) <= now < closes_at(w["deadline"]),
        )
        for w in rows
    ]


async def _round_view(runtime: Runtime, row: Any) -> RoundView:
    ctx = _context(runtime)
    return RoundView(
        round_id=row["round_id"],
        state=row["state"],
        state_reason=row["state_reason"],
        interest_deadline=row["interest_deadline"],
        interest_closes_at=closes_at(row["interest_deadline"]),
        capacity_per_branch=row["capacity_per_branch"],
        branch_names={b.id: b.name for b in ctx.reference.branches.values()},
        windows=_windows(ctx, await reads.windows(runtime.pool, row["round_id"])),
    )


@router.get("/rounds", tags=["rounds"], responses=READ_REFUSALS)
async def list_rounds(runtime: RuntimeDep, principal: PrincipalDep) -> list[RoundView]:
    """Every round with its deadlines, capacity and application windows per county."""
    return [await _round_view(runtime, r) for r in await reads.rounds(runtime.pool)]


@router.get("/rounds/{round_id}", tags=["rounds"], responses=READ_REFUSALS)
async def get_round(round_id: RoundPath, runtime: RuntimeDep, principal: PrincipalDep) -> RoundView:
    return await _round_view(runtime, await _round(runtime, round_id))


@router.get("/rounds/{round_id}/application-windows", tags=["rounds"], responses=READ_REFUSALS)
async def list_windows(
    round_id: RoundPath, runtime: RuntimeDep, principal: PrincipalDep
) -> list[Window]:
    """Each county's application window and deadline (end of the day, Europe/Oslo)."""
    await _round(runtime, round_id)
    return _windows(_context(runtime), await reads.windows(runtime.pool, round_id))


# --- interest -----------------------------------------------------------------------------------


class Contact(BaseModel):
    person_id: UUID
    name: str | None = Field(description="Null once erased")
    email: str | None
    phone: str | None
    language: str


class Municipality(BaseModel):
    number: str
    name: str


class InterestChange(BaseModel):
    at: datetime
    municipality_numbers: list[str]
    added: list[str]
    removed: list[str]
    contact_changed: bool
    message: str


class InterestView(BaseModel):
    id: UUID
    round_id: str
    branch_id: str
    branch_name: str
    municipalities: list[Municipality]
    contact: Contact
    message: str
    registered_at: datetime
    updated_at: datetime | None
    history: list[InterestChange] = Field(description="The first registration and each update")
    municipality_contacts: dict[str, Contact] = Field(
        default_factory=dict,
        description="The contact person named for a municipality, by municipality number",
    )


async def _interest_view(runtime: Runtime, row: Any) -> InterestView:
    reference = _context(runtime).reference
    branch = reference.branches.get(row["branch_id"])
    history = await reads.interest_history(runtime.pool, row["id"])
    named = await reads.municipality_contact_details(runtime.pool, row["id"])
    return InterestView(
        id=row["id"],
        round_id=row["round_id"],
        branch_id=row["branch_id"],
        branch_name=branch.name if branch else row["branch_id"],
        municipalities=[
            Municipality(**m) for m in _municipalities(reference, list(row["municipality_numbers"]))
        ],
        contact=Contact(
            person_id=row["contact_person_id"],
            name=row["contact_name"],
            email=row["contact_email"],
            phone=row["contact_phone"],
            language=row["contact_language"],
        ),
        message=row["message"],
        registered_at=row["registered_at"],
        updated_at=row["updated_at"],
        history=[InterestChange(**dict(h)) for h in history],
        municipality_contacts={
            n["municipality_number"]: Contact(
                person_id=n["person_id"],
                name=n["name"],
                email=n["email"],
                phone=n["phone"],
                language=n["language"],
            )
            for n in named
        },
    )


@router.get("/rounds/{round_id}/interest-registrations", tags=["interest"], responses=READ_REFUSALS)
async def list_interest(
    round_id: RoundPath,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    branch: Annotated[str | None, Query(max_length=100, description="Id or name")] = None,
) -> list[InterestView]:
    """Interest registrations with message, contact, municipalities and their history.
    Programme management: all; a county board: its own branch's."""
    await _round(runtime, round_id)
    scope = _scope(principal, _branch_param(_context(runtime).reference, branch))
    rows = await reads.interest_registrations(runtime.pool, round_id, scope)
    return [await _interest_view(runtime, r) for r in rows]


@router.get("/interest-registrations/{registration_id}", tags=["interest"], responses=READ_REFUSALS)
async def get_interest(
    registration_id: UUID, runtime: RuntimeDep, principal: PrincipalDep
) -> InterestView:
    row = await reads.interest_registration(runtime.pool, registration_id)
    if row is None:
        raise _not_found(
            "no such interest registration",
            "Interessemeldingen finnes ikke.",
            "Interessemeldinga finst ikkje.",
            "registration_id",
        )
    if not may_read_branch(principal, row["branch_id"]):
        raise _forbidden()
    return await _interest_view(runtime, row)


# --- applications -------------------------------------------------------------------------------


class GroupMemberView(BaseModel):
    person_id: UUID | None = Field(description="Null in a draft: ids come with submission")
    role: str
    organisation: str
    commits_to_gatherings: bool
    name: str | None
    email: str | None
    phone: str | None
    language: str | None


class ApplicationView(BaseModel):
    id: UUID
    round_id: str
    municipality_number: str
    municipality_name: str
    county_number: str
    county_name: str
    branch_id: str
    branch_name: str
    status: str
    motivation: str
    development_areas: list[str] = Field(description="Picked from the branch's adopted areas")
    own_development_areas: list[str] = Field(description="The municipality's own areas")
    themes: list[str] = Field(description="The programme's themes it is tagged with")
    co_creation_plan: str
    group_size: int
    group: list[GroupMemberView]
    submitted_at: datetime | None
    decided_at: datetime | None
    decided_by: str | None
    decision_reason: str | None
    early_reason: str | None
    promoted_from_waitlist: bool
    withdrawn_at: datetime | None
    withdrawal_reason: str | None
    revoked_at: datetime | None
    revoked_by: str | None
    revocation_reason: str | None


async def _application_view(runtime: Runtime, row: Any) -> ApplicationView:
    reference = _context(runtime).reference
    if row["status"] == "draft":
        group = [
            GroupMemberView(
                person_id=None,
                role=m["role"],
                organisation=m["organisation"],
                commits_to_gatherings=m["commits_to_gatherings"],
                name=m.get("name"),
                email=m.get("email"),
                phone=m.get("phone"),
                language=m.get("language"),
            )
            for m in row["draft_group"]
        ]
    else:
        group = [
            GroupMemberView(
                person_id=g["person_id"],
                role=g["role"],
                organisation=g["organisation"],
                commits_to_gatherings=g["committed"],
                name=g["name"],
                email=g["email"],
                phone=g["phone"],
                language=g["language"],
            )
            for g in await reads.group_of(runtime.pool, row["id"])
        ]
    municipality = reference.municipalities.get(row["municipality_number"])
    branch = reference.branches.get(row["branch_id"])
    return ApplicationView(
        id=row["id"],
        round_id=row["round_id"],
        municipality_number=row["municipality_number"],
        municipality_name=municipality.name if municipality else "",
        county_number=row["county_number"],
        county_name=reference.counties.get(row["county_number"], ""),
        branch_id=row["branch_id"],
        branch_name=branch.name if branch else row["branch_id"],
        status=row["status"],
        motivation=row["motivation"],
        development_areas=list(row["development_areas"]),
        own_development_areas=list(row.get("own_development_areas") or []),
        themes=list(row.get("themes") or []),
        co_creation_plan=row["co_creation_plan"],
        group_size=len(group),
        group=group,
        submitted_at=row["submitted_at"],
        decided_at=row["decided_at"],
        decided_by=row["decided_by"],
        decision_reason=row["decision_reason"],
        early_reason=row["early_reason"],
        promoted_from_waitlist=row["promoted_from_waitlist"],
        withdrawn_at=row["withdrawn_at"],
        withdrawal_reason=row["withdrawal_reason"],
        revoked_at=row["revoked_at"],
        revoked_by=row["revoked_by"],
        revocation_reason=row["revocation_reason"],
    )


StatusFilter = Literal[
    "draft", "submitted", "admitted", "waitlisted", "declined", "withdrawn", "revoked"
]


@router.get("/rounds/{round_id}/applications", tags=["applications"], responses=READ_REFUSALS)
async def list_applications(
    round_id: RoundPath,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    branch: Annotated[str | None, Query(max_length=100, description="Id or name")] = None,
    status: StatusFilter | None = None,
) -> list[ApplicationView]:
    """Applications (drafts too) with motivation, development areas, co-creation plan and the
    kommunegruppe. Programme management: all; a county board: its own branch's."""
    await _round(runtime, round_id)
    scope = _scope(principal, _branch_param(_context(runtime).reference, branch))
    rows = await reads.applications(runtime.pool, round_id, branch_id=scope, status=status)
    return [await _application_view(runtime, r) for r in rows]


@router.get(
    "/rounds/{round_id}/applications/{municipality_number}",
    tags=["applications"],
    responses=READ_REFUSALS,
)
async def get_application(
    round_id: RoundPath,
    municipality_number: MunicipalityPath,
    runtime: RuntimeDep,
    principal: PrincipalDep,
) -> ApplicationView:
    row = await reads.application(runtime.pool, round_id, municipality_number)
    if row is None:
        raise _not_found(
            f"no application from {municipality_number} in round {round_id}",
            f"Det finnes ingen søknad fra {municipality_number} i runde {round_id}.",
            f"Det finst ingen søknad frå {municipality_number} i runde {round_id}.",
            "municipality_number",
        )
    if not may_read_branch(principal, row["branch_id"]):
        raise _forbidden()
    return await _application_view(runtime, row)


# --- status (counts: everyone with a token) -------------------------------------------------------

COUNTS = ("interested", "applied", "admitted", "waitlisted", "declined", "withdrawn", "revoked")


class CountyCounts(BaseModel):
    county_number: str
    county_name: str
    interested: int = Field(description="Municipalities named in interest registrations")
    applied: int
    admitted: int
    waitlisted: int
    declined: int
    withdrawn: int
    revoked: int


class BranchCounts(BaseModel):
    branch_id: str
    branch_name: str
    registered_interest: bool = Field(
        description="The branch registered interest (with or without naming municipalities)"
    )
    interested: int
    drafts: int
    applied: int
    admitted: int
    waitlisted: int
    declined: int
    withdrawn: int
    revoked: int
    promoted_from_waitlist: int = Field(description="Admitted after moving up the wait-list")
    capacity: int | None


class Totals(BaseModel):
    branches_interested: int = Field(description="Branches that registered interest")
    interested: int
    applied: int
    admitted: int
    waitlisted: int
    declined: int
    withdrawn: int
    revoked: int
    promoted_from_waitlist: int


class RoundStatus(BaseModel):
    round_id: str
    state: str
    interest_deadline: date
    interest_closes_at: datetime
    capacity_per_branch: dict[str, int]
    windows: list[Window]
    totals: Totals
    branches: list[BranchCounts]
    counties: list[CountyCounts]
    promoted: list[Municipality] = Field(
        description="Municipalities admitted from the wait-list (programme management and "
        "their own board only; empty for others)"
    )


@router.get("/rounds/{round_id}/status", tags=["status"], responses=READ_REFUSALS)
async def round_status(
    round_id: RoundPath, runtime: RuntimeDep, principal: PrincipalDep
) -> RoundStatus:
    """How many branches and municipalities are interested, applied, admitted, wait-listed...
    per branch and per county, with windows and deadlines. Counts only."""
    found = await _round(runtime, round_id)
    ctx = _context(runtime)
    counties = [
        CountyCounts(**dict(r), county_name=ctx.reference.counties.get(r["county_number"], ""))
        for r in await reads.round_status(runtime.pool, round_id)
    ]
    capacity = found["capacity_per_branch"]
    by_branch = {r["branch_id"]: r for r in await reads.branch_counts(runtime.pool, round_id)}
    branches = []
    for branch in sorted(ctx.reference.branches.values(), key=lambda b: b.name):
        row = by_branch.get(branch.id)
        counts = {k: (row[k] if row else 0) for k in (*COUNTS, "drafts")}
        branches.append(
            BranchCounts(
                branch_id=branch.id,
                branch_name=branch.name,
                registered_interest=bool(row and row["registered_interest"]),
                promoted_from_waitlist=row["promoted"] if row else 0,
                capacity=capacity.get(branch.id),
                **counts,
            )
        )
    promoted_rows = await reads.applications(runtime.pool, round_id, status="admitted")
    promoted = [
        Municipality(
            number=r["municipality_number"],
            name=m.name
            if (m := ctx.reference.municipalities.get(r["municipality_number"]))
            else "",
        )
        for r in promoted_rows
        if r["promoted_from_waitlist"] and may_read_branch(principal, r["branch_id"])
    ]
    return RoundStatus(
        round_id=round_id,
        state=found["state"],
        interest_deadline=found["interest_deadline"],
        interest_closes_at=closes_at(found["interest_deadline"]),
        capacity_per_branch=capacity,
        windows=_windows(ctx, await reads.windows(runtime.pool, round_id)),
        totals=Totals(
            branches_interested=sum(b.registered_interest for b in branches),
            promoted_from_waitlist=sum(b.promoted_from_waitlist for b in branches),
            **{k: sum(getattr(c, k) for c in counties) for k in COUNTS},
        ),
        branches=branches,
        counties=counties,
        promoted=promoted,
    )


@router.get(
    "/rounds/{round_id}/counties/{county_number}/status", tags=["status"], responses=READ_REFUSALS
)
async def county_status(
    round_id: RoundPath, county_number: CountyPath, runtime: RuntimeDep, principal: PrincipalDep
) -> dict[str, Any]:
    counties = _context(runtime).reference.counties
    if county_number not in counties:
        raise _not_found(
            f"unknown county number {county_number}",
            f"Ukjent fylkesnummer {county_number}.",
            f"Ukjent fylkesnummer {county_number}.",
            "county_number",
        )
    status_ = await round_status(round_id, runtime, principal)
    row = next(
        (c for c in status_.counties if c.county_number == county_number),
        CountyCounts(
            county_number=county_number,
            county_name=counties[county_number],
            **dict.fromkeys(COUNTS, 0),
        ),
    )
    window = next((w for w in status_.windows if w.county_number == county_number), None)
    return {
        "round_id": round_id,
        **row.model_dump(),
        "window": window.model_dump(mode="json") if window else None,
    }


@router.get(
    "/rounds/{round_id}/municipalities/{municipality_number}/status",
    tags=["status"],
    responses=READ_REFUSALS,
)
async def municipality_status(
    round_id: RoundPath,
    municipality_number: MunicipalityPath,
    runtime: RuntimeDep,
    principal: PrincipalDep,
) -> dict[str, Any]:
    """Where a municipality stands. Reasons only for programme management and its own board."""
    reference = _context(runtime).reference
    municipality = reference.municipalities.get(municipality_number)
    if municipality is None:
        raise _not_found(
            f"unknown municipality number {municipality_number}",
            f"Ukjent kommunenummer {municipality_number}.",
            f"Ukjent kommunenummer {municipality_number}.",
            "municipality_number",
        )
    row = await reads.municipality_status(runtime.pool, round_id, municipality_number)
    base = {
        "round_id": round_id,
        "municipality_number": municipality_number,
        "name": municipality.name,
        "county_number": municipality.county_number,
        "county_name": reference.counties.get(municipality.county_number, ""),
        "member": municipality_number in await reads.members(runtime.pool),
    }
    if row is None:
        return base | {
            "status": "none",
            "interested": await reads.interested_in(runtime.pool, round_id, municipality_number),
        }
    found = dict(row)
    if not may_read_branch(principal, found["branch_id"]):
        for private in ("decision_reason", "withdrawal_reason", "revocation_reason"):
            found.pop(private, None)
    return base | found


# --- export -------------------------------------------------------------------------------------

EXPORT_COLUMNS = (
    ("fylkesavdeling", "branch_name"),
    ("fylkesnummer", "county_number"),
    ("fylke", "county_name"),
    ("kommunenummer", "municipality_number"),
    ("kommune", "municipality_name"),
    ("fra_venteliste", "promoted"),
    ("rolle", "role"),
    ("organisasjon", "organisation"),
    ("navn", "name"),
    ("epost", "email"),
    ("telefon", "phone"),
    ("sprak", "language"),
)


def participants_csv(rows: list[dict[str, Any]], *, delimiter: str) -> bytes:
    """CSV that opens right in Excel: UTF-8 with a byte order mark, CRLF line ends, and a
    cell that starts like a formula made harmless (a leading apostrophe)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow([name for name, _ in EXPORT_COLUMNS])
    for row in rows:
        writer.writerow([_cell(row.get(key)) for _, key in EXPORT_COLUMNS])
    return "\ufeff".encode() + out.getvalue().encode("utf-8")


NUMBER_LIKE = re.compile(r"[+-][0-9][0-9 .]*")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "ja" if value else "nei"
    text = str(value)
    # A spreadsheet runs a cell that starts with = + - @ (or a tab or CR) as a formula
    # (OWASP: CSV injection); a number or a phone number such as +47 912 34 567 stays as it is.
    if text[:1] in ("=", "@", "\t", "\r") or (
        text[:1] in ("+", "-") and not NUMBER_LIKE.fullmatch(text)
    ):
        return "'" + text
    return text


@router.get(
    "/rounds/{round_id}/participants.csv",
    tags=["export"],
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "CSV"},
        **READ_REFUSALS,
    },
    response_class=Response,
)
async def export_participants(
    round_id: RoundPath,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    branch: Annotated[str | None, Query(max_length=100, description="A region: id or name")] = None,
    delimiter: Annotated[
        Literal["comma", "semicolon"],
        Query(description="`semicolon` for Excel with a Norwegian locale"),
    ] = "comma",
) -> Response:
    """Admitted municipalities' kommunegruppe members with their contacts (programme
    management; a board for its own region), per round and region."""
    await _round(runtime, round_id)
    ctx = _context(runtime)
    scope = _scope(principal, _branch_param(ctx.reference, branch))
    rows = []
    for r in await reads.participants(runtime.pool, round_id, scope):
        found = dict(r)
        b = ctx.reference.branches.get(r["branch_id"])
        m = ctx.reference.municipalities.get(r["municipality_number"])
        found.update(
            branch_name=b.name if b else r["branch_id"],
            county_name=ctx.reference.counties.get(r["county_number"], ""),
            municipality_name=m.name if m else "",
            promoted=r["promoted_from_waitlist"],
        )
        rows.append(found)
    body = participants_csv(rows, delimiter=";" if delimiter == "semicolon" else ",")
    name = f"deltakere-{round_id}" + (f"-{scope}" if scope else "") + ".csv"
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# --- development areas and themes: the report ---------------------------------------------------


class Tally(BaseModel):
    name: str
    applications: int = Field(description="Applications (submitted, not withdrawn) naming it")
    admitted: int
    by_region: dict[str, int] = Field(description="Applications per region (branch name)")


class RegionTally(BaseModel):
    branch_id: str
    branch_name: str
    applications: int
    admitted: int
    development_areas: dict[str, int]
    own_development_areas: dict[str, int]
    themes: dict[str, int]


class DevelopmentReport(BaseModel):
    round_id: str
    applications: int = Field(description="Submitted and not withdrawn")
    development_areas: list[Tally] = Field(description="The branches' adopted areas picked")
    own_development_areas: list[Tally] = Field(description="Municipalities' own areas")
    themes: list[Tally] = Field(description="Every theme of the programme, also at 0")
    regions: list[RegionTally]


REPORT_KINDS = (
    ("development_areas", "utviklingsområde"),
    ("own_development_areas", "eget utviklingsområde"),
    ("themes", "tema"),
)


async def _report_rows(runtime: Runtime, round_id: str) -> list[dict[str, Any]]:
    await _round(runtime, round_id)
    reference = _context(runtime).reference
    rows = []
    for r in await reads.development_report(runtime.pool, round_id):
        branch = reference.branches.get(r["branch_id"])
        municipality = reference.municipalities.get(r["municipality_number"])
        rows.append(
            {
                **dict(r),
                "branch_name": branch.name if branch else r["branch_id"],
                "county_name": reference.counties.get(r["county_number"], ""),
                "municipality_name": municipality.name if municipality else "",
            }
        )
    return rows


def development_report(round_id: str, rows: list[dict[str, Any]]) -> DevelopmentReport:
    """Counts by area, theme and region of the applications still in (not withdrawn)."""
    active = [r for r in rows if r["status"] != "withdrawn"]
    tallies: dict[str, dict[str, Tally]] = {kind: {} for kind, _ in REPORT_KINDS}
    for theme in Theme:
        tallies["themes"][theme.value] = Tally(
            name=theme.value, applications=0, admitted=0, by_region={}
        )
    regions: dict[str, RegionTally] = {}
    for row in active:
        admitted = int(row["status"] == "admitted")
        region = regions.setdefault(
            row["branch_id"],
            RegionTally(
                branch_id=row["branch_id"],
                branch_name=row["branch_name"],
                applications=0,
                admitted=0,
                development_areas={},
                own_development_areas={},
                themes={},
            ),
        )
        region.applications += 1
        region.admitted += admitted
        for kind, _ in REPORT_KINDS:
            for value in row[kind] or []:
                # Own areas are free text: the same words in another case are one area.
                tally = tallies[kind].setdefault(
                    value.casefold() if kind == "own_development_areas" else value,
                    Tally(name=value, applications=0, admitted=0, by_region={}),
                )
                tally.applications += 1
                tally.admitted += admitted
                name = row["branch_name"]
                tally.by_region[name] = tally.by_region.get(name, 0) + 1
                per_region: dict[str, int] = getattr(region, kind)
                per_region[tally.name] = per_region.get(tally.name, 0) + 1

    def ranked(kind: str) -> list[Tally]:
        return sorted(tallies[kind].values(), key=lambda t: (-t.applications, t.name))

    return DevelopmentReport(
        round_id=round_id,
        applications=len(active),
        development_areas=ranked("development_areas"),
        own_development_areas=ranked("own_development_areas"),
        themes=ranked("themes"),
        regions=sorted(regions.values(), key=lambda r: r.branch_name),
    )


@router.get("/rounds/{round_id}/development-report", tags=["export"], responses=READ_REFUSALS)
async def report_development(
    round_id: RoundPath, runtime: RuntimeDep, principal: PrincipalDep
) -> DevelopmentReport:
    """Applications by development area (the branches' adopted and the municipalities' own),
    by the programme's themes and by region (programme management)."""
    require_programme_reader(principal)
    return development_report(round_id, await _report_rows(runtime, round_id))


REPORT_COLUMNS = (
    ("region", "branch_name"),
    ("fylke", "county_name"),
    ("kommunenummer", "municipality_number"),
    ("kommune", "municipality_name"),
    ("status", "status"),
    ("type", "kind"),
    ("verdi", "value"),
)


def development_csv(rows: list[dict[str, Any]], *, delimiter: str) -> bytes:
    """One line per application and area or theme, as the participants export writes CSV."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow([name for name, _ in REPORT_COLUMNS])
    for row in rows:
        for kind, label in REPORT_KINDS:
            for value in row[kind] or []:
                line = {**row, "kind": label, "value": value}
                writer.writerow([_cell(line.get(key)) for _, key in REPORT_COLUMNS])
    return "\ufeff".encode() + out.getvalue().encode("utf-8")


@router.get(
    "/rounds/{round_id}/development-report.csv",
    tags=["export"],
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "CSV"},
        **READ_REFUSALS,
    },
    response_class=Response,
)
async def export_development(
    round_id: RoundPath,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    delimiter: Annotated[
        Literal["comma", "semicolon"],
        Query(description="`semicolon` for Excel with a Norwegian locale"),
    ] = "comma",
) -> Response:
    """Every submitted application's development areas and themes, one per line, with its
    region, municipality and status (programme management)."""
    require_programme_reader(principal)
    rows = await _report_rows(runtime, round_id)
    body = development_csv(rows, delimiter=";" if delimiter == "semicolon" else ",")
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="utviklingsomrader-{round_id}.csv"'},
    )


def require_programme_reader(principal: Principal) -> None:
    if principal.role is not Role.PROGRAMME:
        raise Problem(
            "forbidden",
            texts(
                "Bare programledelsen har tilgang til denne rapporten.",
                "Berre programleiinga har tilgang til denne rapporten.",
                "Programme management only.",
            ),
            status=403,
        )


__all__ = ["Accepted", "parse_membership_csv", "participants_csv", "router"]
