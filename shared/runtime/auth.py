"""Bearer tokens to principals, for every service's HTTP API.

A service's settings carry `api_tokens`, a JSON object of
`{"<token>": {"name": "...", "role": "programme" | "county_board" | "observer",
"branch": "<branch name or id, for a county board>"}}`. The service parses it at start-up
(`parse_tokens`, with its own way of knowing branches) and keeps the result in
`runtime.extras["tokens"]`; `PrincipalDep` then names the caller of a route. Kafka commands
are trusted system input and carry no principal.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.runtime.problems import Problem, Texts, texts

TOKENS = "tokens"  # where the runtime keeps the parsed tokens: runtime.extras[TOKENS]


class Role(StrEnum):
    PROGRAMME = "programme"
    COUNTY_BOARD = "county_board"
    OBSERVER = "observer"


@dataclass(frozen=True)
class Principal:
    name: str
    role: Role
    branch_id: str | None = None  # for a county board

    @property
    def caller(self) -> str:
        """Whose idempotency keys these are: the principal, as its token file names it."""
        return f"{self.role}:{self.branch_id or ''}:{self.name}"


class Forbidden(Problem):
    """The principal may not send this command: 403 with the reason, in nb, nn and en (a
    plain string is the reason in every language)."""

    def __init__(self, reason: str | Texts) -> None:
        detail = texts(reason) if isinstance(reason, str) else reason
        super().__init__("forbidden", detail, status=403)


def parse_tokens(raw: str, branch_id: Callable[[str], str | None]) -> dict[str, Principal]:
    """The tokens of `raw` (JSON); `branch_id` resolves a board's branch name or id, or None.

    A bad entry fails start-up rather than locking someone out later."""
    if not raw.strip():
        return {}
    principals = {}
    for token, entry in json.loads(raw).items():
        role = Role(entry["role"])
        branch = branch_id(entry.get("branch", "")) if role is Role.COUNTY_BOARD else None
        if role is Role.COUNTY_BOARD and branch is None:
            raise ValueError(
                f"token for {entry.get('name')!r}: unknown branch {entry.get('branch')!r}"
            )
        principals[token] = Principal(entry.get("name", role.value), role, branch)
    return principals


bearer = HTTPBearer(auto_error=False, description="A token from the service's API_TOKENS setting")


def principal_of(request: Request, given: str | None) -> Principal:
    """The principal `given` (a token) names; 401 with `WWW-Authenticate` when it names none."""
    challenge = {"WWW-Authenticate": "Bearer"}
    if not given:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "a bearer token is required", headers=challenge
        )
    tokens: dict[str, Principal] = request.app.state.runtime.extras[TOKENS]
    for token, principal in tokens.items():
        # As bytes: compare_digest refuses str with non-ASCII characters (a 500 otherwise).
        if secrets.compare_digest(token.encode(), given.encode()):
            return principal
    raise HTTPException(status.HTTP_401_UNAUTHORIZED, "unknown token", headers=challenge)


def current_principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal:
    return principal_of(request, credentials.credentials if credentials else None)


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def require_programme(principal: Principal) -> None:
    if principal.role is not Role.PROGRAMME:
        who = principal.name
        raise Forbidden(
            texts(
                f"{who} kan ikke gjøre dette: bare programledelsen kan det.",
                f"{who} kan ikkje gjere dette: berre programleiinga kan det.",
                f"{who} may not do this: programme management only",
            )
        )


def require_branch(principal: Principal, branch_id: str, branch_name: str | None = None) -> None:
    """Programme management, or the board of this very branch (named by `branch_name`)."""
    if principal.role is Role.PROGRAMME:
        return
    if principal.role is Role.COUNTY_BOARD and principal.branch_id == branch_id:
        return
    who, branch = principal.name, branch_name or branch_id
    raise Forbidden(
        texts(
            f"{who} kan ikke handle for fylkesavdelingen {branch}.",
            f"{who} kan ikkje handle for fylkesavdelinga {branch}.",
            f"{who} may not act for the branch {branch}",
        )
    )
