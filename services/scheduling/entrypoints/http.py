"""Read routes: the calendar, a gathering and its invitations, date suggestions, attendance
rates, dialogue requests, and the iCalendar feeds. Every role may read (observers too).

The command routes come from the command registry (`app.py`)."""

from __future__ import annotations

import secrets
from datetime import date
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query, Request, Response

from services.scheduling.adapters import repository as repo
from services.scheduling.domain.attendance import attendance_rates
from services.scheduling.domain.calendar import OSLO
from services.scheduling.domain.errors import DomainError
from services.scheduling.domain.suggestions import WEEKDAYS, suggest_dates
from services.scheduling.entrypoints import ical
from services.scheduling.handlers.context import Context
from shared.auth import TOKENS, Principal, PrincipalDep
from shared.commands import READ_REFUSALS
from shared.service import RuntimeDep

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
        raise HTTPException(404, str(error)) from error


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
    marked), times in Europe/Oslo."""
    region = _region(request, region)
    semesters = await repo.semesters(runtime.pool, round_id, region)
    gatherings = await repo.calendar(runtime.pool, round_id=round_id, region=region)
    return {
        "round_id": round_id,
        "region": region,
        "timezone": "Europe/Oslo",
        "semesters": [dict(s) for s in semesters],
        "gatherings": [_gathering(g) for g in gatherings],
    }


@router.get("/gatherings/{gathering_id}", tags=["gatherings"])
async def get_gathering(
    gathering_id: UUID, runtime: RuntimeDep, principal: PrincipalDep
) -> dict[str, Any]:
    """A gathering with whom it invites (ids and roles), their answers and attendance."""
    row = await repo.get_gathering(runtime.pool, gathering_id)
    if row is None:
        raise HTTPException(404, f"no gathering {gathering_id}")
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
            raise HTTPException(422, f"not a weekday: {part!r} (monday..sunday or 0..6)")
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
    found = ctx.regions.get(region)
    if found is None:
        raise HTTPException(404, f"unknown region {region!r}")
    if semester is not None:
        planned = {r["number"]: r for r in await repo.semesters(runtime.pool, round_id, found.id)}
        if semester not in planned:
            raise HTTPException(
                422, f"semester {semester} of round {round_id} in {found.id} is not planned"
            )
        first, last = planned[semester]["starts_on"], planned[semester]["ends_on"]
    if first is None or last is None:
        raise HTTPException(422, "give a planned semester, or both first and last")
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
        raise HTTPException(422, str(error)) from error
    return {
        "round_id": round_id,
        "region": found.id,
        "counties": list(found.county_numbers),
        "first": first,
        "last": last,
        "dates": list(suggestion.dates),
        "passed_over": [{"date": s.day, "reasons": list(s.reasons)} for s in suggestion.skipped],
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


@router.get("/rounds/{round_id}/dialogue-requests", tags=["dialogue"])
async def dialogue_requests(
    round_id: str,
    request: Request,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    region: str | None = None,
) -> list[dict[str, Any]]:
    where = _region(request, region) if region else None
    return [dict(r) for r in await repo.dialogue_requests(runtime.pool, round_id, where)]


# --- feeds ------------------------------------------------------------------------------------------


def feed_principal(request: Request, token: str | None = None) -> Principal:
    """A calendar app cannot always send a header: the token may come as `?token=`."""
    header = request.headers.get("authorization", "")
    given = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else token
    if not given:
        raise HTTPException(401, "a bearer token is required (header, or ?token= for feeds)")
    principals: dict[str, Principal] = request.app.state.runtime.extras[TOKENS]
    for known, principal in principals.items():
        if secrets.compare_digest(known, given):
            return principal
    raise HTTPException(401, "unknown token")


def _ics(body: bytes, name: str) -> Response:
    return Response(
        body, media_type=ICS, headers={"Content-Disposition": f'inline; filename="{name}.ics"'}
    )


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
    round_id: str | None = None,
    token: str | None = None,
) -> Response:
    """Every gathering of a region (of one round, or all): subscribe in a calendar app."""
    feed_principal(request, token)
    region = _region(request, region)
    rows = await repo.calendar(runtime.pool, round_id=round_id, region=region)
    name = f"Fremtidens kulturskole - {_ctx(request).regions.by_id[region].name}"
    return _ics(ical.feed(name, rows, now=_ctx(request).clock()), region)


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
    round_id: str | None = None,
    token: str | None = None,
) -> Response:
    """The gatherings a municipality (or its kommunegruppe) is invited to."""
    feed_principal(request, token)
    if not (len(municipality_number) == 4 and municipality_number.isdigit()):
        raise HTTPException(422, "a municipality number has four digits")
    rows = await repo.calendar(
        runtime.pool, round_id=round_id, region=None, municipality=municipality_number
    )
    name = f"Fremtidens kulturskole - kommune {municipality_number}"
    return _ics(ical.feed(name, rows, now=_ctx(request).clock()), municipality_number)
