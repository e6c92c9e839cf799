"""Interest registration by a county branch board: the rules, without I/O."""

from __future__ import annotations

from dataclasses import dataclass

from services.registration.domain.reference import Branch, ReferenceData


class DomainError(Exception):
    """A rule says no; the message says why, in words a caller can act on."""


class UnknownBranch(DomainError):
    pass


class UnknownMunicipality(DomainError):
    pass


class WrongCounty(DomainError):
    pass


@dataclass(frozen=True)
class InterestScope:
    branch: Branch
    municipality_numbers: tuple[str, ...]


def scope_of_interest(
    reference: ReferenceData, *, branch: str, municipality_numbers: list[str]
) -> InterestScope:
    """Check that the branch exists and every municipality lies in one of its counties."""
    found = reference.branch(branch)
    if found is None:
        known = ", ".join(sorted(b.name for b in reference.branches.values()))
        raise UnknownBranch(f"unknown county branch {branch!r}; known branches: {known}")
    unknown = [n for n in municipality_numbers if n not in reference.municipalities]
    if unknown:
        raise UnknownMunicipality(
            f"unknown municipality number(s) {', '.join(unknown)} (2024 structure)"
        )
    outside = [
        f"{n} {reference.municipalities[n].name}"
        for n in municipality_numbers
        if reference.municipalities[n].county_number not in found.county_numbers
    ]
    if outside:
        raise WrongCounty(
            f"municipality {', '.join(outside)} is not in the counties of branch {found.name} "
            f"({', '.join(found.county_numbers)})"
        )
    return InterestScope(found, tuple(sorted(set(municipality_numbers))))
