"""Every route of every service, called by every role, answers as tests/access_matrix.py says.

Each role calls with its API token and again with a person token signed for a person in it
(an expired person token answers as a wrong token).

The three services run in-process on the real Kafka and PostgreSQL, with a small programme
round: interest and applications from Vestland (the "own" board) and Agder (the "other"),
a gathering and a dialogue request in each region, a supervisor. Every free text and
contact of a branch carries a tag of that branch, so any answer can be searched for what
its reader may not see: the other branch's tag for a board, either tag for an observer.
A refused write is checked to have stored nothing; no call may answer 5xx.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import pytest

from services.notification.app import create_app as notification_app
from services.notification.app import local_tokens as notification_tokens
from services.notification.settings import NotificationSettings
from services.notification.templates import Templates
from services.registration.adapters import inbound
from services.registration.domain.inbound import read_mail
from services.registration.domain.reference import ReferenceData
from services.scheduling.app import LOCAL_ANSWER_SECRET
from services.scheduling.domain.invitations import invitation_id
from services.scheduling.settings import SchedulingSettings
from shared.db.pool import connect
from shared.runtime import answer_links
from shared.runtime.lag import LagProbe
from shared.testing.fixtures import Endpoints, TestDatabase, eventually
from tests.access_matrix import (
    CALLERS,
    PERSONS,
    TOKENS,
    WRONG_QUERY_TOKEN,
    Row,
    column,
    rows,
)
from tests.integration.registration_app import (
    AGDER,
    MEMBERS,
    OSLO,
    ROUND,
    START,
    VESTLAND,
    WINDOW_46,
    Registration,
    registration_fixture,  # noqa: F401
)
from tests.integration.scheduling_app import Scheduling, started_scheduling
from tests.integration.support import PERSON_TOKEN_SECRET, as_person, person_token

pytestmark = pytest.mark.integration

PROGRAMME = {"Authorization": "Bearer local-programme"}
WINDOW_42 = WINDOW_46 | {"county_number": "42"}
SUPERVISOR = "veileder-matrise"
# Readers allowed to see a branch's details (the tag of its texts and contacts).
MAY_SEE = {"vestland": {"programme", "own board"}, "agder": {"programme", "other board"}}


def oslo(day: str, hour: int) -> str:
    return datetime.fromisoformat(f"{day}T{hour:02}:00").replace(tzinfo=OSLO).isoformat()


@dataclass
class Call:
    path: str
    json: Any = None
    content: str | None = None  # a body that is not JSON (the membership CSV)
    content_type: str | None = None
    params: dict[str, str] = field(default_factory=dict)


@dataclass
class World:
    """What the set-up made, for the probes to name."""

    tags: dict[str, str]  # branch -> the tag in each of its texts and contacts
    registration: Registration
    scheduling: Scheduling
    notification: httpx.AsyncClient
    interest_id: str = ""
    removable: list[str] = field(default_factory=list)  # person ids in Bergen's group
    erasable: str = ""
    agder_member: str = ""  # a person in Kristiansand's group
    gatherings: dict[str, str] = field(default_factory=dict)
    request_id: str = ""
    inbound: dict[str, str] = field(default_factory=dict)  # mails to the programme mailbox
    guest: str = ""  # another actor invited to a dialogmøte by name

    def member(self, branch: str, role: str) -> dict[str, Any]:
        tag = self.tags[branch]
        unique = uuid.uuid4().hex[:6]
        return {
            "name": f"Medlem {unique} {tag}",
            "email": f"m.{unique}.{tag}@example.no",
            "role": role,
            "organisation": f"{role} {tag}",
            "commits_to_gatherings": True,
        }

    def draft(self, branch: str, municipality: str, roles: list[str]) -> dict[str, Any]:
        tag = self.tags[branch]
        return {
            "round_id": ROUND,
            "municipality_number": municipality,
            "motivation": f"Motivasjon {tag}",
            "development_areas": ["samskaping"],
            "co_creation_plan": f"Plan {tag}",
            "group": [self.member(branch, role) for role in roles],
        }

    def interest(self, branch: str, municipalities: list[str]) -> dict[str, Any]:
        tag = self.tags[branch]
        return {
            "round_id": ROUND,
            "branch": branch,
            "municipality_numbers": municipalities,
            "contact": {"name": f"Kontakt {tag}", "email": f"styret.{tag}@example.no"},
            "message": f"Melding {tag}",
        }


def venue() -> dict[str, str]:
    return {"name": "Grieghallen", "address": "Edvard Griegs plass 1, Bergen"}


def gathering(region: str, kind: str, day: str, title: str) -> dict[str, Any]:
    return {
        "round_id": ROUND,
        "region": region,
        "kind": kind,
        "title": title,
        "venue": venue(),
        "starts_at": oslo(day, 10),
        "ends_at": oslo(day, 15),
    }


Probe = Callable[[World, str], Call]


def _attendance(w: World, role: str) -> Call:
    # Attendance is recorded once the gathering has begun.
    w.scheduling.clock.now = datetime(2029, 10, 16, 16, tzinfo=OSLO)
    return Call(
        "/attendance",
        {
            "gathering_id": w.gatherings["presamling"],
            "region": "vestland",
            "present_municipalities": ["4601"],
        },
    )


def _replacement(w: World, role: str) -> Call:
    return Call(
        "/group-member-replacements",
        {
            "round_id": ROUND,
            "municipality_number": "4601",
            "person_id": w.removable[-1 if role == "programme" else -2],
            "member": w.member("vestland", "barnehage"),
        },
    )


INTERIM_WORK = "6f1d2c3b-0a4e-4f5a-9b8c-7d6e5f4a3b2c"


def _answer_token(w: World) -> str:
    """The link in the mail to Kristiansand's invitation (as a municipality) to Agder's
    presamling, still ahead when the rows run (Vestland's has begun by then)."""
    gathering = uuid.UUID(str(w.gatherings["agder"]))
    return answer_links.sign(
        invitation_id(gathering, "municipality:4204"),
        datetime(2100, 1, 1, tzinfo=OSLO),
        LOCAL_ANSWER_SECRET,
    )


# What each row calls, on Vestland's resources; `role` only where two allowed callers
# need different targets (each removes a member of their own).
PROBES: dict[str, Probe] = {
    "GET /members": lambda w, r: Call("/members"),
    "GET /rounds": lambda w, r: Call("/rounds"),
    "GET /rounds/{round_id}": lambda w, r: Call(f"/rounds/{ROUND}"),
    "GET /rounds/{round_id}/application-windows": lambda w, r: Call(
        f"/rounds/{ROUND}/application-windows"
    ),
    "GET /rounds/{round_id}/status": lambda w, r: Call(f"/rounds/{ROUND}/status"),
    "GET /rounds/{round_id}/counties/{county_number}/status": lambda w, r: Call(
        f"/rounds/{ROUND}/counties/46/status"
    ),
    "GET /rounds/{round_id}/municipalities/{municipality_number}/status": lambda w, r: Call(
        f"/rounds/{ROUND}/municipalities/4627/status"  # declined, with a reason
    ),
    "GET /rounds/{round_id}/interest-registrations": lambda w, r: Call(
        f"/rounds/{ROUND}/interest-registrations"
    ),
    "GET /rounds/{round_id}/interest-registrations?branch=vestland": lambda w, r: Call(
        f"/rounds/{ROUND}/interest-registrations", params={"branch": "vestland"}
    ),
    "GET /interest-registrations/{registration_id}": lambda w, r: Call(
        f"/interest-registrations/{w.interest_id}"
    ),
    "GET /rounds/{round_id}/applications": lambda w, r: Call(f"/rounds/{ROUND}/applications"),
    "GET /rounds/{round_id}/applications?branch=vestland": lambda w, r: Call(
        f"/rounds/{ROUND}/applications", params={"branch": "vestland"}
    ),
    "GET /rounds/{round_id}/applications/{municipality_number}": lambda w, r: Call(
        f"/rounds/{ROUND}/applications/4601"
    ),
    "GET /rounds/{round_id}/participants.csv": lambda w, r: Call(
        f"/rounds/{ROUND}/participants.csv"
    ),
    "GET /rounds/{round_id}/participants.csv?branch=vestland": lambda w, r: Call(
        f"/rounds/{ROUND}/participants.csv", params={"branch": "vestland"}
    ),
    "POST /rounds": lambda w, r: Call("/rounds", {"round_id": "2033"}),
    "POST /capacity-changes": lambda w, r: Call(
        "/capacity-changes", {"round_id": ROUND, "capacity_per_branch": {"vestland": 3}}
    ),
    "POST /round-closures": lambda w, r: Call("/round-closures", {"round_id": "2031"}),
    "POST /round-cancellations": lambda w, r: Call(
        "/round-cancellations", {"round_id": "2032", "reason": "Åpnet ved en feil"}
    ),
    "POST /application-windows": lambda w, r: Call(
        "/application-windows", {"round_id": ROUND, **WINDOW_46, "county_number": "11"}
    ),
    "POST /deadline-extensions": lambda w, r: Call(
        "/deadline-extensions",
        {"round_id": ROUND, "kind": "interest", "new_deadline": "2029-09-20"},
    ),
    "POST /members": lambda w, r: Call("/members", {"municipality_numbers": MEMBERS}),
    "POST /members/csv": lambda w, r: Call(
        "/members/csv",
        content="kommunenummer\n" + "\n".join(MEMBERS) + "\n",
        content_type="text/csv",
    ),
    "POST /interest-registrations": lambda w, r: Call(
        "/interest-registrations", w.interest("vestland", ["4601", "4640", "4627"])
    ),
    "POST /application-drafts": lambda w, r: Call(
        "/application-drafts", w.draft("vestland", "4640", ["kulturskole", "grunnskole"])
    ),
    "POST /application-submissions": lambda w, r: Call(
        "/application-submissions", {"round_id": ROUND, "municipality_number": "4640"}
    ),
    "POST /group-members": lambda w, r: Call(
        "/group-members",
        {
            "round_id": ROUND,
            "municipality_number": "4601",
            "member": w.member("vestland", "sfo"),
        },
    ),
    "POST /group-member-removals": lambda w, r: Call(
        "/group-member-removals",
        {
            "round_id": ROUND,
            "municipality_number": "4601",
            "person_id": w.removable[0 if r == "programme" else 1],
        },
    ),
    "POST /group-member-replacements": _replacement,
    "POST /decisions": lambda w, r: Call(
        "/decisions",
        {
            "round_id": ROUND,
            "municipality_number": "4640",
            "decision": "admit",
            "early_reason": "Vedtatt før fristen",
        },
    ),
    "POST /withdrawals": lambda w, r: Call(
        "/withdrawals", {"round_id": ROUND, "municipality_number": "4640", "reason": "Trekker"}
    ),
    "POST /revocations": lambda w, r: Call(
        "/revocations", {"round_id": ROUND, "municipality_number": "4601", "reason": "Brudd"}
    ),
    "POST /erasures": lambda w, r: Call("/erasures", {"person_id": w.erasable}),
    # scheduling
    "GET /rounds/{round_id}/regions/{region}/calendar": lambda w, r: Call(
        f"/rounds/{ROUND}/regions/vestland/calendar"
    ),
    "GET /gatherings/{gathering_id}": lambda w, r: Call(
        f"/gatherings/{w.gatherings['presamling']}"
    ),
    "GET /rounds/{round_id}/regions/{region}/date-suggestions": lambda w, r: Call(
        f"/rounds/{ROUND}/regions/vestland/date-suggestions",
        params={"first": "2029-10-01", "last": "2029-12-15"},
    ),
    "GET /rounds/{round_id}/attendance": lambda w, r: Call(
        f"/rounds/{ROUND}/attendance", params={"region": "vestland"}
    ),
    "GET /rounds/{round_id}/dialogue-requests": lambda w, r: Call(
        f"/rounds/{ROUND}/dialogue-requests"
    ),
    "GET /rounds/{round_id}/dialogue-requests?region=vestland": lambda w, r: Call(
        f"/rounds/{ROUND}/dialogue-requests", params={"region": "vestland"}
    ),
    "GET /feeds/regions/{region}.ics": lambda w, r: Call("/feeds/regions/vestland.ics"),
    "GET /feeds/regions/{region}.ics?token=": lambda w, r: Call("/feeds/regions/vestland.ics"),
    "GET /feeds/municipalities/{municipality_number}.ics": lambda w, r: Call(
        "/feeds/municipalities/4601.ics"
    ),
    "GET /feeds/municipalities/{municipality_number}.ics?token=": lambda w, r: Call(
        "/feeds/municipalities/4601.ics"
    ),
    "POST /semesters": lambda w, r: Call(
        "/semesters",
        {
            "round_id": ROUND,
            "region": "vestland",
            "number": 1,
            "starts_on": "2030-01-07",
            "ends_on": "2030-06-14",
        },
    ),
    "POST /gatherings": lambda w, r: Call(
        "/gatherings", gathering("vestland", "samling", "2029-11-26", "Samling 2")
    ),
    "POST /reschedulings": lambda w, r: Call(
        "/reschedulings",
        {
            "gathering_id": w.gatherings["moved"],
            "starts_at": oslo("2029-11-21", 10),
            "ends_at": oslo("2029-11-21", 15),
        },
    ),
    "POST /cancellations": lambda w, r: Call(
        "/cancellations", {"gathering_id": w.gatherings["cancelled"], "reason": "Avlyst"}
    ),
    "PUT /branches/{branch}/contact": lambda w, r: Call(
        "/branches/vestland/contact",
        {"name": f"Leder {w.tags['vestland']}", "email": f"leder.{w.tags['vestland']}@example.no"},
    ),
    "PUT /rounds/{round_id}/branches/{branch}/development-areas": lambda w, r: Call(
        f"/rounds/{ROUND}/branches/vestland/development-areas",
        {"areas": ["Samskaping", "Medvirkning i kulturskolen"]},
    ),
    "GET /rounds/{round_id}/development-areas": lambda w, r: Call(
        f"/rounds/{ROUND}/development-areas"
    ),
    "GET /themes": lambda w, r: Call("/themes"),
    "GET /rounds/{round_id}/development-report": lambda w, r: Call(
        f"/rounds/{ROUND}/development-report"
    ),
    "GET /rounds/{round_id}/development-report.csv": lambda w, r: Call(
        f"/rounds/{ROUND}/development-report.csv"
    ),
    "GET /inbound-interest": lambda w, r: Call("/inbound-interest"),
    "GET /inbound-interest/{mail_id}": lambda w, r: Call(f"/inbound-interest/{w.inbound['read']}"),
    "POST /inbound-interest/{mail_id}/confirmation": lambda w, r: Call(
        f"/inbound-interest/{w.inbound['confirm']}/confirmation",
        {"round_id": ROUND, "message": "Styret vil delta."},
    ),
    "POST /inbound-interest/{mail_id}/rejection": lambda w, r: Call(
        f"/inbound-interest/{w.inbound['reject']}/rejection", {"reason": "Ikke en interessemelding"}
    ),
    "POST /dialogue-proposals": lambda w, r: Call(
        "/dialogue-proposals",
        {
            "round_id": ROUND,
            "region": "vestland",
            "topic": f"Forslag {w.tags['vestland']}",
            "venue": venue(),
            "starts_at": oslo("2029-10-23", 13),
            "ends_at": oslo("2029-10-23", 15),
        },
    ),
    "POST /guest-erasures": lambda w, r: Call("/guest-erasures", {"person_id": w.guest}),
    "POST /delingsarena-proposals": lambda w, r: Call(
        "/delingsarena-proposals",
        {
            "round_id": ROUND,
            "region": "vestland",
            "title": "Delingsarena i Bergen",
            "description": f"Forslag {w.tags['vestland']}",
        },
    ),
    "GET /rounds/{round_id}/delingsarena-proposals": lambda w, r: Call(
        f"/rounds/{ROUND}/delingsarena-proposals"
    ),
    "GET /rounds/{round_id}/delingsarena-proposals?region=vestland": lambda w, r: Call(
        f"/rounds/{ROUND}/delingsarena-proposals", params={"region": "vestland"}
    ),
    "POST /dialogue-requests": lambda w, r: Call(
        "/dialogue-requests",
        {"round_id": ROUND, "region": "vestland", "topic": f"Tema {w.tags['vestland']}"},
    ),
    "POST /dialogue-meetings": lambda w, r: Call(
        "/dialogue-meetings",
        {
            "request_id": w.request_id,
            "venue": venue(),
            "starts_at": oslo("2029-10-09", 13),
            "ends_at": oslo("2029-10-09", 15),
        },
    ),
    "POST /supervisions": lambda w, r: Call(
        "/supervisions",
        {
            "round_id": ROUND,
            "municipality_number": "4601",
            "supervisor_id": SUPERVISOR,
            "venue": venue(),
            "starts_at": oslo("2029-11-05", 10),
            "ends_at": oslo("2029-11-05", 12),
        },
    ),
    "POST /rsvps": lambda w, r: Call(
        "/rsvps",
        {
            "gathering_id": w.gatherings["presamling"],
            "region": "vestland",
            "municipality_number": "4601",
            "response": "yes",
        },
    ),
    "POST /attendance": _attendance,
    "GET /rounds/{round_id}/regions/{region}/interim-work": lambda w, r: Call(
        f"/rounds/{ROUND}/regions/vestland/interim-work"
    ),
    "POST /interim-work": lambda w, r: Call(
        "/interim-work",
        {
            "interim_work_id": INTERIM_WORK,
            "after_gathering_id": w.gatherings["moved"],
            "title": "Kartlegging av samarbeidsparter",
            "due_on": "2029-12-01",
        },
    ),
    "POST /interim-work-reports": lambda w, r: Call(
        "/interim-work-reports",
        {
            "interim_work_id": INTERIM_WORK,
            "region": "vestland",
            "municipality_number": "4601",
            "report": "Kartlagt sammen med skolene.",
        },
    ),
    # The signed link is the credential: whatever bearer token comes with it is not looked at.
    "GET /answers/{token}": lambda w, r: Call(f"/answers/{_answer_token(w)}"),
    "POST /answers/{token}": lambda w, r: Call(
        f"/answers/{_answer_token(w)}",
        content="response=maybe",
        content_type="application/x-www-form-urlencoded",
    ),
    # notification
    "GET /deliveries": lambda w, r: Call("/deliveries"),
    "GET /previews": lambda w, r: Call("/previews"),
    "GET /previews/{template}": lambda w, r: Call(f"/previews/{Templates().names()[0]}"),
    "PUT /persons/{person_id}/reminders": lambda w, r: Call(
        f"/persons/{uuid.uuid4()}/reminders", {"reminders": False}
    ),
    "PUT /supervisors/{supervisor_id}": lambda w, r: Call(
        f"/supervisors/{SUPERVISOR}",
        {"name": "Anne Veileder", "email": "anne@example.no", "language": "nb"},
    ),
    "DELETE /supervisors/{supervisor_id}": lambda w, r: Call(f"/supervisors/{SUPERVISOR}"),
}


def _fixed(path: str) -> Probe:
    return lambda w, role: Call(path)


# The operations routes take no token and name nothing.
PROBES |= {
    f"GET {path}": _fixed(path)
    for path in (
        "/openapi.json",
        "/docs",
        "/docs/oauth2-redirect",
        "/redoc",
        "/healthz",
        "/readyz",
        "/metrics",
        "/asyncapi.json",
        "/asyncapi",
    )
}
PROBES["GET /docs/assets/{name}"] = _fixed("/docs/assets/swagger-ui.css")

NOTIFICATION_TABLES = {
    "supervisors": "SELECT * FROM supervisors",
    "reminder_opt_outs": "SELECT * FROM reminder_opt_outs",
}


def probe_key(row: Row) -> str:
    return f"{row.method} {row.route}" + (f"?{row.variant}" if row.variant else "")


# --- the services and the data ------------------------------------------------------------------


@contextlib.asynccontextmanager
async def started_notification(
    endpoints: Endpoints, database: TestDatabase, prefix: str
) -> AsyncIterator[httpx.AsyncClient]:
    settings = NotificationSettings(
        kafka_bootstrap=endpoints.kafka_bootstrap,
        database_url=database.dsns["notification"],
        topic_prefix=prefix,
        smtp_host=endpoints.smtp_host,
        smtp_port=endpoints.smtp_port,
        mail_sending=False,  # what it plans is not the point here
        api_tokens=json.dumps(notification_tokens()),
        person_token_secret=PERSON_TOKEN_SECRET,
    )
    app = notification_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://n") as client,
    ):
        yield client


