"""Read routes: the calendar, a gathering and its invitations, date suggestions, attendance
rates, dialogue requests, and the iCalendar feeds. Every role may read (observers too), but
dialogue requests only programme management and the region's own board.

The command routes come from the command registry (`app.py`)."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response

from services.scheduling.adapters import queries as repo
from services.scheduling.domain.attendance import attendance_rates
from services.scheduling.domain.calendar import OSLO, current_round
from services.scheduling.domain.suggestions import WEEKDAYS, suggest_dates
from services.scheduling.entrypoints import ical
from services.scheduling.handlers.context import Context
from shared.contracts.errors import DomainError
from shared.runtime.auth import Forbidden, Principal, PrincipalDep, Role, principal_of
from shared.runtime.commands import READ_REFUSALS
from shared.runtime.problems import Problem, language, refused, texts
from shared.runtime.spec import RuntimeDep

# Every route may refuse a caller, a path or a parameter: say so in the OpenAPI document.
router = APIRouter(responses=READ_REFUSALS)

ICS = "text/calendar; charset=utf-8"


def _ctx(request: Request) -> Context:
    ctx: Context = request.app.state.runtime.extras["context"]
    return ctx


def _region(request: Request, region: str) -> str:
    try:
        return _ctx(request).region(region).id
    except DomainError as error:
        raise refused(error, 404) from error


def _gathering(row: Any, invitations: list[Any] | None = None) -> dict[str, Any]:
    found = {
        "gathering_id": row["id"],
        "round_id": row["round_id"],
        "region": row["region"],
        "kind": row["kind"],
        "title": row["title"],
        "venue": repo.venue_of(row),
        "starts_at": row["starts_at"].astimezone(OSLO),
        "ends_at": row["ends_at"].astimezone(OSLO),
        "capacity": row["capacity"],
        "semester": row["semester"],
        "status": row["status"],
        "sequence": row["sequence"],
        "municipality_number": row["municipality_number"],
        "supervisor_id": row["supervisor_id"],
        "arranged_by": row.get("arranged_by"),  # a delingsarena a county board scheduled
    }
    if invitations is not None:
        found["confirmed"] = sum(1 for i in invitations if i["rsvp"] == "yes")
        found["invitations"] = [
            {
                "invitation_id": i["id"],
                "person_id": i["person_id"],
                "municipality_number": i["municipality_number"],
                "branch_id": i["branch_id"],
                "role": i["role"],
                "rsvp": i["rsvp"],
                "attended": i["attended"],
            }
            for i in invitations
        ]
    return found


@router.get("/rounds/{round_id}/regions/{region}/calendar", tags=["calendar"])
async def region_calendar(
    round_id: str, region: str, request: Request, runtime: RuntimeDep, principal: PrincipalDep
) -> dict[str, Any]:
    """A round's calendar in one region: its semesters and every gathering (cancelled ones
    marked), times in Europe/Oslo; a municipality's veiledning only for programme management
    and the region's own board."""
    region = _region(request, region)
    semesters = await repo.semesters(runtime.pool, round_id, region)
    gatherings = [
        g
        for g in await repo.calendar(runtime.pool, round_id=round_id, region=region)
        if g["kind"] != "veiledning" or _sees_bookings(principal, g["region"])
    ]
    return {
        "round_id": round_id,
        "region": region,
        "timezone": "Europe/Oslo",
        "semesters": [dict(s) for s in semesters],
        "gatherings": [_gathering(g) for g in gatherings],
    }


