"""Scheduling's handler rules through its one registry, on the in-memory unit of work: no
PostgreSQL, no Kafka.

Each test sends commands and registration's events as the bus would (the handler table of
`app.make_handlers`, an envelope naming who sends) and checks what a user would: what is
refused and why, whom a gathering invites, which events go out in which order. The same
handlers run on the real database in tests/integration/test_scheduling_*.py.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from services.scheduling.adapters.fake import FakeStore, FakeUnit
from services.scheduling.app import make_context, make_handlers
from services.scheduling.domain.calendar import OSLO
from services.scheduling.settings import SchedulingSettings
from shared.contracts.events.base import Contract
from shared.contracts.events.registration import (
    GroupMemberAdded,
    MunicipalityAdmitted,
    MunicipalityWithdrawn,
    PersonErased,
    RoundClosed,
    RoundOpened,
)
from shared.contracts.events.scheduling import (
    AttendanceRecorded,
    BookSupervision,
    CancelGathering,
    CancellationCause,
    EraseGuest,
    GatheringCancelled,
    GatheringRescheduled,
    GatheringScheduled,
    GuestContact,
    GuestErased,
    InvitationIssued,
    InvitationWithdrawn,
    PlanSemester,
    RecordAttendance,
    RecordRsvp,
    ReportInterimWork,
    RequestDialogueMeeting,
    RescheduleGathering,
    RsvpRecorded,
    ScheduleDialogueMeeting,
    ScheduleGathering,
    SetInterimWork,
)
from shared.messaging.bus import Rejected
from shared.messaging.envelope import Envelope
from shared.messaging.fake import FakeUnitOfWork
from shared.runtime.auth import Principal, Role

pytestmark = pytest.mark.unit

PROGRAMME = Principal("Programledelsen", Role.PROGRAMME)
VESTLAND = Principal("Styret i Vestland", Role.COUNTY_BOARD, "vestland")
BASE = make_context(SchedulingSettings(database_url="postgresql://unused"))
BERGEN, VOSS = "4601", "4621"
APPLICATION = uuid.uuid4()
VENUE = {"name": "Grieghallen", "address": "Edvard Griegs plass 1, Bergen"}


def ce_principal(principal: Principal) -> str:
    return f"{principal.role.value}:{principal.branch_id or ''}:{principal.name}"


@dataclass
class World:
    """The service's state in memory and a clock the test moves."""

    now: datetime = datetime(2029, 9, 1, 12, tzinfo=OSLO)
    store: FakeStore = field(default_factory=FakeStore)

    def __post_init__(self) -> None:
        ctx = replace(BASE, clock=lambda: self.now, unit=lambda uow: FakeUnit(self.store, uow))
        self.ctx = ctx
        self.table = make_handlers(ctx)

    async def send(self, message: Contract, by: Principal | None = PROGRAMME) -> list[Contract]:
        """What handling `message` emitted, in order, on every topic."""
        envelope = Envelope.wrap(
            message, source="/unit", principal=ce_principal(by) if by else None
        )
        uow = FakeUnitOfWork(envelope)
        await self.table[message.TYPE](message, uow)
        return [c for _, c in uow.emitted]

    async def refused(self, message: Contract, by: Principal | None = PROGRAMME) -> Rejected:
        with pytest.raises(Rejected) as refusal:
            await self.send(message, by)
        return refusal.value

    async def open_round(self, round_id: str = "2030") -> None:
        await self.send(
            RoundOpened(
                round_id=round_id,
                interest_deadline="2029-09-01",
                interest_closes_at="2029-09-01T23:59:00+02:00",
                capacity_per_branch={"vestland": 10},
            )
        )

    async def admit(self, municipality: str, *members: UUID) -> list[Contract]:
        return await self.send(
            MunicipalityAdmitted(
                application_id=uuid.uuid4(),
                round_id="2030",
                municipality_number=municipality,
                county_number="46",
                branch_id="vestland",
                decided_at=self.now,
                group=[{"person_id": m, "role": "kulturskole"} for m in members],
            )
        )


def at(day: str, hour: int) -> datetime:
    return datetime.fromisoformat(f"{day}T{hour:02}:00").replace(tzinfo=OSLO)


def samling(day: str = "2030-03-04", **more: Any) -> ScheduleGathering:
    return ScheduleGathering.model_validate(
        {
            "round_id": "2030",
            "region": "vestland",
            "kind": "samling",
            "title": "Samling 1",
            "venue": VENUE,
            "starts_at": at(day, 10),
            "ends_at": at(day, 16),
            **more,
        }
    )


def kinds(events: list[Contract]) -> list[str]:
    return [type(e).__name__ for e in events]