async def prepare_registration(w: World) -> None:
    """Round 2030 (and two to close and cancel), interest and applications from both."""
    app = w.registration
    await app.open_round(windows=(WINDOW_46, WINDOW_42))
    for spare in ("2031", "2032"):
        await app.accepted("/rounds", {"round_id": spare}, status=201)
    registered = await app.accepted(
        "/interest-registrations",
        w.interest("vestland", ["4601", "4640", "4627"]),
        VESTLAND,
        status=201,
    )
    w.interest_id = registered["registration_id"]
    await app.accepted("/interest-registrations", w.interest("agder", ["4204"]), AGDER, status=201)
    bergen = ["kulturskole", "grunnskole", "barnehage", "barnehage", "barnehage", "barnehage"]
    for who, branch, number, roles in (
        (VESTLAND, "vestland", "4601", bergen),
        (VESTLAND, "vestland", "4627", ["kulturskole", "grunnskole"]),
        (AGDER, "agder", "4204", ["kulturskole", "grunnskole"]),
    ):
        await app.accepted("/application-drafts", w.draft(branch, number, roles), who)
        await app.accepted(
            "/application-submissions", {"round_id": ROUND, "municipality_number": number}, who
        )
    await app.accepted(
        "/application-drafts", w.draft("vestland", "4640", ["kulturskole"]), VESTLAND
    )
    early = {"round_id": ROUND, "early_reason": "Vedtatt før fristen"}
    await app.accepted("/decisions", early | {"municipality_number": "4601", "decision": "admit"})
    for branch, number in (("vestland", "4627"), ("agder", "4204")):
        await app.accepted(
            "/decisions",
            early
            | {
                "municipality_number": number,
                "decision": "decline",
                "reason": f"Begrunnelse {w.tags[branch]}",
            },
        )
    bergen_group = (await app.get(f"/rounds/{ROUND}/applications/4601", PROGRAMME))["group"]
    w.removable = [m["person_id"] for m in bergen_group if m["role"] == "barnehage"]
    askoy = (await app.get(f"/rounds/{ROUND}/applications/4627", PROGRAMME))["group"]
    w.erasable = askoy[1]["person_id"]
    kristiansand = (await app.get(f"/rounds/{ROUND}/applications/4204", PROGRAMME))["group"]
    w.agder_member = kristiansand[1]["person_id"]
    reference = ReferenceData.load()
    for name, branch in (("read", "Vestland"), ("confirm", "Rogaland"), ("reject", "Agder")):
        text = f"Styret i {branch} melder interesse. Hilsen Kontakt {w.tags['vestland']}"
        mail = read_mail(
            reference,
            f"post.{name}@example.no",
            (
                f"From: Kontakt <post.{name}@example.no>\r\nTo: post@kulturskoleradet.no\r\n"
                f"Subject: Fremtidens kulturskole, Regionale program\r\n"
                f"Message-ID: <{uuid.uuid4()}@example.no>\r\n\r\n{text}\r\n"
            ).encode(),
        )
        kept = await inbound.keep(app.db, mail_id=uuid.uuid4(), mail=mail, at=app.clock())
        w.inbound[name] = str(kept)


