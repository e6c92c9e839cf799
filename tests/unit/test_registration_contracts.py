"""Validation of the registration commands: what an HTTP caller gets a 422 for."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from shared.contracts.events.registration import (
    DeadlineKind,
    ExtendDeadline,
    GroupMember,
    GroupRole,
    OpenRound,
    RegisterInterest,
    SaveApplicationDraft,
)

pytestmark = pytest.mark.unit


def member_data(i: int = 0, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": f"Person {i}",
        "email": f"person{i}@kommune.no",
        "role": "grunnskole",
        "organisation": "Bergen kommune",
        "commits_to_gatherings": True,
    }
    data.update(changes)
    return data


def draft_data(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "round_id": "2024",
        "municipality_number": "4601",
        "motivation": "Vi vil utvikle kulturskolen sammen med skolene.",
        "group": [member_data(0, role="kulturskole"), member_data(1)],
    }
    data.update(changes)
    return data


def interest_data(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "round_id": "2024",
        "branch": "Vestland",
        "municipality_numbers": ["4601"],
        "contact": {"name": "Kari Nordmann", "email": "kari@example.no"},
    }
    data.update(changes)
    return data


def error_locations(raised: pytest.ExceptionInfo[ValidationError]) -> list[tuple[Any, ...]]:
    return [e["loc"] for e in raised.value.errors()]


# --- SaveApplicationDraft ---------------------------------------------------------------------


def test_valid_draft_is_accepted() -> None:
    draft = SaveApplicationDraft.model_validate(draft_data())

    assert draft.group[0].role is GroupRole.KULTURSKOLE
    assert draft.group[1].commits_to_gatherings is True


def test_motivation_of_8000_characters_is_accepted() -> None:
    draft = SaveApplicationDraft.model_validate(draft_data(motivation="x" * 8000))

    assert len(draft.motivation) == 8000


def test_motivation_of_8001_characters_is_refused() -> None:
    with pytest.raises(ValidationError) as raised:
        SaveApplicationDraft.model_validate(draft_data(motivation="x" * 8001))

    assert error_locations(raised) == [("motivation",)]


def test_group_of_30_is_accepted() -> None:
    draft = SaveApplicationDraft.model_validate(
        draft_data(group=[member_data(i) for i in range(30)])
    )

    assert len(draft.group) == 30


def test_group_of_31_is_refused() -> None:
    with pytest.raises(ValidationError) as raised:
        SaveApplicationDraft.model_validate(draft_data(group=[member_data(i) for i in range(31)]))

    assert error_locations(raised) == [("group",)]


def test_bad_email_in_group_is_refused() -> None:
    with pytest.raises(ValidationError) as raised:
        SaveApplicationDraft.model_validate(
            draft_data(group=[member_data(0, email="not-an-email")])
        )

    assert error_locations(raised) == [("group", 0, "email")]


def test_group_member_without_commitment_is_refused() -> None:
    data = member_data(0)
    del data["commits_to_gatherings"]

    with pytest.raises(ValidationError) as raised:
        SaveApplicationDraft.model_validate(draft_data(group=[data]))

    assert error_locations(raised) == [("group", 0, "commits_to_gatherings")]
    assert raised.value.errors()[0]["type"] == "missing"


def test_unknown_group_role_is_refused() -> None:
    with pytest.raises(ValidationError) as raised:
        SaveApplicationDraft.model_validate(draft_data(group=[member_data(0, role="rektor")]))

    assert error_locations(raised) == [("group", 0, "role")]


@pytest.mark.parametrize("role", ["kulturskole", "barnehage", "sfo", "grunnskole", "annen"])
def test_known_group_roles_are_accepted(role: str) -> None:
    assert GroupMember.model_validate(member_data(0, role=role)).role == role


@pytest.mark.parametrize("number", ["460", "46011", "abcd"])
def test_draft_refuses_malformed_municipality_number(number: str) -> None:
    with pytest.raises(ValidationError) as raised:
        SaveApplicationDraft.model_validate(draft_data(municipality_number=number))

    assert error_locations(raised) == [("municipality_number",)]


# --- GroupMember phone ---------------------------------------------------------------------------


@pytest.mark.parametrize("phone", ["+47 55 56 57 58", "55565758", "+4755565758"])
def test_group_member_phone_accepted(phone: str) -> None:
    assert GroupMember.model_validate(member_data(0, phone=phone)).phone == phone


@pytest.mark.parametrize("phone", ["5556575", "55-56-57-58", "tlf 55565758", "+" + "1" * 21])
def test_group_member_phone_refused(phone: str) -> None:
    with pytest.raises(ValidationError) as raised:
        GroupMember.model_validate(member_data(0, phone=phone))

    assert error_locations(raised) == [("phone",)]


def test_group_member_phone_is_optional() -> None:
    assert GroupMember.model_validate(member_data(0)).phone is None


# --- OpenRound and ExtendDeadline ------------------------------------------------------------------


def test_open_round_accepts_a_four_digit_year() -> None:
    command = OpenRound.model_validate({"round_id": "2024"})

    assert command.interest_deadline is None
    assert command.capacity_per_branch == {}


@pytest.mark.parametrize("round_id", ["24", "20245", "year"])
def test_open_round_refuses_round_id_not_four_digits(round_id: str) -> None:
    with pytest.raises(ValidationError) as raised:
        OpenRound.model_validate({"round_id": round_id})

    assert error_locations(raised) == [("round_id",)]


@pytest.mark.parametrize("kind", ["interest", "application"])
def test_extend_deadline_accepts_interest_and_application(kind: str) -> None:
    command = ExtendDeadline.model_validate(
        {"round_id": "2024", "kind": kind, "new_deadline": "2024-10-01"}
    )

    assert command.kind == DeadlineKind(kind)
    assert command.new_deadline == date(2024, 10, 1)


@pytest.mark.parametrize("kind", ["decision", "Interest", ""])
def test_extend_deadline_refuses_other_kinds(kind: str) -> None:
    with pytest.raises(ValidationError) as raised:
        ExtendDeadline.model_validate(
            {"round_id": "2024", "kind": kind, "new_deadline": "2024-10-01"}
        )

    assert error_locations(raised) == [("kind",)]


def test_extend_deadline_requires_kind() -> None:
    with pytest.raises(ValidationError) as raised:
        ExtendDeadline.model_validate({"round_id": "2024", "new_deadline": "2024-10-01"})

    assert error_locations(raised) == [("kind",)]


# --- RegisterInterest ----------------------------------------------------------------------------


def test_valid_interest_is_accepted() -> None:
    command = RegisterInterest.model_validate(interest_data(message="x" * 4000))

    assert command.municipality_numbers == ["4601"]
    assert len(command.message) == 4000


def test_register_interest_refuses_three_digit_municipality() -> None:
    with pytest.raises(ValidationError) as raised:
        RegisterInterest.model_validate(interest_data(municipality_numbers=["4601", "123"]))

    assert error_locations(raised) == [("municipality_numbers", 1)]


def test_register_interest_refuses_message_of_4001_characters() -> None:
    with pytest.raises(ValidationError) as raised:
        RegisterInterest.model_validate(interest_data(message="x" * 4001))

    assert error_locations(raised) == [("message",)]
