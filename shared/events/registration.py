"""Contracts of the registration service: commands it takes, events it publishes."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from shared.events.base import TYPE_PREFIX, Command, Contract, Event

PREFIX = f"{TYPE_PREFIX}.registration"

MunicipalityNumber = Annotated[str, StringConstraints(pattern=r"^\d{4}$")]
CountyNumber = Annotated[str, StringConstraints(pattern=r"^\d{2}$")]
RoundId = Annotated[str, StringConstraints(pattern=r"^\d{4}$")]


class Language(StrEnum):
    BOKMAAL = "nb"
    NYNORSK = "nn"
    ENGLISH = "en"


class ContactPerson(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    email: EmailStr
    phone: Annotated[str, StringConstraints(pattern=r"^\+?[0-9 ]{8,20}$")] | None = None
    language: Language = Language.BOKMAAL


class RegisterInterest(Command):
    """A county branch board registers interest for its county and member municipalities."""

    TYPE: ClassVar[str] = f"{PREFIX}.register-interest.v1"
    SERVICE: ClassVar[str] = "registration"

    round_id: RoundId = Field(description="The programme round, by its starting year")
    branch: Annotated[str, StringConstraints(min_length=1, max_length=100)] = Field(
        description="The county branch (fylkesavdeling) by name, e.g. 'Vestland'"
    )
    municipality_numbers: list[MunicipalityNumber] = Field(
        default_factory=list,
        max_length=100,
        description="Interested member municipalities (kommunenummer); may be empty",
    )
    contact: ContactPerson
    message: Annotated[str, StringConstraints(max_length=4000)] = ""

    def key(self) -> str:
        return self.branch


class InterestRegistered(Event):
    """A branch's interest is on record. Carries ids, not contact details."""

    TYPE: ClassVar[str] = f"{PREFIX}.interest-registered.v1"
    SERVICE: ClassVar[str] = "registration"

    registration_id: UUID
    round_id: RoundId
    branch_id: str = Field(description="Stable id of the county branch (slug of its name)")
    branch_name: str
    county_numbers: list[CountyNumber]
    municipality_numbers: list[MunicipalityNumber]
    contact_person_id: UUID
    message: str
    registered_at: AwareDatetime

    def key(self) -> str:
        return self.branch_id


class ContactDetails(Contract):
    """Personal contact data, on the restricted compacted contacts topic only.

    Keyed by person id; erasure is a tombstone (null value) under the same key.
    """

    TYPE: ClassVar[str] = f"{PREFIX}.contact-details.v1"
    SERVICE: ClassVar[str] = "registration"
    KIND: ClassVar[str] = "contact"

    person_id: UUID
    name: str
    email: EmailStr
    phone: str | None = None
    language: Language = Language.BOKMAAL

    def key(self) -> str:
        return str(self.person_id)