@router.get("/rounds/{round_id}", tags=["calendar"])
async def get_round(round_id: str, runtime: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    """A round as registration's events told this service (a gathering needs one)."""
    state = await repo.round_state(runtime.pool, round_id)
    if state is None:
        raise Problem(
            "unknown-round",
            texts(
                f"Det finnes ingen runde {round_id} her ennå.",
                f"Det finst ingen runde {round_id} her enno.",
                f"no round {round_id} here yet",
            ),
            status=404,
            field="round_id",
        )
    return {"round_id": round_id, "state": state}


@router.get("/gatherings/{gathering_id}", tags=["gatherings"])
async def get_gathering(
    gathering_id: UUID, runtime: RuntimeDep, principal: PrincipalDep
) -> dict[str, Any]:
    """A gathering with whom it invites (ids and roles), their answers and attendance."""
    row = await repo.get_gathering(runtime.pool, gathering_id)
    if row is None or (
        row["kind"] == "veiledning" and not _sees_bookings(principal, row["region"])
    ):
        # A municipality's veiledning is not there for others (not even that it exists).
        raise Problem(
            "not-found",
            texts(
                "Samlingen finnes ikke.", "Samlinga finst ikkje.", f"no gathering {gathering_id}"
            ),
            status=404,
            field="gathering_id",
        )
    return _gathering(row, await repo.invitations(runtime.pool, gathering_id))


def _weekdays(raw: str) -> list[int]:
    found = []
    for part in raw.split(","):
        name = part.strip().lower()
        if name.isdigit() and 0 <= int(name) <= 6:
            found.append(int(name))
        elif name in WEEKDAYS:
            found.append(WEEKDAYS.index(name))
        else:
            raise Problem(
                "invalid-input",
                texts(
                    f"«{part}» er ikke en ukedag (monday..sunday eller 0..6).",
                    f"«{part}» er ikkje ein vekedag (monday..sunday eller 0..6).",
                    f"not a weekday: {part!r} (monday..sunday or 0..6)",
                ),
                field="weekdays",
            )
    return found


@router.get("/rounds/{round_id}/regions/{region}/date-suggestions", tags=["calendar"])
async def date_suggestions(
    round_id: str,
    region: str,
    request: Request,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    count: Annotated[int, Query(ge=1, le=20)] = 2,
    semester: Annotated[int | None, Query(ge=0, le=3)] = None,
    first: date | None = None,
    last: date | None = None,
    weekdays: Annotated[
        str, Query(description="e.g. tuesday,wednesday or 1,2")
    ] = "tuesday,wednesday,thursday",
) -> dict[str, Any]:
    """`count` dates spread evenly over a planned semester (or first..last) on the weekdays,
    avoiding public holidays, Christmas, Easter and the region's counties' autumn and winter
    holiday weeks, and days the region already has a gathering; with the reason each
    passed-over day was passed over."""
    ctx = _ctx(request)
    found = ctx.regions.by_id[_region(request, region)]
    if semester is not None:
        planned = {r["number"]: r for r in await repo.semesters(runtime.pool, round_id, found.id)}
        if semester not in planned:
            raise Problem(
                "semester-not-planned",
                texts(
                    f"Semester {semester} i runde {round_id} er ikke planlagt for {found.name}.",
                    f"Semester {semester} i runde {round_id} er ikkje planlagt for {found.name}.",
                    f"semester {semester} of round {round_id} in {found.name} is not planned",
                ),
                field="semester",
            )
        first, last = planned[semester]["starts_on"], planned[semester]["ends_on"]
    if first is None or last is None:
        raise Problem(
            "invalid-input",
            texts(
                "Oppgi et planlagt semester, eller både first og last.",
                "Oppgi eit planlagt semester, eller både first og last.",
                "give a planned semester, or both first and last",
            ),
            field="semester",
        )
    taken = await repo.region_days(runtime.pool, round_id, found.id)
    try:
        suggestion = suggest_dates(
            first=first,
            last=last,
            count=count,
            weekdays=_weekdays(weekdays),
            counties=found.county_numbers,
            weeks=ctx.holiday_weeks,
            taken=taken,
        )
    except DomainError as error:
        raise refused(error) from error
    lang = language(request.headers.get("accept-language"))
    return {
        "round_id": round_id,
        "region": found.id,
        "counties": list(found.county_numbers),
        "first": first,
        "last": last,
        "dates": list(suggestion.dates),
        "passed_over": [
            {
                "date": s.day,
                "reasons": [r.text(lang) for r in s.reasons],
                "kinds": [r.why.value for r in s.reasons],
            }
            for s in suggestion.skipped
        ],
    }


@router.get("/rounds/{round_id}/attendance", tags=["attendance"])
async def attendance(
    round_id: str,
    request: Request,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    region: str | None = None,
) -> dict[str, Any]:
    """Each municipality's attendance rate across the programme: attended / recorded
    invitations of its people (or of itself, before it had a group)."""
    where = _region(request, region) if region else None
    rates = attendance_rates(await repo.recorded_attendance(runtime.pool, round_id, where))
    return {
        "round_id": round_id,
        "region": where,
        "municipalities": [
            {
                "municipality_number": r.municipality_number,
                "recorded": r.recorded,
                "attended": r.attended,
                "rate": r.rate,
            }
            for r in rates
        ],
    }


def _requests_of(
    principal: Principal, region: str | None, what: str = "dialogue requests"
) -> str | None:
    """Whose requests or proposals the principal may list: all (None) or one region's for
    programme management, its own region's for a board; an observer none (their text is the
    board's own words to programme management)."""
    if principal.role is Role.PROGRAMME:
        return region
    own = principal.branch_id if principal.role is Role.COUNTY_BOARD else None
    if own and region in (None, own):
        return own
    who = principal.name
    raise Forbidden(
        texts(
            f"{who} kan ikke lese disse: bare programledelsen, eller et fylkesstyre sin egen "
            "regions.",
            f"{who} kan ikkje lese desse: berre programleiinga, eller eit fylkesstyre si eiga "
            "regions.",
            f"{who} may not read these {what}: programme management, "
            "or a county board its own region's",
        )
    )


@router.get("/rounds/{round_id}/dialogue-requests", tags=["dialogue"])
async def dialogue_requests(
    round_id: str,
    request: Request,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    region: str | None = None,
) -> list[dict[str, Any]]:
    """The dialogue meetings boards asked for (topic, wished dates, the meeting once
    scheduled). Programme management: all; a county board: its own region's."""
    where = _requests_of(principal, _region(request, region) if region else None)
    return [dict(r) for r in await repo.dialogue_requests(runtime.pool, round_id, where)]


@router.get("/rounds/{round_id}/delingsarena-proposals", tags=["gatherings"])
async def delingsarena_proposals(
    round_id: str,
    request: Request,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    region: str | None = None,
) -> list[dict[str, Any]]:
    """Delingsarenaer the county boards proposed, oldest first, for programme management to
    take up (it schedules one with POST /gatherings). Programme management: all; a county
    board: its own region's."""
    where = _requests_of(
        principal, _region(request, region) if region else None, "delingsarena proposals"
    )
    return [
        {
            **dict(r),
            "venue": json.loads(r["venue"]) if isinstance(r["venue"], str) else r["venue"],
        }
        for r in await repo.delingsarena_proposals(runtime.pool, round_id, where)
    ]


# --- feeds ------------------------------------------------------------------------------------------


def feed_principal(request: Request, token: str | None = None) -> Principal:
    """A calendar app cannot always send a header: the token may come as `?token=`."""
    header = request.headers.get("authorization", "")
    given = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else token
    return principal_of(request, given)


def _ics(body: bytes, name: str) -> Response:
    return Response(
        body, media_type=ICS, headers={"Content-Disposition": f'inline; filename="{name}.ics"'}
    )


# `?round=2030`, or `all`; absent: the round under way (see domain.calendar.current_round).
RoundQuery = Annotated[
    str | None,
    Query(
        alias="round",
        pattern=r"^(\d{4}|all)$",
        description="A round (e.g. 2030) or `all`; by default the round under way",
    ),
]


@router.get(
    "/feeds/regions/{region}.ics",
    tags=["feeds"],
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}, "description": "iCalendar (RFC 5545)"}},
)
async def region_feed(
    region: str,
    request: Request,
    runtime: RuntimeDep,
    round_: RoundQuery = None,
    round_id: Annotated[str | None, Query(include_in_schema=False)] = None,
    token: str | None = None,
) -> Response:
    """A region's gatherings of one round (`?round=`; `all` for every round; by default the
    round under way): subscribe in a calendar app. A municipality's veiledning only for
    programme management and the region's own board."""
    principal = feed_principal(request, token)
    region = _region(request, region)
    rows = await repo.calendar(runtime.pool, round_id=None, region=region)
    title = _ctx(request).regions.by_id[region].name
    return await _feed(request, runtime, rows, principal, round_ or round_id, title, region)