async def prepare_scheduling(w: World) -> None:
    """A gathering in each region (and two to move and cancel), a dialogue request in each."""
    s = w.scheduling

    async def projected() -> bool:
        admitted = await s.db.fetchval(
            "SELECT count(*) FROM participants WHERE status = 'admitted'"
        )
        interests = await s.db.fetchval("SELECT count(*) FROM interests")
        return bool(admitted == 1 and interests == 2)

    await eventually(projected, timeout=30, what="registration's events read by scheduling")
    for name, body in (
        ("presamling", gathering("vestland", "presamling", "2029-10-16", "Presamling Vest")),
        ("moved", gathering("vestland", "samling", "2029-11-19", "Samling 1")),
        ("cancelled", gathering("vestland", "delingsarena", "2029-12-03", "Delingsarena")),
        ("agder", gathering("agder", "presamling", "2029-10-17", "Presamling Agder")),
    ):
        w.gatherings[name] = (await s.accepted("/gatherings", body, status=201))["gathering_id"]
    for branch, who in (("vestland", VESTLAND), ("agder", AGDER)):
        asked = await s.accepted(
            "/dialogue-requests",
            {"round_id": ROUND, "region": branch, "topic": f"Tema {w.tags[branch]}"},
            who,
            status=201,
        )
        if branch == "vestland":
            w.request_id = asked["request_id"]
        await s.accepted(
            "/delingsarena-proposals",
            {
                "round_id": ROUND,
                "region": branch,
                "title": f"Delingsarena {branch}",
                "description": f"Forslag {w.tags[branch]}",
            },
            who,
            status=201,
        )
    await s.accepted(
        "/dialogue-proposals",
        {
            "round_id": ROUND,
            "region": "vestland",
            "topic": "Samarbeid med fylkeskommunen",
            "venue": venue(),
            "starts_at": oslo("2029-10-24", 13),
            "ends_at": oslo("2029-10-24", 15),
            "guests": [{"name": "Gjest Gjestesen", "email": "gjest@example.no"}],
        },
        status=201,
    )
    w.guest = str(await s.db.fetchval("SELECT person_id FROM guests"))

    async def bergen_invited() -> bool:
        return "municipality:4601" in await s.invited(w.gatherings["presamling"])

    await eventually(bergen_invited, timeout=30, what="Bergen invited to the presamling")


