"""Read route of mellomarbeid: who in a region is behind.

Everyone with a token sees the state per municipality (done, not done, overdue); the reports
themselves only programme management and the region's own board.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request

from services.scheduling.adapters import queries
from services.scheduling.domain.calendar import OSLO
from services.scheduling.domain.interim_work import InterimStatus, status_of
from services.scheduling.handlers.context import Context
from shared.contracts.errors import DomainError
from shared.runtime.auth import PrincipalDep, Role
from shared.runtime.commands import REFUSALS
from shared.runtime.spec import RuntimeDep

router = APIRouter(responses=REFUSALS)


@router.get("/rounds/{round_id}/regions/{region}/interim-work", tags=["interim work"])
async def interim_work_status(
    round_id: str, region: str, request: Request, runtime: RuntimeDep, principal: PrincipalDep
) -> list[dict[str, Any]]:
    """Each piece of mellomarbeid of the region, oldest due first, with each admitted
    municipality's state: `done`, `not_done` (still time) or `overdue`."""
    ctx: Context = request.app.state.runtime.extras["context"]
    try:
        region_id = ctx.region(region).id
    except DomainError as error:
        raise HTTPException(404, str(error)) from error
    may_read_reports = principal.role is Role.PROGRAMME or (
        principal.role is Role.COUNTY_BOARD and principal.branch_id == region_id
    )
    now = ctx.clock()
    municipalities = await queries.admitted(runtime.pool, round_id, region_id)
    reports = {
        (r["interim_work_id"], r["municipality_number"]): r
        for r in await queries.interim_reports_of_region(runtime.pool, round_id, region_id)
    }
    found = []
    for work in await queries.interim_work_of_region(runtime.pool, round_id, region_id):
        # Those admitted now, and any that reported before leaving.
        numbers = sorted(set(municipalities) | {n for (w, n) in reports if w == work["id"]})
        rows = []
        for number in numbers:
            report = reports.get((work["id"], number))
            reported_at = report["reported_at"] if report else None
            state = status_of(work["due_on"], reported_at, now)
            row: dict[str, Any] = {
                "municipality_number": number,
                "status": state.value,
                "reported_at": reported_at.astimezone(OSLO) if reported_at else None,
            }
            if may_read_reports:
                row["report"] = report["report"] if report else None
            rows.append(row)
        found.append(
            {
                "interim_work_id": work["id"],
                "after_gathering_id": work["after_gathering_id"],
                "title": work["title"],
                "description": work["description"],
                "due_on": work["due_on"],
                "counts": {
                    s.value: sum(1 for r in rows if r["status"] == s) for s in InterimStatus
                },
                "municipalities": rows,
            }
        )
    return found
