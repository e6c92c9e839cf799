"""The registration handlers' rules through the command registry, on the in-memory
repositories and a fake unit of work: no PostgreSQL, no Kafka.

Each test sends commands as the bus would (the registry's bound handler: load, decide, save
and emit) and checks what a user would: what is refused and why, what is stored, which
events go out in which order. The same rules run on the real database in
tests/integration/test_registration_*.py.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from services.registration.adapters.fake import FakeStore
from services.registration.app import COMMANDS
from services.registration.domain.reference import ReferenceData
from services.registration.handlers import Context
from services.registration.handlers.context import contact_details
from shared.contracts.errors import Conflict, DomainError, NotFound
from shared.contracts.events.registration import (
    AdmissionRevoked,
    CancelRound,
    ChangeCapacity,
    CloseRound,
    ContactDetails,
    ContactHandover,
    ContactPerson,
    DecideApplication,
    Decision,
    GroupMember,
    GroupMemberRemoved,
    ImportMembers,
    InterestUpdated,
    MunicipalityAdmitted,
    OpenApplicationWindow,
    OpenRound,
    PersonErased,
    RegisterInterest,
    RemoveGroupMember,
    ReplaceGroupMember,
    RevokeAdmission,
    SaveApplicationDraft,
    SetBranchContact,
    SubmitApplication,
    WithdrawMunicipality,
)
from shared.messaging.bus import Rejected
from shared.messaging.envelope import Envelope
from shared.messaging.fake import FakeUnitOfWork
from shared.runtime.auth import Principal, Role
from shared.runtime.commands import acting_as

pytestmark = pytest.mark.unit

OSLO = ZoneInfo("Europe/Oslo")
ROUND = "2030"
REFERENCE = ReferenceData.load()
PROGRAMME = Principal("Programledelsen", Role.PROGRAMME)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Harness:
    """The registry's handlers on in-memory repositories, with a clock the test moves."""

    def __init__(self) -> None:
        self.store = FakeStore()
        self.clock = Clock(datetime(2029, 9, 1, 12, 0, tzinfo=OSLO))
        self.ctx = Context(
            reference=REFERENCE,
            topic_prefix="unit",
            clock=self.clock,
            repositories=lambda _: self.store.repositories(),
        )
        self.handlers = COMMANDS.handlers(self.ctx)
        self.emitted: list[tuple[str, Any]] = []

    async def run(self, command: Any, principal: Principal | None = None) -> Any:
        """The command handled as the bus does; a refusal raised as the domain said it (the
        registry turns it into a problem or a dead letter: see test_registration_commands)."""
        uow = FakeUnitOfWork(Envelope.wrap(command, source="/unit"))
        try:
            with acting_as(principal):
                result = await self.handlers[command.TYPE](command, uow)
        except Rejected as refused:
            raise refused.__cause__ or refused from None
        self.emitted += uow.emitted  # only a handled command's messages count
        return result

    def events(self) -> list[str]:
        return [type(c).__name__ for t, c in self.emitted if t == self.ctx.events]

    def contacts(self) -> list[ContactDetails]:
        return [c for t, c in self.emitted if t == self.ctx.contacts]

    async def set_up(self, *, capacity: dict[str, int] | None = None) -> None:
        await self.run(ImportMembers(municipality_numbers=["4601", "4640", "4627"]))
        await self.run(OpenRound(round_id=ROUND, capacity_per_branch=capacity or {}))
        await self.run(
            OpenApplicationWindow(
                round_id=ROUND,
                county_number="46",
                opens_on=date(2029, 8, 20),
                deadline=date(2029, 9, 30),
            ),
        )

    async def submit(self, municipality: str) -> None:
        group = [
            {
                "name": f"Kari {municipality}",
                "email": f"kari.{municipality}@example.no",
                "role": "kulturskole",
                "organisation": "Kulturskolen",
                "commits_to_gatherings": True,
            },
            {
                "name": f"Ola {municipality}",
                "email": f"ola.{municipality}@example.no",
                "role": "grunnskole",
                "organisation": "Skolen",
                "commits_to_gatherings": True,
            },
        ]
        await self.run(
            SaveApplicationDraft.model_validate(
                {
                    "round_id": ROUND,
                    "municipality_number": municipality,
                    "motivation": "Flere barn skal møte kunst.",
                    "development_areas": ["samskaping"],
                    "co_creation_plan": "Hver måned.",
                    "group": group,
                }
            ),
        )
        await self.run(SubmitApplication(round_id=ROUND, municipality_number=municipality))

    def status(self, municipality: str) -> str:
        (found,) = [
            a for a in self.store.applications.values() if a.municipality_number == municipality
        ]
        return str(found.status)


