"""The notification handlers through the service's one registry, on the fake store and unit
of work: no PostgreSQL, no Kafka, no SMTP.

Each test hands messages to the handler table as the bus would (`make_handlers`: the
commands and every followed event, bound by the registry) and checks what a user would:
who gets which letter, what is kept, what is refused and why. The same handlers run on the
real database in tests/integration/test_notification_*.py.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from services.notification.adapters.fake import FakeStore
from services.notification.app import COMMANDS, FOLLOWS, make_handlers
from services.notification.domain.messages import Places
from services.notification.domain.reminders import Due, ReminderKind
from services.notification.handlers.context import Context
from services.notification.handlers.reminders import reminder_due
from shared.contracts.events import registration as reg
from shared.contracts.events import scheduling as sched
from shared.contracts.events.base import Contract
from shared.contracts.events.notification import RemoveSupervisor, SetReminders, SetSupervisor
from shared.messaging.bus import Handler, Rejected, Tombstone, tombstone_handler
from shared.messaging.envelope import Envelope
from shared.messaging.fake import FakeUnitOfWork
from shared.reference import ReferenceData
from shared.runtime.auth import Principal, Role
from shared.runtime.commands import principal_header

pytestmark = pytest.mark.unit

NOW = datetime(2030, 9, 1, 10, 0, tzinfo=UTC)
MAILBOX = "post@kulturskoleradet.no"
CONTACTS = "kulturskole.registration.contacts"
GUESTS = "kulturskole.scheduling.guest-contacts"
PLACES = Places(ReferenceData.load())
BOARD = uuid.UUID(int=1)
KARI, OLA = uuid.UUID(int=2), uuid.UUID(int=3)
PROGRAMME = principal_header(Principal("Programledelsen", Role.PROGRAMME))
OBSERVER = principal_header(Principal("Observatør", Role.OBSERVER))


class Service:
    """The handler table on a fake store, and a way to hand it messages."""

    def __init__(self) -> None:
        self.store = FakeStore()
        self.ctx = Context(
            programme_mailbox=MAILBOX,
            contacts_topic=CONTACTS,
            guest_contacts_topic=GUESTS,
            places=PLACES,
            clock=lambda: NOW,
            answer_secret="secret",
            answer_base_url="https://planlegging.example.no",
            store=lambda uow: self.store,
        )
        self.handlers: dict[str, Handler] = make_handlers(self.ctx)

    async def handle(
        self, message: Contract, *, principal: str | None = None, event_id: str | None = None
    ) -> Any:
        envelope = Envelope.wrap(message, source="/unit", event_id=event_id, principal=principal)
        return await self.handlers[message.TYPE](message, FakeUnitOfWork(envelope))

    async def tombstone(self, topic: str, key: str) -> None:
        name = tombstone_handler(topic)
        envelope = Envelope(
            id=f"{name}:0:1", type=name, source=f"/kafka/{topic}", time=NOW, data=b"", subject=key
        )
        await self.handlers[name](Tombstone(topic, key), FakeUnitOfWork(envelope))

    def letters(self, template: str) -> list[str]:
        """Whom the pending mails of `template` go to (their recipient keys)."""
        return [m.recipient_key for m in self.store.planned() if m.template == template]


def interest(**more: Any) -> reg.InterestRegistered:
    return reg.InterestRegistered.model_validate(
        {
            "registration_id": uuid.UUID(int=10),
            "round_id": "2030",
            "branch_id": "vestland",
            "branch_name": "Vestland",
            "county_numbers": ["46"],
            "municipality_numbers": ["4601", "4621"],
            "contact_person_id": BOARD,
            "message": "",
            "registered_at": NOW,
            **more,
        }
    )


def decision(**more: Any) -> dict[str, Any]:
    return {
        "application_id": uuid.UUID(int=20),
        "round_id": "2030",
        "municipality_number": "4621",
        "county_number": "46",
        "branch_id": "vestland",
        "decided_at": NOW,
        **more,
    }


GROUP = [
    reg.GroupMemberRef(person_id=KARI, role=reg.GroupRole.KULTURSKOLE),
    reg.GroupMemberRef(person_id=OLA, role=reg.GroupRole.GRUNNSKOLE),
]
GATHERING = uuid.UUID(int=30)
STARTS = NOW + timedelta(days=30)


def scheduled(**more: Any) -> sched.GatheringScheduled:
    return sched.GatheringScheduled.model_validate(
        {
            "gathering_id": GATHERING,
            "round_id": "2030",
            "region": "vestland",
            "kind": "samling",
            "title": "Samling 1",
            "venue": {"name": "Grieghallen", "address": "Bergen"},
            "starts_at": STARTS,
            "ends_at": STARTS + timedelta(hours=6),
            "sequence": 0,
            **more,
        }
    )


def invitation(kind: type[sched.InvitationIssued | sched.InvitationWithdrawn], **more: Any) -> Any:
    facts = {
        "invitation_id": uuid.uuid4(),
        "gathering_id": GATHERING,
        "round_id": "2030",
        "region": "vestland",
        "kind": "samling",
        "role": "kulturskole",
        "sequence": 0,
        **more,
    }
    if kind is sched.InvitationIssued:
        facts.update(starts_at=STARTS, ends_at=STARTS + timedelta(hours=6))
    else:
        facts.setdefault("reason", "")
    return kind.model_validate(facts)


def test_every_followed_event_and_command_has_one_handler() -> None:
    table = make_handlers(Service().ctx)
    wanted = {c.TYPE for c in FOLLOWS} | {c.TYPE for c in COMMANDS.entries}
    wanted |= {tombstone_handler(CONTACTS), tombstone_handler(GUESTS)}
    assert set(table) == wanted


# --- interest, rounds, boards -----------------------------------------------------------------


async def test_interest_is_confirmed_to_the_contact_with_a_copy_to_the_programme() -> None:
    service = Service()
    await service.handle(interest())
    assert service.letters("interest_receipt") == [f"person:{BOARD}"]
    [copy] = [m for m in service.store.planned() if m.template == "interest_programme_copy"]
    assert (copy.address, copy.reply_to_person_id) == (MAILBOX, str(BOARD))
    assert await service.store.interest_of_round("2030") == {"vestland": ["4601", "4621"]}


async def test_a_round_is_told_to_every_board_once_also_one_set_after_it_opened() -> None:
    service = Service()
    await service.handle(interest(round_id="2029"))  # a board known from an earlier round
    opened = reg.RoundOpened(
        round_id="2030",
        interest_deadline=date(2030, 10, 1),
        interest_closes_at=datetime(2030, 10, 1, 22, 0, tzinfo=UTC),
        capacity_per_branch={},
    )
    await service.handle(opened)
    await service.handle(opened)  # redelivered under another id: the round's own key holds
    assert service.letters("round_opened") == [f"person:{BOARD}"]
    # Reminders 7 and 1 days before the interest deadline.
    [reminders] = service.store.reminders.values()
    assert [r.days_before for r in reminders] == [7, 1]
    set_later = reg.BranchContactSet(
        branch_id="rogaland",
        branch_name="Rogaland",
        county_numbers=["11"],
        contact_person_id=KARI,
        set_at=NOW,
    )
    await service.handle(set_later)
    assert service.letters("round_opened") == [f"person:{BOARD}", f"person:{KARI}"]


async def test_a_round_opened_after_its_deadline_invites_nobody() -> None:
    service = Service()
    await service.handle(interest(round_id="2029"))
    await service.handle(
        reg.RoundOpened(
            round_id="2030",
            interest_deadline=date(2030, 8, 1),
            interest_closes_at=datetime(2030, 8, 1, 22, 0, tzinfo=UTC),
            capacity_per_branch={},
        )
    )
    assert service.letters("round_opened") == []
    assert await service.store.deadline_of("2030", "interest", None) is not None


# --- decisions -------------------------------------------------------------------------------


async def test_an_admission_reaches_the_board_and_the_whole_group_a_decline_only_the_contact() -> (
    None
):
    service = Service()
    await service.handle(interest())
    await service.handle(reg.MunicipalityAdmitted.model_validate({**decision(), "group": GROUP}))
    assert service.letters("admitted") == [f"person:{BOARD}", f"person:{KARI}", f"person:{OLA}"]
    assert service.store.applications[("2030", "4621")] == "admitted"
    await service.handle(
        reg.MunicipalityDeclined.model_validate(
            {**decision(municipality_number="4601"), "reason": "Full."}
        )
    )
    # The group of 4601 is not known: the board alone.
    assert service.letters("declined") == [f"person:{BOARD}"]


# --- contacts and erasure --------------------------------------------------------------------


async def test_an_erased_person_is_not_written_to_and_stays_erased() -> None:
    service = Service()
    await service.handle(interest())
    await service.handle(reg.PersonErased(person_id=BOARD, erased_at=NOW))
    assert service.store.planned() == [m for m in service.store.planned() if m.address]
    assert {d.status for d in service.store.deliveries if d.mail.person_id} == {"cancelled"}
    # Late contact details do not bring them back; a later event's mail to them is dropped.
    late = reg.ContactDetails(person_id=BOARD, name="Kari", email="kari@example.no")
    await service.handle(late)
    assert BOARD not in service.store.recipients
    await service.handle(interest(round_id="2031"))
    assert service.letters("interest_receipt") == []


async def test_a_contacts_tombstone_erases_and_a_bad_key_is_refused() -> None:
    service = Service()
    await service.handle(reg.ContactDetails(person_id=KARI, name="Kari", email="k@example.no"))
    await service.tombstone(CONTACTS, str(KARI))
    assert KARI in service.store.erased and KARI not in service.store.recipients
    with pytest.raises(Rejected, match="person id"):
        await service.tombstone(GUESTS, "not-a-uuid")


# --- gatherings ------------------------------------------------------------------------------


async def test_an_invitation_carries_its_calendar_and_answer_links() -> None:
    service = Service()
    await service.handle(invitation(sched.InvitationIssued, person_id=KARI))
    assert service.store.planned() == []  # its gathering is not known: nothing to say
    await service.handle(scheduled())
    await service.handle(invitation(sched.InvitationIssued, person_id=KARI, sequence=2))
    [mail] = service.store.planned()
    assert (mail.template, mail.person_id) == ("gathering_invitation", str(KARI))
    assert mail.context["calendar"]["method"] == "REQUEST"
    assert mail.context["calendar"]["sequence"] == 2  # at least the invitation's
    assert set(mail.context["answer_links"]) == {"yes", "no", "maybe"}


async def test_a_withdrawal_cancels_unless_the_board_still_speaks_for_another_municipality() -> (
    None
):
    service = Service()
    await service.handle(interest())
    await service.handle(scheduled())
    first = invitation(sched.InvitationIssued, municipality_number="4601", branch_id="vestland")
    second = invitation(sched.InvitationIssued, municipality_number="4621", branch_id="vestland")
    await service.handle(first)
    await service.handle(second)
    withdrawn = invitation(
        sched.InvitationWithdrawn,
        invitation_id=first.invitation_id,
        municipality_number="4601",
        branch_id="vestland",
        sequence=1,
    )
    await service.handle(withdrawn)
    assert service.letters("invitation_withdrawn") == []  # the board is invited for 4621
    raised = await service.store.gathering(GATHERING)
    assert raised is not None and raised.gathering.sequence == 1  # the CANCEL would carry it
    await service.handle(
        invitation(
            sched.InvitationWithdrawn,
            invitation_id=second.invitation_id,
            municipality_number="4621",
            branch_id="vestland",
            sequence=2,
        )
    )
    [cancel] = [m for m in service.store.planned() if m.template == "invitation_withdrawn"]
    assert (cancel.person_id, cancel.context["calendar"]["method"]) == (str(BOARD), "CANCEL")


async def test_a_cancelled_veiledning_tells_the_invited_and_frees_its_supervisor() -> None:
    service = Service()
    await service.handle(scheduled(kind="veiledning", title="Veiledning"))
    await service.handle(
        sched.GatheringCancelled.model_validate(
            {
                "gathering_id": GATHERING,
                "round_id": "2030",
                "region": "vestland",
                "kind": "veiledning",
                "title": "Veiledning",
                "starts_at": STARTS,
                "ends_at": STARTS + timedelta(hours=6),
                "sequence": 1,
                "reason": "Kommunen trakk seg.",
                "invitees": [
                    {"invitation_id": uuid.uuid4(), "person_id": KARI, "role": "kulturskole"}
                ],
                "supervisor_id": "veileder-1",
                "municipality_number": "4621",
                "cause": "municipality_withdrawn",
            }
        )
    )
    [cancel] = [m for m in service.store.planned() if m.template == "gathering_cancelled"]
    assert cancel.context["venue_name"] == "Grieghallen"  # kept from when it was scheduled
    assert service.letters("supervision_released") == ["supervisor:veileder-1"]
    assert (ReminderKind.GATHERING, str(GATHERING)) not in service.store.reminders


# --- commands and reminders ------------------------------------------------------------------


async def test_programme_management_keeps_supervisors_and_nobody_else_may() -> None:
    service = Service()
    put = SetSupervisor(supervisor_id="veileder-1", name="Siri", email="siri@example.no")
    assert await service.handle(put, principal=PROGRAMME) == {"supervisor_id": "veileder-1"}
    assert service.store.supervisors["veileder-1"]["email"] == "siri@example.no"
    with pytest.raises(Rejected) as refused:
        await service.handle(RemoveSupervisor(supervisor_id="veileder-1"), principal=OBSERVER)
    assert refused.value.status == 403
    await service.handle(RemoveSupervisor(supervisor_id="veileder-1"), principal=PROGRAMME)
    assert service.store.supervisors == {}
    with pytest.raises(Rejected) as unknown:
        await service.handle(RemoveSupervisor(supervisor_id="veileder-1"), principal=PROGRAMME)
    assert unknown.value.status == 404 and "veileder-1" in unknown.value.reason


async def test_a_person_who_opted_out_gets_no_reminder_but_the_others_do() -> None:
    service = Service()
    await service.handle(scheduled())
    await service.handle(invitation(sched.InvitationIssued, person_id=KARI))
    await service.handle(invitation(sched.InvitationIssued, person_id=OLA))
    said = await service.handle(SetReminders(person_id=OLA, reminders=False), principal=PROGRAMME)
    assert said == {"person_id": str(OLA), "reminders": False}
    due = Due("r1", ReminderKind.GATHERING, str(GATHERING), 7)
    await reminder_due(due, service.store, service.ctx)
    [reminder] = [m for m in service.store.planned() if m.template == "reminder_gathering"]
    assert reminder.person_id == str(KARI) and reminder.reminder
    assert "calendar" not in reminder.context  # the invitation put it in the calendar
