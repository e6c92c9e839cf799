"""Who may send which command: programme management only. The delivery log, the previews,
opt-outs and supervisors name who was told what, and where supervisors are reached."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends

from services.notification.handlers.context import Context
from shared.runtime.auth import Principal, PrincipalDep, require_programme


def programme(principal: Principal, command: Any, ctx: Context) -> None:
    require_programme(principal)


def programme_reader(principal: PrincipalDep) -> Principal:
    """The same rule for the reads."""
    require_programme(principal)
    return principal


Programme = Annotated[Principal, Depends(programme_reader)]