def decide(municipality: str, decision: Decision, **more: Any) -> DecideApplication:
    return DecideApplication(
        round_id=ROUND, municipality_number=municipality, decision=decision, **more
    )


async def test_a_round_with_a_past_deadline_needs_saying_so() -> None:
    h = Harness()
    with pytest.raises(DomainError) as refused:
        await h.run(OpenRound(round_id="2031", interest_deadline=date(2029, 8, 31)))
    assert (refused.value.slug, refused.value.field) == ("date-in-the-past", "interest_deadline")
    assert refused.value.nb == "Datoen 31.08.2029 er allerede passert; sjekk årstallet."
    opened = await h.run(
        OpenRound(round_id="2031", interest_deadline=date(2029, 8, 31), allow_past_deadline=True),
    )
    assert opened.interest_deadline == date(2029, 8, 31)
    with pytest.raises(DomainError, match="not a programme year"):
        await h.run(OpenRound(round_id="0000"))
    assert h.events() == ["RoundOpened"]


async def test_decisions_wait_for_the_window_and_record_who_decided() -> None:
    h = Harness()
    await h.set_up(capacity={"Vestland": 1})
    await h.submit("4601")
    with pytest.raises(Conflict) as waiting:
        await h.run(decide("4601", Decision.ADMIT), PROGRAMME)
    assert waiting.value.slug == "window-still-open"
    with pytest.raises(DomainError, match="needs a reason"):
        await h.run(decide("4601", Decision.DECLINE), PROGRAMME)

    early = await h.run(decide("4601", Decision.ADMIT, early_reason="Budsjett"), PROGRAMME)
    assert (early.decided_by, early.early_reason) == ("Programledelsen", "Budsjett")
    await h.submit("4640")
    h.clock.now = datetime(2029, 10, 1, 0, 0, tzinfo=OSLO)  # the window has closed
    with pytest.raises(Conflict) as full:
        await h.run(decide("4640", Decision.ADMIT), PROGRAMME)
    assert full.value.slug == "capacity-full"
    stored = h.store.applications
    assert [a.decided_by for a in stored.values()] == ["Programledelsen", None]


async def test_revoking_an_admission_moves_the_first_waiting_up() -> None:
    h = Harness()
    await h.set_up(capacity={"vestland": 1})
    for number in ("4601", "4640", "4627"):
        await h.submit(number)
    h.clock.now = datetime(2029, 10, 1, 9, 0, tzinfo=OSLO)
    await h.run(decide("4601", Decision.ADMIT), PROGRAMME)
    await h.run(decide("4627", Decision.WAITLIST), PROGRAMME)
    await h.run(decide("4640", Decision.WAITLIST), PROGRAMME)
    with pytest.raises(Conflict, match="is waitlisted"):
        await h.run(
            RevokeAdmission(round_id=ROUND, municipality_number="4640", reason="Feil"),
            PROGRAMME,
        )
    revoked: AdmissionRevoked = await h.run(
        RevokeAdmission(round_id=ROUND, municipality_number="4601", reason="Feil søker"),
        PROGRAMME,
    )
    assert (revoked.revoked_by, revoked.reason) == ("Programledelsen", "Feil søker")
    assert (h.status("4601"), h.status("4627"), h.status("4640")) == (
        "revoked",
        "admitted",  # first on the wait-list
        "waitlisted",
    )
    promoted = [c for t, c in h.emitted if isinstance(c, MunicipalityAdmitted)][-1]
    assert (promoted.municipality_number, promoted.promoted_from_waitlist) == ("4627", True)
    assert promoted.decided_by is None  # nobody's decision
    assert h.events()[-2:] == ["AdmissionRevoked", "MunicipalityAdmitted"]


