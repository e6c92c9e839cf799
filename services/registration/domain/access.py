"""Who may do what: programme management, a county board for its own counties, observers."""

from __future__ import annotations

from services.registration.domain.interest import DomainError
from services.registration.domain.reference import ReferenceData
from shared.auth import Principal, Role  # the principals every service's API shares

__all__ = [
    "Forbidden",
    "Principal",
    "Role",
    "require_branch",
    "require_county",
    "require_programme",
]


class Forbidden(DomainError):
    pass


def require_programme(principal: Principal) -> None:
    if principal.role is not Role.PROGRAMME:
        raise Forbidden(f"{principal.name} may not do this: programme management only")


def require_branch(principal: Principal, branch_id: str) -> None:
    """Programme management, or the board of this very branch."""
    if principal.role is Role.PROGRAMME:
        return
    if principal.role is Role.COUNTY_BOARD and principal.branch_id == branch_id:
        return
    raise Forbidden(f"{principal.name} may not act for the branch {branch_id}")


def require_county(principal: Principal, county_number: str, reference: ReferenceData) -> None:
    """Programme management, or the board of the branch that covers this county."""
    if principal.role is Role.PROGRAMME:
        return
    branch = reference.branches.get(principal.branch_id or "")
    if principal.role is Role.COUNTY_BOARD and branch and county_number in branch.county_numbers:
        return
    raise Forbidden(f"{principal.name} may not act for county {county_number}")
