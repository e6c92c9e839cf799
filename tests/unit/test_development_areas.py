"""Development areas: a branch's list tidied, an application's pick in the branch's words."""

from __future__ import annotations

import pytest

from services.registration.domain.areas import pick, tidy
from shared.contracts.errors import DomainError

pytestmark = pytest.mark.unit


def test_a_list_is_kept_as_written_without_space_or_repeats() -> None:
    assert tidy([" Inkludering ", "Samskaping", "inkludering", "Barn  og unge"]) == [
        "Inkludering",
        "Samskaping",
        "Barn og unge",
    ]


def test_any_area_stands_while_the_branch_has_adopted_none() -> None:
    assert pick(["Kulturarv"], None, "Vestland") == ["Kulturarv"]
    assert pick(["Kulturarv"], [], "Vestland") == ["Kulturarv"]


def test_a_pick_is_written_as_the_branch_adopted_it() -> None:
    assert pick(["samskaping ", "INKLUDERING"], ["Inkludering", "Samskaping"], "Vestland") == [
        "Samskaping",
        "Inkludering",
    ]


def test_an_area_not_adopted_is_refused_naming_the_list_and_where_it_goes() -> None:
    with pytest.raises(DomainError) as refused:
        pick(["Kulturarv"], ["Inkludering"], "Vestland")
    assert refused.value.field == "development_areas"
    assert "(Inkludering)" in str(refused.value) and "own_development_areas" in str(refused.value)
    assert refused.value.nn is not None and "eige utviklingsområde" in refused.value.nn