async def test_a_withdrawn_municipality_applies_again_while_the_window_is_open() -> None:
    h = Harness()
    await h.set_up()
    await h.submit("4601")
    withdrawn = await h.run(
        WithdrawMunicipality(round_id=ROUND, municipality_number="4601", reason="Ny gruppe"),
        Principal("Styret", Role.COUNTY_BOARD, "vestland"),
    )
    assert (withdrawn.withdrawn_by, withdrawn.previous_status) == ("Styret", "submitted")
    (stored,) = h.store.applications.values()
    assert (stored.decided_at, stored.withdrawal_reason) == (None, "Ny gruppe")
    await h.submit("4601")  # the same application, a new group
    assert h.status("4601") == "submitted"
    assert sum(not g["removed"] for g in h.store.group) == 2

    await h.run(WithdrawMunicipality(round_id=ROUND, municipality_number="4601"))
    h.clock.now = datetime(2029, 10, 1, 0, 0, tzinfo=OSLO)
    with pytest.raises(DomainError) as late:
        await h.submit("4601")
    assert late.value.slug == "deadline-passed"


async def test_a_draft_may_come_before_the_window_the_submission_not() -> None:
    h = Harness()
    await h.run(ImportMembers(municipality_numbers=["4601"]))
    await h.run(OpenRound(round_id=ROUND))
    with pytest.raises(Conflict) as no_window:
        await h.submit("4601")
    assert "no application window" in str(no_window.value)
    assert h.status("4601") == "draft"  # the draft was kept; only the submission waits
    await h.run(
        OpenApplicationWindow(
            round_id=ROUND,
            county_number="46",
            opens_on=date(2029, 9, 10),
            deadline=date(2029, 9, 30),
        ),
    )
    with pytest.raises(DomainError) as not_yet:
        await h.submit("4601")
    assert (not_yet.value.slug, "opens 10.09.2029" in str(not_yet.value)) == ("not-open-yet", True)
    with pytest.raises(DomainError, match="already past"):
        await h.run(
            OpenApplicationWindow(
                round_id=ROUND,
                county_number="42",
                opens_on=date(2029, 8, 1),
                deadline=date(2029, 8, 31),
            ),
        )


async def test_capacity_by_name_never_under_the_admitted_and_closed_rounds() -> None:
    h = Harness()
    await h.set_up(capacity={"vestland": 2})
    await h.submit("4601")
    h.clock.now = datetime(2029, 10, 1, 9, 0, tzinfo=OSLO)
    await h.run(decide("4601", Decision.ADMIT), PROGRAMME)
    changed = await h.run(
        ChangeCapacity(round_id=ROUND, capacity_per_branch={"Trøndelag": 3}),
        PROGRAMME,
    )
    assert changed.capacity_per_branch == {"vestland": 2, "trondelag": 3}
    with pytest.raises(Conflict, match="1 admitted already"):
        await h.run(ChangeCapacity(round_id=ROUND, capacity_per_branch={"Vestland": 0}))
    with pytest.raises(DomainError) as unknown:
        await h.run(ChangeCapacity(round_id=ROUND, capacity_per_branch={"Narnia": 1}))
    assert unknown.value.field == "capacity_per_branch"

    await h.run(CloseRound(round_id=ROUND))
    with pytest.raises(Conflict, match="is closed"):
        await h.submit("4640")
    with pytest.raises(Conflict, match="already closed"):
        await h.run(CloseRound(round_id=ROUND))
    await h.run(CancelRound(round_id=ROUND, reason="Avlyst"))
    with pytest.raises(Conflict, match="cancelled"):
        await h.run(decide("4601", Decision.ADMIT), PROGRAMME)
    with pytest.raises(NotFound):
        await h.run(CloseRound(round_id="2040"))


