"""Who may do what: programme management, a county board for its own counties, observers."""

from __future__ import annotations

from services.registration.domain.reference import ReferenceData
from shared.contracts.errors import Forbidden
from shared.runtime.auth import Principal, Role  # the principals every service's API shares

__all__ = [
    "Forbidden",
    "Principal",
    "Role",
    "require_branch",
    "require_county",
    "require_programme",
]


def require_programme(principal: Principal) -> None:
    if principal.role is not Role.PROGRAMME:
        raise Forbidden(
            f"{principal.name} may not do this: programme management only",
            nb="Bare programledelsen kan gjøre dette.",
            nn="Berre programleiinga kan gjere dette.",
        )


def require_branch(principal: Principal, branch_id: str) -> None:
    """Programme management, or the board of this very branch."""
    if principal.role is Role.PROGRAMME:
        return
    if principal.role is Role.COUNTY_BOARD and principal.branch_id == branch_id:
        return
    raise Forbidden(
        f"{principal.name} may not act for the branch {branch_id}",
        nb=f"Du kan ikke handle på vegne av fylkesavdelingen {branch_id}.",
        nn=f"Du kan ikkje handle på vegner av fylkesavdelinga {branch_id}.",
        field="branch",
    )


def require_county(principal: Principal, county_number: str, reference: ReferenceData) -> None:
    """Programme management, or the board of the branch that covers this county."""
    if principal.role is Role.PROGRAMME:
        return
    branch = reference.branches.get(principal.branch_id or "")
    if principal.role is Role.COUNTY_BOARD and branch and county_number in branch.county_numbers:
        return
    raise Forbidden(
        f"{principal.name} may not act for county {county_number}",
        nb=f"Du kan ikke handle på vegne av kommuner i fylke {county_number}.",
        nn=f"Du kan ikkje handle på vegner av kommunar i fylke {county_number}.",
        field="municipality_number",
    )
