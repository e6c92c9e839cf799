"""Reference data and the rules for a county branch's interest registration."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.registration.domain.interest import (
    DomainError,
    InterestScope,
    UnknownBranch,
    UnknownMunicipality,
    WrongCounty,
    scope_of_interest,
)
from services.registration.domain.reference import REFERENCE_DIR, ReferenceData, slug

pytestmark = pytest.mark.unit

BRANCH_NAMES = {
    "Oslo og Viken",
    "Innlandet",
    "Vestfold og Telemark",
    "Agder",
    "Rogaland",
    "Vestland",
    "Møre og Romsdal",
    "Trøndelag",
    "Nordland",
    "Troms, Finnmark og Svalbard",
}


@pytest.fixture(scope="module")
def reference() -> ReferenceData:
    return ReferenceData.load()


# --- reference data -------------------------------------------------------------------------


def test_load_gives_2024_structure(reference: ReferenceData) -> None:
    assert len(reference.municipalities) == 357
    assert len(reference.counties) == 15
    assert len(reference.branches) == 10
    assert {b.name for b in reference.branches.values()} == BRANCH_NAMES


def test_municipalities_know_their_county(reference: ReferenceData) -> None:
    bergen = reference.municipalities["4601"]
    assert (bergen.number, bergen.name, bergen.county_number) == ("4601", "Bergen", "46")
    assert reference.municipalities["0301"].name == "Oslo"
    assert reference.counties["46"] == "Vestland"
    assert reference.counties["03"] == "Oslo"
    for municipality in reference.municipalities.values():
        assert municipality.county_number in reference.counties
        # fylkesnummer is the first two digits of kommunenummer
        assert municipality.number[:2] == municipality.county_number


def test_every_county_belongs_to_exactly_one_branch(reference: ReferenceData) -> None:
    owners: dict[str, list[str]] = {}
    for branch in reference.branches.values():
        for county in branch.county_numbers:
            owners.setdefault(county, []).append(branch.name)
    assert set(owners) == set(reference.counties)
    assert all(len(names) == 1 for names in owners.values()), owners


def test_branches_are_keyed_by_slug_of_name(reference: ReferenceData) -> None:
    for key, branch in reference.branches.items():
        assert key == branch.id == slug(branch.name)


def test_oslo_og_viken_covers_four_counties(reference: ReferenceData) -> None:
    branch = reference.branch("Oslo og Viken")
    assert branch is not None
    assert branch.id == "oslo-og-viken"
    assert branch.county_numbers == ("03", "31", "32", "33")


def test_joint_branches(reference: ReferenceData) -> None:
    tfs = reference.branch("Troms, Finnmark og Svalbard")
    vt = reference.branch("Vestfold og Telemark")
    assert tfs is not None and tfs.county_numbers == ("55", "56")
    assert vt is not None and vt.county_numbers == ("39", "40")
    vestland = reference.branch("Vestland")
    assert vestland is not None and vestland.county_numbers == ("46",)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Troms, Finnmark og Svalbard", "troms-finnmark-og-svalbard"),
        ("Møre og Romsdal", "more-og-romsdal"),
        ("Trøndelag", "trondelag"),
        ("Oslo og Viken", "oslo-og-viken"),
        ("Ærøy Åsen", "aeroy-asen"),
        ("  Vestland  ", "vestland"),
        ("Café Sápmi", "cafe-sapmi"),
    ],
)
def test_slug(name: str, expected: str) -> None:
    assert slug(name) == expected


@pytest.mark.parametrize(
    "name_or_id",
    ["Møre og Romsdal", "møre og romsdal", "MØRE OG ROMSDAL", "more-og-romsdal"],
)
def test_branch_lookup_by_name_or_slug(reference: ReferenceData, name_or_id: str) -> None:
    branch = reference.branch(name_or_id)
    assert branch is not None
    assert branch.name == "Møre og Romsdal"
    assert branch.county_numbers == ("15",)


def test_branch_lookup_of_troms_finnmark_by_slug(reference: ReferenceData) -> None:
    branch = reference.branch("troms-finnmark-og-svalbard")
    assert branch is not None
    assert branch.name == "Troms, Finnmark og Svalbard"


@pytest.mark.parametrize("name", ["Finnmark", "Viken", "", "Østlandet"])
def test_branch_lookup_of_unknown_name_gives_none(reference: ReferenceData, name: str) -> None:
    assert reference.branch(name) is None


def test_custom_branches_csv_with_unknown_county_raises(tmp_path: Path) -> None:
    branches = tmp_path / "avdelinger.csv"
    branches.write_text("avdeling,fylkesnummer\nVestland,46\nAtlantis,99\n", encoding="utf-8")
    with pytest.raises(ValueError, match="unknown county 99") as caught:
        ReferenceData.load(branches_csv=branches)
    assert "Atlantis" in str(caught.value)


def test_custom_branches_csv_is_used(tmp_path: Path) -> None:
    branches = tmp_path / "avdelinger.csv"
    branches.write_text(
        "avdeling,fylkesnummer\nViken,33\nViken,31\nViken,32\nOslo,03\n", encoding="utf-8"
    )
    reference = ReferenceData.load(branches_csv=branches)
    assert set(reference.branches) == {"viken", "oslo"}
    viken = reference.branch("Viken")
    assert viken is not None
    assert viken.county_numbers == ("31", "32", "33")
    assert len(reference.municipalities) == 357
    assert (
        scope_of_interest(reference, branch="Oslo", municipality_numbers=["0301"]).branch.id
        == "oslo"
    )
    with pytest.raises(UnknownBranch):
        scope_of_interest(reference, branch="Vestland", municipality_numbers=[])


def test_default_files_ship_with_service() -> None:
    assert (REFERENCE_DIR / "kommuner-2024.csv").is_file()
    assert (REFERENCE_DIR / "fylkesavdelinger.csv").is_file()


# --- scope_of_interest ------------------------------------------------------------------------


def test_bergen_for_vestland_is_accepted(reference: ReferenceData) -> None:
    scope = scope_of_interest(reference, branch="Vestland", municipality_numbers=["4601"])
    assert isinstance(scope, InterestScope)
    assert scope.branch.id == "vestland"
    assert scope.branch.name == "Vestland"
    assert scope.municipality_numbers == ("4601",)


def test_branch_may_be_given_by_id(reference: ReferenceData) -> None:
    scope = scope_of_interest(reference, branch="vestland", municipality_numbers=["4601"])
    assert scope.branch.name == "Vestland"


def test_no_municipalities_is_fine(reference: ReferenceData) -> None:
    scope = scope_of_interest(reference, branch="Agder", municipality_numbers=[])
    assert scope.branch.name == "Agder"
    assert scope.municipality_numbers == ()


def test_municipality_numbers_are_deduplicated_and_sorted(reference: ReferenceData) -> None:
    scope = scope_of_interest(
        reference, branch="Vestland", municipality_numbers=["4602", "4601", "4602", "4601"]
    )
    assert scope.municipality_numbers == ("4601", "4602")


def test_oslo_og_viken_accepts_municipalities_of_all_its_counties(reference: ReferenceData) -> None:
    numbers = ["3301", "0301", "3101"]
    scope = scope_of_interest(reference, branch="Oslo og Viken", municipality_numbers=numbers)
    assert scope.municipality_numbers == ("0301", "3101", "3301")
    akershus = next(m.number for m in reference.municipalities.values() if m.county_number == "32")
    scope_of_interest(reference, branch="Oslo og Viken", municipality_numbers=[akershus])


def test_unknown_branch_lists_known_branches(reference: ReferenceData) -> None:
    with pytest.raises(UnknownBranch) as caught:
        scope_of_interest(reference, branch="Finnmark", municipality_numbers=[])
    message = str(caught.value)
    assert "'Finnmark'" in message
    assert "known branches" in message
    for name in BRANCH_NAMES:
        assert name in message
    assert isinstance(caught.value, DomainError)


def test_unknown_municipality(reference: ReferenceData) -> None:
    with pytest.raises(UnknownMunicipality) as caught:
        scope_of_interest(reference, branch="Vestland", municipality_numbers=["4601", "9998"])
    message = str(caught.value)
    assert "9998" in message
    assert "4601" not in message
    assert isinstance(caught.value, DomainError)


def test_municipality_merged_away_before_2024_is_unknown(reference: ReferenceData) -> None:
    # 3005 Drammen (Viken) became 3301 Drammen (Buskerud) on 2024-01-01.
    with pytest.raises(UnknownMunicipality, match="3005"):
        scope_of_interest(reference, branch="Oslo og Viken", municipality_numbers=["3005"])


def test_municipality_of_another_county_is_wrong_county(reference: ReferenceData) -> None:
    with pytest.raises(WrongCounty) as caught:
        scope_of_interest(reference, branch="Agder", municipality_numbers=["4201", "4601"])
    message = str(caught.value)
    assert "4601 Bergen" in message
    assert "Agder" in message
    assert "42" in message
    assert "4201" not in message  # Risør lies in Agder
    assert isinstance(caught.value, DomainError)


def test_unknown_is_reported_before_wrong_county(reference: ReferenceData) -> None:
    with pytest.raises(UnknownMunicipality):
        scope_of_interest(reference, branch="Agder", municipality_numbers=["4601", "9998"])