@dataclass(frozen=True)
class Crossing:
    """A board naming what is its own (its region, its municipality) to reach what is
    another county's: refused with `status`, nothing stored."""

    what: str
    service: str
    method: str
    call: Callable[[World], Call]
    status: int


CROSSINGS = [
    Crossing(
        "Vestland's board answers for Agder's gathering, saying it is Vestland's",
        "scheduling",
        "POST",
        lambda w: Call(
            "/rsvps",
            {
                "gathering_id": w.gatherings["agder"],
                "region": "vestland",
                "municipality_number": "4204",
                "response": "no",
            },
        ),
        422,
    ),
    Crossing(
        "Vestland's board records attendance at Agder's gathering, saying it is Vestland's",
        "scheduling",
        "POST",
        lambda w: Call(
            "/attendance",
            {"gathering_id": w.gatherings["agder"], "region": "vestland", "present_persons": []},
        ),
        422,
    ),
    Crossing(
        "Vestland's board removes a member of Kristiansand's group through Bergen",
        "registration",
        "POST",
        lambda w: Call(
            "/group-member-removals",
            {"round_id": ROUND, "municipality_number": "4601", "person_id": w.agder_member},
        ),
        404,
    ),
    Crossing(
        "Vestland's board replaces a member of Kristiansand's group through Bergen",
        "registration",
        "POST",
        lambda w: Call(
            "/group-member-replacements",
            {
                "round_id": ROUND,
                "municipality_number": "4601",
                "person_id": w.agder_member,
                "member": w.member("vestland", "grunnskole"),
            },
        ),
        404,
    ),
    Crossing(
        "Vestland's board erases a person of Agder's",
        "registration",
        "POST",
        lambda w: Call("/erasures", {"person_id": w.agder_member}),
        403,
    ),
    Crossing(
        "Vestland's board lists Agder's applications, naming the branch by name",
        "registration",
        "GET",
        lambda w: Call(f"/rounds/{ROUND}/applications", params={"branch": "Agder"}),
        403,
    ),
    Crossing(
        "Vestland's board exports Agder's participants, naming the branch by name",
        "registration",
        "GET",
        lambda w: Call(f"/rounds/{ROUND}/participants.csv", params={"branch": "Agder"}),
        403,
    ),
]


