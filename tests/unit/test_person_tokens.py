"""Person tokens: signed at sign-in, taken by every service beside its API tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import ValidationError
from pydantic_settings import SettingsConfigDict

from shared.runtime.auth import (
    TOKENS,
    PersonTokenError,
    Principal,
    PrincipalDep,
    Role,
    issue_person_token,
    parse_tokens,
    person_principal,
    verify_person_token,
)
from shared.runtime.problems import PROBLEM_JSON, install
from shared.runtime.settings import ServiceSettings

pytestmark = pytest.mark.unit

SECRET = "en-hemmelighet-på-minst-seksten-tegn"
NOW = 1_900_000_000.0  # a fixed moment (2030), so expiry is exact


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signed(payload: str, secret: str = SECRET) -> str:
    """`payload` (the base64url part, as given) with a valid signature: what only the holder
    of the secret can make, so whatever it holds is checked after the signature."""
    mac = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()
    return f"{payload}.{b64(mac)}"


def claims_token(claims: Any, secret: str = SECRET) -> str:
    return signed(b64(json.dumps(claims).encode()), secret)


def reason(token: Any, now: float = NOW, secret: str = SECRET) -> str:
    with pytest.raises(PersonTokenError) as refused:
        verify_person_token(secret, token, now=now)
    return refused.value.reason


# --- the format ----------------------------------------------------------------------------


def test_the_token_is_the_documented_payload_and_its_hmac() -> None:
    token = issue_person_token(SECRET, "county_board", "Åse Ødegård", "vestland", 900, now=NOW)
    payload, signature = token.split(".")
    assert "=" not in token
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    assert raw == (
        b'{"role":"county_board","name":"\\u00c5se \\u00d8deg\\u00e5rd",'
        b'"branch":"vestland","exp":1900000900}'
    )
    expected = hmac.new(SECRET.encode(), payload.encode("ascii"), hashlib.sha256).digest()
    assert signature == b64(expected)


def test_what_is_issued_verifies_as_issued() -> None:
    token = issue_person_token(SECRET, "programme", "Kari Programleder", None, 60, now=NOW)
    found = verify_person_token(SECRET, token, now=NOW + 59)
    assert (found.role, found.name, found.branch, found.exp) == (
        Role.PROGRAMME,
        "Kari Programleder",
        None,
        NOW + 60,
    )


def test_a_token_signed_elsewhere_in_the_same_format_verifies() -> None:
    # Another implementation may escape non-ASCII or not: the signature covers its own text.
    claims = {"role": "observer", "name": "Ola Nordmann", "branch": None, "exp": int(NOW) + 30}
    payload = b64(json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode())
    found = verify_person_token(SECRET, signed(payload), now=NOW)
    assert (found.role, found.name) == (Role.OBSERVER, "Ola Nordmann")


@pytest.mark.parametrize("role", ["county_board", "board"])
def test_a_board_is_named_by_its_role_value_or_as_board(role: str) -> None:
    token = issue_person_token(SECRET, role, "Styreleder", "Vestland", 60, now=NOW)
    found = verify_person_token(SECRET, token, now=NOW)
    assert (found.role, found.branch) == (Role.COUNTY_BOARD, "Vestland")


def test_a_branch_on_a_programme_or_observer_token_counts_for_nothing() -> None:
    for role in ("programme", "observer"):
        token = issue_person_token(SECRET, role, "Kari", "vestland", 60, now=NOW)
        assert verify_person_token(SECRET, token, now=NOW).branch is None


# --- refusals ------------------------------------------------------------------------------


def test_an_expired_token_is_refused_from_its_exp_on() -> None:
    token = issue_person_token(SECRET, "programme", "Kari", None, 60, now=NOW)
    assert verify_person_token(SECRET, token, now=NOW + 59.9).name == "Kari"
    assert reason(token, now=NOW + 60) == "expired"
    assert reason(token, now=NOW + 86_400) == "expired"


def test_a_token_under_another_secret_is_refused() -> None:
    token = issue_person_token("en-annen-hemmelighet-enn-vår", "programme", "Kari", None, 60)
    assert reason(token, now=NOW - 1_000_000_000) == "signature"


def test_a_tampered_payload_or_signature_is_refused() -> None:
    token = issue_person_token(SECRET, "observer", "Ola", None, 60, now=NOW)
    payload, signature = token.split(".")
    raised = {"role": "programme", "name": "Ola", "branch": None, "exp": int(NOW) + 60}
    forged = b64(json.dumps(raised, separators=(",", ":")).encode())
    assert reason(f"{forged}.{signature}") == "signature"
    # A later expiry, the same role: any change to the payload breaks the signature.
    later = b64(json.dumps({**raised, "role": "observer", "exp": int(NOW) + 10**6}).encode())
    assert reason(f"{later}.{signature}") == "signature"
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    assert reason(f"{payload}.{flipped}") == "signature"
    assert reason(f"{payload}.{signature[:-1]}") == "signature"
    assert reason(f"{payload}.{signature}A") == "signature"


def test_an_unknown_role_is_refused() -> None:
    for role in ("admin", "Programme", "county-board", "", None, 1, ["programme"]):
        claims = {"role": role, "name": "Kari", "branch": None, "exp": NOW + 60}
        assert reason(claims_token(claims)) == "role", role


@pytest.mark.parametrize("role", ["county_board", "board"])
@pytest.mark.parametrize("branch", [None, "", "   "])
def test_a_board_without_a_branch_is_refused(role: str, branch: str | None) -> None:
    claims = {"role": role, "name": "Styreleder", "branch": branch, "exp": NOW + 60}
    assert reason(claims_token(claims)) == "branch"
    with pytest.raises(ValueError, match="branch"):
        issue_person_token(SECRET, role, "Styreleder", branch, 60, now=NOW)


GOOD = {"role": "programme", "name": "Kari", "branch": None, "exp": NOW + 60}


@pytest.mark.parametrize(
    "token",
    [
        "",
        ".",
        "abc",
        "abc.",
        ".abc",
        "a.b.c",
        "a..b",
        "ab=.cd",
        "ab.cd==",
        "a b.cd",
        "ab.c+d",
        "ab.c/d",
        "æøå.abc",
        "abc.def\n",
        "\x00.abc",
        "x" * 5000 + ".abc",
        signed("A"),  # a base64 length no bytes have
        signed("A" * 5001),
    ],
)
def test_a_token_that_is_not_two_base64url_parts_is_malformed(token: str) -> None:
    assert reason(token) == "malformed"


@pytest.mark.parametrize("token", [None, 12, b"abc.def", ["a", "b"]])
def test_a_token_that_is_no_text_is_malformed(token: Any) -> None:
    assert reason(token) == "malformed"


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"not json",
        b"\xff\xfe{}",  # not UTF-8
        b"[]",
        b'"programme"',
        b"null",
        b"1900000060",
        b"{",
        b"[" * 1500 + b"]" * 1500,  # nesting deeper than the parser goes (yet short)
        json.dumps({k: v for k, v in GOOD.items() if k != "exp"}).encode(),
        json.dumps({**GOOD, "exp": "1900000060"}).encode(),
        json.dumps({**GOOD, "exp": True}).encode(),
        json.dumps({**GOOD, "exp": None}).encode(),
        json.dumps({**GOOD, "exp": [NOW + 60]}).encode(),
        json.dumps(GOOD).replace(str(NOW + 60), "NaN").encode(),
        json.dumps(GOOD).replace(str(NOW + 60), "Infinity").encode(),
        json.dumps(GOOD).replace(str(NOW + 60), "1e400").encode(),  # a float's infinity
        json.dumps({**GOOD, "branch": 46}).encode(),
        json.dumps({**GOOD, "branch": ["vestland"]}).encode(),
    ],
)
def test_a_signed_payload_that_is_not_the_documented_object_is_malformed(payload: bytes) -> None:
    assert reason(signed(b64(payload))) == "malformed"


@pytest.mark.parametrize("name", [None, "", "   ", 7, "Kari\nProgramleder", "Kari\x00", "K" * 201])
def test_a_token_without_a_usable_name_is_refused(name: Any) -> None:
    assert reason(claims_token({**GOOD, "name": name})) == "name"


def test_an_exp_far_ahead_as_a_large_integer_is_read_without_error() -> None:
    token = claims_token({**GOOD, "exp": 10**400})
    assert verify_person_token(SECRET, token, now=NOW).name == "Kari"


def test_keys_beyond_the_four_are_ignored() -> None:
    token = claims_token({**GOOD, "iat": NOW, "email": "kari@example.no"})
    assert verify_person_token(SECRET, token, now=NOW).role is Role.PROGRAMME


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("", "programme", "Kari", None, 60), "secret"),
        ((SECRET, "admin", "Kari", None, 60), "unknown role"),
        ((SECRET, "programme", "", None, 60), "name"),
        ((SECRET, "programme", "Kari\n", None, 60), "name"),
        ((SECRET, "programme", "Kari", None, 0), "ttl_s"),
    ],
)
def test_issuing_what_no_service_would_take_is_refused(args: tuple[Any, ...], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        issue_person_token(*args)


# --- principals ----------------------------------------------------------------------------

BRANCHES = {"vestland": "vestland", "Vestland": "vestland", "agder": "agder"}


def test_a_boards_branch_is_resolved_as_the_service_resolves_it() -> None:
    token = issue_person_token(SECRET, "board", "Vera Vestland", "Vestland", 60, now=NOW)
    principal = person_principal(SECRET, token, BRANCHES.get, now=NOW)
    assert principal == Principal("Vera Vestland", Role.COUNTY_BOARD, "vestland")
    unknown = issue_person_token(SECRET, "board", "Vera", "Atlantis", 60, now=NOW)
    with pytest.raises(PersonTokenError) as refused:
        person_principal(SECRET, unknown, BRANCHES.get, now=NOW)
    assert refused.value.reason == "unknown-branch"


# --- over HTTP -----------------------------------------------------------------------------


class UnitSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="KS_UNIT_PERSON_TOKENS_", extra="ignore")


def client(secret: str | None) -> TestClient:
    app = FastAPI()
    install(app)
    tokens = parse_tokens(
        json.dumps({"api-programme": {"name": "Programledelsen", "role": "programme"}}),
        BRANCHES.get,
    )
    settings = UnitSettings(database_url="postgresql://unit", person_token_secret=secret)
    app.state.runtime = SimpleNamespace(settings=settings, extras={TOKENS: tokens})

    @app.get("/who")
    def who(principal: PrincipalDep) -> dict[str, str | None]:
        return {"name": principal.name, "role": principal.role, "branch": principal.branch_id}

    return TestClient(app)


def bearer(token: str, language: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    return headers | ({"Accept-Language": language} if language else {})


def test_a_service_with_the_secret_takes_person_tokens_and_its_api_tokens() -> None:
    http = client(SECRET)
    token = issue_person_token(SECRET, "county_board", "Vera Vestland", "Vestland", 60)
    assert http.get("/who", headers=bearer(token)).json() == {
        "name": "Vera Vestland",
        "role": "county_board",
        "branch": "vestland",
    }
    assert http.get("/who", headers=bearer("api-programme")).json()["name"] == "Programledelsen"


LONG_AGO = 1_000_000_000.0  # 2001: a token issued then has long expired
# The tokens below are made when the tests are collected, maybe long before they run (the
# unit tier runs last in `make test`): their lifetime outlasts any run, so that only the
# flaw each is made with refuses it.
LIFE = 10 * 365 * 24 * 3600


@pytest.mark.parametrize(
    ("token", "nb", "nn", "en"),
    [
        (
            issue_person_token(SECRET, "programme", "Kari", None, 60, now=LONG_AGO),
            "Innloggingen er utløpt. Logg inn på nytt.",
            "Innlogginga har gått ut. Logg inn på nytt.",
            "The sign-in has expired. Sign in again.",
        ),
        (
            issue_person_token("en-annen-hemmelighet-enn-vår", "programme", "Kari", None, LIFE),
            "Tilgangsnøkkelen er ikke gyldig: signaturen stemmer ikke.",
            "Tilgangsnøkkelen er ikkje gyldig: signaturen stemmer ikkje.",
            "The bearer token is not valid: its signature does not match.",
        ),
        (
            claims_token({**GOOD, "role": "admin", "exp": 2**40}),
            "Tilgangsnøkkelen oppgir en ukjent rolle.",
            "Tilgangsnøkkelen oppgir ei ukjend rolle.",
            "The bearer token names an unknown role.",
        ),
        (
            claims_token({**GOOD, "role": "county_board", "exp": 2**40}),
            "Tilgangsnøkkelen til et fylkesstyre må oppgi fylkesavdelingen.",
            "Tilgangsnøkkelen til eit fylkesstyre må oppgi fylkesavdelinga.",
            "A county board's bearer token must name its branch.",
        ),
        (
            issue_person_token(SECRET, "county_board", "Vera", "Atlantis", LIFE),
            "Tilgangsnøkkelen oppgir en fylkesavdeling som ikke finnes.",
            "Tilgangsnøkkelen oppgir ei fylkesavdeling som ikkje finst.",
            "The bearer token names a branch that does not exist.",
        ),
        (
            "abc.d+f",
            "Tilgangsnøkkelen kan ikke leses.",
            "Tilgangsnøkkelen kan ikkje lesast.",
            "The bearer token cannot be read.",
        ),
    ],
)
def test_a_bad_person_token_is_a_401_problem_saying_why(
    token: str, nb: str, nn: str, en: str
) -> None:
    http = client(SECRET)
    response = http.get("/who", headers=bearer(token))
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.headers["www-authenticate"] == "Bearer"
    problem = response.json()
    assert (problem["type"], problem["detail"]) == ("urn:kulturskole:problem:unauthenticated", nb)
    assert http.get("/who", headers=bearer(token, "nn")).json()["detail"] == nn
    assert http.get("/who", headers=bearer(token, "en")).json()["detail"] == en


def test_without_the_secret_a_person_token_is_an_unknown_token() -> None:
    token = issue_person_token(SECRET, "programme", "Kari", None, 60)
    response = client(None).get("/who", headers=bearer(token, "en"))
    assert response.status_code == 401
    assert response.json()["detail"] == "Send a valid bearer token in the Authorization header."


def test_a_secret_file_that_goes_away_refuses_person_tokens_with_401(tmp_path: Path) -> None:
    secret_file = tmp_path / "person-token-secret"
    secret_file.write_text(SECRET + "\n")
    app = client(None).app
    assert isinstance(app, FastAPI)
    app.state.runtime.settings = UnitSettings(
        database_url="postgresql://unit", person_token_secret_file=secret_file
    )
    http = TestClient(app)
    token = issue_person_token(SECRET, "programme", "Kari", None, 60)
    assert http.get("/who", headers=bearer(token)).json()["name"] == "Kari"
    secret_file.unlink()
    assert http.get("/who", headers=bearer(token)).status_code == 401


# --- settings ------------------------------------------------------------------------------


def test_the_secret_comes_from_the_setting_or_its_file(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET + "\n")
    from_file = UnitSettings(database_url="postgresql://u", person_token_secret_file=secret_file)
    assert from_file.person_token_key() == SECRET  # the file's closing newline is no part of it
    secret_file.write_text("en-ny-hemmelighet-etter-rotering")
    stat = secret_file.stat()  # a rotation within the same clock tick still counts
    os.utime(secret_file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert from_file.person_token_key() == "en-ny-hemmelighet-etter-rotering"
    given = UnitSettings(database_url="postgresql://u", person_token_secret=SECRET)
    assert given.person_token_key() == SECRET
    assert SECRET not in repr(given)
    none = UnitSettings(
        database_url="postgresql://u", person_token_secret="", person_token_secret_file=""
    )
    assert none.person_token_key() == ""


def test_settings_that_cannot_work_stop_the_start(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET)
    for values, words in (
        ({"person_token_secret": SECRET, "person_token_secret_file": secret_file}, "not both"),
        ({"person_token_secret_file": tmp_path / "missing"}, "no readable file"),
        ({"person_token_secret": "kort"}, "at least 16 characters"),
    ):
        with pytest.raises(ValidationError, match=words) as error:
            UnitSettings(database_url="postgresql://u", **values)
        assert SECRET not in str(error.value)
