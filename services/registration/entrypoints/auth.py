"""Bearer tokens to principals; which principal may send which command, and read what.

A rule takes `(principal, command, ctx)` as `shared.runtime.commands.Rule`; the registry in
`services.registration.app` names one per command. Reads use `may_read_branch`.
"""

from __future__ import annotations

from typing import Any

from services.registration.domain.access import (
    Principal,
    Role,
    require_branch,
    require_county,
    require_programme,
)
from services.registration.domain.interest import municipality_in_branch
from services.registration.domain.reference import ReferenceData
from services.registration.handlers.context import Context
from shared.runtime.auth import PrincipalDep, current_principal
from shared.runtime.auth import parse_tokens as shared_parse_tokens

__all__ = [
    "PrincipalDep",
    "by_branch",
    "by_municipality",
    "current_principal",
    "may_read_branch",
    "parse_tokens",
    "programme",
]


def parse_tokens(raw: str, reference: ReferenceData) -> dict[str, Principal]:
    """The tokens of `KS_REGISTRATION_API_TOKENS`; a board names its branch by name or id."""

    def branch_id(name_or_id: str) -> str | None:
        branch = reference.branch(name_or_id)
        return branch.id if branch else None

    return shared_parse_tokens(raw, branch_id)


def by_municipality(principal: Principal, command: Any, ctx: Context) -> None:
    """Programme management, or the board of the county the municipality lies in."""
    county, _ = municipality_in_branch(ctx.reference, command.municipality_number)
    require_county(principal, county, ctx.reference)


def by_branch(principal: Principal, command: Any, ctx: Context) -> None:
    require_branch(principal, ctx.branch(command.branch).id)


def programme(principal: Principal, command: Any, ctx: Context) -> None:
    require_programme(principal)


def may_read_branch(principal: Principal, branch_id: str) -> bool:
    """Details (messages, contacts, applications, reasons): programme management, or the
    board of that very branch. Observers read counts only."""
    if principal.role is Role.PROGRAMME:
        return True
    return principal.role is Role.COUNTY_BOARD and principal.branch_id == branch_id