async def _feed(
    request: Request,
    runtime: Any,
    rows: list[Any],
    principal: Principal,
    wanted: str | None,
    title: str,
    filename: str,
) -> Response:
    """The feed of the rows `principal` sees of one round, named after `title` and it."""
    rows, chosen = await _feed_rows(request, runtime, rows, principal, wanted)
    ctx = _ctx(request)
    name = f"Fremtidens kulturskole - {title}"
    name += f" - runde {chosen}" if chosen else ""
    feed = ical.feed(name, rows, now=ctx.clock(), region_names=_region_names(ctx))
    return _ics(feed, filename)


def _region_names(ctx: Context) -> dict[str, str]:
    return {r.id: r.name for r in ctx.regions.by_id.values()}


def _sees_bookings(principal: Principal, region: str) -> bool:
    """A veiledning is the municipality's own: programme management and its board see it."""
    if principal.role is Role.PROGRAMME:
        return True
    return principal.role is Role.COUNTY_BOARD and principal.branch_id == region


async def _feed_rows(
    request: Request,
    runtime: Any,
    rows: list[Any],
    principal: Principal,
    wanted: str | None,
) -> tuple[list[Any], str | None]:
    """The rows of one round (the asked one, or the one under way) that `principal` sees."""
    rows = [r for r in rows if r["kind"] != "veiledning" or _sees_bookings(principal, r["region"])]
    if wanted == "all":
        return rows, None
    chosen = wanted or current_round(
        ((r["round_id"], r["ends_at"]) for r in rows),
        await repo.round_states(runtime.pool),
        _ctx(request).clock(),
    )
    return [r for r in rows if r["round_id"] == chosen], chosen


@router.get(
    "/feeds/municipalities/{municipality_number}.ics",
    tags=["feeds"],
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}, "description": "iCalendar (RFC 5545)"}},
)
async def municipality_feed(
    municipality_number: str,
    request: Request,
    runtime: RuntimeDep,
    round_: RoundQuery = None,
    round_id: Annotated[str | None, Query(include_in_schema=False)] = None,
    token: str | None = None,
) -> Response:
    """The gatherings a municipality (or its kommunegruppe) is invited to, of one round as
    the region feed; its veiledning only for programme management and its own board."""
    principal = feed_principal(request, token)
    if not (len(municipality_number) == 4 and municipality_number.isdigit()):
        raise Problem(
            "invalid-input",
            texts(
                "Et kommunenummer har fire sifre.",
                "Eit kommunenummer har fire siffer.",
                "a municipality number has four digits",
            ),
            field="municipality_number",
        )
    rows = await repo.calendar(
        runtime.pool, round_id=None, region=None, municipality=municipality_number
    )
    title = _ctx(request).municipality(municipality_number)
    return await _feed(
        request, runtime, rows, principal, round_ or round_id, title, municipality_number
    )
