"""The command stream of one pass, and what each of its commands must leave behind.

A pass has a round of its own, so its effects are counted by round id. Its commands:

- interest from each of the ten county branches (new), then many updates of it, alternating
  between two lists of municipalities (each update: `interest-updated`, a receipt to the
  branch's contact and a copy to the programme mailbox);
- an application window for each county (`application-window-opened`, a mail to its board);
- for M municipalities, one chain each: a draft (no event), the submission
  (`application-submitted`: the board, the kulturskole's representative, the programme
  mailbox), the admission (`municipality-admitted`: the board and the whole group) and `k`
  new group members (`group-member-added`: a welcome each);
- two samlinger per region (`gathering-scheduled`), which invite every member of every
  admitted kommunegruppe in the region (`invitation-issued` and a mail per member), whatever
  the order in which the admissions, members and gatherings arrive.

Commands of one chain (a municipality, a branch's interest, a region's gatherings) go one
after the other on one channel: over HTTP each waits for the answer of the one before, on
Kafka they share a key and so a partition. Chains alternate between HTTP and Kafka.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from services.registration.domain.reference import ReferenceData
from shared.contracts.events import registration as reg
from shared.contracts.events import scheduling as sched
from shared.contracts.events.base import Contract

OSLO = ZoneInfo("Europe/Oslo")
PROGRAMME_TOKEN = "local-programme"
# Two members from the draft, `ADDED_PER_MUNICIPALITY` more after admission.
ADDED_PER_MUNICIPALITY = 2
SAMLINGER_PER_REGION = 2


@dataclass(frozen=True)
class Person:
    """Someone named in the stream: unique to the run, so a search finds only them."""

    name: str
    email: str
    phone: str

    def contact(self, language: str = "nb") -> dict[str, Any]:
        return {"name": self.name, "email": self.email, "phone": self.phone, "language": language}

    def member(self, role: str, organisation: str) -> dict[str, Any]:
        return {
            **self.contact(),
            "role": role,
            "organisation": organisation,
            "commits_to_gatherings": True,
        }

    @property
    def needles(self) -> list[str]:
        """What must never be on a public topic (the phone by its digits)."""
        return [self.name, self.email, self.phone.lstrip("+")]


class People:
    """Makes the stream's people; every one is kept, for the personal-data check."""

    FIRST = ("Kari", "Ola", "Ingrid", "Per", "Sigrid", "Lars", "Astrid", "Nils")

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.made: list[Person] = []

    def found_in(self, text: str) -> set[str]:
        """Which of the people's names, addresses and phone numbers `text` holds (without
        regard to case). Each kind is found by what all of them share (the run's tag, the
        number's shape), so a large text is searched once per kind, not once per person."""
        text = text.lower()
        tag = re.escape(self.tag)
        found = set(re.findall(rf"[a-z]+ feiltest-{tag}\d+", text))
        found |= set(re.findall(rf"p\d+\.{tag}@example\.no", text))
        phones = {p.phone.lstrip("+") for p in self.made}
        found |= {run for run in re.findall(r"\d{8,}", text) if run in phones}
        return found

    def new(self) -> Person:
        n = len(self.made)
        digits = f"{uuid.uuid4().int % 10**7:07d}"
        person = Person(
            f"{self.FIRST[n % len(self.FIRST)]} Feiltest-{self.tag}{n}",
            f"p{n}.{self.tag}@example.no",
            f"+479{digits}",
        )
        self.made.append(person)
        return person


@dataclass(frozen=True)
class Command:
    """One command, ready for either channel."""

    service: str  # registration | scheduling
    contract: Contract
    path: str  # its HTTP route
    token: str  # who sends it over HTTP
    kind: str  # what it is, for the figures


@dataclass
class Chain:
    """Commands that go one after the other, on one channel."""

    name: str
    channel: str  # http | kafka
    commands: list[Command] = field(default_factory=list)


@dataclass
class Expected:
    """What a pass's commands must leave, counted."""

    commands: int = 0
    registration_events: dict[str, int] = field(default_factory=dict)  # by type
    scheduling_events: dict[str, int] = field(default_factory=dict)
    mails: int = 0
    rows: dict[str, int] = field(default_factory=dict)

    def add_event(self, service: str, contract: type[Contract], n: int = 1) -> None:
        found = self.registration_events if service == "registration" else self.scheduling_events
        found[contract.TYPE] = found.get(contract.TYPE, 0) + n


