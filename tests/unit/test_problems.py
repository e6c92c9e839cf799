"""Problem documents (RFC 9457) for every error, in bokmål unless the caller asks otherwise."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace
from typing import Literal

import asyncpg
import pytest
from fastapi import APIRouter, Depends, FastAPI, HTTPException
from fastapi.testclient import TestClient
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from shared.messaging.bus import Rejected
from shared.runtime.auth import TOKENS, Principal, PrincipalDep, Role
from shared.runtime.problems import (
    PROBLEM_JSON,
    Problem,
    install,
    language,
    require_json,
    texts,
    value_reason,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "nb"),
        ("", "nb"),
        ("nn", "nn"),
        ("nn-NO,nb;q=0.8", "nn"),
        ("en-GB,en;q=0.9", "en"),
        ("de-DE,en;q=0.7,nn;q=0.8", "nn"),
        ("no", "nb"),
        ("nb;q=0.1,en;q=0.2", "en"),
        ("sv, da", "nb"),
        ("en;q=0", "nb"),
        ("en;q=abc", "nb"),
        ("*", "nb"),
    ],
)
def test_the_language_follows_accept_language(header: str | None, expected: str) -> None:
    assert language(header) == expected


class Body(BaseModel):
    name: str = Field(max_length=5)


class Booking(BaseModel):
    model_config = ConfigDict(extra="forbid")
    round_id: str
    day: date
    starts_at: AwareDatetime
    seats: int = Field(ge=1)
    kind: Literal["samling", "presamling"] = "samling"

    @model_validator(mode="after")
    def _rule(self) -> Booking:
        if self.seats == 13:
            raise ValueError("thirteen seats bring bad luck")
        return self


def app() -> FastAPI:
    found = FastAPI()
    install(found)
    found.state.runtime = SimpleNamespace(
        extras={TOKENS: {"blåbær-token": Principal("Kari", Role.PROGRAMME)}}
    )

    @found.post("/rule")
    def rule() -> None:
        raise Problem(
            "capacity-full",
            texts("Alle plassene er tatt.", "Alle plassane er tekne.", "All places are taken."),
            status=409,
            field="decision",
        )

    @found.post("/plain")
    def plain() -> None:
        raise Rejected("a plain reason", status=404)

    @found.post("/http")
    def http() -> None:
        raise HTTPException(404, "no programme round 2099")

    @found.post("/body", dependencies=[Depends(require_json)])
    def body(payload: Body) -> dict[str, str]:
        return {"name": payload.name}

    @found.post("/booking")
    def booking(payload: Booking) -> None:
        return None

    @found.get("/who")
    def who(principal: PrincipalDep) -> dict[str, str]:
        return {"name": principal.name}

    @found.get("/things")
    def things() -> list[str]:
        return []

    @found.post("/things")
    def add_thing() -> None:
        return None

    included = APIRouter()
    included.add_api_route("/included", things, methods=["GET"])
    included.add_api_route("/included", add_thing, methods=["POST"])
    found.include_router(included)

    @found.get("/boom")
    def boom() -> None:
        raise RuntimeError("a bug")

    def store(text: str) -> None:
        # What asyncpg raises when the text reaches PostgreSQL (a NUL) or its encoder (a lone
        # surrogate from a JSON escape).
        if "\x00" in text:
            raise asyncpg.CharacterNotInRepertoireError('invalid byte sequence for "UTF8": 0x00')
        text.encode()

    @found.get("/search")
    def search(q: str) -> None:
        store(q)

    @found.post("/store")
    def stored(payload: Body) -> None:
        store(payload.name)

    return found


@pytest.fixture(name="client")
def client_fixture() -> TestClient:
    return TestClient(app(), raise_server_exceptions=False)


def test_a_rule_has_its_type_title_detail_and_field(client: TestClient) -> None:
    bokmaal = client.post("/rule")
    assert bokmaal.status_code == 409
    assert bokmaal.headers["content-type"] == PROBLEM_JSON
    assert bokmaal.headers["content-language"] == "nb"
    assert bokmaal.json() == {
        "type": "urn:kulturskole:problem:capacity-full",
        "title": "Konflikt",
        "status": 409,
        "detail": "Alle plassene er tatt.",
        "instance": "/rule",
        "field": "decision",
    }
    nynorsk = client.post("/rule", headers={"Accept-Language": "nn"}).json()
    english = client.post("/rule", headers={"Accept-Language": "en"}).json()
    assert (nynorsk["detail"], english["detail"], english["title"]) == (
        "Alle plassane er tekne.",
        "All places are taken.",
        "Conflict",
    )
    assert nynorsk["type"] == english["type"] == bokmaal.json()["type"]


def test_plain_refusals_and_http_errors_keep_their_reason(client: TestClient) -> None:
    plain = client.post("/plain").json()
    assert (plain["type"], plain["status"], plain["detail"]) == (
        "urn:kulturskole:problem:not-found",
        404,
        "a plain reason",
    )
    http = client.post("/http").json()
    assert (http["title"], http["detail"]) == ("Finnes ikke", "no programme round 2099")
    framework = client.get("/nowhere").json()
    assert framework["detail"] == "Det du spør etter, finnes ikke."  # not "Not Found"
    wrong_method = client.get("/rule")
    assert wrong_method.status_code == 405
    assert wrong_method.headers["allow"] == "POST"
    assert wrong_method.headers["content-type"] == PROBLEM_JSON
    # Two routes on one path: Allow names the methods of both.
    assert client.put("/things").headers["allow"] == "GET, POST"
    assert client.delete("/included").headers["allow"] == "GET, POST"  # an included router's


def test_input_problems_name_the_field_not_the_value(client: TestClient) -> None:
    invalid = client.post("/body", json={"name": "altfor-langt-navn"})
    assert invalid.status_code == 422
    problem = invalid.json()
    assert (problem["type"], problem["field"]) == ("urn:kulturskole:problem:invalid-input", "name")
    assert [e["field"] for e in problem["errors"]] == ["name"]
    assert "altfor-langt-navn" not in invalid.text
    broken = client.post(
        "/body", content=b'{"name": ', headers={"Content-Type": "application/json"}
    )
    assert (broken.status_code, broken.json()["type"]) == (
        400,
        "urn:kulturskole:problem:malformed-json",
    )
    text = client.post("/body", content=b"name=x", headers={"Content-Type": "text/plain"})
    assert (text.status_code, text.json()["field"]) == (415, "Content-Type")
    assert client.post("/body", json={"name": "Kari"}).json() == {"name": "Kari"}


def test_tokens_with_any_characters_answer_401(client: TestClient) -> None:
    for header in ("Bearer blåbær".encode(), b"Bearer \xff\xfe", b"Bearer nope", b"Basic x"):
        response = client.get("/who", headers={"Authorization": header})
        assert response.status_code == 401, (header, response.text)
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.headers["content-type"] == PROBLEM_JSON
    assert client.get("/who").status_code == 401


def test_a_bug_is_a_problem_too_without_its_message(client: TestClient) -> None:
    response = client.get("/boom")
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM_JSON
    assert "a bug" not in response.text


def test_input_reasons_are_in_the_callers_language(client: TestClient) -> None:
    value_reason(
        "thirteen seats bring bad luck", "tretten plasser er uflaks", "tretten plassar er uflaks"
    )
    sent = {"day": "2027-02-30", "starts_at": "2027-03-01T10:00", "seats": 0, "kind": "x", "z": 1}
    reasons = {}
    for lang in ("nb", "nn", "en"):
        problem = client.post("/booking", json=sent, headers={"Accept-Language": lang}).json()
        reasons[lang] = {e["field"]: e["reason"] for e in problem["errors"]}
    assert reasons["nb"] == {
        "round_id": "mangler",
        "day": "er ikke en gyldig dato (ÅÅÅÅ-MM-DD)",
        "starts_at": "mangler tidssone: oppgi tiden med forskyvning, f.eks. +01:00",
        "seats": "må være minst 1",
        "kind": "må være en av 'samling' eller 'presamling'",
        "z": "ukjent felt",
    }
    assert reasons["nn"]["round_id"] == "manglar"
    assert reasons["en"]["round_id"] == "missing"
    assert reasons["en"]["day"] == "is not a valid date (YYYY-MM-DD)"
    nb = client.post("/booking", json=sent).json()
    assert nb["detail"].startswith("Kontroller disse feltene: round_id: mangler; day: ")
    assert "Field required" not in nb["detail"]
    unlucky = {"round_id": "2027", "day": "2027-03-01", "starts_at": "2027-03-01T10:00+01:00"}
    problem = client.post("/booking", json={**unlucky, "seats": 13}).json()
    assert problem["errors"] == [{"field": "body", "reason": "tretten plasser er uflaks"}]
    english = client.post(
        "/booking", json={**unlucky, "seats": 13}, headers={"Accept-Language": "en"}
    ).json()
    assert english["errors"][0]["reason"] == "thirteen seats bring bad luck"


def test_a_nul_in_a_query_is_the_requests_fault(client: TestClient) -> None:
    response = client.get("/search?q=a%00b", headers={"Accept-Language": "en"})
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    assert "cannot be stored" in response.json()["detail"]


@pytest.mark.parametrize(
    ("name", "status"), [("a\\u0000b", 400), ("\\ud800", 422)], ids=["nul", "lone-surrogate"]
)
def test_text_in_a_body_that_cannot_be_stored_is_4xx(
    client: TestClient, name: str, status: int
) -> None:
    body = '{"name": "NAME"}'.replace("NAME", name)
    response = client.post("/store", content=body, headers={"content-type": "application/json"})
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