async def test_registering_again_says_what_changed_and_hands_the_contact_over() -> None:
    h = Harness()
    await h.set_up()

    def interest(numbers: list[str], email: str) -> RegisterInterest:
        return RegisterInterest.model_validate(
            {
                "round_id": ROUND,
                "branch": "Vestland",
                "municipality_numbers": numbers,
                "contact": {"name": email.split("@")[0], "email": email},
            }
        )

    first = await h.run(interest(["4601", "4627"], "kari@example.no"))
    same = await h.run(interest(["4601", "4627"], "KARI@example.no"))
    assert isinstance(same, InterestUpdated)
    assert (same.added_municipality_numbers, same.previous_contact_person_id) == ([], None)
    updated = await h.run(interest(["4601", "4640"], "per@example.no"))
    assert (updated.added_municipality_numbers, updated.removed_municipality_numbers) == (
        ["4640"],
        ["4627"],
    )
    assert updated.previous_contact_person_id == first.contact_person_id

    former = [c for c in h.contacts() if c.person_id == first.contact_person_id]
    assert [c.handed_over is not None for c in former] == [False, False, True]
    assert former[-1].handed_over.new_contact_person_id == updated.contact_person_id  # type: ignore[union-attr]
    assert h.store.tombstones == [(h.ctx.contacts, str(first.contact_person_id))]
    erased = [c for _, c in h.emitted if isinstance(c, PersonErased)]
    assert [(e.person_id, e.erased_by) for e in erased] == [(first.contact_person_id, None)]
    # The handover notice goes out before the tombstone (which the store writes after it).
    assert [len(h.store.history), [e.added for e in h.store.history]] == [
        3,
        [["4601", "4627"], [], ["4640"]],
    ]


async def test_a_contact_named_per_municipality_goes_on_the_contacts_topic_events_name_ids() -> (
    None
):
    h = Harness()
    await h.set_up()

    def interest(contacts: dict[str, str]) -> RegisterInterest:
        return RegisterInterest.model_validate(
            {
                "round_id": ROUND,
                "branch": "Vestland",
                "municipality_numbers": ["4601", "4640"],
                "contact": {"name": "Styret", "email": "styret@example.no"},
                "municipality_contacts": [
                    {"municipality_number": n, "contact": {"name": e, "email": e}}
                    for n, e in contacts.items()
                ],
            }
        )

    first = await h.run(interest({"4601": "kari@bergen.example.no"}))
    (bergen,) = first.municipality_contacts
    assert bergen.municipality_number == "4601"
    assert "kari@bergen.example.no" not in first.model_dump_json()  # ids on the public event
    assert [str(c.email) for c in h.contacts() if c.person_id == bergen.person_id] == [
        "kari@bergen.example.no"
    ]
    # The same address keeps its id; a contact no longer named is erased here and downstream.
    again = await h.run(
        interest({"4601": "KARI@bergen.example.no", "4640": "nils@sogndal.example.no"}),
    )
    assert {c.municipality_number: c.person_id for c in again.municipality_contacts}[
        "4601"
    ] == bergen.person_id
    dropped = await h.run(interest({"4640": "nils@sogndal.example.no"}))
    assert [c.municipality_number for c in dropped.municipality_contacts] == ["4640"]
    erased = [c.person_id for _, c in h.emitted if isinstance(c, PersonErased)]
    assert erased == [bergen.person_id]
    with pytest.raises(DomainError, match="4627"):
        await h.run(interest({"4627": "ask@askoy.example.no"}))


