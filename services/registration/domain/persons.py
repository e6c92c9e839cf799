"""People whose contact data this service keeps: board contacts, municipalities' contacts,
kommunegruppe members. Their data can be erased; their ids stay, so history keeps its shape."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from shared.contracts.errors import NotFound
from shared.contracts.events.registration import PersonErased


def erased(person_id: UUID, *, now: datetime, by: str | None) -> PersonErased:
    return PersonErased(person_id=person_id, erased_at=now, erased_by=by)


def nothing_to_erase(person_id: UUID) -> NotFound:
    return NotFound(
        f"no person {person_id} with data to erase",
        nb="Det finnes ingen personopplysninger å slette for denne personen.",
        nn="Det finst ingen personopplysningar å slette for denne personen.",
        field="person_id",
    )


def same_person(email: str | None, other: object) -> bool:
    """The same person as far as this service can tell: the same e-mail address (letter case
    aside); an erased person (no address) is nobody's match."""
    return (email or "").lower() == str(other).lower()
