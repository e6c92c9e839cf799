"""HTTP routes: thin adapters onto the same handlers as the command topic."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Header, HTTPException, status
from pydantic import BaseModel

from services.registration.adapters import repository
from shared.events.registration import InterestRegistered, RegisterInterest
from shared.service import RuntimeDep

router = APIRouter(tags=["interest"])


class Accepted(BaseModel):
    registration_id: UUID | None
    duplicate: bool


@router.post(
    "/interest-registrations",
    status_code=status.HTTP_201_CREATED,
    responses={
        409: {"description": "Already registered"},
        422: {"description": "Refused, with the reason"},
    },
)
async def register_interest(
    command: RegisterInterest,
    runtime: RuntimeDep,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Accepted:
    """A county branch board registers interest for its county and member municipalities.

    Send an `Idempotency-Key` header to make retries safe: the same key is handled once.
    """
    outcome = await runtime.command(command, message_id=idempotency_key)
    if not outcome.fresh:
        return Accepted(registration_id=None, duplicate=True)
    event: InterestRegistered = outcome.result
    return Accepted(registration_id=event.registration_id, duplicate=False)


@router.get("/interest-registrations/{registration_id}")
async def get_interest(registration_id: UUID, runtime: RuntimeDep) -> dict[str, object]:
    row = await repository.get_interest(runtime.pool, registration_id)
    if row is None:
        raise HTTPException(status_code=404, detail="no such interest registration")
    return dict(row)
