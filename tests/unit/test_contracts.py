"""Public contracts: frozen, versioned, registered once, keyed by their aggregate."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import ClassVar

import pytest
from pydantic import ValidationError

import shared.contracts.events
from shared.contracts.events.base import REGISTRY, Command, Contract, Event
from shared.contracts.events.registration import (
    ContactDetails,
    ContactPerson,
    ImportMembers,
    InterestRegistered,
    Language,
    MembershipChanged,
    MunicipalityAdmitted,
    RegisterInterest,
)

pytestmark = pytest.mark.unit


@pytest.fixture
def registry() -> Iterator[dict[str, type[Contract]]]:
    """The global registry, restored after a test that defines throwaway contracts."""
    saved = dict(REGISTRY)
    yield REGISTRY
    REGISTRY.clear()
    REGISTRY.update(saved)


def register_interest() -> RegisterInterest:
    return RegisterInterest(
        round_id="2025",
        branch="Vestland",
        municipality_numbers=["4601"],
        contact=ContactPerson(name="Kari Nordmann", email="kari.nordmann@example.no"),
    )


def interest_registered(**changes: object) -> InterestRegistered:
    fields: dict[str, object] = {
        "registration_id": uuid.uuid4(),
        "round_id": "2025",
        "branch_id": "more-og-romsdal",
        "branch_name": "Møre og Romsdal",
        "county_numbers": ["15"],
        "municipality_numbers": ["1505"],
        "contact_person_id": uuid.uuid4(),
        "message": "",
        "registered_at": datetime(2025, 1, 6, 8, 0, tzinfo=UTC),
    }
    fields.update(changes)
    return InterestRegistered.model_validate(fields)


def interest_registered_data(data: dict[str, object]) -> dict[str, object]:
    """`data` without the properties InterestRegistered v1 does not declare."""
    return {k: v for k, v in data.items() if k in InterestRegistered.model_fields}


def contact_details() -> ContactDetails:
    return ContactDetails(
        person_id=uuid.UUID("6f1c8a52-4a8e-4c8e-9d0c-2b0e3c1d9a11"),
        name="Ola Nordmann",
        email="ola@example.no",
        language=Language.ENGLISH,
    )


# --- frozen -------------------------------------------------------------------------------


def test_command_is_frozen() -> None:
    command = register_interest()
    with pytest.raises(ValidationError, match="frozen"):
        command.branch = "Agder"  # type: ignore[misc]
    assert command.branch == "Vestland"


def test_nested_contact_person_is_frozen() -> None:
    command = register_interest()
    with pytest.raises(ValidationError, match="frozen"):
        command.contact.email = "someone.else@example.no"  # type: ignore[misc]


def test_event_is_frozen() -> None:
    event = interest_registered()
    with pytest.raises(ValidationError, match="frozen"):
        event.branch_id = "agder"  # type: ignore[misc]


def test_contact_details_are_frozen() -> None:
    details = contact_details()
    with pytest.raises(ValidationError, match="frozen"):
        details.email = "new@example.no"  # type: ignore[misc]


def test_a_command_refuses_a_property_it_does_not_know() -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted") as caught:
        RegisterInterest.model_validate(
            {**register_interest().model_dump(mode="json"), "national_id": "01019912345"}
        )
    assert caught.value.errors()[0]["loc"] == ("national_id",)


def test_an_event_ignores_a_property_a_newer_producer_added() -> None:
    data = {**interest_registered().model_dump(mode="json"), "region_note": "added in a later v1"}
    event = InterestRegistered.model_validate(data)
    assert event == InterestRegistered.model_validate(interest_registered_data(data))
    assert "region_note" not in event.model_dump()


def test_contact_details_and_nested_event_parts_are_read_tolerantly() -> None:
    details = ContactDetails.model_validate(
        {**contact_details().model_dump(mode="json"), "pronouns": "hen"}
    )
    assert details.key() == "6f1c8a52-4a8e-4c8e-9d0c-2b0e3c1d9a11"
    admitted = MunicipalityAdmitted.model_validate(
        {
            "application_id": str(uuid.uuid4()),
            "round_id": "2025",
            "municipality_number": "4601",
            "county_number": "46",
            "branch_id": "vestland",
            "decided_at": "2025-01-06T08:00:00+00:00",
            "group": [{"person_id": str(uuid.uuid4()), "role": "sfo", "since": "2025"}],
            "extra_at_top": True,
        }
    )
    assert admitted.group[0].role == "sfo"


@pytest.mark.parametrize("ce_type", sorted(REGISTRY))
def test_only_commands_are_strict(ce_type: str) -> None:
    model = REGISTRY[ce_type]
    expected = "forbid" if model.KIND == "command" else "ignore"
    assert model.model_config.get("extra") == expected


def test_strings_are_stripped() -> None:
    command = RegisterInterest(
        round_id="2025",
        branch="  Vestland \n",
        contact=ContactPerson(name=" Kari ", email="kari@example.no"),
    )
    assert command.branch == "Vestland"
    assert command.contact.name == "Kari"


def test_event_requires_aware_time() -> None:
    with pytest.raises(ValidationError, match="registered_at"):
        interest_registered(registered_at=datetime(2025, 1, 6, 8, 0))


def test_contact_person_defaults_to_bokmaal() -> None:
    assert ContactPerson(name="Kari", email="kari@example.no").language is Language.BOKMAAL


# --- versioned types and the registry -------------------------------------------------------


@pytest.mark.parametrize(
    "bad_type",
    [
        "no.kulturskoleradet.test.thing",  # no version
        "no.kulturskoleradet.test.thing.v",  # version without number
        "no.kulturskoleradet.test.thing.V1",  # capital V
        "no.kulturskoleradet.test.thing.vone",
        "no.kulturskoleradet.test.thing.v1-beta",
        "com.example.test.thing.v1",  # wrong prefix
        "",
    ],
)
def test_type_must_be_prefixed_and_end_in_version(
    registry: dict[str, type[Contract]], bad_type: str
) -> None:
    before = dict(registry)
    with pytest.raises(TypeError, match="vN"):

        class Bad(Event):
            TYPE: ClassVar[str] = bad_type
            SERVICE: ClassVar[str] = "test"

    assert registry == before


def test_well_formed_type_is_registered(registry: dict[str, type[Contract]]) -> None:
    class ThingHappened(Event):
        TYPE: ClassVar[str] = "no.kulturskoleradet.test.thing-happened.v12"
        SERVICE: ClassVar[str] = "test"

        KEY: ClassVar[str | None] = "thing_id"

        thing_id: str

    assert registry["no.kulturskoleradet.test.thing-happened.v12"] is ThingHappened
    assert ThingHappened(thing_id="a").key() == "a"


def test_two_classes_claiming_one_type_raise(registry: dict[str, type[Contract]]) -> None:
    class First(Command):
        TYPE: ClassVar[str] = "no.kulturskoleradet.test.do-thing.v1"
        SERVICE: ClassVar[str] = "test"
        FIXED_KEY: ClassVar[str | None] = "thing"

    with pytest.raises(TypeError, match="two contracts claim"):

        class Second(Command):
            TYPE: ClassVar[str] = "no.kulturskoleradet.test.do-thing.v1"
            SERVICE: ClassVar[str] = "test"

    assert registry["no.kulturskoleradet.test.do-thing.v1"] is First


def test_a_new_class_cannot_take_over_a_published_type(registry: dict[str, type[Contract]]) -> None:
    with pytest.raises(TypeError, match="two contracts claim"):

        class Impostor(Command):
            TYPE: ClassVar[str] = RegisterInterest.TYPE
            SERVICE: ClassVar[str] = "registration"

    assert registry[RegisterInterest.TYPE] is RegisterInterest


def test_subclass_without_own_type_is_not_registered(registry: dict[str, type[Contract]]) -> None:
    before = dict(registry)

    class Abstract(Event):
        pass

    assert registry == before


def test_registry_holds_the_registration_contracts() -> None:
    assert shared.contracts.events.REGISTRY is REGISTRY
    assert REGISTRY["no.kulturskoleradet.registration.register-interest.v1"] is RegisterInterest
    assert REGISTRY["no.kulturskoleradet.registration.interest-registered.v1"] is InterestRegistered
    assert REGISTRY["no.kulturskoleradet.registration.contact-details.v1"] is ContactDetails


def test_kinds_and_services() -> None:
    assert RegisterInterest.KIND == "command"
    assert InterestRegistered.KIND == "event"
    assert ContactDetails.KIND == "contact"
    assert {RegisterInterest.SERVICE, InterestRegistered.SERVICE, ContactDetails.SERVICE} == {
        "registration"
    }


# --- keys -----------------------------------------------------------------------------------


def test_interest_registered_is_keyed_by_branch() -> None:
    assert interest_registered().key() == "more-og-romsdal"


def test_register_interest_is_keyed_by_branch_name() -> None:
    assert register_interest().key() == "Vestland"


def test_contact_details_are_keyed_by_person_id() -> None:
    assert contact_details().key() == "6f1c8a52-4a8e-4c8e-9d0c-2b0e3c1d9a11"


def test_the_membership_list_has_one_fixed_key() -> None:
    assert ImportMembers(municipality_numbers=["4601"]).key() == "membership"
    assert MembershipChanged(added=[], removed=[], member_count=0).key() == "membership"


def test_base_contract_has_no_key() -> None:
    class Keyless(Event):
        pass

    with pytest.raises(NotImplementedError):
        Keyless().key()


@pytest.mark.parametrize(
    ("declared", "message"),
    [
        ({}, "one of KEY or FIXED_KEY"),
        ({"KEY": "thing_id", "FIXED_KEY": "thing"}, "one of KEY or FIXED_KEY"),
        ({"KEY": "no_such_property"}, "names no property"),
    ],
)
def test_a_published_type_declares_its_key(
    registry: dict[str, type[Contract]], declared: dict[str, str], message: str
) -> None:
    before = dict(registry)
    namespace: dict[str, object] = {
        "TYPE": "no.kulturskoleradet.test.keyed.v1",
        "SERVICE": "test",
        "__annotations__": {"thing_id": "str"},
        **declared,
    }
    with pytest.raises(TypeError, match=message):
        type("Keyed", (Event,), namespace)
    assert registry == before