# --- the matrix ------------------------------------------------------------------------------------


def token_of(role: str) -> str | None:
    """The bearer token of a column, or a person token signed now for a person's."""
    if role in PERSONS:
        _, person_role, name, branch, expired = PERSONS[role]
        return person_token(person_role, name, branch, expired=expired)
    return TOKENS[role]


def headers_for(role: str, row: Row, call: Call) -> dict[str, str]:
    token = token_of(role)
    headers = {"Content-Type": call.content_type} if call.content_type else {}
    if token is not None and row.variant != "token=":
        headers["Authorization"] = f"Bearer {token}"
    return headers


def params_for(role: str, row: Row, call: Call) -> dict[str, str]:
    token = token_of(role)
    if row.variant != "token=" or token is None:
        return call.params
    return {**call.params, "token": WRONG_QUERY_TOKEN if role == "wrong token" else token}


def judged(row: Row, role: str, response: httpx.Response, tags: dict[str, str]) -> list[str]:
    """What is wrong with `response` for `role` on `row` (nothing: an empty list)."""
    status, expected = response.status_code, row.expected[column(role)]
    where = f"{row.name} as {role}: {status}"
    problem = response.headers.get("content-type", "").startswith("application/problem+json")
    wrong = []
    if status >= 500:
        wrong.append(f"{where}, a server error: {response.text[:200]}")
    elif expected == "ok":
        redirect = row.method == "GET" and status == 307  # /asyncapi to its JSON
        if status in (401, 403) or (row.method == "GET" and status >= 300 and not redirect):
            wrong.append(f"{where}, expected allowed: {response.text[:200]}")
        elif status >= 400 and not problem:
            wrong.append(f"{where}: a refusal that is no problem document")
    else:
        if str(status) != expected or not problem:
            wrong.append(f"{where}, expected {expected}: {response.text[:200]}")
        if status == 401 and "www-authenticate" not in response.headers:
            wrong.append(f"{where} without WWW-Authenticate")
    if status < 300:
        for branch, tag in tags.items():
            if tag in response.text and column(role) not in MAY_SEE[branch]:
                wrong.append(f"{where} shows {branch}'s details")
    return wrong