def slug_of(refusal: Rejected) -> str | None:
    slug: str | None = getattr(refusal.__cause__, "slug", None)
    return slug


async def test_a_semester_needs_a_round_registration_opened_and_not_cancelled() -> None:
    w = World()
    plan = PlanSemester(
        round_id="2030", region="vestland", number=1, starts_on="2030-01-01", ends_on="2030-06-20"
    )
    refusal = await w.refused(plan)
    assert (refusal.status, slug_of(refusal)) == (422, "unknown-round")
    await w.open_round()
    assert kinds(await w.send(plan)) == ["SemesterPlanned"]
    await w.send(
        RoundClosed(round_id="2030", state="cancelled", reason="for få søkere", closed_at=w.now)
    )
    assert slug_of(await w.refused(plan)) == "round-cancelled"
    await w.open_round()  # a replayed opening does not reopen the round
    assert slug_of(await w.refused(plan)) == "round-cancelled"


async def test_a_samling_invites_every_admitted_kommunegruppe_and_follows_its_changes() -> None:
    w = World()
    await w.open_round()
    anne, per, kari = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await w.admit(BERGEN, anne, per)
    events = await w.send(samling())
    assert kinds(events) == ["GatheringScheduled", "InvitationIssued", "InvitationIssued"]
    scheduled = events[0]
    assert isinstance(scheduled, GatheringScheduled)
    assert {e.person_id for e in events[1:] if isinstance(e, InvitationIssued)} == {anne, per}

    joined = await w.send(
        GroupMemberAdded(
            round_id="2030",
            municipality_number=BERGEN,
            person_id=kari,
            role="sfo",
            application_id=APPLICATION,
            changed_at=w.now,
        )
    )
    assert [(type(e).__name__, getattr(e, "person_id", None)) for e in joined] == [
        ("InvitationIssued", kari)
    ]
    # The same event again changes nothing: whom it invites is already whom it should.
    assert await w.send(joined_again(kari)) == []

    withdrawn = await w.send(
        MunicipalityWithdrawn(
            application_id=uuid.uuid4(),
            round_id="2030",
            municipality_number=BERGEN,
            county_number="46",
            branch_id="vestland",
            decided_at=w.now,
            previous_status="admitted",
            reason="Ingen kapasitet",
        )
    )
    assert kinds(withdrawn) == ["InvitationWithdrawn"] * 3
    # A calendar program takes the CANCEL only with a SEQUENCE above the one it holds.
    assert {e.sequence for e in withdrawn if isinstance(e, InvitationWithdrawn)} == {1}
    assert w.store.gatherings[scheduled.gathering_id].active == []


def joined_again(person_id: UUID) -> GroupMemberAdded:
    return GroupMemberAdded(
        round_id="2030",
        municipality_number=BERGEN,
        person_id=person_id,
        role="sfo",
        application_id=APPLICATION,
        changed_at=datetime(2029, 9, 1, 12, tzinfo=OSLO),
    )


async def test_answers_count_against_capacity_and_only_whom_it_invites() -> None:
    w = World()
    await w.open_round()
    anne, per = uuid.uuid4(), uuid.uuid4()
    await w.admit(BERGEN, anne, per)
    scheduled = (await w.send(samling(capacity=1)))[0]
    assert isinstance(scheduled, GatheringScheduled)

    def answer(person: UUID, response: str = "yes") -> RecordRsvp:
        return RecordRsvp(
            gathering_id=scheduled.gathering_id,
            region="vestland",
            person_id=person,
            response=response,
        )

    (yes,) = await w.send(answer(anne), VESTLAND)
    assert isinstance(yes, RsvpRecorded) and (yes.confirmed, yes.capacity) == (1, 1)
    full = await w.refused(answer(per), VESTLAND)
    assert (full.status, slug_of(full)) == (409, "capacity-full")
    stranger = await w.refused(answer(uuid.uuid4()), VESTLAND)
    assert (stranger.status, slug_of(stranger)) == (404, "not-invited")
    (no,) = await w.send(answer(anne, "no"), VESTLAND)
    assert isinstance(no, RsvpRecorded) and no.confirmed == 0
    # The seat freed is there for the next.
    assert kinds(await w.send(answer(per), VESTLAND)) == ["RsvpRecorded"]


