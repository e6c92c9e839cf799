"""The notification service's mail, read back from a real SMTP server on loopback.

The service runs in-process through its lifespan (its real FastStream subscribers, mail and
reminder workers) on the real Kafka and PostgreSQL; the test publishes what registration and
scheduling would publish and reads what an SMTP sink process received: headers, language,
the plain and HTML bodies, and the calendar part parsed back with `icalendar`.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Session
from aiosmtpd.smtp import Envelope as SmtpEnvelope
from icalendar import Calendar

from services.notification.adapters import repository
from services.notification.adapters.mailer import Marker, SmtpPool, send_batch
from services.notification.adapters.mailer import _event as sent_event
from services.notification.app import create_app, local_tokens
from services.notification.domain.messages import PlannedMail
from services.notification.entrypoints.http import SAMPLE
from services.notification.settings import NotificationSettings
from services.notification.templates import Templates
from shared.contracts.events import registration as reg
from shared.contracts.events import scheduling as sched
from shared.contracts.events.base import Contract
from shared.contracts.events.notification import NotificationFailed, NotificationSent
from shared.contracts.topics import events_topic
from shared.messaging.envelope import Envelope
from shared.testing.fixtures import ROOT, Endpoints, TestDatabase, eventually, free_port
from tests.integration.support import (
    NOTIFICATION_MIGRATIONS,
    data_of,
    headers_of,
    migrated_pool,
    read_to_end,
)

pytestmark = pytest.mark.integration

OSLO = ZoneInfo("Europe/Oslo")
DASH = "\u2013"  # the en dash of subjects and times
MAILBOX = "post@kulturskoleradet.no"
PROGRAMME_SUBJECT = "Fremtidens kulturskole, Regionale program"
PROGRAMME_TOKEN = next(t for t, p in local_tokens().items() if p["role"] == "programme")
OBSERVER_TOKEN = next(t for t, p in local_tokens().items() if p["role"] == "observer")


# --- an SMTP sink process of our own (the shared one may run older code; the outage test
# --- stops and starts it) -------------------------------------------------------------------


@dataclass
class SinkProcess:
    folder: Path
    smtp_port: int = field(default_factory=free_port)
    web_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def web(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "shared.devtools.smtp_sink",
                "--smtp-port",
                str(self.smtp_port),
                "--web-port",
                str(self.web_port),
                "--store",
                str(self.folder),  # the same folder again after a restart: nothing lost
            ],
            cwd=ROOT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                # Its schema, not its messages: a restart over many stored mails answers
                # this at once, while the first listing of them takes a while.
                if httpx.get(f"{self.web}/openapi.json", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)  # start-up poll with a deadline
        raise TimeoutError("the SMTP sink did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)
        self.proc = None

    async def messages(self) -> list[dict[str, Any]]:
        async with httpx.AsyncClient(timeout=30) as client:
            response = await client.get(f"{self.web}/api/messages")
            response.raise_for_status()
            found: list[dict[str, Any]] = response.json()
        return found


@pytest.fixture(scope="module")
def sink_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SinkProcess]:
    sink = SinkProcess(tmp_path_factory.mktemp("sink"))
    sink.start()
    yield sink
    sink.stop()


# --- the service, and what the other services would publish ----------------------------------


def settings_for(
    endpoints: Endpoints, database: TestDatabase, prefix: str, smtp_port: int, **extra: Any
) -> NotificationSettings:
    values: dict[str, Any] = {
        "kafka_bootstrap": endpoints.kafka_bootstrap,
        "database_url": database.dsns["notification"],
        "topic_prefix": prefix,
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp_port,
        "smtp_timeout_s": 5,
        "mail_poll_interval_s": 0.2,
        "mail_retry_base_s": 0.2,
        "mail_retry_max_s": 1.0,
        "reminder_poll_interval_s": 0.2,
        "reply_to_wait_s": 10,
        "api_tokens": json.dumps(local_tokens()),
        **extra,
    }
    return NotificationSettings(**values)


@dataclass
class Harness:
    db: asyncpg.Pool
    producer: AIOKafkaProducer
    prefix: str
    sink: SinkProcess
    app: Any

    async def publish(self, contract: Contract, *, envelope: Envelope | None = None) -> Envelope:
        if isinstance(contract, reg.ContactDetails):
            topic = reg.contacts_topic(self.prefix)
        else:
            topic = events_topic(contract.SERVICE, self.prefix)
        envelope = envelope or Envelope.wrap(contract, source=f"/test/{contract.SERVICE}")
        await self.producer.send_and_wait(
            topic, value=envelope.data, key=contract.key().encode(), headers=envelope.headers()
        )
        return envelope

    async def person(self, name: str, email: str, language: str = "nb") -> uuid.UUID:
        person_id = uuid.uuid4()
        await self.publish(
            reg.ContactDetails(
                person_id=person_id, name=name, email=email, language=reg.Language(language)
            )
        )
        return person_id

    async def mails_to(self, address: str, n: int, *, timeout: float = 30) -> list[dict[str, Any]]:
        """Wait until `address` has `n` mails; fail on more."""

        async def check() -> list[dict[str, Any]] | None:
            found = [m for m in await self.sink.messages() if address in m["envelope_to"]]
            assert len(found) <= n, [m["subject"] for m in found]
            return found if len(found) == n else None

        found = await eventually(check, timeout=timeout, what=f"{n} mail(s) to {address}")
        return found

    async def deliveries(self, **where: Any) -> list[dict[str, Any]]:
        clauses = " AND ".join(f"{k} = ${i}" for i, k in enumerate(where, 1)) or "true"
        rows = await self.db.fetch(
            f"SELECT * FROM deliveries WHERE {clauses} ORDER BY created_at", *where.values()
        )
        return [dict(r) for r in rows]

    def http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://t")


@pytest.fixture
async def harness_factory(
    endpoints: Endpoints, database: TestDatabase, topic_prefix: str
) -> AsyncIterator[Any]:
    producer = AIOKafkaProducer(bootstrap_servers=endpoints.kafka_bootstrap)
    await producer.start()
    stack: list[Any] = []

    async def start(sink: SinkProcess, smtp_port: int | None = None, **extra: Any) -> Harness:
        settings = settings_for(
            endpoints, database, topic_prefix, smtp_port or sink.smtp_port, **extra
        )
        app = create_app(settings)
        lifespan = app.router.lifespan_context(app)
        await lifespan.__aenter__()
        stack.append(lifespan)
        return Harness(app.state.runtime.pool, producer, topic_prefix, sink, app)

    try:
        yield start
    finally:
        for lifespan in reversed(stack):
            await lifespan.__aexit__(None, None, None)
        await producer.stop()


@pytest.fixture
async def harness(harness_factory: Any, sink_process: SinkProcess) -> Harness:
    found: Harness = await harness_factory(sink_process)
    return found


def token() -> str:
    return uuid.uuid4().hex[:10]


def interest(contact: uuid.UUID, **changes: Any) -> reg.InterestRegistered:
    values: dict[str, Any] = {
        "registration_id": uuid.uuid4(),
        "round_id": "2030",
        "branch_id": "vestland",
        "branch_name": "Vestland",
        "county_numbers": ["46"],
        "municipality_numbers": ["4601", "4621"],
        "contact_person_id": contact,
        "message": "Vi gler oss.",
        "registered_at": datetime(2029, 9, 10, 12, 0, tzinfo=UTC),
    }
    values.update(changes)
    return reg.InterestRegistered(**values)


def interest_in(
    branch_id: str, branch_name: str, county: str, municipality: str, contact: uuid.UUID
) -> reg.InterestRegistered:
    """Interest from another branch than Vestland, in one municipality of one county."""
    return interest(
        contact,
        branch_id=branch_id,
        branch_name=branch_name,
        county_numbers=[county],
        municipality_numbers=[municipality],
    )


def calendar_of(mail: dict[str, Any]) -> Calendar:
    """The .ics attachment of a mail, parsed back."""
    files = [p for p in mail["parts"] if p["content_type"] == "text/calendar" and p["filename"]]
    assert len(files) == 1, mail["parts"]
    return Calendar.from_ical(files[0]["content"])


def vevent(cal: Calendar) -> Any:
    events = list(cal.walk("VEVENT"))
    assert len(events) == 1
    return events[0]


# --- interest: receipt and programme copy -------------------------------------------------------


async def test_interest_receipt_in_the_contacts_language_and_a_copy_that_answers_to_them(
    harness: Harness,
) -> None:
    t = token()
    kari = await harness.person(f"Kari {t}", f"kari-{t}@example.no", "nn")
    await harness.publish(interest(kari))

    [receipt] = await harness.mails_to(f"kari-{t}@example.no", 1)
    assert receipt["subject"] == f"Kvittering: interesse for Fremtidens kulturskole {DASH} Vestland"
    assert receipt["headers"]["Content-Language"] == "nn"
    assert receipt["to"] == f"Kari {t} <kari-{t}@example.no>"
    assert receipt["text"].startswith(f"Hei Kari {t},\n")
    assert "Venleg helsing" in receipt["text"]
    # Municipalities by name, in both bodies.
    for body in (receipt["text"], receipt["html"]):
        assert "Bergen og Voss" in body
        assert "4601" not in body
    assert '<html lang="nn">' in receipt["html"]

    copies = [
        m
        for m in await harness.sink.messages()
        if MAILBOX in m["envelope_to"] and f"Kari {t}" in m["text"]
    ]
    assert len(copies) == 1
    copy = copies[0]
    assert copy["subject"] == PROGRAMME_SUBJECT
    assert copy["headers"]["Reply-To"] == f"Kari {t} <kari-{t}@example.no>"
    assert copy["headers"]["Content-Language"] == "nb"
    assert "Fylkesavdeling: Vestland" in copy["text"]
    assert f"Kontaktperson: Kari {t}" in copy["text"]
    assert "Interesserte medlemskommuner: Bergen og Voss" in copy["text"]
    assert "Melding fra fylkesavdelingen:" in copy["html"]


async def test_a_redelivered_event_sends_nothing_twice(harness: Harness) -> None:
    t = token()
    kari = await harness.person(f"Kari {t}", f"kari-{t}@example.no")
    event = interest(kari)
    first = await harness.publish(event)
    await harness.publish(event, envelope=first)  # the same message again, same id
    await harness.mails_to(f"kari-{t}@example.no", 1)
    # A later event for the same person shows the copy was read (and sent nothing).
    await harness.publish(interest(kari, round_id="2031"))
    mails = await harness.mails_to(f"kari-{t}@example.no", 2)
    assert (
        sorted(m["subject"] for m in mails)
        == [f"Kvittering: interesse for Fremtidens kulturskole {DASH} Vestland"] * 2
    )
    assert len({m["message_id"] for m in mails}) == 2

    # The server takes a mail a moment before the worker marks it sent: wait for the mark,
    # and see that no third delivery was planned for the redelivered copy.
    async def both_marked() -> list[str]:
        found = await harness.deliveries(template="interest_receipt", person_id=kari)
        statuses = [d["status"] for d in found]
        return statuses if statuses == ["sent", "sent"] else []

    await eventually(both_marked, timeout=30, what="both receipts marked sent")


# --- applications and decisions ---------------------------------------------------------------------


async def test_decisions_reach_the_board_and_the_kommunegruppe(harness: Harness) -> None:
    t = token()
    board = await harness.person(f"Styre {t}", f"styre-{t}@example.no")
    kulturskole = await harness.person(f"Rektor {t}", f"rektor-{t}@example.no", "en")
    teacher = await harness.person(f"Lærer {t}", f"laerer-{t}@example.no")
    await harness.publish(interest(board))
    await harness.mails_to(f"styre-{t}@example.no", 1)

    group = [
        reg.GroupMemberRef(person_id=teacher, role=reg.GroupRole.GRUNNSKOLE),
        reg.GroupMemberRef(person_id=kulturskole, role=reg.GroupRole.KULTURSKOLE),
    ]
    facts: dict[str, Any] = {
        "application_id": uuid.uuid4(),
        "round_id": "2030",
        "municipality_number": "4621",
        "county_number": "46",
        "branch_id": "vestland",
    }
    now = datetime.now(UTC)
    await harness.publish(
        reg.ApplicationSubmitted(
            **facts, development_areas=["Medvirkning"], group=group, submitted_at=now
        )
    )
    # The board, the municipality's contact (its kulturskole) and the programme mailbox.
    [received] = await harness.mails_to(f"rektor-{t}@example.no", 1)
    assert received["subject"] == "The application from Voss has been received"
    assert "Development areas: Medvirkning" in received["text"]
    await harness.mails_to(f"styre-{t}@example.no", 2)

    await harness.publish(reg.MunicipalityAdmitted(**facts, decided_at=now, group=group))
    admitted = (await harness.mails_to(f"laerer-{t}@example.no", 1))[0]
    assert admitted["subject"] == "Voss er tatt opp i Fremtidens kulturskole"
    assert "seks fysiske samlinger" in admitted["text"]
    [_, english] = await harness.mails_to(f"rektor-{t}@example.no", 2)
    assert english["subject"] == "Voss is admitted to Fremtidens kulturskole"
    await harness.mails_to(f"styre-{t}@example.no", 3)

    other = {**facts, "application_id": uuid.uuid4(), "municipality_number": "4601"}
    await harness.publish(reg.MunicipalityWaitlisted(**other, decided_at=now, position=2))
    waitlisted = (await harness.mails_to(f"styre-{t}@example.no", 4))[-1]
    assert waitlisted["subject"] == "Bergen står på venteliste i Fremtidens kulturskole"
    assert "nummer 2 på ventelisten" in waitlisted["text"]
    await harness.publish(
        reg.MunicipalityDeclined(**other, decided_at=now, reason="Ingen plass i regionen.")
    )
    declined = (await harness.mails_to(f"styre-{t}@example.no", 5))[-1]
    assert "Begrunnelse:\nIngen plass i regionen." in declined["text"]
    assert "Ingen plass i regionen." in declined["html"]

    # A member added later is welcomed; a revoked admission reaches the whole group.
    nina = await harness.person(f"Nina {t}", f"nina-{t}@example.no", "nn")
    await harness.publish(
        reg.GroupMemberAdded(
            application_id=facts["application_id"],
            round_id="2030",
            municipality_number="4621",
            person_id=nina,
            role=reg.GroupRole.BARNEHAGE,
            changed_at=now,
        )
    )
    [welcome] = await harness.mails_to(f"nina-{t}@example.no", 1)
    assert welcome["subject"] == f"Velkomen i kommunegruppa for Voss {DASH} Fremtidens kulturskole"
    assert "- delta på fellessamlingane" in welcome["text"]
    assert "<li>delta på fellessamlingane" in welcome["html"]
    await harness.publish(
        reg.AdmissionRevoked(
            application_id=facts["application_id"],
            round_id="2030",
            municipality_number="4621",
            county_number="46",
            branch_id="vestland",
            reason="Kommunen stiller ikke på samlingene.",
            revoked_at=now,
        )
    )
    revoked = (await harness.mails_to(f"nina-{t}@example.no", 2))[-1]
    assert revoked["subject"] == f"Opptaket av Voss er trekt tilbake {DASH} Fremtidens kulturskole"
    assert "Kommunen stiller ikke på samlingene." in revoked["text"]
    await harness.mails_to(f"laerer-{t}@example.no", 2)
    await harness.mails_to(f"styre-{t}@example.no", 6)


# --- gatherings and their calendar ----------------------------------------------------------------


def gathering_facts(gathering_id: uuid.UUID, starts: datetime, sequence: int) -> dict[str, Any]:
    return {
        "gathering_id": gathering_id,
        "round_id": "2030",
        "region": "vestland",
        "kind": sched.GatheringKind.SAMLING,
        "title": "Samling 1",
        "venue": sched.VenueInfo(name="Grieghallen", address="Edvard Griegs plass 1, Bergen"),
        "starts_at": starts,
        "ends_at": starts + timedelta(hours=6),
        "sequence": sequence,
    }


async def test_invitation_change_and_cancellation_update_one_calendar_entry(
    harness: Harness,
) -> None:
    t = token()
    member = await harness.person(f"Ola {t}", f"ola-{t}@example.no")
    gathering_id = uuid.uuid4()
    # 10:00 in Oslo in winter (CET): 09:00 UTC.
    starts = datetime(2031, 2, 3, 9, 0, tzinfo=UTC)
    await harness.publish(sched.GatheringScheduled(**gathering_facts(gathering_id, starts, 0)))
    invitation_id = uuid.uuid4()
    await harness.publish(
        sched.InvitationIssued(
            invitation_id=invitation_id,
            gathering_id=gathering_id,
            round_id="2030",
            region="vestland",
            kind=sched.GatheringKind.SAMLING,
            person_id=member,
            municipality_number="4601",
            role=sched.InviteeRole.KULTURSKOLE,
            sequence=0,
            starts_at=starts,
            ends_at=starts + timedelta(hours=6),
        )
    )
    [invited] = await harness.mails_to(f"ola-{t}@example.no", 1)
    assert invited["subject"] == f"Invitasjon: Samling 1 03.02.2031 {DASH} Fremtidens kulturskole"
    assert f"Tid: 03.02.2031 kl. 10:00{DASH}16:00" in invited["text"]
    cal = calendar_of(invited)
    event = vevent(cal)
    uid = f"{gathering_id}@kulturskoleradet.no"
    assert (str(cal["METHOD"]), str(event["UID"]), int(event["SEQUENCE"])) == ("REQUEST", uid, 0)
    start = event.decoded("DTSTART")
    assert str(start.tzinfo) == "Europe/Oslo"
    assert start == starts and start.astimezone(OSLO).hour == 10
    assert event["DTSTART"].params["TZID"] == "Europe/Oslo"
    assert "Grieghallen" in str(event["LOCATION"])
    assert str(event["ATTENDEE"]) == f"mailto:ola-{t}@example.no"
    inline = [p for p in invited["parts"] if p["content_type"] == "text/calendar"]
    assert {p["params"].get("method") for p in inline} == {"REQUEST"}

    invitee = sched.Invitee(
        invitation_id=invitation_id,
        person_id=member,
        municipality_number="4601",
        role=sched.InviteeRole.KULTURSKOLE,
    )
    # Moved into summer time: 10:00 in Oslo is then 08:00 UTC.
    moved = datetime(2031, 4, 7, 8, 0, tzinfo=UTC)
    await harness.publish(
        sched.GatheringRescheduled(
            **gathering_facts(gathering_id, moved, 1),
            previous_starts_at=starts,
            previous_ends_at=starts + timedelta(hours=6),
            reason="Hallen er opptatt.",
            invitees=[invitee],
        )
    )
    changed = (await harness.mails_to(f"ola-{t}@example.no", 2))[-1]
    assert changed["subject"] == f"Endret: Samling 1 {DASH} Fremtidens kulturskole"
    assert "Grunn: Hallen er opptatt." in changed["text"]
    event = vevent(calendar_of(changed))
    assert (str(event["UID"]), int(event["SEQUENCE"])) == (uid, 1)
    assert event.decoded("DTSTART").astimezone(OSLO).hour == 10
    assert event.decoded("DTSTART") == moved

    await harness.publish(
        sched.GatheringCancelled(
            gathering_id=gathering_id,
            round_id="2030",
            region="vestland",
            kind=sched.GatheringKind.SAMLING,
            title="Samling 1",
            starts_at=moved,
            ends_at=moved + timedelta(hours=6),
            sequence=2,
            reason="For få påmeldte.",
            invitees=[invitee],
        )
    )
    cancelled = (await harness.mails_to(f"ola-{t}@example.no", 3))[-1]
    assert cancelled["subject"] == f"Avlyst: Samling 1 07.04.2031 {DASH} Fremtidens kulturskole"
    cal = calendar_of(cancelled)
    event = vevent(cal)
    assert (str(cal["METHOD"]), str(event["UID"]), int(event["SEQUENCE"])) == ("CANCEL", uid, 2)
    assert str(event["STATUS"]) == "CANCELLED"
    # A cancelled gathering reminds nobody.
    reminders = await harness.db.fetch(
        "SELECT status FROM reminders WHERE subject = $1", str(gathering_id)
    )
    assert reminders and {r["status"] for r in reminders} == {"dropped"}


async def test_a_municipality_invited_as_such_reaches_its_board(harness: Harness) -> None:
    t = token()
    board = await harness.person(f"Styre {t}", f"styre-{t}@example.no", "en")
    await harness.publish(interest_in("rogaland", "Rogaland", "11", "1103", board))
    await harness.mails_to(f"styre-{t}@example.no", 1)
    gathering_id = uuid.uuid4()
    starts = datetime(2030, 10, 20, 8, 0, tzinfo=UTC)
    facts = {
        **gathering_facts(gathering_id, starts, 0),
        "region": "rogaland",
        "kind": sched.GatheringKind.PRESAMLING,
        "title": "Presamling",
    }
    await harness.publish(sched.GatheringScheduled(**facts))
    await harness.publish(
        sched.InvitationIssued(
            invitation_id=uuid.uuid4(),
            gathering_id=gathering_id,
            round_id="2030",
            region="rogaland",
            kind=sched.GatheringKind.PRESAMLING,
            municipality_number="1103",
            branch_id="rogaland",
            role=sched.InviteeRole.MUNICIPALITY,
            sequence=0,
            starts_at=starts,
            ends_at=starts + timedelta(hours=6),
        )
    )
    mail = (await harness.mails_to(f"styre-{t}@example.no", 2))[-1]
    assert mail["subject"] == f"Invitation: Presamling 20.10.2030 {DASH} Fremtidens kulturskole"
    assert "for the municipality of Stavanger" in mail["text"]
    assert "Pre-gathering" in mail["text"]


# --- failures: one mail's trouble is its own ------------------------------------------------------


async def test_a_template_that_fails_for_one_mail_leaves_the_others_flowing(
    harness: Harness, endpoints: Endpoints
) -> None:
    t = token()
    kari = await harness.person(f"Kari {t}", f"kari-{t}@example.no")
    # A mail whose facts its template cannot be written from (a bug, or an old row).
    async with harness.db.acquire() as conn, conn.transaction():
        await repository.plan_deliveries(
            conn,
            event_id=f"broken-{t}",
            mails=[
                PlannedMail(f"person:{kari}", "admitted", {"round_id": "2030"}, person_id=str(kari))
            ],
        )
    await harness.publish(interest(kari))
    [receipt] = await harness.mails_to(f"kari-{t}@example.no", 1)
    assert receipt["subject"].startswith("Kvittering")

    async def failed() -> list[dict[str, Any]]:
        return [
            d for d in await harness.deliveries(event_id=f"broken-{t}") if d["status"] == "failed"
        ]

    [broken] = await eventually(failed, what="the broken mail marked failed")
    assert "admitted" in broken["last_error"] and "municipality_name" in broken["last_error"]
    assert broken["attempts"] == 1

    topic = events_topic("notification", harness.prefix)

    async def published() -> list[Any]:
        return [
            r
            for r in await read_to_end(endpoints.kafka_bootstrap, topic)
            if data_of(r)["delivery_id"] == str(broken["id"])
        ]

    [record] = await eventually(published, what="notification-failed published")
    assert headers_of(record)["ce_type"] == NotificationFailed.TYPE
    failure = data_of(record)
    assert failure["person_id"] == str(kari) and failure["template"] == "admitted"
    assert "@" not in json.dumps(failure)

    # The receipt that went out is told of too, once its mark is committed and relayed: the
    # SMTP server may accept it before that, and the failure may be published first.
    async def told_sent() -> list[Any]:
        return [
            r
            for r in await read_to_end(endpoints.kafka_bootstrap, topic)
            if headers_of(r)["ce_type"] == NotificationSent.TYPE
            and data_of(r)["person_id"] == str(kari)
        ]

    sent = await eventually(told_sent, what="notification-sent of the receipt published")
    assert [data_of(r)["template"] for r in sent] == ["interest_receipt"]


async def test_an_address_no_header_can_hold_fails_alone_and_nothing_goes_twice(
    harness: Harness,
) -> None:
    """A local part outside ASCII would need SMTPUTF8: that mail fails with the reason, and
    the mail worker goes on, so the mails beside it are sent once, not again."""
    t = token()
    tor = await harness.person(f"Tor {t}", f"trønder-{t}@example.no")
    kari = await harness.person(f"Kari {t}", f"kari-{t}@example.no")
    await harness.publish(interest_in("trondelag", "Trøndelag", "50", "5001", tor))
    await harness.publish(interest(kari))

    async def failed() -> list[dict[str, Any]]:
        return [d for d in await harness.deliveries(person_id=tor) if d["status"] == "failed"]

    [broken] = await eventually(failed, what="the receipt to Tor marked failed")
    assert "SMTPUTF8" in broken["last_error"] and "example.no" not in broken["last_error"]
    assert broken["attempts"] == 1

    async def kari_settled() -> list[dict[str, Any]]:
        return [d for d in await harness.deliveries(person_id=kari) if d["status"] == "sent"]

    await eventually(kari_settled, what="the receipt to Kari marked sent")
    [receipt] = await harness.mails_to(f"kari-{t}@example.no", 1)
    assert receipt["subject"].startswith("Kvittering")


class Refusing:
    """An SMTP server that refuses one address for good (550) and takes the rest."""

    def __init__(self) -> None:
        self.accepted: list[list[str]] = []

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: SmtpEnvelope,
        address: str,
        options: list[str],
    ) -> str:
        if address.startswith("nobody-"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: SmtpEnvelope) -> str:
        self.accepted.append(list(envelope.rcpt_tos))
        return "250 Message accepted"


async def test_a_refused_address_fails_for_good_without_its_address_and_others_flow(
    harness_factory: Any, sink_process: SinkProcess
) -> None:
    server = Refusing()
    port = free_port()
    controller = Controller(server, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        harness: Harness = await harness_factory(sink_process, smtp_port=port)
        t = token()
        nobody = await harness.person("Nobody", f"nobody-{t}@example.no")
        kari = await harness.person("Kari", f"kari-{t}@example.no")
        await harness.publish(interest(nobody))
        await harness.publish(interest(kari))

        async def settled() -> bool:
            rows = await harness.deliveries(template="interest_receipt")
            mine = {r["person_id"]: r for r in rows if r["person_id"] in (nobody, kari)}
            return (
                len(mine) == 2
                and mine[nobody]["status"] == "failed"
                and mine[kari]["status"] == "sent"
            )

        await eventually(settled, what="one refused for good, one sent")
        [refused] = await harness.deliveries(template="interest_receipt", person_id=nobody)
        assert refused["attempts"] == 1  # a 5xx is not tried again
        assert "550" in refused["last_error"] and f"nobody-{t}" not in refused["last_error"]
        assert [f"kari-{t}@example.no"] in server.accepted
    finally:
        controller.stop()


async def test_smtp_outage_every_mail_arrives_once_when_the_server_is_back(
    harness_factory: Any, tmp_path: Path
) -> None:
    sink = SinkProcess(tmp_path / "outage")
    sink.start()
    try:
        harness: Harness = await harness_factory(sink)
        t = token()
        kari = await harness.person(f"Kari {t}", f"kari-{t}@example.no")
        await harness.publish(interest(kari))
        await harness.mails_to(f"kari-{t}@example.no", 1)

        sink.stop()
        rounds = [str(2032 + i) for i in range(5)]
        for round_id in rounds:  # events keep coming while the server is away
            await harness.publish(interest(kari, round_id=round_id))

        async def tried_and_waiting() -> bool:
            rows = await harness.deliveries(template="interest_receipt", person_id=kari)
            waiting = [r for r in rows if r["status"] in ("pending", "sending")]
            return len(waiting) == len(rounds) and all(r["attempts"] >= 1 for r in waiting)

        await eventually(tried_and_waiting, what="mails tried during the outage, waiting")
        sink.start()

        await harness.mails_to(f"kari-{t}@example.no", 1 + len(rounds), timeout=60)
        mails = await sink.messages()
        receipts = [m for m in mails if f"kari-{t}@example.no" in m["envelope_to"]]
        copies = [m for m in mails if MAILBOX in m["envelope_to"]]
        assert len(copies) == 1 + len(rounds)
        ids = Counter(m["message_id"] for m in receipts + copies)
        assert all(n == 1 for n in ids.values()), ids
        rows = await harness.deliveries(person_id=kari)
        assert {r["status"] for r in rows} == {"sent"}
    finally:
        sink.stop()


# --- the HTTP side: log, previews, opt-out, supervisors ------------------------------------------


async def test_delivery_log_and_previews_behind_programme_tokens(harness: Harness) -> None:
    t = token()
    kari = await harness.person(f"Kari {t}", f"kari-{t}@example.no")
    await harness.publish(interest(kari))
    await harness.mails_to(f"kari-{t}@example.no", 1)

    async with harness.http() as client:
        assert (await client.get("/deliveries")).status_code == 401
        observer = {"Authorization": f"Bearer {OBSERVER_TOKEN}"}
        assert (await client.get("/deliveries", headers=observer)).status_code == 403
        auth = {"Authorization": f"Bearer {PROGRAMME_TOKEN}"}

        async def logged() -> list[dict[str, Any]]:
            response = await client.get(
                "/deliveries", params={"person_id": str(kari), "status": "sent"}, headers=auth
            )
            assert response.status_code == 200
            found: list[dict[str, Any]] = response.json()
            return found

        [entry] = await eventually(logged, what="the receipt in the log")
        assert entry["template"] == "interest_receipt" and entry["recipient_kind"] == "person"
        everything = (await client.get("/deliveries", params={"limit": 1000}, headers=auth)).text
        assert "@" not in everything  # no addresses, not even the programme mailbox's
        bad = await client.get("/deliveries", params={"status": "lost"}, headers=auth)
        assert bad.status_code == 422

        names = (await client.get("/previews", headers=auth)).json()["templates"]
        assert {"admitted", "gathering_invitation", "reminder_gathering"} <= set(names)
        for language, greeting in (
            ("nb", "Vennlig hilsen"),
            ("nn", "Venleg helsing"),
            ("en", "Kind regards"),
        ):
            preview = (
                await client.get(
                    "/previews/waitlisted", params={"language": language}, headers=auth
                )
            ).json()
            assert greeting in preview["text"] and "<html" in preview["html"]
            assert "Fremtidens kulturskole" in preview["subject"]
        assert (await client.get("/previews/nothing", headers=auth)).status_code == 404

        opt_out = await client.put(
            f"/persons/{kari}/reminders", json={"reminders": False}, headers=auth
        )
        assert opt_out.status_code == 200
        assert (
            await harness.db.fetchval(
                "SELECT count(*) FROM reminder_opt_outs WHERE person_id = $1", kari
            )
            == 1
        )
        supervisor = await client.put(
            f"/supervisors/veileder-{t}",
            json={"name": "Siri Veileder", "email": f"siri-{t}@example.no", "language": "nn"},
            headers=auth,
        )
        assert supervisor.status_code == 200
        assert supervisor.json() == {"supervisor_id": f"veileder-{t}"}
        refused = await client.put(
            f"/supervisors/veileder-{t}",
            json={"name": "X", "email": "not-an-address"},
            headers=auth,
        )
        assert refused.status_code == 422
        # A retry under the same Idempotency-Key gets the first answer, and runs nothing.
        keyed = {**auth, "Idempotency-Key": f"opt-in-{t}"}
        first = await client.put(
            f"/persons/{kari}/reminders", json={"reminders": True}, headers=keyed
        )
        await client.put(f"/persons/{kari}/reminders", json={"reminders": False}, headers=auth)
        again = await client.put(
            f"/persons/{kari}/reminders", json={"reminders": True}, headers=keyed
        )
        assert (first.status_code, again.status_code) == (200, 200)
        assert first.json() == again.json() == {"person_id": str(kari), "reminders": True}
        assert again.headers["Idempotent-Replayed"] == "true"
        opted_out = "SELECT count(*) FROM reminder_opt_outs WHERE person_id = $1"
        assert await harness.db.fetchval(opted_out, kari) == 1  # the retry changed nothing
        reused = await client.put(
            f"/persons/{kari}/reminders", json={"reminders": False}, headers=keyed
        )
        assert reused.status_code == 422
        # A removal under an Idempotency-Key: its retry is answered as the first (no body),
        # and a new request finds nobody.
        removal = {**auth, "Idempotency-Key": f"remove-{t}"}
        gone = await client.delete(f"/supervisors/veileder-{t}", headers=removal)
        assert gone.status_code == 204 and gone.content == b""
        retried = await client.delete(f"/supervisors/veileder-{t}", headers=removal)
        assert retried.status_code == 204 and retried.content == b""
        assert retried.headers["Idempotent-Replayed"] == "true"
        missing = await client.delete(f"/supervisors/veileder-{t}", headers=auth)
        assert missing.status_code == 404


async def test_a_booked_supervisor_gets_the_invitation_once_their_contact_is_known(
    harness: Harness,
) -> None:
    t = token()
    gathering_id = uuid.uuid4()
    starts = datetime(2031, 3, 3, 12, 0, tzinfo=UTC)
    facts = {
        **gathering_facts(gathering_id, starts, 0),
        "kind": sched.GatheringKind.VEILEDNING,
        "title": "Veiledning",
    }
    await harness.publish(sched.GatheringScheduled(**facts, supervisor_id=f"veileder-{t}"))
    await harness.publish(
        sched.SupervisionBooked(
            gathering_id=gathering_id,
            round_id="2030",
            region="vestland",
            municipality_number="4601",
            supervisor_id=f"veileder-{t}",
            starts_at=starts,
            ends_at=starts + timedelta(hours=6),
        )
    )

    async def waiting() -> bool:
        return len(await harness.deliveries(supervisor_id=f"veileder-{t}")) == 1

    await eventually(waiting, what="the supervisor's mail planned, waiting for an address")
    async with harness.http() as client:
        await client.put(
            f"/supervisors/veileder-{t}",
            json={"name": "Siri Veileder", "email": f"siri-{t}@example.no", "language": "nn"},
            headers={"Authorization": f"Bearer {PROGRAMME_TOKEN}"},
        )
    [mail] = await harness.mails_to(f"siri-{t}@example.no", 1)
    assert mail["subject"] == f"Rettleiing 03.03.2031 {DASH} Fremtidens kulturskole"
    assert "rettleiar for Bergen kommune" in mail["text"]
    event = vevent(calendar_of(mail))
    assert str(event["UID"]) == f"{gathering_id}@kulturskoleradet.no"


@pytest.mark.parametrize("erased_first", [False, True], ids=["tombstone-after", "erased-before"])
async def test_a_replaced_contact_is_told_even_when_erased_around_it(
    harness: Harness, erased_first: bool
) -> None:
    t = token()
    kari, ola = uuid.uuid4(), uuid.uuid4()
    await harness.publish(
        reg.ContactDetails(person_id=kari, name=f"Kari {t}", email=f"kari-{t}@example.no")
    )
    if erased_first:
        # Registration's person-erased event (public topic) may be read before the notice
        # on the contacts topic: the two topics have no order between them.
        await harness.publish(reg.PersonErased(person_id=kari, erased_at=datetime.now(UTC)))

        async def erased() -> bool:
            return bool(
                await harness.db.fetchval(
                    "SELECT count(*) FROM erased_persons WHERE person_id = $1", kari
                )
            )

        await eventually(erased, what="Kari erased")
    # As registration does it: the notice with Kari's details, then the tombstone behind it.
    await harness.publish(
        reg.ContactDetails(
            person_id=kari,
            name=f"Kari {t}",
            email=f"kari-{t}@example.no",
            language=reg.Language.NYNORSK,
            handed_over=reg.ContactHandover(
                registration_id=uuid.uuid4(),
                round_id="2030",
                branch_id="vestland",
                branch_name="Vestland",
                new_contact_person_id=ola,
            ),
        )
    )
    await harness.producer.send_and_wait(
        reg.contacts_topic(harness.prefix), value=None, key=str(kari).encode()
    )
    [notice] = await harness.mails_to(f"kari-{t}@example.no", 1)
    assert notice["subject"] == "Ny kontaktperson for Vestland i Fremtidens kulturskole"
    assert notice["text"].startswith(f"Hei Kari {t},\n")
    assert "Du er ikkje lenger kontaktperson" in notice["text"]

    async def scrubbed() -> bool:
        rows = await harness.deliveries(person_id=kari)
        return [(r["status"], r["address"], r["context"]) for r in rows] == [("sent", None, {})]

    await eventually(scrubbed, what="the sent notice keeping nothing of Kari")
    assert (
        await harness.db.fetchval("SELECT count(*) FROM recipients WHERE person_id = $1", kari) == 0
    )


CLAIM: dict[str, Any] = {"limit": 10, "lease_s": 300, "reply_to_wait_s": 0}


async def planned_pool(
    database: TestDatabase, *boxes: str, context: dict[str, Any] | None = None
) -> asyncpg.Pool:
    """The notification schema, migrated, with one planned mail for each mailbox in `boxes`
    (a 'waitlisted' letter, with `context` for its template)."""
    pool = await migrated_pool(
        database.dsns["notification"], "notification", NOTIFICATION_MIGRATIONS
    )
    mails = [
        PlannedMail(
            f"mailbox:{box}",
            "waitlisted",
            context or {},
            address=f"{box}@example.no",
            language="nb",
        )
        for box in boxes
    ]
    async with pool.acquire() as conn, conn.transaction():
        await repository.plan_deliveries(conn, event_id="e1", mails=mails)
    return pool


async def test_a_gone_workers_claims_are_due_again_once_found_a_live_ones_are_not(
    database: TestDatabase,
) -> None:
    pool = await planned_pool(database, "x")
    try:
        first = await pool.acquire()
        one = await repository.hold_worker_lock(first, 1)
        assert len(await repository.claim_due(one, **CLAIM)) == 1
        second = await pool.acquire()
        two = await repository.hold_worker_lock(second, 2)
        # Worker 1 lives: its claim is its own until its lease runs out.
        assert await repository.gone_workers(pool) == []
        assert await repository.claim_due(two, **CLAIM) == []
        await first.close()  # as a crash would: the session and its lock are gone
        assert await repository.claim_due(two, **CLAIM) == []  # not yet found gone
        gone = await repository.gone_workers(pool)
        assert gone == [1]
        [again] = await repository.claim_due(two, **CLAIM, gone=gone)
        assert again.address == "x@example.no"
        assert await repository.gone_workers(pool) == []  # its claim is worker 2's now
        await pool.release(second)
    finally:
        await pool.close()


async def test_a_worker_whose_session_ended_claims_nothing_under_its_old_key(
    database: TestDatabase,
) -> None:
    # After a database restart a worker's pool reconnects on its own, but its lock is gone:
    # a claim under that key would be anybody's at once, and its mail sent twice.
    pool = await planned_pool(database, "x")
    try:
        async with pool.acquire() as session:
            ended = await repository.hold_worker_lock(session, 3)
            await session.close()
        with pytest.raises(asyncpg.InterfaceError):
            await repository.claim_due(ended, **CLAIM)
        async with pool.acquire() as live:
            lock = await repository.hold_worker_lock(live, 4)
            claimed = await repository.claim_due(lock, **CLAIM)
        assert [m.address for m in claimed] == ["x@example.no"]
    finally:
        await pool.close()


async def test_a_mail_marked_by_two_workers_is_sent_once_with_one_event(
    database: TestDatabase,
) -> None:
    # Two workers sent the same mail (one's claim was taken over): the second to mark it
    # changes nothing, queues no second event, and its other mails are marked with it.
    pool = await planned_pool(database, "a", "b")
    try:
        async with pool.acquire() as session:
            lock = await repository.hold_worker_lock(session, 5)
            claimed = await repository.claim_due(lock, **CLAIM)
        first, second = sorted(claimed, key=lambda m: m.address)

        async with pool.acquire() as conn:
            await repository.mark_sent(conn, [first.id], [sent_event(first, "")])
            await repository.mark_sent(
                conn, [first.id, second.id], [sent_event(first, ""), sent_event(second, "")]
            )
            await repository.mark_failed(conn, [(first.id, "550 late refusal")], [])
        statuses = {
            r["id"]: (r["status"], r["attempts"])
            for r in await pool.fetch("SELECT id, status, attempts FROM deliveries")
        }
        assert statuses == {first.id: ("sent", 1), second.id: ("sent", 1)}
        queued = Counter(r["event_id"] for r in await pool.fetch("SELECT event_id FROM outbox"))
        assert queued == {str(uuid.uuid5(m.id, "sent")): 1 for m in (first, second)}
    finally:
        await pool.close()


class Stamping:
    """An SMTP server that notes when it took each mail (before it answers "250")."""

    def __init__(self) -> None:
        self.taken: dict[str, datetime] = {}

    async def handle_DATA(self, server: SMTP, session: Session, envelope: SmtpEnvelope) -> str:
        for address in envelope.rcpt_tos:
            self.taken[address] = datetime.now(UTC)
        return "250 Message accepted"


async def test_a_mail_is_sent_when_the_server_took_it_not_when_its_mark_got_through(
    database: TestDatabase,
) -> None:
    # The mark of the first mail waits for a lock; the second, taken by the server meanwhile,
    # waits behind that mark. Both rows and both events say when the server took each mail.
    pool = await planned_pool(database, "a", "b", context=dict(SAMPLE))
    server = Stamping()
    port = free_port()
    controller = Controller(server, hostname="127.0.0.1", port=port)
    controller.start()
    settings = NotificationSettings(
        database_url=database.dsns["notification"],
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_starttls=False,
        smtp_connections=1,
    )
    smtp = SmtpPool(settings)
    marker = Marker(pool, "")
    try:
        async with pool.acquire() as session:
            lock = await repository.hold_worker_lock(session, 6)
            claimed = sorted(await repository.claim_due(lock, **CLAIM), key=lambda m: m.address)
            first, second = claimed
            async with pool.acquire() as locker, locker.transaction():
                await locker.execute("SELECT 1 FROM deliveries WHERE id = $1 FOR UPDATE", first.id)
                sending = asyncio.create_task(
                    send_batch(claimed, settings, Templates(), smtp, on_sent=marker.mark)
                )

                async def second_waits_behind_the_first() -> bool:
                    return any(entry[0].id == second.id for entry in marker.waiting)

                await eventually(second_waits_behind_the_first, what="the second mail taken")
                released = datetime.now(UTC)
            outcome = await asyncio.wait_for(sending, 30)
        assert sorted(m.address for m in outcome.marked) == ["a@example.no", "b@example.no"]
        rows = {
            r["address"]: r["sent_at"]
            for r in await pool.fetch("SELECT address, sent_at FROM deliveries")
        }
        events = {
            json.loads(r["payload"])["delivery_id"]: json.loads(r["payload"])["sent_at"]
            for r in await pool.fetch("SELECT payload FROM outbox")
        }
        for mail in claimed:
            sent_at = rows[mail.address]
            assert server.taken[mail.address] <= sent_at < released, mail.address
            assert datetime.fromisoformat(events[str(mail.id)]) == sent_at
    finally:
        await marker.close()
        await smtp.close()
        controller.stop()
        await pool.close()