async def scheduling_caught_up(w: World, endpoints: Endpoints, prefix: str) -> None:
    """Scheduling has handled every event registration published, so its tables change
    only by the calls that follow (a refused one must change nothing)."""

    async def published() -> bool:
        waiting = await w.registration.db.fetchval(
            "SELECT count(*) FROM outbox WHERE published_at IS NULL"
        )
        return bool(waiting == 0)

    await eventually(published, timeout=20, what="registration's outbox published")
    group = SchedulingSettings.model_construct(topic_prefix=prefix).group_id
    probe = LagProbe(endpoints.kafka_bootstrap, group, [w.registration.events])
    await probe.start()
    try:

        async def no_lag() -> bool:
            lag = await probe.lag()
            return bool(lag) and not any(lag.values())

        await eventually(no_lag, timeout=30, what="scheduling to catch up with registration")
    finally:
        await probe.close()


async def crossings(w: World, snapshot: Callable[[str], Awaitable[Any]]) -> list[str]:
    wrong = []
    clients = {"registration": w.registration.client, "scheduling": w.scheduling.client}
    # Vestland's board by its API token, and a person of it signed in through the front.
    boards = {"": VESTLAND, " (person token)": as_person("board", "Vera Vestland", "vestland")}
    for (how, headers), crossing in itertools.product(boards.items(), CROSSINGS):
        what = crossing.what + how
        call = crossing.call(w)
        before = await snapshot(crossing.service)
        response = await clients[crossing.service].request(
            crossing.method, call.path, json=call.json, params=call.params, headers=headers
        )
        problem = response.headers.get("content-type", "").startswith("application/problem+json")
        if response.status_code != crossing.status or not problem:
            wrong.append(
                f"{what}: {response.status_code}, expected {crossing.status}: {response.text[:200]}"
            )
        if await snapshot(crossing.service) != before:
            wrong.append(f"{what}: refused, but changed what is stored")
        if w.tags["agder"] in response.text:
            wrong.append(f"{what}: shows Agder's details")
    return wrong


