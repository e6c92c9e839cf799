"""Bearer tokens to principals, for every service's HTTP API.

Two kinds of bearer token name a principal:

- **API tokens**: a service's settings carry `api_tokens`, a JSON object of
  `{"<token>": {"name": "...", "role": "programme" | "county_board" | "observer",
  "branch": "<branch name or id, for a county board>"}}`. The service parses it at start-up
  (`parse_tokens`, with its own way of knowing branches) and keeps the result in
  `runtime.extras["tokens"]`.
- **Person tokens**: short-lived, signed at sign-in by a front that knows the person
  (`issue_person_token`), so that no all-powerful token reaches a browser. A service takes
  them when its `person_token_secret` is set; the principal is the token's role, branch
  and name, the branch resolved as the service resolves an API token's.

`PrincipalDep` then names the caller of a route. Kafka commands are trusted system input and
carry no principal.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import math
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, TypeGuard

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.runtime.problems import Problem, Texts, texts
from shared.runtime.settings import ServiceSettings

log = logging.getLogger(__name__)

TOKENS = "tokens"  # where the runtime keeps the parsed tokens: runtime.extras[TOKENS]


class Role(StrEnum):
    PROGRAMME = "programme"
    COUNTY_BOARD = "county_board"
    OBSERVER = "observer"


@dataclass(frozen=True)
class Principal:
    name: str
    role: Role
    branch_id: str | None = None  # for a county board

    @property
    def caller(self) -> str:
        """Whose idempotency keys these are: the principal, as its token file names it."""
        return f"{self.role}:{self.branch_id or ''}:{self.name}"


class Forbidden(Problem):
    """The principal may not send this command: 403 with the reason, in nb, nn and en (a
    plain string is the reason in every language)."""

    def __init__(self, reason: str | Texts) -> None:
        detail = texts(reason) if isinstance(reason, str) else reason
        super().__init__("forbidden", detail, status=403)


BranchResolver = Callable[[str], str | None]


class Tokens(dict[str, Principal]):
    """The API tokens of a service, with the service's way of resolving a board's branch
    (name or id to id), which person tokens need as well."""

    def __init__(self, principals: Mapping[str, Principal], branch_id: BranchResolver) -> None:
        super().__init__(principals)
        self.branch_id = branch_id


def parse_tokens(raw: str, branch_id: BranchResolver) -> Tokens:
    """The tokens of `raw` (JSON); `branch_id` resolves a board's branch name or id, or None.

    A bad entry fails start-up rather than locking someone out later."""
    if not raw.strip():
        return Tokens({}, branch_id)
    principals = {}
    for token, entry in json.loads(raw).items():
        role = Role(entry["role"])
        branch = branch_id(entry.get("branch", "")) if role is Role.COUNTY_BOARD else None
        if role is Role.COUNTY_BOARD and branch is None:
            raise ValueError(
                f"token for {entry.get('name')!r}: unknown branch {entry.get('branch')!r}"
            )
        principals[token] = Principal(entry.get("name", role.value), role, branch)
    return Tokens(principals, branch_id)


# --- person tokens ---------------------------------------------------------------------------
#
# `<payload>.<signature>`: the payload is the JSON `{"role":…,"name":…,"branch":…,"exp":…}`
# (compact, keys in that order, `exp` in unix seconds), base64url without padding; the
# signature is the HMAC-SHA256 of the payload's ASCII text under the secret (its UTF-8 bytes),
# base64url without padding. The sign-in front implements the same format.

# The roles a person token may name: the `Role` values, and `board`, the name the format's
# description gives a county board.
PERSON_ROLES: dict[str, Role] = {role.value: role for role in Role} | {"board": Role.COUNTY_BOARD}
# A real token is some 200 characters; anything far longer is refused before any work.
MAX_PERSON_TOKEN_LENGTH = 4096
MAX_PERSON_NAME_LENGTH = 200
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")

# Why a person token names nobody, as the 401 says it.
PERSON_TOKEN_REFUSALS: dict[str, dict[str, str]] = {
    "malformed": texts(
        "Tilgangsnøkkelen kan ikke leses.",
        "Tilgangsnøkkelen kan ikkje lesast.",
        "The bearer token cannot be read.",
    ),
    "signature": texts(
        "Tilgangsnøkkelen er ikke gyldig: signaturen stemmer ikke.",
        "Tilgangsnøkkelen er ikkje gyldig: signaturen stemmer ikkje.",
        "The bearer token is not valid: its signature does not match.",
    ),
    "expired": texts(
        "Innloggingen er utløpt. Logg inn på nytt.",
        "Innlogginga har gått ut. Logg inn på nytt.",
        "The sign-in has expired. Sign in again.",
    ),
    "role": texts(
        "Tilgangsnøkkelen oppgir en ukjent rolle.",
        "Tilgangsnøkkelen oppgir ei ukjend rolle.",
        "The bearer token names an unknown role.",
    ),
    "name": texts(
        "Tilgangsnøkkelen mangler et gyldig navn.",
        "Tilgangsnøkkelen manglar eit gyldig namn.",
        "The bearer token has no valid name.",
    ),
    "branch": texts(
        "Tilgangsnøkkelen til et fylkesstyre må oppgi fylkesavdelingen.",
        "Tilgangsnøkkelen til eit fylkesstyre må oppgi fylkesavdelinga.",
        "A county board's bearer token must name its branch.",
    ),
    "unknown-branch": texts(
        "Tilgangsnøkkelen oppgir en fylkesavdeling som ikke finnes.",
        "Tilgangsnøkkelen oppgir ei fylkesavdeling som ikkje finst.",
        "The bearer token names a branch that does not exist.",
    ),
}


class PersonTokenError(ValueError):
    """A person token that names nobody; `reason` is a key of `PERSON_TOKEN_REFUSALS`."""

    def __init__(self, reason: str) -> None:
        super().__init__(PERSON_TOKEN_REFUSALS[reason]["en"])
        self.reason = reason


@dataclass(frozen=True)
class PersonToken:
    """What a verified person token says."""

    role: Role
    name: str
    branch: str | None  # as the token names it; None but for a county board
    exp: int | float


def _base64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _signature(secret: str, payload: str) -> str:
    return _base64url(hmac.new(secret.encode(), payload.encode("ascii"), hashlib.sha256).digest())


def _valid_name(name: object) -> TypeGuard[str]:
    # Printable: no line breaks or NUL, as the name goes into events, rows and letters.
    return (
        isinstance(name, str)
        and 0 < len(name) <= MAX_PERSON_NAME_LENGTH
        and bool(name.strip())
        and name.isprintable()
    )


def issue_person_token(
    secret: str, role: str, name: str, branch: str | None, ttl_s: int, now: float | None = None
) -> str:
    """A token naming `name` in `role` (a county board with its `branch`) for `ttl_s` seconds.

    What no service would take is refused here with ValueError, not issued."""
    if not secret:
        raise ValueError("a person token needs a secret")
    if role not in PERSON_ROLES:
        raise ValueError(f"unknown role {role!r}: one of {sorted(PERSON_ROLES)}")
    if not _valid_name(name):
        raise ValueError("a person token needs a printable name of 1 to 200 characters")
    if PERSON_ROLES[role] is Role.COUNTY_BOARD and not (branch and branch.strip()):
        raise ValueError("a county board's token names its branch")
    if ttl_s <= 0:
        raise ValueError("ttl_s must be positive")
    exp = int((time.time() if now is None else now) + ttl_s)
    claims = {"role": role, "name": name, "branch": branch, "exp": exp}
    payload = _base64url(json.dumps(claims, separators=(",", ":")).encode())
    return f"{payload}.{_signature(secret, payload)}"


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def verify_person_token(secret: str, token: str, now: float | None = None) -> PersonToken:
    """What `token` says, if `secret` signed it and it has not expired; else PersonTokenError.

    The signature is checked before the payload is read: nothing unsigned is parsed."""
    if not secret:
        raise ValueError("verifying a person token needs a secret")
    if not isinstance(token, str) or len(token) > MAX_PERSON_TOKEN_LENGTH:
        raise PersonTokenError("malformed")
    payload, dot, signature = token.partition(".")
    if not (dot and _BASE64URL.fullmatch(payload) and _BASE64URL.fullmatch(signature)):
        raise PersonTokenError("malformed")
    if not hmac.compare_digest(_signature(secret, payload).encode(), signature.encode()):
        raise PersonTokenError("signature")
    try:
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        claims = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except (ValueError, RecursionError):  # binascii, Unicode and JSON errors are ValueErrors
        raise PersonTokenError("malformed") from None
    if not isinstance(claims, dict):
        raise PersonTokenError("malformed")
    role, name, branch, exp = (claims.get(k) for k in ("role", "name", "branch", "exp"))
    if (
        not isinstance(exp, int | float)
        or isinstance(exp, bool)
        or (isinstance(exp, float) and not math.isfinite(exp))
        or not (branch is None or isinstance(branch, str))
    ):
        raise PersonTokenError("malformed")
    if exp <= (time.time() if now is None else now):
        raise PersonTokenError("expired")
    if not isinstance(role, str) or role not in PERSON_ROLES:
        raise PersonTokenError("role")
    if not _valid_name(name):
        raise PersonTokenError("name")
    found = PERSON_ROLES[role]
    if found is not Role.COUNTY_BOARD:
        return PersonToken(found, name, None, exp)
    if branch is None or not branch.strip():
        raise PersonTokenError("branch")
    return PersonToken(found, name, branch, exp)


def person_principal(
    secret: str, token: str, branch_id: BranchResolver | None = None, now: float | None = None
) -> Principal:
    """The principal a person token names; a board's branch resolved by `branch_id` (the
    service's, as for its API tokens; without one the branch is taken as an id)."""
    found = verify_person_token(secret, token, now)
    branch = None
    if found.branch is not None:
        branch = branch_id(found.branch) if branch_id is not None else found.branch
        if branch is None:
            raise PersonTokenError("unknown-branch")
    return Principal(found.name, found.role, branch)


