"""Who a gathering invites, from what registration has told us; and what must change.

Invitations are derived, not typed in: the handlers keep a projection of registration's
events (interest, admissions, kommunegrupper) and, after every change, compare whom each
gathering still ahead should invite with whom it has invited. That comparison is pure and
idempotent: running it twice, or on a redelivered event, changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from uuid import UUID, uuid5

from shared.contracts.events.scheduling import GatheringKind, InviteeRole

# Fixed forever: invitation ids are uuid5(gathering id, invitee key) in this namespace.
NAMESPACE = UUID("3c6f0a3e-8d0b-4a52-9a55-5b8d2a1f0c77")


@dataclass(frozen=True)
class Invitee:
    key: str  # "person:<uuid>" or "municipality:<number>": one invitation per gathering each
    role: InviteeRole
    person_id: UUID | None = None
    municipality_number: str | None = None
    branch_id: str | None = None

    @classmethod
    def person(
        cls,
        person_id: UUID,
        role: InviteeRole,
        *,
        municipality_number: str | None = None,
        branch_id: str | None = None,
    ) -> Invitee:
        return cls(f"person:{person_id}", role, person_id, municipality_number, branch_id)

    @classmethod
    def municipality(cls, number: str, branch_id: str | None = None) -> Invitee:
        return cls(f"municipality:{number}", InviteeRole.MUNICIPALITY, None, number, branch_id)


def invitation_id(gathering_id: UUID, key: str) -> UUID:
    """Stable: the same invitee of the same gathering always has the same invitation."""
    return uuid5(NAMESPACE, f"{gathering_id}:{key}")


@dataclass(frozen=True)
class Member:
    person_id: UUID
    role: InviteeRole


@dataclass(frozen=True)
class RegionState:
    """What registration has said about one round in one region."""

    region: str
    # Interested municipalities and the boards (their contact persons) that registered them.
    interested: frozenset[str] = frozenset()
    board_contacts: frozenset[UUID] = frozenset()
    # Admitted municipalities (not withdrawn) and their current kommunegruppe.
    groups: Mapping[str, Sequence[Member]] = field(default_factory=dict)
    # Municipalities that withdrew or lost their admission: invited to nothing more.
    left: frozenset[str] = frozenset()
    # The contact person the board named for an interested municipality, if it named one.
    municipality_contacts: Mapping[str, UUID] = field(default_factory=dict)


def _group(state: RegionState, municipality: str) -> list[Invitee]:
    return [
        Invitee.person(m.person_id, m.role, municipality_number=municipality)
        for m in state.groups.get(municipality, ())
    ]


def _boards(state: RegionState) -> list[Invitee]:
    return [
        Invitee.person(p, InviteeRole.COUNTY_BOARD, branch_id=state.region)
        for p in sorted(state.board_contacts)
    ]


def _interested(state: RegionState, number: str) -> Invitee:
    """An interested municipality: its named contact person, else the municipality as such
    (whose mail then goes to the board that registered it)."""
    person_id = state.municipality_contacts.get(number)
    if person_id is None:
        return Invitee.municipality(number, state.region)
    return Invitee.person(
        person_id, InviteeRole.MUNICIPALITY, municipality_number=number, branch_id=state.region
    )


def invitees(
    kind: GatheringKind,
    state: RegionState,
    *,
    municipality: str | None = None,
    also_invite: Iterable[str] = (),
    guests: Iterable[UUID] = (),
) -> dict[str, Invitee]:
    """Whom a gathering of `kind` invites now.

    - presamling: the boards that registered interest in the region and each interested
      municipality (it has no kommunegruppe yet): its named contact person when the board
      named one;
    - samling: every member of every admitted kommunegruppe of the region;
    - delingsarena: those, and the region's boards, who help arrange it;
    - dialogmøte: the region's boards;
    - veiledning: the kommunegruppe of its one municipality.
    A municipality named in `also_invite` comes with its kommunegruppe once admitted, or as a
    municipality before that; not at all once it has left the programme. `guests` are other
    actors a dialogmøte invites by name.
    """
    found: list[Invitee] = []
    if kind is GatheringKind.PRESAMLING:
        found += _boards(state)
        found += [_interested(state, n) for n in sorted(state.interested)]
    elif kind is GatheringKind.SAMLING:
        for number in sorted(state.groups):
            found += _group(state, number)
    elif kind is GatheringKind.DELINGSARENA:
        found += _boards(state)
        for number in sorted(state.groups):
            found += _group(state, number)
    elif kind is GatheringKind.DIALOGMOTE:
        found += _boards(state)
    elif kind is GatheringKind.VEILEDNING and municipality is not None:
        found += _group(state, municipality)
    for number in also_invite:
        if number in state.left:
            continue
        found += _group(state, number) or [Invitee.municipality(number)]
    found += [Invitee.person(p, InviteeRole.GUEST) for p in guests]
    return {invitee.key: invitee for invitee in found}


@dataclass(frozen=True)
class Changes:
    issue: tuple[Invitee, ...]
    withdraw: tuple[str, ...]  # invitee keys

    def __bool__(self) -> bool:
        return bool(self.issue or self.withdraw)


def reconcile(desired: Mapping[str, Invitee], active: Iterable[str]) -> Changes:
    """What to issue and what to withdraw so that exactly `desired` is invited."""
    current = set(active)
    return Changes(
        issue=tuple(desired[k] for k in sorted(desired) if k not in current),
        withdraw=tuple(sorted(current - set(desired))),
    )
