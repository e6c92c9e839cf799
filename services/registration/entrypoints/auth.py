"""Bearer tokens to principals; which principal may send which command."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.registration.domain.access import (
    Principal,
    Role,
    require_branch,
    require_county,
    require_programme,
)
from services.registration.domain.interest import DomainError, municipality_in_branch
from services.registration.domain.reference import ReferenceData
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
from shared.messaging import Rejected

bearer = HTTPBearer(auto_error=False, description="A token from KS_REGISTRATION_API_TOKENS")


def parse_tokens(raw: str, reference: ReferenceData) -> dict[str, Principal]:
    if not raw.strip():
        return {}
    principals = {}
    for token, entry in json.loads(raw).items():
        role = Role(entry["role"])
        branch = reference.branch(entry.get("branch", "")) if role is Role.COUNTY_BOARD else None
        if role is Role.COUNTY_BOARD and branch is None:
            raise ValueError(
                f"token for {entry.get('name')!r}: unknown branch {entry.get('branch')!r}"
            )
        principals[token] = Principal(
            entry.get("name", role.value), role, branch.id if branch else None
        )
    return principals


def current_principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal:
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "a bearer token is required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    tokens: dict[str, Principal] = request.app.state.runtime.extras["tokens"]
    for token, principal in tokens.items():
        if secrets.compare_digest(token, credentials.credentials):
            return principal
    raise HTTPException(
        status.HTTP_401_UNAUTHORIZED, "unknown token", headers={"WWW-Authenticate": "Bearer"}
    )


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def _municipality_county(reference: ReferenceData, number: str) -> str:
    try:
        return municipality_in_branch(reference, number)[0]
    except DomainError as error:
        raise Rejected(str(error)) from error


def _by_municipality(principal: Principal, command: Any, reference: ReferenceData) -> None:
    require_county(
        principal, _municipality_county(reference, command.municipality_number), reference
    )


def _by_branch(principal: Principal, command: Any, reference: ReferenceData) -> None:
    branch = reference.branch(command.branch)
    if branch is None:
        raise Rejected(f"unknown county branch {command.branch!r}")
    require_branch(principal, branch.id)


def _programme(principal: Principal, command: Any, reference: ReferenceData) -> None:
    require_programme(principal)


# Who may send what. A county board acts for its own branch's counties only.
RULES: dict[type[Contract], Callable[[Principal, Any, ReferenceData], None]] = {
    OpenRound: _programme,
    OpenApplicationWindow: _programme,
    ExtendDeadline: _programme,
    ImportMembers: _programme,
    DecideApplication: _programme,
    ErasePerson: _programme,
    RegisterInterest: _by_branch,
    SaveApplicationDraft: _by_municipality,
    SubmitApplication: _by_municipality,
    WithdrawMunicipality: _by_municipality,
    AddGroupMember: _by_municipality,
    RemoveGroupMember: _by_municipality,
    ReplaceGroupMember: _by_municipality,
}


def authorize(principal: Principal, command: Contract, reference: ReferenceData) -> None:
    try:
        RULES[type(command)](principal, command, reference)
    except DomainError as error:
        raise Rejected(str(error), status=403) from error
