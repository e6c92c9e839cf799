"""A county branch's board contact (kept by programme management) and the development areas
it adopts for a round. Pure: the handlers load, this decides."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from services.registration.domain import areas
from services.registration.domain.persons import same_person
from services.registration.domain.reference import Branch
from shared.contracts.events.registration import (
    BranchContactSet,
    ContactPerson,
    DevelopmentAreasSet,
)


@dataclass(frozen=True)
class BoardContact:
    """Who the branch's board contact is (their data saved with them), set when, by whom."""

    branch_id: str
    person_id: UUID
    contact: ContactPerson
    set_at: datetime
    set_by: str | None


@dataclass(frozen=True)
class AdoptedAreas:
    round_id: str
    branch_id: str
    areas: list[str]
    set_at: datetime
    set_by: str | None


def set_contact(
    branch: Branch,
    current: tuple[UUID, str | None] | None,
    contact: ContactPerson,
    *,
    new_id: UUID,
    now: datetime,
    by: str | None,
) -> tuple[BoardContact, UUID | None, list[BranchContactSet]]:
    """The same person (by e-mail) keeps their id and has their details updated; another
    replaces them (the one replaced is returned, for the handler to forget unless something
    else still refers to them)."""
    person_id, previous = new_id, None
    if current is not None:
        current_id, current_email = current
        if same_person(current_email, contact.email):
            person_id = current_id
        else:
            previous = current_id
    event = BranchContactSet(
        branch_id=branch.id,
        branch_name=branch.name,
        county_numbers=list(branch.county_numbers),
        contact_person_id=person_id,
        previous_contact_person_id=previous,
        set_at=now,
        set_by=by,
    )
    return BoardContact(branch.id, person_id, contact, now, by), previous, [event]


def adopt_areas(
    round_id: str, branch: Branch, given: Iterable[str], *, now: datetime, by: str | None
) -> tuple[AdoptedAreas, list[DevelopmentAreasSet]]:
    """The whole list at once, in the board's words (tidied)."""
    adopted = areas.tidy(given)
    event = DevelopmentAreasSet(
        round_id=round_id,
        branch_id=branch.id,
        branch_name=branch.name,
        areas=adopted,
        set_at=now,
        set_by=by,
    )
    return AdoptedAreas(round_id, branch.id, adopted, now, by), [event]
