"""Reminders: durable in PostgreSQL, sent once, recomputed when a date moves, dropped when
cancelled, never to a person who opted out; read back from a real SMTP server."""

# ruff: noqa: F811 - the fixtures come from the mail tests and are named as arguments
from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.notification.domain.messages import PROGRAMME_SUBJECT
from services.notification.entrypoints.reminders import CONTEXT, send_due_reminders
from services.notification.templates import long_day
from shared.contracts.events import registration as reg
from shared.contracts.events import scheduling as sched
from shared.testing.fixtures import eventually
from tests.integration.test_notification_mail import (  # noqa: F401 (fixtures)
    PROGRAMME_TOKEN,
    Harness,
    gathering_facts,
    harness_factory,
    interest,
    sink_process,
    token,
)

pytestmark = pytest.mark.integration
DASH = "\u2013"
MAILBOX = "post@kulturskoleradet.no"


async def invite(
    harness: Harness, gathering_id: uuid.UUID, person: uuid.UUID, starts: datetime
) -> None:
    await harness.publish(
        sched.InvitationIssued(
            invitation_id=uuid.uuid4(),
            gathering_id=gathering_id,
            round_id="2030",
            region="vestland",
            kind=sched.GatheringKind.SAMLING,
            person_id=person,
            municipality_number="4601",
            role=sched.InviteeRole.KULTURSKOLE,
            sequence=0,
            starts_at=starts,
            ends_at=starts + timedelta(hours=6),
        )
    )


async def reminders_of(harness: Harness, subject: str) -> list[dict[str, Any]]:
    rows = await harness.db.fetch(
        "SELECT version, days_before, due_at, status FROM reminders WHERE subject = $1"
        " ORDER BY version, days_before DESC",
        subject,
    )
    return [dict(r) for r in rows]


async def test_a_gathering_reminder_reaches_each_invitee_once_but_not_who_opted_out(
    harness_factory: Any, sink_process: Any
) -> None:
    harness: Harness = await harness_factory(sink_process)
    t = token()
    ola = await harness.person(f"Ola {t}", f"ola-{t}@example.no")
    kari = await harness.person(f"Kari {t}", f"kari-{t}@example.no", "en")
    async with harness.http() as client:
        response = await client.put(
            f"/persons/{kari}/reminders",
            json={"reminders": False},
            headers={"Authorization": f"Bearer {PROGRAMME_TOKEN}"},
        )
        assert response.status_code == 200
    gathering_id = uuid.uuid4()
    # Seven days and a few seconds ahead: the 7-day reminder falls due in a few seconds.
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(days=7, seconds=4)
    await harness.publish(sched.GatheringScheduled(**gathering_facts(gathering_id, starts, 0)))
    await invite(harness, gathering_id, ola, starts)
    await invite(harness, gathering_id, kari, starts)

    mails = await harness.mails_to(f"ola-{t}@example.no", 2)
    reminder = mails[-1]
    assert reminder["subject"] == f"Påminnelse: Samling 1 om 7 dager {DASH} Fremtidens kulturskole"
    assert "Om 7 dager er det samling i Fremtidens kulturskole." in reminder["text"]
    assert "reservere deg mot påminnelser" in reminder["text"]
    assert reminder["parts"] == []  # a plain letter: the invitation put it in the calendar
    # Kari opted out of reminders, not of the invitation (a mandatory message).
    [invitation] = await harness.mails_to(f"kari-{t}@example.no", 1)
    assert invitation["subject"].startswith("Invitation: Samling 1")
    assert [
        (r["days_before"], r["status"]) for r in await reminders_of(harness, str(gathering_id))
    ] == [
        (7, "sent"),
        (1, "pending"),
    ]
    # Nothing more comes for Ola: the reminder was sent once (the worker keeps polling).
    await harness.publish(interest(ola))  # a later mail to Ola, to wait on
    final = await harness.mails_to(f"ola-{t}@example.no", 3)
    assert [m["subject"].split(":")[0] for m in final].count("Påminnelse") == 1


async def test_a_moved_date_recomputes_the_reminders_and_a_cancellation_drops_them(
    harness_factory: Any, sink_process: Any
) -> None:
    harness: Harness = await harness_factory(sink_process)
    gathering_id = uuid.uuid4()
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
    await harness.publish(sched.GatheringScheduled(**gathering_facts(gathering_id, starts, 0)))

    async def planned(expected: list[tuple[str, int, str]]) -> bool:
        found = await reminders_of(harness, str(gathering_id))
        return [(r["version"], r["days_before"], r["status"]) for r in found] == expected

    await harness_wait(planned, [("0", 7, "pending"), ("0", 1, "pending")])
    [week, day] = await reminders_of(harness, str(gathering_id))
    assert week["due_at"] == starts - timedelta(days=7) and day["due_at"] == starts - timedelta(
        days=1
    )

    moved = starts + timedelta(days=10)
    await harness.publish(
        sched.GatheringRescheduled(
            **gathering_facts(gathering_id, moved, 1),
            previous_starts_at=starts,
            previous_ends_at=starts + timedelta(hours=6),
            reason="",
            invitees=[],
        )
    )
    await harness_wait(
        planned,
        [("0", 7, "dropped"), ("0", 1, "dropped"), ("1", 7, "pending"), ("1", 1, "pending")],
    )
    new = [r for r in await reminders_of(harness, str(gathering_id)) if r["version"] == "1"]
    assert [r["due_at"] for r in new] == [moved - timedelta(days=7), moved - timedelta(days=1)]

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
            reason="",
            invitees=[],
        )
    )
    await harness_wait(
        planned,
        [("0", 7, "dropped"), ("0", 1, "dropped"), ("1", 7, "dropped"), ("1", 1, "dropped")],
    )


