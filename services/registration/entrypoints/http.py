"""HTTP routes: thin adapters onto the same handlers as the command topic.

Each command route authorizes the bearer token's principal, then runs the command through
the message bus. An `Idempotency-Key` header makes a retried request harmless: it belongs to
the principal and the route and is bound to the body (`shared.idempotency`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Header, HTTPException, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from services.registration.adapters import repository
from services.registration.domain.access import Principal
from services.registration.entrypoints.auth import PrincipalDep, authorize
from services.registration.handlers import Context
from shared.events.base import Contract
from shared.events.registration import (
    AddGroupMember,
    DecideApplication,
    ErasePerson,
    ExtendDeadline,
    ImportMembers,
    OpenApplicationWindow,
    OpenRound,
    RegisterInterest,
    RemoveGroupMember,
    ReplaceGroupMember,
    SaveApplicationDraft,
    SubmitApplication,
    WithdrawMunicipality,
)
from shared.idempotency import REPLAYED_HEADER, Answer, IdempotentRequest, run_once
from shared.messaging import Outcome
from shared.service import Runtime, RuntimeDep

router = APIRouter()
IdempotencyKey = Annotated[
    str | None,
    Header(
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description=(
            "Makes retries safe. The key belongs to the caller (bearer token's principal) and "
            "the route, and is bound to the request body. A retry with the same key and body "
            "is not run again: it gets the original answer (status and body, as first sent) "
            f"with the header `{REPLAYED_HEADER}: true`. The same key with another body is "
            "refused with 422. A refused request keeps nothing, so its retry is checked anew. "
            "Answers are kept for a retention period, after which the key is free again."
        ),
    ),
]
REPLAYED = {
    "description": "The command's answer; a retry with the same Idempotency-Key and body "
    f"gets the original answer again, with `{REPLAYED_HEADER}: true`",
    "headers": {
        REPLAYED_HEADER: {
            "description": "`true` when this is the stored answer of an earlier request "
            "with the same Idempotency-Key and body; the command did not run again",
            "schema": {"type": "string", "enum": ["true"]},
        }
    },
}
REFUSALS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No or unknown bearer token"},
    403: {"description": "Not allowed for this principal (e.g. another county's municipality)"},
    404: {"description": "Round, application or person not found"},
    409: {
        "description": "Conflicts with the current state (already submitted, capacity full, ...)"
    },
    422: {
        "description": "Refused, with the reason (unknown municipality, late, incomplete group, "
        "an Idempotency-Key already used with another body, ...)"
    },
}


class Accepted(BaseModel):
    """The command was handled.

    A retry with the same Idempotency-Key and body answers the original answer unchanged
    (`duplicate` as it was then), with the header `Idempotent-Replayed: true`. `duplicate` is
    true only for a command handled before whose answer is no longer kept (`result` null).
    """

    duplicate: bool
    result: dict[str, Any] | None = None


def _context(runtime: Runtime) -> Context:
    ctx: Context = runtime.extras["context"]
    return ctx


def _caller(principal: Principal) -> str:
    """Whose keys these are: the principal, as its token file names it."""
    return f"{principal.role}:{principal.branch_id or ''}:{principal.name}"


def _accepted(outcome: Outcome) -> Accepted:
    if not outcome.fresh:
        return Accepted(duplicate=True)
    result = outcome.result
    if isinstance(result, BaseModel):
        return Accepted(duplicate=False, result=result.model_dump(mode="json"))
    return Accepted(duplicate=False, result={"id": str(result)} if result is not None else None)


async def _run(
    runtime: Runtime,
    principal: PrincipalDep,
    command: Contract,
    key: str | None,
    *,
    route: str,
    status_of: Callable[[Accepted], int],
) -> Response:
    authorize(principal, command, _context(runtime).reference)

    def answer(outcome: Outcome) -> Answer:
        accepted = _accepted(outcome)
        code = 200 if accepted.duplicate else status_of(accepted)
        return Answer(status_code=code, body=accepted.model_dump(mode="json"))

    if key is None:
        first = answer(await runtime.command(command))
        return JSONResponse(first.body, status_code=first.status_code)
    request = IdempotentRequest.of(caller=_caller(principal), route=route, key=key, body=command)
    return await run_once(runtime, command, request, answer)


def _command_route(
    path: str, model: type[Contract], summary: str, tag: str, code: int = 200
) -> None:
    async def endpoint(
        command: Any,
        runtime: RuntimeDep,
        principal: PrincipalDep,
        idempotency_key: IdempotencyKey = None,
    ) -> Response:
        return await _run(
            runtime,
            principal,
            command,
            idempotency_key,
            route=f"POST {path}",
            status_of=lambda _: code,
        )

    endpoint.__annotations__["command"] = model
    endpoint.__name__ = model.__name__
    router.add_api_route(
        path,
        endpoint,
        methods=["POST"],
        summary=summary,
        tags=[tag],
        status_code=code,
        responses={code: REPLAYED, **REFUSALS},
        response_model=Accepted,
    )


_command_route("/rounds", OpenRound, "Open a programme round (programme management)", "rounds", 201)
_command_route(
    "/application-windows",
    OpenApplicationWindow,
    "Open a county's application window after its annual meeting",
    "rounds",
    201,
)
_command_route(
    "/deadline-extensions", ExtendDeadline, "Extend an interest or application deadline", "rounds"
)
_command_route("/members", ImportMembers, "Replace the membership list (JSON)", "members")
_command_route(
    "/application-drafts",
    SaveApplicationDraft,
    "Save a municipality's application draft (its county board)",
    "applications",
)
_command_route(
    "/application-submissions",
    SubmitApplication,
    "Submit the draft: checked whole, the kommunegruppe registered all or nothing",
    "applications",
)
_command_route(
    "/decisions",
    DecideApplication,
    "Admit, wait-list or decline (programme management)",
    "decisions",
)
_command_route(
    "/withdrawals",
    WithdrawMunicipality,
    "Withdraw a municipality; a freed place goes to the first on the wait-list",
    "decisions",
)
_command_route("/group-members", AddGroupMember, "Add a kommunegruppe member", "applications")
_command_route(
    "/group-member-removals", RemoveGroupMember, "Remove a kommunegruppe member", "applications"
)
_command_route(
    "/group-member-replacements",
    ReplaceGroupMember,
    "Replace a kommunegruppe member",
    "applications",
)
_command_route(
    "/erasures", ErasePerson, "Erase a person's contact data (and tell downstream)", "persons"
)


@router.post(
    "/interest-registrations",
    tags=["interest"],
    responses={
        201: REPLAYED,
        200: REPLAYED | {"model": Accepted, "description": f"An update. {REPLAYED['description']}"},
        **REFUSALS,
    },
    status_code=201,
    response_model=Accepted,
)
async def register_interest(
    command: RegisterInterest,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """A county branch board registers interest for its county and member municipalities.

    Registering again before the deadline updates the registration (200, an
    `interest-updated` event); it never makes a second one.
    """

    def status_of(accepted: Accepted) -> int:
        updated = accepted.result is not None and accepted.result.get("updated_at")
        return 200 if updated else 201

    return await _run(
        runtime,
        principal,
        command,
        idempotency_key,
        route="POST /interest-registrations",
        status_of=status_of,
    )


@router.post(
    "/members/csv", tags=["members"], responses={200: REPLAYED, **REFUSALS}, response_model=Accepted
)
async def import_members_csv(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    body: Annotated[
        str, Body(media_type="text/csv", description="CSV with a `kommunenummer` column")
    ],
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Replace the membership list from a CSV export (column `kommunenummer`)."""
    reader = csv.DictReader(io.StringIO(body))
    if reader.fieldnames is None or "kommunenummer" not in reader.fieldnames:
        raise HTTPException(422, "the CSV needs a header row with a `kommunenummer` column")
    numbers = [row["kommunenummer"].strip().zfill(4) for row in reader if row["kommunenummer"]]
    try:
        command = ImportMembers(municipality_numbers=numbers)
    except ValueError as error:
        raise HTTPException(422, f"not a membership list: {error}") from error
    # Bound to the membership list the CSV says, not to the file's layout.
    return await _run(
        runtime,
        principal,
        command,
        idempotency_key,
        route="POST /members/csv",
        status_of=lambda _: 200,
    )


