"""Reference data: counties, municipalities and branches, from the shared reference package.

The data is public and read by more than one service, so it lives in `shared.reference`.
"""

from shared.contracts.errors import DomainError
from shared.reference import REFERENCE_DIR, Branch, Municipality, ReferenceData, slug

__all__ = ["REFERENCE_DIR", "Branch", "Municipality", "ReferenceData", "branch_named", "slug"]


def branch_named(
    reference: ReferenceData,
    name_or_id: str,
    *,
    field: str = "branch",
    unknown: type[DomainError] = DomainError,
) -> Branch:
    """A county branch by its id or name (`unknown`: the refusal's kind when there is none)."""
    found = reference.branch(name_or_id)
    if found is None:
        known = ", ".join(sorted(b.name for b in reference.branches.values()))
        raise unknown(
            f"unknown county branch {name_or_id[:60]!r}; known branches: {known}",
            nb=f"Ukjent fylkesavdeling. Kjente avdelinger: {known}.",
            nn=f"Ukjend fylkesavdeling. Kjende avdelingar: {known}.",
            field=field,
        )
    return found
