"""Interest registration by a county branch board: the rules, without I/O."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from services.registration.domain.deadlines import require_before
from services.registration.domain.persons import same_person
from services.registration.domain.reference import Branch, ReferenceData, branch_named
from services.registration.domain.rounds import Round, require_round
from shared.contracts.errors import DomainError
from shared.contracts.events.registration import (
    ContactHandover,
    ContactPerson,
    InterestRegistered,
    InterestUpdated,
    MembershipChanged,
    MunicipalityContactRef,
    RegisterInterest,
)

__all__ = ["DomainError"]


class UnknownBranch(DomainError):
    slug = "unknown-branch"


class UnknownMunicipality(DomainError):
    slug = "unknown-municipality"


class WrongCounty(DomainError):
    slug = "wrong-county"


class NotMember(DomainError):
    slug = "not-a-member"


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


@dataclass(frozen=True)
class InterestSaved:
    """A registration as registered (`new`) or registered again, with its contact person
    (added, or updated under the same id) and what changed: one line of its history."""

    registration_id: UUID
    new: bool
    round_id: str
    branch_id: str
    municipality_numbers: list[str]
    person_id: UUID
    contact: ContactPerson
    message: str
    at: datetime
    added: list[str]
    removed: list[str]
    contact_changed: bool


@dataclass(frozen=True)
class MunicipalityContact:
    municipality_number: str
    person_id: UUID
    contact: ContactPerson


@dataclass(frozen=True)
class Registered:
    """What registering interest decides: the registration to save; the former contact and
    the notice that hands the registration over, when the contact changes; the contact
    named for each municipality, the municipalities no longer named and the people no
    longer named (forgotten unless still in use); and the event."""

    saved: InterestSaved
    replaced: UUID | None
    handover: ContactHandover | None
    contacts: list[MunicipalityContact]
    gone: list[str]
    let_go: list[UUID]
    event: InterestRegistered | InterestUpdated


def register(
    reference: ReferenceData,
    cmd: RegisterInterest,
    *,
    found: Round | None,
    members: set[str],
    existing: InterestRegistration | None,
    before: Mapping[str, tuple[UUID, str | None]],
    now: datetime,
    new_id: Callable[[], UUID],
) -> Registered:
    """A branch's interest, registered or registered again. The checks run in the order
    they always have: the round, its deadline, the branch and municipalities, membership,
    the contacts named per municipality. Registering again updates the registration; the
    same contact (by e-mail) keeps their id, and so does each municipality's contact.
    `before`: each municipality's contact so far (id, e-mail address)."""
    found = require_round(found, cmd.round_id, intake=True)
    require_before(found.interest_deadline, now, f"interest for round {cmd.round_id}")
    scope = scope_of_interest(
        reference,
        branch=cmd.branch,
        municipality_numbers=cmd.municipality_numbers,
        members=members,
    )
    municipalities = list(scope.municipality_numbers)
    check_municipality_contacts(
        [c.municipality_number for c in cmd.municipality_contacts], municipalities
    )
    replaced: UUID | None = None
    added: list[str]
    removed: list[str]
    if existing is None:
        registration_id, person_id = new_id(), new_id()
        added, removed = municipalities, []
    else:
        registration_id, person_id = existing.id, existing.contact_person_id
        added, removed = existing.changes(municipalities)
        if not same_person(existing.contact_email, cmd.contact.email):
            replaced, person_id = person_id, new_id()
    contacts = []
    for item in sorted(cmd.municipality_contacts, key=lambda c: c.municipality_number):
        previous = before.get(item.municipality_number)
        same = previous is not None and same_person(previous[1], item.contact.email)
        contacts.append(
            MunicipalityContact(
                item.municipality_number,
                previous[0] if same and previous is not None else new_id(),
                item.contact,
            )
        )
    named = {c.municipality_number for c in contacts}
    kept = {c.person_id for c in contacts}
    fields = {
        "registration_id": registration_id,
        "round_id": cmd.round_id,
        "branch_id": scope.branch.id,
        "branch_name": scope.branch.name,
        "county_numbers": list(scope.branch.county_numbers),
        "municipality_numbers": municipalities,
        "contact_person_id": person_id,
        "message": cmd.message,
        "municipality_contacts": [
            MunicipalityContactRef(municipality_number=c.municipality_number, person_id=c.person_id)
            for c in contacts
        ],
    }
    event: InterestRegistered | InterestUpdated = (
        InterestRegistered(**fields, registered_at=now)
        if existing is None
        else InterestUpdated(
            **fields,
            updated_at=now,
            added_municipality_numbers=added,
            removed_municipality_numbers=removed,
            previous_contact_person_id=replaced,
        )
    )
    return Registered(
        saved=InterestSaved(
            registration_id=registration_id,
            new=existing is None,
            round_id=cmd.round_id,
            branch_id=scope.branch.id,
            municipality_numbers=municipalities,
            person_id=person_id,
            contact=cmd.contact,
            message=cmd.message,
            at=now,
            added=added,
            removed=removed,
            contact_changed=replaced is not None,
        ),
        replaced=replaced,
        handover=ContactHandover(
            registration_id=registration_id,
            round_id=cmd.round_id,
            branch_id=scope.branch.id,
            branch_name=scope.branch.name,
            new_contact_person_id=person_id,
        )
        if replaced is not None
        else None,
        contacts=contacts,
        gone=sorted(n for n in before if n not in named),
        let_go=[p for p, _ in sorted(before.values()) if p not in kept],
        event=event,
    )
