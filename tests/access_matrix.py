"""Who may call which route of which service: one table, read off README.md's tables.

Each row is a route as the service declares it (`GET /rounds/{round_id}`), optionally with a
variant after `?` (`?branch=vestland`: the same route with that query; `?token=`: the token
in the query instead of the header, as calendar apps send it). The resource a route names is
Vestland's: "own board" is Vestland's county board, "other board" Agder's. Outcomes:

- `ok`: allowed (a read answers 2xx; a write passes the access rule: 2xx, or a domain
  refusal such as 409 that is not 401/403);
- `401`: no or an unknown token, a problem document with `WWW-Authenticate`;
- `403`: refused for this principal, a problem document, nothing stored;
- `404`: refused by not finding what another principal owns (none at present).

Each principal is also called with a person token (signed at sign-in for a named person,
`shared/runtime/auth.py`) standing in for a column's API token: `PERSONS` says which column
each one answers as, and an expired person token answers as the wrong token.

Whatever a 2xx answer carries is also checked for what the principal may not see: no other
branch's messages, contacts, motivations, reasons or requests, and none of those for an
observer (counts only). A route of a service that is not in this table fails
`tests/unit/test_access.py`, so each new route is classified here first.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

ROLES = ("programme", "own board", "other board", "observer", "no token", "wrong token")
TOKENS: dict[str, str | None] = {
    "programme": "local-programme",
    "own board": "local-board-vestland",
    "other board": "local-board-agder",
    "observer": "local-observer",
    "no token": None,
    "wrong token": "local-board-vestlandx",
}
# Person tokens, each answered as its column: (column, role, name, branch, expired). A board
# names its branch by name or id, as the sign-in front may.
PERSONS: dict[str, tuple[str, str, str, str | None, bool]] = {
    "programme (person)": ("programme", "programme", "Kari Programleder", None, False),
    "own board (person)": ("own board", "board", "Vera Vestland", "Vestland", False),
    "other board (person)": ("other board", "county_board", "Agnes Agder", "agder", False),
    "observer (person)": ("observer", "observer", "Ola Observatør", None, False),
    "expired person": ("wrong token", "programme", "Kari Programleder", None, True),
}
CALLERS = ROLES + tuple(PERSONS)


def column(caller: str) -> str:
    """The column of the table that says how `caller` is answered."""
    return PERSONS[caller][0] if caller in PERSONS else caller


# In a query a calendar app may send anything: also a token that is not ASCII.
WRONG_QUERY_TOKEN = "ikke-gyldig-nøkkel"
OUTCOMES = ("ok", "401", "403", "404")

# service      method route                                              prog own  other obs  none wrong
TABLE = """
registration  GET    /openapi.json                                        ok   ok   ok    ok   ok   ok
registration  GET    /docs                                                ok   ok   ok    ok   ok   ok
registration  GET    /docs/oauth2-redirect                                ok   ok   ok    ok   ok   ok
registration  GET    /docs/assets/{name}                                  ok   ok   ok    ok   ok   ok
registration  GET    /redoc                                               ok   ok   ok    ok   ok   ok
registration  GET    /healthz                                             ok   ok   ok    ok   ok   ok
registration  GET    /readyz                                              ok   ok   ok    ok   ok   ok
registration  GET    /metrics                                             ok   ok   ok    ok   ok   ok
registration  GET    /asyncapi.json                                       ok   ok   ok    ok   ok   ok
registration  GET    /asyncapi                                            ok   ok   ok    ok   ok   ok
registration  GET    /members                                             ok   ok   ok    ok   401  401
registration  GET    /rounds                                              ok   ok   ok    ok   401  401
registration  GET    /rounds/{round_id}                                   ok   ok   ok    ok   401  401
registration  GET    /rounds/{round_id}/application-windows               ok   ok   ok    ok   401  401
registration  GET    /rounds/{round_id}/status                            ok   ok   ok    ok   401  401
registration  GET    /rounds/{round_id}/counties/{county_number}/status   ok   ok   ok    ok   401  401
registration  GET    /rounds/{round_id}/municipalities/{municipality_number}/status  ok ok ok ok 401 401
registration  GET    /rounds/{round_id}/interest-registrations            ok   ok   ok    403  401  401
registration  GET    /rounds/{round_id}/interest-registrations?branch=vestland  ok ok 403 403  401  401
registration  GET    /interest-registrations/{registration_id}            ok   ok   403   403  401  401
registration  GET    /rounds/{round_id}/applications                      ok   ok   ok    403  401  401
registration  GET    /rounds/{round_id}/applications?branch=vestland      ok   ok   403   403  401  401
registration  GET    /rounds/{round_id}/applications/{municipality_number}  ok ok  403   403  401  401
registration  GET    /rounds/{round_id}/participants.csv                  ok   ok   ok    403  401  401
registration  GET    /rounds/{round_id}/participants.csv?branch=vestland  ok   ok   403   403  401  401
registration  POST   /rounds                                              ok   403  403   403  401  401
registration  POST   /capacity-changes                                    ok   403  403   403  401  401
registration  POST   /round-closures                                      ok   403  403   403  401  401
registration  POST   /round-cancellations                                 ok   403  403   403  401  401
registration  POST   /application-windows                                 ok   403  403   403  401  401
registration  POST   /deadline-extensions                                 ok   403  403   403  401  401
registration  POST   /members                                             ok   403  403   403  401  401
registration  POST   /members/csv                                         ok   403  403   403  401  401
registration  POST   /interest-registrations                              ok   ok   403   403  401  401
registration  POST   /application-drafts                                  ok   ok   403   403  401  401
registration  POST   /application-submissions                             ok   ok   403   403  401  401
registration  POST   /group-members                                       ok   ok   403   403  401  401
registration  POST   /group-member-removals                               ok   ok   403   403  401  401
registration  POST   /group-member-replacements                           ok   ok   403   403  401  401
registration  POST   /decisions                                           ok   403  403   403  401  401
registration  POST   /withdrawals                                         ok   ok   403   403  401  401
registration  POST   /revocations                                         ok   403  403   403  401  401
registration  POST   /erasures                                            ok   403  403   403  401  401
registration  GET    /inbound-interest                                    ok   403  403   403  401  401
registration  GET    /inbound-interest/{mail_id}                          ok   403  403   403  401  401
registration  POST   /inbound-interest/{mail_id}/confirmation             ok   403  403   403  401  401
registration  POST   /inbound-interest/{mail_id}/rejection                ok   403  403   403  401  401
registration  PUT    /branches/{branch}/contact                           ok   403  403   403  401  401
registration  PUT    /rounds/{round_id}/branches/{branch}/development-areas  ok ok 403  403  401  401
registration  GET    /rounds/{round_id}/development-areas                 ok   ok   ok    ok   401  401
registration  GET    /themes                                              ok   ok   ok    ok   401  401
registration  GET    /rounds/{round_id}/development-report                ok   403  403   403  401  401
registration  GET    /rounds/{round_id}/development-report.csv            ok   403  403   403  401  401
scheduling    GET    /openapi.json                                        ok   ok   ok    ok   ok   ok
scheduling    GET    /docs                                                ok   ok   ok    ok   ok   ok
scheduling    GET    /docs/oauth2-redirect                                ok   ok   ok    ok   ok   ok
scheduling    GET    /docs/assets/{name}                                  ok   ok   ok    ok   ok   ok
scheduling    GET    /redoc                                               ok   ok   ok    ok   ok   ok
scheduling    GET    /healthz                                             ok   ok   ok    ok   ok   ok
scheduling    GET    /readyz                                              ok   ok   ok    ok   ok   ok
scheduling    GET    /metrics                                             ok   ok   ok    ok   ok   ok
scheduling    GET    /asyncapi.json                                       ok   ok   ok    ok   ok   ok
scheduling    GET    /asyncapi                                            ok   ok   ok    ok   ok   ok
scheduling    GET    /rounds/{round_id}                                   ok   ok   ok    ok   401  401
scheduling    GET    /rounds/{round_id}/regions/{region}/calendar         ok   ok   ok    ok   401  401
scheduling    GET    /gatherings/{gathering_id}                           ok   ok   ok    ok   401  401
scheduling    GET    /rounds/{round_id}/regions/{region}/date-suggestions  ok  ok   ok    ok   401  401
scheduling    GET    /rounds/{round_id}/attendance                        ok   ok   ok    ok   401  401
scheduling    GET    /rounds/{round_id}/dialogue-requests                 ok   ok   ok    403  401  401
scheduling    GET    /rounds/{round_id}/dialogue-requests?region=vestland  ok  ok   403   403  401  401
scheduling    GET    /feeds/regions/{region}.ics                          ok   ok   ok    ok   401  401
scheduling    GET    /feeds/regions/{region}.ics?token=                   ok   ok   ok    ok   401  401
scheduling    GET    /feeds/municipalities/{municipality_number}.ics      ok   ok   ok    ok   401  401
scheduling    GET    /feeds/municipalities/{municipality_number}.ics?token=  ok ok  ok    ok   401  401
scheduling    POST   /semesters                                           ok   403  403   403  401  401
scheduling    POST   /gatherings                                          ok   403  403   403  401  401
scheduling    POST   /reschedulings                                       ok   403  403   403  401  401
scheduling    POST   /cancellations                                       ok   403  403   403  401  401
scheduling    POST   /dialogue-requests                                   ok   ok   403   403  401  401
scheduling    POST   /dialogue-meetings                                   ok   403  403   403  401  401
scheduling    POST   /supervisions                                        ok   403  403   403  401  401
scheduling    POST   /rsvps                                               ok   ok   403   403  401  401
scheduling    POST   /attendance                                          ok   ok   403   403  401  401
scheduling    POST   /dialogue-proposals                                  ok   403  403   403  401  401
scheduling    POST   /guest-erasures                                      ok   403  403   403  401  401
scheduling    POST   /delingsarena-proposals                              ok   ok   403   403  401  401
scheduling    GET    /rounds/{round_id}/delingsarena-proposals            ok   ok   ok    403  401  401
scheduling    GET    /rounds/{round_id}/delingsarena-proposals?region=vestland  ok ok 403 403  401  401
scheduling    GET    /rounds/{round_id}/regions/{region}/interim-work     ok   ok   ok    ok   401  401
scheduling    POST   /interim-work                                        ok   403  403   403  401  401
scheduling    POST   /interim-work-reports                                ok   ok   403   403  401  401
scheduling    GET    /answers/{token}                                     ok   ok   ok    ok   ok   ok
scheduling    POST   /answers/{token}                                     ok   ok   ok    ok   ok   ok
notification  GET    /openapi.json                                        ok   ok   ok    ok   ok   ok
notification  GET    /docs                                                ok   ok   ok    ok   ok   ok
notification  GET    /docs/oauth2-redirect                                ok   ok   ok    ok   ok   ok
notification  GET    /docs/assets/{name}                                  ok   ok   ok    ok   ok   ok
notification  GET    /redoc                                               ok   ok   ok    ok   ok   ok
notification  GET    /healthz                                             ok   ok   ok    ok   ok   ok
notification  GET    /readyz                                              ok   ok   ok    ok   ok   ok
notification  GET    /metrics                                             ok   ok   ok    ok   ok   ok
notification  GET    /asyncapi.json                                       ok   ok   ok    ok   ok   ok
notification  GET    /asyncapi                                            ok   ok   ok    ok   ok   ok
notification  GET    /deliveries                                          ok   403  403   403  401  401
notification  GET    /previews                                            ok   403  403   403  401  401
notification  GET    /previews/{template}                                 ok   403  403   403  401  401
notification  PUT    /persons/{person_id}/reminders                       ok   403  403   403  401  401
notification  PUT    /supervisors/{supervisor_id}                         ok   403  403   403  401  401
notification  DELETE /supervisors/{supervisor_id}                         ok   403  403   403  401  401
"""


@dataclass(frozen=True)
class Row:
    service: str
    method: str
    route: str  # as the service declares it
    variant: str  # what follows `?` in the table, or ""
    expected: dict[str, str]  # role -> outcome

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.service, self.method, self.route)

    @property
    def name(self) -> str:
        return f"{self.service} {self.method} {self.route}" + (
            f"?{self.variant}" if self.variant else ""
        )


def rows() -> list[Row]:
    """The table, in order (the order writes run in: each leaves what the next needs)."""
    found = []
    for line in TABLE.strip().splitlines():
        service, method, path, *outcomes = line.split()
        if len(outcomes) != len(ROLES) or set(outcomes) - set(OUTCOMES):
            raise ValueError(f"bad row: {line!r}")
        route, _, variant = path.partition("?")
        found.append(Row(service, method, route, variant, dict(zip(ROLES, outcomes, strict=True))))
    return found


def _walk(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    for route in routes:
        path = getattr(route, "path", None)
        if path is not None:
            for method in sorted(getattr(route, "methods", None) or ()):
                if method != "HEAD":  # Starlette adds it to every GET
                    yield method, prefix + path
        # A router included in another: FastAPI 0.165 keeps it whole rather than copying
        # its routes into the app's list.
        original = getattr(route, "original_router", None)
        if original is not None:
            context = getattr(route, "include_context", None)
            yield from _walk(original.routes, prefix + getattr(context, "prefix", ""))


def declared_routes(app: Any) -> set[tuple[str, str]]:
    """Every (method, path) an app answers, from its routes (not only the documented ones)."""
    return set(_walk(app.routes))
