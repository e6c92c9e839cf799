"""The registration command registry: one entry per command, its rule applied to a principal
named on a Kafka command, its OpenAPI document (200 or 201, typed results), and the CSV in and
out. No database: the registry's bound handlers run on a fake unit of work."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

import services.registration
from services.registration.app import COMMANDS
from services.registration.domain.reference import ReferenceData
from services.registration.entrypoints import http
from services.registration.entrypoints.http import parse_membership_csv, participants_csv
from services.registration.handlers import Context
from shared.contracts.events.base import Contract
from shared.contracts.events.registration import (
    DecideApplication,
    Decision,
    ErasePerson,
    RegisterInterest,
    SetBranchContact,
    SetDevelopmentAreas,
    WithdrawMunicipality,
)
from shared.messaging.bus import Rejected
from shared.messaging.envelope import Envelope
from shared.messaging.fake import FakeUnitOfWork
from shared.runtime.auth import Principal, Role
from shared.runtime.commands import CommandEntry, CommandRegistry, acting, parse_principal
from shared.runtime.problems import Problem

pytestmark = pytest.mark.unit

CTX = Context(reference=ReferenceData.load(), topic_prefix="unit")


def decide(decision: Decision = Decision.ADMIT) -> DecideApplication:
    return DecideApplication(round_id="2030", municipality_number="4601", decision=decision)


def test_principal_header_round_trip() -> None:
    for principal in (
        Principal("Kari Programleder", Role.PROGRAMME),
        Principal("Styret i Vestland: leder", Role.COUNTY_BOARD, "vestland"),
        Principal("Observatør", Role.OBSERVER),
    ):
        assert parse_principal(principal.caller) == principal
    for bad in ("superuser::x", "programme:vestland:x", "county_board::x", "programme::", "x"):
        with pytest.raises(Rejected) as refused:
            parse_principal(bad)
        assert refused.value.status == 403


def test_the_envelope_carries_the_principal_as_a_cloudevents_extension() -> None:
    envelope = Envelope.wrap(decide(), source="/test", principal="programme::Kari")
    headers = dict(envelope.headers())
    assert headers["ce_principal"] == b"programme::Kari"
    assert Envelope.from_kafka(envelope.headers(), envelope.data).principal == "programme::Kari"
    plain = Envelope.wrap(decide(), source="/test")
    assert "ce_principal" not in dict(plain.headers())
    assert Envelope.from_kafka(plain.headers(), plain.data).principal is None


async def test_a_named_principal_is_held_to_the_rule_before_the_handler_runs() -> None:
    seen: list[Principal | None] = []

    async def handler(command: Any, uow: Any, ctx: Any) -> str:
        seen.append(acting())
        return "handled"

    def programme_only(principal: Principal, command: Any, ctx: Any) -> None:
        if principal.role is not Role.PROGRAMME:
            raise Problem("forbidden", {"en": "programme management only"}, status=403)

    registry = CommandRegistry[None]([CommandEntry(DecideApplication, handler, programme_only)])
    bound = registry.handlers(None)[DecideApplication.TYPE]

    def uow(principal: str | None) -> Any:
        return FakeUnitOfWork(Envelope.wrap(decide(), source="/t", principal=principal))

    with pytest.raises(Rejected) as refused:
        await bound(decide(), uow("county_board:vestland:Styret"))
    assert refused.value.status == 403
    assert await bound(decide(), uow("programme::Kari")) == "handled"
    assert await bound(decide(), uow(None)) == "handled"  # a trusted system command
    assert seen == [Principal("Kari", Role.PROGRAMME), None]
    assert acting() is None  # the principal does not outlive its command


async def test_registration_rules_apply_to_kafka_commands_that_name_a_principal() -> None:
    handlers = COMMANDS.handlers(CTX)
    cases: list[tuple[Contract, str]] = [
        (decide(), "county_board:vestland:Styret"),
        (ErasePerson(person_id="00000000-0000-0000-0000-000000000001"), "observer::Obs"),
        (
            WithdrawMunicipality(round_id="2030", municipality_number="4601"),
            "county_board:agder:Styret i Agder",
        ),
        (
            RegisterInterest.model_validate(
                {
                    "round_id": "2030",
                    "branch": "Vestland",
                    "contact": {"name": "K", "email": "k@example.no"},
                }
            ),
            "county_board:agder:Styret i Agder",
        ),
    ]
    for command, principal in cases:
        envelope = Envelope.wrap(command, source="/t", principal=principal)
        with pytest.raises(Rejected) as refused:
            await handlers[command.TYPE](command, FakeUnitOfWork(envelope))
        assert refused.value.status == 403, (command, refused.value.reason)


def openapi() -> dict[str, Any]:
    app = FastAPI()
    app.include_router(COMMANDS.router(context=lambda runtime: CTX))
    document: dict[str, Any] = app.openapi()
    return document


def test_the_openapi_document_says_what_each_command_answers() -> None:
    paths = openapi()["paths"]
    interest = paths["/interest-registrations"]["post"]["responses"]
    assert {"200", "201", "400", "401", "403", "404", "409", "415", "422"} <= set(interest)
    assert "application/problem+json" in interest["422"]["content"]
    schema = interest["201"]["content"]["application/json"]["schema"]["$ref"]
    assert schema.endswith("RegisterInterestAccepted")
    components = openapi()["components"]["schemas"]
    result = components["RegisterInterestAccepted"]["properties"]["result"]
    refs = {r.get("$ref", "").rsplit("/", 1)[-1] for r in result["anyOf"]}
    assert {"InterestRegistered", "InterestUpdated"} <= refs
    assert "/revocations" in paths and "/capacity-changes" in paths and "/round-closures" in paths
    # Every command is reachable over HTTP, once: a branch's contact and areas by PUT routes.
    posted = [e for e in COMMANDS.entries.values() if e.route is not None]
    assert len([p for p in paths.values() if "post" in p]) == len(posted)
    assert [e.contract for e in COMMANDS.entries.values() if e.route is None] == [
        SetBranchContact,
        SetDevelopmentAreas,
    ]
    # Those with an HTTP shape of their own are made from the same registry.
    app = FastAPI()
    app.include_router(http.command_routes(COMMANDS, lambda runtime: CTX))
    own = app.openapi()["paths"]
    assert "put" in own["/branches/{branch}/contact"]
    assert "put" in own["/rounds/{round_id}/branches/{branch}/development-areas"]
    assert own["/members/csv"]["post"]["requestBody"]["content"].keys() == {"text/csv"}


def test_only_the_composition_root_imports_it() -> None:
    # app.py composes the service from its parts; a part that imported it back (even
    # inside a function) would make an import circle.
    root = Path(services.registration.__file__).parent
    back = re.compile(
        r"^\s*(from services\.registration\.app import|import services\.registration\.app"
        r"|from services\.registration import .*\bapp\b)",
        re.MULTILINE,
    )
    importers = [
        str(path.relative_to(root))
        for path in sorted(root.rglob("*.py"))
        if path.name not in ("app.py", "__main__.py") and back.search(path.read_text())
    ]
    assert importers == []


def test_the_membership_csv_takes_excel_exports() -> None:
    excel = "\ufeffKommunenavn;Kommunenummer\r\nOslo;301\r\nBergen;4601\r\n;\r\n"
    assert parse_membership_csv(excel) == ["0301", "4601"]
    assert parse_membership_csv("kommunenummer\n4601\n 4640 \n") == ["4601", "4640"]
    with pytest.raises(Problem) as refused:
        parse_membership_csv("nummer;navn\n4601;Bergen\n")
    assert refused.value.field == "kommunenummer"


def test_the_participants_csv_opens_in_excel() -> None:
    rows = [
        {
            "branch_name": "Vestland",
            "municipality_name": "Bergen",
            "name": "Åse Ødegård",
            "organisation": "=1+2",
            "phone": "+47 912 34 567",
            "promoted": True,
        }
    ]
    body = participants_csv(rows, delimiter=";")
    assert body.startswith(b"\xef\xbb\xbf")
    text = body.decode("utf-8-sig")
    assert text.endswith("\r\n")
    (row,) = csv.DictReader(io.StringIO(text), delimiter=";")
    assert (row["navn"], row["organisasjon"], row["telefon"], row["fra_venteliste"]) == (
        "Åse Ødegård",
        "'=1+2",  # a formula is not run
        "+47 912 34 567",  # a phone number is not mistaken for one
        "ja",
    )
