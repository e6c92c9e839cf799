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


class NotMember(DomainError):
    pass


def require_members(reference: ReferenceData, members: set[str], numbers: list[str]) -> None:
    """Only member municipalities of Norsk kulturskoleråd take part."""
    outside = [f"{n} {reference.municipalities[n].name}" for n in numbers if n not in members]
    if outside:
        raise NotMember(
            f"{', '.join(outside)}: not a member municipality of Norsk kulturskoleråd; "
            "only members may take part"
        )


def municipality_in_branch(reference: ReferenceData, number: str) -> tuple[str, Branch]:
    """The county number and the branch of a known municipality."""
    municipality = reference.municipalities.get(number)
    if municipality is None:
        raise UnknownMunicipality(f"unknown municipality number {number} (2024 structure)")
    for branch in reference.branches.values():
        if municipality.county_number in branch.county_numbers:
            return municipality.county_number, branch
    raise UnknownBranch(f"no county branch covers county {municipality.county_number}")


@dataclass(frozen=True)
class InterestScope:
    branch: Branch
    municipality_numbers: tuple[str, ...]


def scope_of_interest(
    reference: ReferenceData,
    *,
    branch: str,
    municipality_numbers: list[str],
    members: set[str] | None = None,
) -> InterestScope:
    """Check the branch exists, every municipality lies in its counties and is a member.

    `members=None` skips the membership check (reference checks only).
    """
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
    if members is not None:
        require_members(reference, members, municipality_numbers)
    return InterestScope(found, tuple(sorted(set(municipality_numbers))))