async def test_attendance_is_recorded_once_the_gathering_has_begun_for_invitees_only() -> None:
    w = World()
    await w.open_round()
    anne, per = uuid.uuid4(), uuid.uuid4()
    await w.admit(BERGEN, anne, per)
    scheduled = (await w.send(samling()))[0]
    assert isinstance(scheduled, GatheringScheduled)
    record = RecordAttendance(
        gathering_id=scheduled.gathering_id, region="vestland", present_persons=[anne]
    )
    early = await w.refused(record, VESTLAND)
    assert (early.status, slug_of(early)) == (409, "not-started")
    w.now = at("2030-03-04", 11)
    stranger = RecordAttendance(
        gathering_id=scheduled.gathering_id, region="vestland", present_municipalities=[VOSS]
    )
    refusal = await w.refused(stranger, VESTLAND)
    assert slug_of(refusal) == "not-invited" and "Voss" in refusal.reason
    (recorded,) = await w.send(record, VESTLAND)
    assert isinstance(recorded, AttendanceRecorded)
    assert [i.person_id for i in recorded.present] == [anne]
    assert [i.person_id for i in recorded.absent] == [per]


async def test_a_moved_gathering_keeps_its_invitees_and_raises_its_sequence() -> None:
    w = World()
    await w.open_round()
    anne = uuid.uuid4()
    await w.admit(BERGEN, anne)
    scheduled = (await w.send(samling()))[0]
    assert isinstance(scheduled, GatheringScheduled)
    move = RescheduleGathering(
        gathering_id=scheduled.gathering_id,
        starts_at=at("2030-03-05", 10),
        ends_at=at("2030-03-05", 16),
        reason="Salen er opptatt",
    )
    (moved,) = await w.send(move)
    assert isinstance(moved, GatheringRescheduled)
    assert (moved.sequence, moved.previous_starts_at) == (1, scheduled.starts_at)
    assert [i.person_id for i in moved.invitees] == [anne]
    past = move.model_copy(
        update={"starts_at": at("2029-08-01", 10), "ends_at": at("2029-08-01", 16)}
    )
    assert slug_of(await w.refused(past)) == "in-the-past"
    (cancelled,) = await w.send(CancelGathering(gathering_id=scheduled.gathering_id, reason="Uvær"))
    assert isinstance(cancelled, GatheringCancelled) and cancelled.sequence == 2
    assert slug_of(await w.refused(move)) == "cancelled"


async def test_the_programme_shape_is_kept_unless_a_reason_sets_it_aside() -> None:
    w = World()
    await w.open_round()
    for day in ("2029-10-10", "2029-11-10"):
        assert kinds(await w.send(samling(day, kind="presamling"))) == ["GatheringScheduled"]
    third = samling("2029-11-20", kind="presamling")
    refusal = await w.refused(third)
    assert (refusal.status, slug_of(refusal)) == (422, "too-many-presamlinger")
    (allowed,) = await w.send(third.model_copy(update={"override_reason": "Stor region"}))
    assert isinstance(allowed, GatheringScheduled)
    assert allowed.overridden == ["too-many-presamlinger"]


async def test_a_gathering_sent_again_is_a_conflict_on_its_id_not_a_shape_refusal() -> None:
    # A client that scheduled the round's presamlinger and sends one again (a retry, a second
    # run) learns that it exists, whatever date it asks for this time.
    w = World()
    await w.open_round()
    gathering_id = str(uuid.uuid4())
    await w.send(samling("2029-10-10", kind="presamling", gathering_id=gathering_id))
    await w.send(samling("2029-11-10", kind="presamling"))
    for day in ("2029-10-10", "2029-11-20"):
        again = await w.refused(samling(day, kind="presamling", gathering_id=gathering_id))
        assert (again.status, slug_of(again)) == (409, "already-exists")


async def test_a_supervisor_is_booked_once_at_a_time_and_released_when_the_municipality_leaves() -> (
    None
):
    w = World()
    await w.open_round()
    anne = uuid.uuid4()
    await w.admit(BERGEN, anne)

    def book(hour: int) -> BookSupervision:
        return BookSupervision(
            round_id="2030",
            municipality_number=BERGEN,
            supervisor_id="veileder-1",
            title="Veiledning",
            venue=VENUE,
            starts_at=at("2030-02-01", hour),
            ends_at=at("2030-02-01", hour + 2),
        )

    booked = await w.send(book(10))
    assert kinds(booked) == ["GatheringScheduled", "InvitationIssued", "SupervisionBooked"]
    clash = await w.refused(book(11))
    assert (clash.status, slug_of(clash)) == (409, "supervisor-booked")
    left = await w.send(
        MunicipalityWithdrawn(
            application_id=uuid.uuid4(),
            round_id="2030",
            municipality_number=BERGEN,
            county_number="46",
            branch_id="vestland",
            decided_at=w.now,
            previous_status="admitted",
            reason="Trekker seg",
        )
    )
    assert kinds(left) == ["GatheringCancelled"]
    (released,) = left
    assert isinstance(released, GatheringCancelled)
    assert (released.supervisor_id, released.cause) == ("veileder-1", CancellationCause.WITHDRAWN)
    # The supervisor is free again (the booking is refused only for want of an admission).
    refusal = await w.refused(book(11))
    assert slug_of(refusal) == "not-admitted"


