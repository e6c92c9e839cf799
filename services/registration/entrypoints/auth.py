"""Bearer tokens to principals; which principal may send which command."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.registration.domain.access import (
    Principal,
    require_branch,
    require_county,
    require_programme,
)
from services.registration.domain.interest import DomainError, municipality_in_branch
from services.registration.domain.reference import ReferenceData
from shared.auth import PrincipalDep, current_principal
from shared.auth import parse_tokens as shared_parse_tokens
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

__all__ = ["PrincipalDep", "authorize", "current_principal", "parse_tokens"]


def parse_tokens(raw: str, reference: ReferenceData) -> dict[str, Principal]:
    """The tokens of `KS_REGISTRATION_API_TOKENS`; a board names its branch by name or id."""

    def branch_id(name_or_id: str) -> str | None:
        branch = reference.branch(name_or_id)
        return branch.id if branch else None

    return shared_parse_tokens(raw, branch_id)


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