async def harness_wait(check: Any, *args: Any) -> None:
    async def done() -> bool:
        return bool(await check(*args))

    await eventually(done, what=f"reminders {args}")


async def test_replicas_racing_for_due_reminders_send_each_once(
    harness_factory: Any, sink_process: Any
) -> None:
    # The service's own worker sleeps long here; four more run at once, as replicas would.
    harness: Harness = await harness_factory(sink_process, reminder_poll_interval_s=600)
    ctx = harness.app.state.runtime.extras[CONTEXT]
    t = token()
    ola = await harness.person(f"Ola {t}", f"ola-{t}@example.no")
    starts = datetime.now(UTC) + timedelta(days=20)
    gatherings = [uuid.uuid4() for _ in range(8)]
    for gathering_id in gatherings:
        await harness.publish(sched.GatheringScheduled(**gathering_facts(gathering_id, starts, 0)))
        await invite(harness, gathering_id, ola, starts)
    await harness.mails_to(f"ola-{t}@example.no", len(gatherings))  # the invitations

    async def all_planned() -> bool:
        count = await harness.db.fetchval(
            "SELECT count(*) FROM reminders WHERE subject = ANY($1::text[])",
            [str(g) for g in gatherings],
        )
        return bool(count == 2 * len(gatherings))

    await harness_wait(all_planned)
    # Make the 7-day reminders due now (as the clock would have).
    await harness.db.execute(
        "UPDATE reminders SET due_at = now() WHERE days_before = 7 AND subject = ANY($1::text[])",
        [str(g) for g in gatherings],
    )
    done = await asyncio.gather(*(send_due_reminders(harness.db, ctx) for _ in range(4)))
    assert sum(done) == len(gatherings)  # each reminder claimed by exactly one of them

    mails = await harness.mails_to(f"ola-{t}@example.no", 2 * len(gatherings))
    assert sum(m["subject"].startswith("Påminnelse") for m in mails) == len(gatherings)
    rows = await harness.db.fetch(
        "SELECT event_id FROM deliveries WHERE person_id = $1 AND template = 'reminder_gathering'",
        ola,
    )
    assert len({r["event_id"] for r in rows}) == len(rows) == len(gatherings)


async def test_deadline_reminders_go_to_whom_they_concern(
    harness_factory: Any, sink_process: Any
) -> None:
    harness: Harness = await harness_factory(sink_process)
    t = token()
    vestland = await harness.person(f"Vestland {t}", f"vestland-{t}@example.no")
    rogaland = await harness.person(f"Rogaland {t}", f"rogaland-{t}@example.no", "nn")
    round_id = str(2040 + int(t[:4], 16) % 50)  # a round of this test's own
    # Both boards are known from earlier interest; Vestland has registered for this round too.
    await harness.publish(interest(vestland, round_id="2030"))
    await harness.publish(
        interest(
            rogaland,
            round_id="2030",
            branch_id="rogaland",
            branch_name="Rogaland",
            county_numbers=["11"],
            municipality_numbers=["1103"],
        )
    )
    await harness.publish(
        interest(vestland, round_id=round_id, municipality_numbers=["4601", "4621"])
    )
    await harness.mails_to(f"vestland-{t}@example.no", 2)
    await harness.mails_to(f"rogaland-{t}@example.no", 1)

    now = datetime.now(UTC).replace(microsecond=0)
    closes = now + timedelta(days=1, seconds=4)  # the 1-day reminder in a few seconds
    await harness.publish(
        reg.RoundOpened(
            round_id=round_id,
            interest_deadline=closes.date(),
            interest_closes_at=closes,
            capacity_per_branch={},
        )
    )
    # Told of the round, then reminded: Rogaland, which has not answered; Vestland has.
    rogaland_mails = await harness.mails_to(f"rogaland-{t}@example.no", 3, timeout=40)
    [reminder] = [m for m in rogaland_mails if m["subject"].startswith("Påminning: frist")]
    assert "Vi har enno ikkje fått interessemelding frå Rogaland" in reminder["text"]
    assert any(f"{round_id}: meld interesse innan" in m["subject"] for m in rogaland_mails)

    # Voss has applied, Bergen not: the board's reminder names Bergen.
    await harness.publish(
        reg.ApplicationSubmitted(
            application_id=uuid.uuid4(),
            round_id=round_id,
            municipality_number="4621",
            county_number="46",
            branch_id="vestland",
            development_areas=[],
            group=[],
            submitted_at=now,
        )
    )
    window_closes = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1, seconds=4)
    await harness.publish(
        reg.ApplicationWindowOpened(
            round_id=round_id,
            county_number="46",
            opens_on=now.date(),
            deadline=window_closes.date(),
            closes_at=window_closes,
        )
    )
    # The round's letter, application received, window opened, then the reminder.
    mails = await harness.mails_to(f"vestland-{t}@example.no", 6, timeout=40)
    subjects = [m["subject"] for m in mails]
    assert any(s.startswith("Søknadsfrist for kommunene i Vestland") for s in subjects)
    [board_reminder] = [m for m in mails if m["subject"].startswith("Påminnelse: søknadsfrist")]
    assert "- Bergen" in board_reminder["text"] and "Voss" not in board_reminder["text"]
    assert "<li>Bergen</li>" in board_reminder["html"]