async def test_a_group_changes_only_if_it_stays_complete_and_says_who_left_and_came() -> None:
    h = Harness()
    await h.set_up()
    with pytest.raises(NotFound) as none_yet:
        await h.run(
            RemoveGroupMember(round_id=ROUND, municipality_number="4601", person_id=uuid.uuid4())
        )
    assert "no application from Bergen" in str(none_yet.value)
    await h.submit("4601")
    app = next(iter(h.store.applications.values()))
    kulturskole, partner = (g["person_id"] for g in h.store.group)
    with pytest.raises(Conflict, match="at least one representative of the kulturskole"):
        await h.run(
            RemoveGroupMember(round_id=ROUND, municipality_number="4601", person_id=kulturskole)
        )
    newcomer = GroupMember(
        name="Nils",
        email="nils@example.no",
        role="barnehage",
        organisation="Barnehagen",
        commits_to_gatherings=False,
    )
    replace = ReplaceGroupMember(
        round_id=ROUND, municipality_number="4601", person_id=partner, member=newcomer
    )
    with pytest.raises(DomainError) as uncommitted:
        await h.run(replace)
    assert uncommitted.value.field == "member.commits_to_gatherings"
    committed = replace.model_copy(
        update={"member": newcomer.model_copy(update={"commits_to_gatherings": True})}
    )
    added = await h.run(committed)
    removed = [c for _, c in h.emitted if isinstance(c, GroupMemberRemoved)]
    assert [(r.person_id, r.role) for r in removed] == [(partner, "grunnskole")]
    assert (added.application_id, added.role) == (app.id, "barnehage")
    assert h.events()[-2:] == ["GroupMemberRemoved", "GroupMemberAdded"]
    assert [str(c.email) for c in h.contacts()][-1] == "nils@example.no"
    active = [g["person_id"] for g in h.store.group if not g["removed"]]
    assert active == [kulturskole, added.person_id]


async def test_a_branch_contact_keeps_their_id_by_address_and_a_replaced_one_is_erased() -> None:
    h = Harness()

    def contact(email: str) -> SetBranchContact:
        return SetBranchContact.model_validate(
            {"branch": "Vestland", "contact": {"name": email.split("@")[0], "email": email}}
        )

    first = await h.run(contact("kari@example.no"), PROGRAMME)
    again = await h.run(contact("KARI@example.no"), PROGRAMME)
    assert (again.contact_person_id, again.previous_contact_person_id) == (
        first.contact_person_id,
        None,
    )
    other = await h.run(contact("per@example.no"), PROGRAMME)
    assert other.previous_contact_person_id == first.contact_person_id
    assert other.set_by == "Programledelsen"
    erased = [c.person_id for _, c in h.emitted if isinstance(c, PersonErased)]
    assert erased == [first.contact_person_id]
    assert h.store.tombstones == [(h.ctx.contacts, str(first.contact_person_id))]


@pytest.mark.parametrize(
    "who",
    [
        ContactPerson(name=" Kari Nordmann ", email="Kari@EXAMPLE.no", language="nn"),
        GroupMember(
            name="Ola Nordmann",
            email="ola@example.no",
            phone="+47 912 34 567",
            role="kulturskole",
            organisation="Sola kulturskole",
            commits_to_gatherings=True,
        ),
    ],
)
def test_contact_details_built_unvalidated_are_what_the_contract_validates(who: Any) -> None:
    # Built from a validated command without validating again: what goes out must be what
    # the validated contract gives, and what a consumer reads back.
    handover = ContactHandover(
        registration_id=uuid.uuid4(),
        round_id="2028",
        branch_id="rogaland",
        branch_name="Rogaland",
        new_contact_person_id=uuid.uuid4(),
    )
    for handed_over in (None, handover):
        person_id = uuid.uuid4()
        built = contact_details(person_id, who, handed_over=handed_over)
        validated = ContactDetails(
            person_id=person_id,
            name=who.name,
            email=who.email,
            phone=who.phone,
            language=who.language,
            handed_over=handed_over,
        )
        assert built.model_dump_json() == validated.model_dump_json()
        envelope = Envelope.wrap(built, source="/registration")
        assert envelope.decode() == validated
