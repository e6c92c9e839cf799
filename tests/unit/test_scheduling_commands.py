"""The command registry of scheduling: one entry per command, who may send it, contracts."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from services.scheduling.app import COMMANDS, FOLLOWS, make_context, make_handlers
from services.scheduling.settings import SchedulingSettings
from shared.contracts.errors import Conflict, DomainError, NotFound
from shared.contracts.events.base import REGISTRY, Command
from shared.contracts.events.scheduling import (
    CancelGathering,
    PlanSemester,
    RecordAttendance,
    RecordRsvp,
    RequestDialogueMeeting,
    ScheduleGathering,
)
from shared.messaging.bus import Rejected
from shared.runtime.auth import Forbidden, Principal, Role
from shared.runtime.commands import CommandEntry, CommandRegistry, Route
from shared.runtime.problems import refusal

pytestmark = pytest.mark.unit

PROGRAMME = Principal("Programledelsen", Role.PROGRAMME)
VESTLAND = Principal("Styret i Vestland", Role.COUNTY_BOARD, "vestland")
AGDER = Principal("Styret i Agder", Role.COUNTY_BOARD, "agder")
OBSERVER = Principal("Observatør", Role.OBSERVER)
CTX = make_context(SchedulingSettings(database_url="postgresql://unused"))


def venue() -> dict[str, str]:
    return {"name": "Grieghallen", "address": "Edvard Griegs plass 1, Bergen"}


def test_every_scheduling_command_is_registered_once_with_a_route() -> None:
    commands = {
        c for c in REGISTRY.values() if issubclass(c, Command) and c.SERVICE == "scheduling"
    }
    assert set(COMMANDS.entries) == commands
    assert all(entry.route is not None for entry in COMMANDS.entries.values())


def test_the_handler_table_takes_the_commands_and_the_registration_events() -> None:
    table = make_handlers(CTX)
    assert {c.TYPE for c in COMMANDS.entries} | {e.TYPE for e in FOLLOWS} == set(table)


def test_a_registry_refuses_a_command_or_route_declared_twice() -> None:
    async def handler(command: Any, uow: Any, ctx: Any) -> None:
        return None

    def anyone(principal: Principal, command: Any, ctx: Any) -> None:
        return None

    entry = CommandEntry(PlanSemester, handler, anyone, Route("/x", "x", "x"))
    with pytest.raises(ValueError, match="registered twice"):
        CommandRegistry([entry, entry])
    with pytest.raises(ValueError, match="two commands on POST /x"):
        CommandRegistry(
            [entry, CommandEntry(CancelGathering, handler, anyone, Route("/x", "", ""))]
        )


def plan() -> PlanSemester:
    return PlanSemester(
        round_id="2030", region="vestland", number=1, starts_on="2030-08-15", ends_on="2030-12-20"
    )


def rsvp(region: str) -> RecordRsvp:
    return RecordRsvp(
        gathering_id=uuid.uuid4(), region=region, municipality_number="4601", response="yes"
    )


def ask(region: str) -> RequestDialogueMeeting:
    return RequestDialogueMeeting(round_id="2030", region=region, topic="Samskaping i skolen")


def test_programme_management_plans_and_no_one_else() -> None:
    COMMANDS.authorize(PROGRAMME, plan(), CTX)
    for other in (VESTLAND, OBSERVER):
        with pytest.raises(Forbidden) as refused:
            COMMANDS.authorize(other, plan(), CTX)
        assert refused.value.status == 403
        assert "programme management only" in refused.value.reason


def test_a_board_asks_for_dialogue_and_records_attendance_in_its_own_region_only() -> None:
    COMMANDS.authorize(VESTLAND, ask("vestland"), CTX)
    COMMANDS.authorize(VESTLAND, rsvp("vestland"), CTX)
    attendance = RecordAttendance(gathering_id=uuid.uuid4(), region="vestland")
    COMMANDS.authorize(VESTLAND, attendance, CTX)
    COMMANDS.authorize(PROGRAMME, attendance, CTX)
    with pytest.raises(Forbidden, match="may not act for the branch Vestland"):
        COMMANDS.authorize(AGDER, attendance, CTX)
    with pytest.raises(Forbidden):
        COMMANDS.authorize(AGDER, ask("vestland"), CTX)
    with pytest.raises(Forbidden):
        COMMANDS.authorize(OBSERVER, ask("vestland"), CTX)


def test_a_board_schedules_a_delingsarena_in_its_own_region_and_nothing_else() -> None:
    def gathering(kind: str, region: str = "vestland") -> ScheduleGathering:
        return ScheduleGathering.model_validate(
            {
                "round_id": "2027",
                "region": region,
                "kind": kind,
                "title": "Delingsarena",
                "venue": venue(),
                "starts_at": "2027-03-02T10:00:00+01:00",
                "ends_at": "2027-03-02T15:00:00+01:00",
            }
        )

    COMMANDS.authorize(VESTLAND, gathering("delingsarena"), CTX)
    for kind in ("delingsarena", "samling", "presamling"):
        COMMANDS.authorize(PROGRAMME, gathering(kind), CTX)
    with pytest.raises(Forbidden, match="may not act for the branch Vestland"):
        COMMANDS.authorize(AGDER, gathering("delingsarena"), CTX)
    with pytest.raises(Forbidden, match="programme management only"):
        COMMANDS.authorize(VESTLAND, gathering("samling"), CTX)
    with pytest.raises(Forbidden):
        COMMANDS.authorize(OBSERVER, gathering("delingsarena"), CTX)


def test_an_unknown_region_is_a_refusal_with_the_known_ones() -> None:
    with pytest.raises(DomainError, match=r"unknown region 'atlantis'.*vestland"):
        COMMANDS.authorize(PROGRAMME, ask("atlantis"), CTX)


@pytest.mark.parametrize(
    ("error", "status"), [(DomainError, 422), (NotFound, 404), (Conflict, 409)]
)
def test_domain_errors_map_to_refusals_once(error: type[DomainError], status: int) -> None:
    refused = refusal(error("because"))
    assert isinstance(refused, Rejected)
    assert (refused.status, refused.reason) == (status, "because")
    assert refusal(RuntimeError("a bug")) is None  # not a refusal: retried, then dead-lettered


def test_a_gathering_must_end_after_it_starts_already_in_the_contract() -> None:
    with pytest.raises(ValidationError, match="end after it starts"):
        ScheduleGathering(
            round_id="2030",
            region="vestland",
            kind="samling",
            title="Samling 1",
            venue=venue(),
            starts_at=datetime(2030, 10, 1, 16, tzinfo=UTC),
            ends_at=datetime(2030, 10, 1, 10, tzinfo=UTC),
        )


def test_times_without_a_zone_are_refused_by_the_contract() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        ScheduleGathering(
            round_id="2030",
            region="vestland",
            kind="samling",
            title="Samling 1",
            venue=venue(),
            starts_at=datetime(2030, 10, 1, 10),
            ends_at=datetime(2030, 10, 1, 16),
        )


def test_a_venue_needs_an_address_or_a_link_and_a_rsvp_one_invitee() -> None:
    with pytest.raises(ValidationError, match="address or a digital link"):
        ScheduleGathering.model_validate(
            {
                "round_id": "2030",
                "region": "vestland",
                "kind": "samling",
                "title": "Samling 1",
                "venue": {"name": "Somewhere"},
                "starts_at": "2030-10-01T10:00:00+02:00",
                "ends_at": "2030-10-01T16:00:00+02:00",
            }
        )
    with pytest.raises(ValidationError, match="either person_id or municipality_number"):
        RecordRsvp(gathering_id=uuid.uuid4(), region="vestland", response="yes")


def test_the_openapi_document_has_every_command_route_with_its_refusals() -> None:
    from services.scheduling.app import create_app

    paths = create_app(SchedulingSettings(database_url="postgresql://unused")).openapi()["paths"]
    for entry in COMMANDS.entries.values():
        assert entry.route is not None
        post = paths[entry.route.path]["post"]
        assert {"401", "403", "409", "422"} <= set(post["responses"])
        assert post["summary"] == entry.route.summary
    for read in (
        "/rounds/{round_id}/regions/{region}/calendar",
        "/rounds/{round_id}/regions/{region}/date-suggestions",
        "/rounds/{round_id}/attendance",
        "/feeds/regions/{region}.ics",
        "/feeds/municipalities/{municipality_number}.ics",
    ):
        assert "get" in paths[read]