def person_token_secret(settings: object) -> str:
    """The person-token secret of a service's settings; "" when none is set."""
    if not isinstance(settings, ServiceSettings):
        return ""
    try:
        return settings.person_token_key()
    except OSError as error:
        # The secret's file went away after start: person tokens are refused (401), not 500.
        log.error("person-token secret unreadable", extra={"error": repr(error)})
        return ""


bearer = HTTPBearer(
    auto_error=False,
    description="A token from the service's API_TOKENS setting, or a signed person token",
)


def principal_of(request: Request, given: str | None) -> Principal:
    """The principal `given` (a token) names; 401 with `WWW-Authenticate` when it names none."""
    challenge = {"WWW-Authenticate": "Bearer"}
    if not given:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "a bearer token is required", headers=challenge
        )
    runtime = request.app.state.runtime
    tokens: dict[str, Principal] = runtime.extras[TOKENS]
    for token, principal in tokens.items():
        # As bytes: compare_digest refuses str with non-ASCII characters (a 500 otherwise).
        if secrets.compare_digest(token.encode(), given.encode()):
            return principal
    secret = person_token_secret(getattr(runtime, "settings", None))
    if secret and "." in given:  # an API token may hold a dot too: those are looked up first
        try:
            return person_principal(secret, given, getattr(tokens, "branch_id", None))
        except PersonTokenError as error:
            log.info("person token refused", extra={"reason": error.reason})
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                PERSON_TOKEN_REFUSALS[error.reason],
                headers=challenge,
            ) from None
    raise HTTPException(status.HTTP_401_UNAUTHORIZED, "unknown token", headers=challenge)


def current_principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal:
    return principal_of(request, credentials.credentials if credentials else None)


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def require_programme(principal: Principal) -> None:
    if principal.role is not Role.PROGRAMME:
        who = principal.name
        raise Forbidden(
            texts(
                f"{who} kan ikke gjøre dette: bare programledelsen kan det.",
                f"{who} kan ikkje gjere dette: berre programleiinga kan det.",
                f"{who} may not do this: programme management only",
            )
        )


def require_branch(principal: Principal, branch_id: str, branch_name: str | None = None) -> None:
    """Programme management, or the board of this very branch (named by `branch_name`)."""
    if principal.role is Role.PROGRAMME:
        return
    if principal.role is Role.COUNTY_BOARD and principal.branch_id == branch_id:
        return
    who, branch = principal.name, branch_name or branch_id
    raise Forbidden(
        texts(
            f"{who} kan ikke handle for fylkesavdelingen {branch}.",
            f"{who} kan ikkje handle for fylkesavdelinga {branch}.",
            f"{who} may not act for the branch {branch}",
        )
    )