async def test_a_board_known_only_by_its_contact_hears_of_the_round_and_is_reminded(
    harness_factory: Any, sink_process: Any
) -> None:
    """Agder has never registered interest: programme management set its board's contact.
    Opening the round tells it what to send where, by when; the reminder follows."""
    harness: Harness = await harness_factory(sink_process, programme_mailbox=MAILBOX)
    t = token()
    agder = await harness.person(f"Agder {t}", f"agder-{t}@example.no", "en")
    await harness.publish(
        reg.BranchContactSet(
            branch_id="agder",
            branch_name="Agder",
            county_numbers=["42"],
            contact_person_id=agder,
            set_at=datetime.now(UTC),
            set_by="Programledelsen",
        )
    )

    async def projected() -> bool:
        found = await harness.db.fetchval(
            "SELECT contact_person_id FROM branch_contacts WHERE branch_id = 'agder'"
        )
        return bool(found == agder)

    await eventually(projected, what="Agder's board contact projected")
    round_id = str(2040 + int(t[:4], 16) % 50)
    closes = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1, seconds=4)
    await harness.publish(
        reg.RoundOpened(
            round_id=round_id,
            interest_deadline=closes.date(),
            interest_closes_at=closes,
            capacity_per_branch={},
        )
    )
    mails = await harness.mails_to(f"agder-{t}@example.no", 2, timeout=40)
    last_day = long_day(closes.date(), "en")
    [letter] = [m for m in mails if "register interest by" in m["subject"]]
    assert letter["subject"] == (
        f"Fremtidens kulturskole regional programme {round_id}: register interest by {last_day}"
    )
    assert f"Dear Agder {t}," in letter["text"]
    assert f"Deadline: by {last_day}." in letter["text"]
    assert f'Send your interest to {MAILBOX} with the subject "{PROGRAMME_SUBJECT}"' in (
        " ".join(letter["text"].split())
    )
    assert "(Agder)" in letter["text"]
    [reminder] = [m for m in mails if m["subject"].startswith("Reminder: interest deadline")]
    assert "from Agder" in reminder["text"]


async def test_a_board_contact_set_after_the_round_opened_still_hears_of_it_once(
    harness_factory: Any, sink_process: Any
) -> None:
    """The contact's event and the round's may be read in either order (other keys, other
    partitions): a board set after the round opened gets its letter, once; a closed round
    invites nobody."""
    harness: Harness = await harness_factory(sink_process, programme_mailbox=MAILBOX)
    t = token()
    base = 2040 + int(t[:4], 16) % 40
    rounds = [str(base), str(base + 1)]
    closes = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
    for round_id in rounds:
        await harness.publish(
            reg.RoundOpened(
                round_id=round_id,
                interest_deadline=closes.date(),
                interest_closes_at=closes,
                capacity_per_branch={},
            )
        )
    await harness.publish(
        reg.RoundClosed(
            round_id=rounds[1],
            state=reg.RoundState.CANCELLED,
            reason="Åpnet ved en feil",
            closed_at=datetime.now(UTC),
        )
    )

    async def closed() -> bool:
        found = await harness.db.fetchval(
            "SELECT count(*) FROM closed_rounds WHERE round_id = $1", rounds[1]
        )
        return bool(found == 1)

    await eventually(closed, what="the cancelled round seen")
    rogaland = await harness.person(f"Rogaland {t}", f"rogaland-{t}@example.no")
    for _ in range(2):  # set twice: still one letter
        await harness.publish(
            reg.BranchContactSet(
                branch_id="rogaland",
                branch_name="Rogaland",
                county_numbers=["11"],
                contact_person_id=rogaland,
                set_at=datetime.now(UTC),
            )
        )
    [letter] = await harness.mails_to(f"rogaland-{t}@example.no", 1, timeout=40)
    assert letter["subject"] == (
        f"Fremtidens kulturskole, regionale program {rounds[0]}: "
        f"meld interesse innen {long_day(closes.date(), 'nb')}"
    )
    assert "(Rogaland)" in letter["text"]
    deliveries = await harness.deliveries(template="round_opened")
    assert [d["event_id"] for d in deliveries] == [f"round-opened:{rounds[0]}"]