async def test_every_route_answers_every_role_as_the_readme_says(
    registration: Registration, endpoints: Endpoints, database: TestDatabase, topic_prefix: str
) -> None:
    tags = {branch: f"{branch[:1]}{uuid.uuid4().hex[:10]}" for branch in MAY_SEE}
    table = rows()
    assert {probe_key(r) for r in table} <= set(PROBES), "a row of the table without a probe"
    async with (
        started_scheduling(endpoints, database, topic_prefix, START) as scheduling,
        started_notification(endpoints, database, topic_prefix) as notification,
        contextlib.AsyncExitStack() as stack,
    ):
        w = World(tags, registration, scheduling, notification)
        await prepare_registration(w)
        await prepare_scheduling(w)
        response = await notification.put(
            f"/supervisors/{SUPERVISOR}",
            json={"name": "Anne Veileder", "email": "anne@example.no"},
            headers=PROGRAMME,
        )
        assert response.status_code == 200, response.text
        notification_db = await connect(database.dsns["notification"], "notification")
        stack.push_async_callback(notification_db.close)
        clients = {
            "registration": registration.client,
            "scheduling": scheduling.client,
            "notification": notification,
        }

        async def snapshot(service: str) -> Any:
            if service == "registration":
                return await registration.snapshot()
            if service == "scheduling":
                return await scheduling.snapshot()
            return {
                t: sorted(str(dict(r)) for r in await notification_db.fetch(q))
                for t, q in NOTIFICATION_TABLES.items()
            }

        failures: list[str] = []
        # Reads first (writes change what they read), then the writes in the table's order,
        # scheduling's before the others: registration's revocation takes Bergen out of the
        # programme, and with it out of the calendar, where a veiledning needs it admitted.
        writes = sorted(
            (r for r in table if r.method != "GET"), key=lambda r: r.service != "scheduling"
        )
        for row in [r for r in table if r.method == "GET"] + writes:
            if row is writes[0]:
                await scheduling_caught_up(w, endpoints, topic_prefix)
                failures += await crossings(w, snapshot)
            if row is next(r for r in writes if r.service == "scheduling"):
                await scheduling_caught_up(w, endpoints, topic_prefix)
            answered = {}
            # Refusals first, so each refused write is compared with a settled state.
            for role in sorted(CALLERS, key=lambda role: row.expected[column(role)] == "ok"):
                call = PROBES[probe_key(row)](w, column(role))
                refused_write = row.method != "GET" and row.expected[column(role)] != "ok"
                before = await snapshot(row.service) if refused_write else None
                try:
                    response = await clients[row.service].request(
                        row.method,
                        call.path,
                        json=call.json,
                        content=call.content,
                        params=params_for(role, row, call),
                        headers=headers_for(role, row, call),
                    )
                except Exception as error:  # in-process, a 500 surfaces as its exception
                    failures.append(f"{row.name} as {role}: a server error, {error!r}")
                    continue
                answered[role] = response.status_code
                failures += judged(row, role, response, tags)
                if before is not None and await snapshot(row.service) != before:
                    failures.append(f"{row.name} as {role}: refused, but changed what is stored")
            allowed = [
                answered.get(role, 0) for role in CALLERS if row.expected[column(role)] == "ok"
            ]
            if row.method != "GET" and not any(200 <= s < 300 for s in allowed):
                # The probe itself must be a request that can succeed, or "allowed" says little.
                failures.append(f"{row.name}: no allowed caller succeeded: {answered}")

    assert not failures, "\n".join(failures)
