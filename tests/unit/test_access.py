"""Who may do what: programme management everything, a county board its own counties."""

from __future__ import annotations

from typing import Any

import pytest

from services.catalog import SERVICES
from services.registration.domain.access import (
    Forbidden,
    Principal,
    Role,
    require_branch,
    require_county,
    require_programme,
)
from services.registration.domain.interest import DomainError
from services.registration.domain.reference import ReferenceData
from shared.runtime.catalog import ServiceDeclaration
from shared.runtime.service import build_app
from tests import access_matrix
from tests.access_matrix import declared_routes

pytestmark = pytest.mark.unit

OSLO_OG_VIKEN = "oslo-og-viken"
TROMS_FINNMARK = "troms-finnmark-og-svalbard"

PROGRAMME = Principal("Kari Programleder", Role.PROGRAMME)
OSLO_BOARD = Principal("Styret Oslo og Viken", Role.COUNTY_BOARD, OSLO_OG_VIKEN)
NORTH_BOARD = Principal("Styret Troms og Finnmark", Role.COUNTY_BOARD, TROMS_FINNMARK)
OBSERVER = Principal("Ola Observatør", Role.OBSERVER)


@pytest.fixture(scope="module")
def reference() -> ReferenceData:
    return ReferenceData.load()


def test_branch_ids_used_here_exist(reference: ReferenceData) -> None:
    assert reference.branches[OSLO_OG_VIKEN].county_numbers == ("03", "31", "32", "33")
    assert reference.branches[TROMS_FINNMARK].county_numbers == ("55", "56")


# --- programme management --------------------------------------------------------------------


def test_programme_may_do_everything(reference: ReferenceData) -> None:
    require_programme(PROGRAMME)
    require_branch(PROGRAMME, OSLO_OG_VIKEN)
    require_branch(PROGRAMME, "vestland")
    for county in reference.counties:
        require_county(PROGRAMME, county, reference)


@pytest.mark.parametrize("principal", [OSLO_BOARD, OBSERVER], ids=["county_board", "observer"])
def test_only_programme_management_passes_require_programme(principal: Principal) -> None:
    with pytest.raises(Forbidden) as raised:
        require_programme(principal)

    message = str(raised.value)
    assert principal.name in message
    assert "programme management only" in message


# --- county boards ---------------------------------------------------------------------------


def test_county_board_may_act_for_its_own_branch() -> None:
    require_branch(OSLO_BOARD, OSLO_OG_VIKEN)
    require_branch(NORTH_BOARD, TROMS_FINNMARK)


def test_county_board_may_not_act_for_another_branch() -> None:
    with pytest.raises(Forbidden) as raised:
        require_branch(OSLO_BOARD, "vestland")

    message = str(raised.value)
    assert OSLO_BOARD.name in message
    assert "vestland" in message


@pytest.mark.parametrize("county", ["03", "31", "32", "33"])
def test_oslo_og_viken_board_may_act_for_its_counties(
    reference: ReferenceData, county: str
) -> None:
    require_county(OSLO_BOARD, county, reference)


@pytest.mark.parametrize("county", ["55", "56"])
def test_troms_finnmark_board_may_act_for_its_counties(
    reference: ReferenceData, county: str
) -> None:
    require_county(NORTH_BOARD, county, reference)


@pytest.mark.parametrize(
    ("principal", "county"),
    [(OSLO_BOARD, "46"), (OSLO_BOARD, "55"), (NORTH_BOARD, "03"), (NORTH_BOARD, "18")],
)
def test_county_board_may_not_act_for_another_county(
    reference: ReferenceData, principal: Principal, county: str
) -> None:
    with pytest.raises(Forbidden) as raised:
        require_county(principal, county, reference)

    message = str(raised.value)
    assert principal.name in message
    assert f"county {county}" in message


def test_county_board_without_a_known_branch_may_act_for_no_county(
    reference: ReferenceData,
) -> None:
    lost = Principal("Styret uten avdeling", Role.COUNTY_BOARD, None)

    with pytest.raises(Forbidden):
        require_county(lost, "03", reference)
    with pytest.raises(Forbidden):
        require_branch(lost, OSLO_OG_VIKEN)


# --- observers ---------------------------------------------------------------------------------


def test_observer_may_do_none_of_these(reference: ReferenceData) -> None:
    with pytest.raises(Forbidden):
        require_programme(OBSERVER)
    with pytest.raises(Forbidden):
        require_branch(OBSERVER, OSLO_OG_VIKEN)
    with pytest.raises(Forbidden):
        require_county(OBSERVER, "03", reference)


def test_observer_with_a_branch_id_still_may_not_act_for_it(reference: ReferenceData) -> None:
    observer = Principal("Observatør i Oslo og Viken", Role.OBSERVER, OSLO_OG_VIKEN)

    with pytest.raises(Forbidden):
        require_branch(observer, OSLO_OG_VIKEN)
    with pytest.raises(Forbidden):
        require_county(observer, "03", reference)


def test_forbidden_is_a_domain_error() -> None:
    with pytest.raises(DomainError):
        require_programme(OBSERVER)


# --- every route of every service is in the access table ---------------------------------------


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
def test_every_route_is_in_the_access_table(service: ServiceDeclaration[Any]) -> None:
    """A new route fails here until tests/access_matrix.py says who may call it (and the
    integration matrix then checks that it is so)."""
    app = build_app(service.spec(service.default_settings()))
    declared = declared_routes(app)
    tabled = {(r.method, r.route) for r in access_matrix.rows() if r.service == service.name}

    assert declared - tabled == set(), "routes nobody classified in tests/access_matrix.py"
    assert tabled - declared == set(), "rows of tests/access_matrix.py for no route"