async def test_a_dialogue_meeting_answers_a_request_once_and_a_guest_can_be_erased() -> None:
    w = World()
    await w.open_round()
    (requested,) = await w.send(
        RequestDialogueMeeting(round_id="2030", region="vestland", topic="Samskaping"), VESTLAND
    )
    request_id = requested.request_id  # type: ignore[attr-defined]
    meeting = ScheduleDialogueMeeting(
        request_id=request_id,
        venue=VENUE,
        starts_at=at("2030-01-15", 10),
        ends_at=at("2030-01-15", 12),
        guests=[{"name": "Ola Gjest", "email": "ola@example.org"}],
    )
    events = await w.send(meeting)
    assert kinds(events) == [
        "GuestContact",
        "GatheringScheduled",
        "InvitationIssued",
        "DialogueMeetingScheduled",
    ]
    guest = events[0]
    assert isinstance(guest, GuestContact)
    again = await w.refused(meeting.model_copy(update={"gathering_id": uuid.uuid4()}))
    assert (again.status, slug_of(again)) == (409, "already-answered")

    erased = await w.send(EraseGuest(person_id=guest.person_id))
    assert kinds(erased) == ["InvitationWithdrawn", "GuestErased"]
    assert isinstance(erased[-1], GuestErased)
    assert guest.person_id not in w.store.guests
    assert w.store.tombstones == [(w.ctx.contacts, str(guest.person_id))]
    assert (await w.refused(EraseGuest(person_id=guest.person_id))).status == 404


async def test_an_erased_person_is_withdrawn_ahead_and_forgotten_behind() -> None:
    w = World()
    await w.open_round()
    anne, per = uuid.uuid4(), uuid.uuid4()
    await w.admit(BERGEN, anne, per)
    first = (await w.send(samling("2029-10-01")))[0]
    second = (await w.send(samling("2030-03-04")))[0]
    assert isinstance(first, GatheringScheduled) and isinstance(second, GatheringScheduled)
    w.now = at("2029-12-01", 12)
    events = await w.send(PersonErased(person_id=anne, erased_at=w.now))
    assert [(type(e).__name__, e.gathering_id) for e in events] == [  # type: ignore[attr-defined]
        ("InvitationWithdrawn", second.gathering_id)
    ]
    past = w.store.gatherings[first.gathering_id]
    assert all(i.invitee.person_id != anne for i in past.invitations)
    assert len(past.active) == 2  # the past invitation stays, without the person


async def test_mellomarbeid_follows_a_samling_and_its_report_needs_an_admission() -> None:
    w = World()
    await w.open_round()
    await w.admit(BERGEN, uuid.uuid4())
    scheduled = (await w.send(samling("2029-10-01")))[0]
    assert isinstance(scheduled, GatheringScheduled)
    early = SetInterimWork(
        after_gathering_id=scheduled.gathering_id, title="Kartlegging", due_on="2029-10-01"
    )
    assert "must be after the samling" in (await w.refused(early)).reason
    (work,) = await w.send(early.model_copy(update={"due_on": datetime(2029, 11, 1).date()}))
    work_id = work.interim_work_id  # type: ignore[attr-defined]
    assert work.municipality_numbers == [BERGEN]  # type: ignore[attr-defined]

    def report(municipality: str) -> ReportInterimWork:
        return ReportInterimWork(
            interim_work_id=work_id,
            region="vestland",
            municipality_number=municipality,
            report="Gjort",
        )

    assert (await w.refused(report(VOSS), VESTLAND)).status == 422
    w.now += timedelta(days=90)
    (reported,) = await w.send(report(BERGEN), VESTLAND)
    assert reported.late is True  # type: ignore[attr-defined]
    # The next samling's invitations list the work as due.
    w.now = at("2029-12-01", 12)
    per = uuid.uuid4()
    await w.admit(VOSS, per)
    issued = [e for e in await w.send(samling("2030-03-04")) if isinstance(e, InvitationIssued)]
    assert issued and all(
        [d.interim_work_id for d in e.interim_work_due or []] == [work_id] for e in issued
    )


def test_every_handler_works_on_the_unit_not_on_sql() -> None:
    """The handlers see the unit's interface only; SQL stays in adapters/."""
    from pathlib import Path

    handlers = Path(__file__).parents[2] / "services" / "scheduling" / "handlers"
    for source in handlers.glob("*.py"):
        text = source.read_text()
        assert "asyncpg" not in text and ".conn" not in text, source.name