# --- queries (every role, observers included) -------------------------------------------------------


@router.get("/members", tags=["members"])
async def list_members(runtime: RuntimeDep, principal: PrincipalDep) -> list[str]:
    return sorted(await repository.members(runtime.pool))


@router.get("/interest-registrations/{registration_id}", tags=["interest"])
async def get_interest(
    registration_id: UUID, runtime: RuntimeDep, principal: PrincipalDep
) -> dict[str, Any]:
    row = await repository.get_interest(runtime.pool, registration_id)
    if row is None:
        raise HTTPException(status_code=404, detail="no such interest registration")
    return dict(row)


@router.get("/rounds/{round_id}/status", tags=["status"])
async def round_status(
    round_id: str, runtime: RuntimeDep, principal: PrincipalDep
) -> dict[str, Any]:
    """How many municipalities are interested, applied, admitted, wait-listed... per county."""
    found = await repository.get_round(runtime.pool, round_id)
    if found is None:
        raise HTTPException(404, f"no programme round {round_id}")
    counties = _context(runtime).reference.counties
    rows = [
        dict(r) | {"county_name": counties.get(r["county_number"], "")}
        for r in await repository.round_status(runtime.pool, round_id)
    ]
    totals = {
        k: sum(r[k] for r in rows)
        for k in ("interested", "applied", "admitted", "waitlisted", "declined", "withdrawn")
    }
    return {
        "round_id": round_id,
        "interest_deadline": found["interest_deadline"],
        "capacity_per_branch": found["capacity_per_branch"],
        "totals": totals,
        "counties": rows,
    }