@dataclass
class Plan:
    round_id: str
    setup: list[Chain]  # before the stream: interest and windows, which the rest builds on
    stream: list[Chain]
    expected: Expected

    @property
    def commands(self) -> int:
        return sum(len(c.commands) for c in [*self.setup, *self.stream])


def board_token(branch_id: str) -> str:
    return f"local-board-{branch_id}"


def _alternate(i: int) -> str:
    return "http" if i % 2 == 0 else "kafka"


def interest_command(
    round_id: str, branch: Any, contact: Person, municipalities: list[str], message: str
) -> Command:
    return Command(
        "registration",
        reg.RegisterInterest.model_validate(
            {
                "round_id": round_id,
                "branch": branch.name,
                "municipality_numbers": municipalities,
                "contact": contact.contact(),
                "message": message,
            }
        ),
        "/interest-registrations",
        board_token(branch.id),
        "interest",
    )


def plan_pass(round_id: str, total: int, people: People, *, today: date | None = None) -> Plan:
    """At least `total` commands for `round_id`, with their expected effects."""
    reference = ReferenceData.load()
    today = today or datetime.now(UTC).date()
    branches = sorted(reference.branches.values(), key=lambda b: b.id)
    by_branch = {
        b.id: sorted(
            n for n, m in reference.municipalities.items() if m.county_number in b.county_numbers
        )
        for b in branches
    }
    counties = sorted({c for b in branches for c in b.county_numbers})
    expected = Expected()
    ex = expected
    mails = 0

    # --- before the stream: interest from every branch, a window for every county.
    contacts = {b.id: people.new() for b in branches}
    lists = {b.id: (by_branch[b.id][:2], by_branch[b.id][1:3]) for b in branches}
    setup_interest = Chain("interest", "http")
    for b in branches:
        setup_interest.commands.append(
            interest_command(round_id, b, contacts[b.id], lists[b.id][0], "Styret vil delta.")
        )
    ex.add_event("registration", reg.InterestRegistered, len(branches))
    mails += 2 * len(branches)
    windows = Chain("windows", "http")
    for county in counties:
        windows.commands.append(
            Command(
                "registration",
                reg.OpenApplicationWindow(
                    round_id=round_id,
                    county_number=county,
                    opens_on=today,
                    deadline=today + timedelta(days=30),
                ),
                "/application-windows",
                PROGRAMME_TOKEN,
                "window",
            )
        )
    ex.add_event("registration", reg.ApplicationWindowOpened, len(counties))
    mails += len(counties)  # to the county's board

    # --- the stream.
    chains: list[Chain] = []
    fixed = len(branches) + len(counties) + SAMLINGER_PER_REGION * len(branches)
    per_municipality = 3 + ADDED_PER_MUNICIPALITY
    m = max(len(branches), total // 25)
    m -= m % len(branches)
    updates = max(len(branches), total - fixed - m * per_municipality)

    members_by_region: dict[str, int] = {b.id: 0 for b in branches}
    group_members = 0
    for i in range(m):
        branch = branches[i % len(branches)]
        number = by_branch[branch.id][i // len(branches) % len(by_branch[branch.id])]
        name = reference.municipalities[number].name
        chain = Chain(f"municipality {number}", _alternate(i // len(branches) + i))
        rektor, laerer = people.new(), people.new()
        chain.commands.append(
            Command(
                "registration",
                reg.SaveApplicationDraft.model_validate(
                    {
                        "round_id": round_id,
                        "municipality_number": number,
                        "motivation": "Flere barn skal møte kunst og kultur i hverdagen.",
                        "development_areas": ["samskaping"],
                        "co_creation_plan": "Kulturskole, skole og barnehage sammen.",
                        "group": [
                            rektor.member("kulturskole", f"Kulturskolen i {name}"),
                            laerer.member("grunnskole", f"Skolen i {name}"),
                        ],
                    }
                ),
                "/application-drafts",
                board_token(branch.id),
                "draft",
            )
        )
        chain.commands.append(
            Command(
                "registration",
                reg.SubmitApplication(round_id=round_id, municipality_number=number),
                "/application-submissions",
                board_token(branch.id),
                "submission",
            )
        )
        chain.commands.append(
            Command(
                "registration",
                reg.DecideApplication.model_validate(
                    {
                        "round_id": round_id,
                        "municipality_number": number,
                        "decision": "admit",
                        "early_reason": "Admitted before the window closes, as a test",
                    }
                ),
                "/decisions",
                PROGRAMME_TOKEN,
                "admission",
            )
        )
        for j in range(ADDED_PER_MUNICIPALITY):
            chain.commands.append(
                Command(
                    "registration",
                    reg.AddGroupMember.model_validate(
                        {
                            "round_id": round_id,
                            "municipality_number": number,
                            "member": people.new().member("barnehage", f"Barnehage {j} i {name}"),
                        }
                    ),
                    "/group-members",
                    board_token(branch.id),
                    "group member",
                )
            )
        chains.append(chain)
        size = 2 + ADDED_PER_MUNICIPALITY
        members_by_region[branch.id] += size
        group_members += size
    ex.add_event("registration", reg.ApplicationSubmitted, m)
    ex.add_event("registration", reg.MunicipalityAdmitted, m)
    ex.add_event("registration", reg.GroupMemberAdded, m * ADDED_PER_MUNICIPALITY)
    mails += m * 3  # submitted: the board, the kulturskole's representative, the mailbox
    mails += m * 3  # admitted: the board and the group of two
    mails += m * ADDED_PER_MUNICIPALITY  # a welcome to each new member

    # Interest updates: each branch's chain alternates between its two lists.
    for k, b in enumerate(branches):
        share = updates // len(branches) + (1 if k < updates % len(branches) else 0)
        chain = Chain(f"interest {b.id}", _alternate(k))
        for u in range(share):
            chain.commands.append(
                interest_command(
                    round_id,
                    b,
                    contacts[b.id],
                    lists[b.id][(u + 1) % 2],
                    f"Oppdatering {u + 1}.",
                )
            )
        chains.append(chain)
    ex.add_event("registration", reg.InterestUpdated, updates)
    mails += 2 * updates

    # Samlinger, two per region, well ahead (no reminder falls due during the run).
    invitations = 0
    for k, b in enumerate(branches):
        chain = Chain(f"samlinger {b.id}", _alternate(k + 1))
        for s in range(SAMLINGER_PER_REGION):
            day = today + timedelta(days=60 + 7 * s)
            chain.commands.append(
                Command(
                    "scheduling",
                    sched.ScheduleGathering.model_validate(
                        {
                            "gathering_id": str(uuid.uuid4()),
                            "round_id": round_id,
                            "region": b.id,
                            "kind": "samling",
                            "title": f"Samling {s + 1}",
                            "venue": {"name": "Kulturhuset", "address": "Storgata 1"},
                            "starts_at": datetime.combine(day, time(10), OSLO).isoformat(),
                            "ends_at": datetime.combine(day, time(16), OSLO).isoformat(),
                        }
                    ),
                    "/gatherings",
                    PROGRAMME_TOKEN,
                    "samling",
                )
            )
        chains.append(chain)
        invitations += SAMLINGER_PER_REGION * members_by_region[b.id]
    ex.add_event("scheduling", sched.GatheringScheduled, SAMLINGER_PER_REGION * len(branches))
    ex.add_event("scheduling", sched.InvitationIssued, invitations)
    mails += invitations

    ex.mails = mails
    ex.rows = {
        "registration.interest_registrations": len(branches),
        "registration.interest_history": len(branches) + updates,
        "registration.applications admitted": m,
        "registration.group_members": group_members,
        "scheduling.gatherings": SAMLINGER_PER_REGION * len(branches),
        "scheduling.invitations": invitations,
    }
    plan = Plan(round_id, [setup_interest, windows], chains, expected)
    ex.commands = plan.commands
    return plan


def release_order(chains: list[Chain]) -> dict[tuple[str, int], int]:
    """The place of each command (by chain name and index) in the stream: each chain's
    commands spread evenly over the whole stream, so a fault in the middle meets every kind
    of command, not only the longest chains'."""
    slots = sorted(
        ((j + 0.5) / len(chain.commands), k, chain.name, j)
        for k, chain in enumerate(chains)
        for j in range(len(chain.commands))
    )
    return {(name, j): place for place, (_, _, name, j) in enumerate(slots)}
