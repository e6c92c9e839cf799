"""Interest registration by a county branch board: the rules, without I/O."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from uuid import UUID

from services.registration.domain.reference import Branch, ReferenceData
from shared.contracts.errors import DomainError
from shared.contracts.events.registration import MembershipChanged

__all__ = ["DomainError"]


class UnknownBranch(DomainError):
    slug = "unknown-branch"


class UnknownMunicipality(DomainError):
    slug = "unknown-municipality"


class WrongCounty(DomainError):
    slug = "wrong-county"


class NotMember(DomainError):
    slug = "not-a-member"


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


def require_members(reference: ReferenceData, members: set[str], numbers: list[str]) -> None:
    """Only member municipalities of Norsk kulturskoleråd take part."""
    outside = [f"{n} {reference.municipalities[n].name}" for n in numbers if n not in members]
    if outside:
        raise NotMember(
            f"{', '.join(outside)}: not a member municipality of Norsk kulturskoleråd; "
            "only members may take part",
            nb=f"{', '.join(outside)}: ikke medlem av Norsk kulturskoleråd; bare "
            "medlemskommuner kan delta.",
            nn=f"{', '.join(outside)}: ikkje medlem av Norsk kulturskoleråd; berre "
            "medlemskommunar kan delta.",
            field="municipality_numbers" if len(numbers) > 1 else "municipality_number",
        )


def municipality_in_branch(reference: ReferenceData, number: str) -> tuple[str, Branch]:
    """The county number and the branch of a known municipality."""
    municipality = reference.municipalities.get(number)
    if municipality is None:
        raise UnknownMunicipality(
            f"unknown municipality number {number} (2024 structure)",
            nb=f"Ukjent kommunenummer {number} (kommuneinndelingen fra 2024).",
            nn=f"Ukjent kommunenummer {number} (kommuneinndelinga frå 2024).",
            field="municipality_number",
        )
    for branch in reference.branches.values():
        if municipality.county_number in branch.county_numbers:
            return municipality.county_number, branch
    raise UnknownBranch(
        f"no county branch covers county {municipality.county_number}",
        nb=f"Ingen fylkesavdeling dekker fylke {municipality.county_number}.",
        nn=f"Inga fylkesavdeling dekkjer fylke {municipality.county_number}.",
        field="municipality_number",
    )


@dataclass(frozen=True)
class InterestRegistration:
    """A branch's interest in a round, as registered so far."""

    id: UUID
    contact_person_id: UUID
    municipality_numbers: tuple[str, ...]
    # The contact's e-mail address (None once erased), read with the registration: a
    # registration with the same address keeps its contact person.
    contact_email: str | None = None

    def changes(self, municipality_numbers: Iterable[str]) -> tuple[list[str], list[str]]:
        """The municipalities added and removed by registering these instead, each sorted."""
        before, after = set(self.municipality_numbers), set(municipality_numbers)
        return sorted(after - before), sorted(before - after)


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
    found = branch_named(reference, branch, unknown=UnknownBranch)
    unknown = [n for n in municipality_numbers if n not in reference.municipalities]
    if unknown:
        raise UnknownMunicipality(
            f"unknown municipality number(s) {', '.join(unknown)} (2024 structure)",
            nb=f"Ukjente kommunenummer: {', '.join(unknown)} (kommuneinndelingen fra 2024).",
            nn=f"Ukjende kommunenummer: {', '.join(unknown)} (kommuneinndelinga frå 2024).",
            field="municipality_numbers",
        )
    outside = [
        f"{n} {reference.municipalities[n].name}"
        for n in municipality_numbers
        if reference.municipalities[n].county_number not in found.county_numbers
    ]
    if outside:
        raise WrongCounty(
            f"municipality {', '.join(outside)} is not in the counties of branch {found.name} "
            f"({', '.join(found.county_numbers)})",
            nb=f"{', '.join(outside)} ligger ikke i fylkene til avdelingen {found.name} "
            f"({', '.join(found.county_numbers)}).",
            nn=f"{', '.join(outside)} ligg ikkje i fylka til avdelinga {found.name} "
            f"({', '.join(found.county_numbers)}).",
            field="municipality_numbers",
        )
    if members is not None:
        require_members(reference, members, municipality_numbers)
    return InterestScope(found, tuple(sorted(set(municipality_numbers))))


class ContactForUninterested(DomainError):
    slug = "contact-without-interest"


def check_municipality_contacts(named: list[str], interested: list[str]) -> None:
    """A contact is named only for a municipality on the list, and once."""
    outside = sorted(set(named) - set(interested))
    twice = sorted({n for n in named if named.count(n) > 1})
    if outside:
        raise ContactForUninterested(
            f"a contact is named for {', '.join(outside)}, which is not among the interested "
            "municipalities",
            nb=f"Kontaktperson er oppgitt for {', '.join(outside)}, som ikke er blant "
            "kommunene det meldes interesse for.",
            nn=f"Kontaktperson er oppgitt for {', '.join(outside)}, som ikkje er blant "
            "kommunane det blir meldt interesse for.",
            field="municipality_contacts",
        )
    if twice:
        raise ContactForUninterested(
            f"more than one contact is named for {', '.join(twice)}",
            nb=f"Mer enn én kontaktperson er oppgitt for {', '.join(twice)}.",
            nn=f"Meir enn éin kontaktperson er oppgitt for {', '.join(twice)}.",
            field="municipality_contacts",
        )


def replace_members(
    reference: ReferenceData, old: set[str], numbers: Iterable[str]
) -> tuple[set[str], list[MembershipChanged]]:
    """The new membership list (known municipalities only) and what changed."""
    new = set(numbers)
    unknown = sorted(n for n in new if n not in reference.municipalities)
    if unknown:
        listed = ", ".join(unknown[:20])
        raise DomainError(
            f"unknown municipality number(s) {listed} (2024 structure)",
            nb=f"Ukjente kommunenummer: {listed} (kommuneinndelingen fra 2024).",
            nn=f"Ukjende kommunenummer: {listed} (kommuneinndelinga frå 2024).",
            field="municipality_numbers",
        )
    event = MembershipChanged(
        added=sorted(new - old), removed=sorted(old - new), member_count=len(new)
    )
    return new, [event]