@router.get("/rounds/{round_id}/counties/{county_number}/status", tags=["status"])
async def county_status(
    round_id: str, county_number: str, runtime: RuntimeDep, principal: PrincipalDep
) -> dict[str, Any]:
    counties = _context(runtime).reference.counties
    if county_number not in counties:
        raise HTTPException(404, f"unknown county number {county_number}")
    status_ = await round_status(round_id, runtime, principal)
    row = next(
        (c for c in status_["counties"] if c["county_number"] == county_number),
        {
            "county_number": county_number,
            "county_name": counties[county_number],
            "interested": 0,
            "applied": 0,
            "admitted": 0,
            "waitlisted": 0,
            "declined": 0,
            "withdrawn": 0,
        },
    )
    return {"round_id": round_id, **row}


@router.get("/rounds/{round_id}/municipalities/{municipality_number}/status", tags=["status"])
async def municipality_status(
    round_id: str, municipality_number: str, runtime: RuntimeDep, principal: PrincipalDep
) -> dict[str, Any]:
    reference = _context(runtime).reference
    municipality = reference.municipalities.get(municipality_number)
    if municipality is None:
        raise HTTPException(404, f"unknown municipality number {municipality_number}")
    row = await repository.municipality_status(runtime.pool, round_id, municipality_number)
    base = {
        "round_id": round_id,
        "municipality_number": municipality_number,
        "name": municipality.name,
        "member": municipality_number in await repository.members(runtime.pool),
    }
    if row is None:
        return base | {
            "status": "none",
            "interested": await repository.interested_in(
                runtime.pool, round_id, municipality_number
            ),
        }
    return base | dict(row)
