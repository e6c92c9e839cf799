"""Only member municipalities of Norsk kulturskoleråd take part; municipality to branch."""

from __future__ import annotations

import pytest

from services.registration.domain.interest import (
    NotMember,
    UnknownMunicipality,
    municipality_in_branch,
    scope_of_interest,
)
from services.registration.domain.reference import ReferenceData

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def reference() -> ReferenceData:
    return ReferenceData.load()


def test_non_member_is_refused_by_number_and_name(reference: ReferenceData) -> None:
    with pytest.raises(NotMember) as raised:
        scope_of_interest(
            reference, branch="Vestland", municipality_numbers=["4601"], members={"4602"}
        )

    message = str(raised.value)
    assert "4601 Bergen" in message
    assert "only members may take part" in message


def test_only_the_non_members_are_named(reference: ReferenceData) -> None:
    bergen_not_member = {"4602"}  # 4602 is Kinn

    with pytest.raises(NotMember) as raised:
        scope_of_interest(
            reference,
            branch="Vestland",
            municipality_numbers=["4602", "4601"],
            members=bergen_not_member,
        )

    message = str(raised.value)
    assert "4601 Bergen" in message
    assert "4602" not in message


def test_members_are_accepted(reference: ReferenceData) -> None:
    scope = scope_of_interest(
        reference, branch="Vestland", municipality_numbers=["4601"], members={"4601", "0301"}
    )

    assert scope.municipality_numbers == ("4601",)
    assert scope.branch.id == "vestland"


def test_empty_membership_refuses_everyone(reference: ReferenceData) -> None:
    with pytest.raises(NotMember):
        scope_of_interest(
            reference, branch="Vestland", municipality_numbers=["4601"], members=set()
        )


def test_members_none_skips_the_membership_check(reference: ReferenceData) -> None:
    scope = scope_of_interest(
        reference, branch="Vestland", municipality_numbers=["4601"], members=None
    )

    assert scope.municipality_numbers == ("4601",)


def test_municipality_in_branch_gives_county_and_branch(reference: ReferenceData) -> None:
    county, branch = municipality_in_branch(reference, "4601")

    assert county == "46"
    assert branch.id == "vestland"
    assert branch.name == "Vestland"
    assert branch == reference.branch("Vestland")


def test_municipality_in_joint_branch(reference: ReferenceData) -> None:
    county, branch = municipality_in_branch(reference, "5601")  # Alta, Finnmark

    assert county == "56"
    assert branch.name == "Troms, Finnmark og Svalbard"


def test_unknown_municipality_in_branch(reference: ReferenceData) -> None:
    with pytest.raises(UnknownMunicipality) as raised:
        municipality_in_branch(reference, "9999")

    assert "9999" in str(raised.value)
