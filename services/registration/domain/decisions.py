"""Programme management's decisions, capacity per region and the wait-list."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from services.registration.domain.deadlines import require_closed
from services.registration.domain.groups import Member
from shared.contracts.errors import Conflict, DomainError, NotFound
from shared.contracts.events.registration import (
    AdmissionRevoked,
    GroupMemberRef,
    GroupRole,
    MunicipalityAdmitted,
    MunicipalityDeclined,
    MunicipalityWaitlisted,
    MunicipalityWithdrawn,
)


class Status(StrEnum):
    """Where an application stands."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    ADMITTED = "admitted"
    WAITLISTED = "waitlisted"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"  # the county board took it back: not a decision
    REVOKED = "revoked"  # programme management took an admission back


# The names earlier code used.
DRAFT, SUBMITTED, ADMITTED = Status.DRAFT, Status.SUBMITTED, Status.ADMITTED
WAITLISTED, DECLINED, WITHDRAWN, REVOKED = (
    Status.WAITLISTED,
    Status.DECLINED,
    Status.WITHDRAWN,
    Status.REVOKED,
)

# From which status each step may be taken.
ALLOWED_FROM: dict[Status, set[Status]] = {
    ADMITTED: {SUBMITTED, WAITLISTED},
    WAITLISTED: {SUBMITTED},
    DECLINED: {SUBMITTED, WAITLISTED},
    WITHDRAWN: {SUBMITTED, WAITLISTED, ADMITTED},
    REVOKED: {ADMITTED},
}
# A new draft may replace an application that is no longer in play (while the window is open).
REDRAFTABLE = {DRAFT, WITHDRAWN}
# Whose kommunegruppe may still change.
CHANGEABLE = {SUBMITTED, WAITLISTED, ADMITTED}

STATUS_NB = {
    DRAFT: "et utkast",
    SUBMITTED: "sendt inn",
    ADMITTED: "tatt opp",
    WAITLISTED: "på venteliste",
    DECLINED: "avslått",
    WITHDRAWN: "trukket",
    REVOKED: "tilbakekalt",
}


class NotAllowedNow(Conflict):
    slug = "status-does-not-allow"


class CapacityFull(Conflict):
    slug = "capacity-full"


def require_transition(current: Status | str, target: Status, municipality: str) -> None:
    current = Status(current)
    if current not in ALLOWED_FROM[target]:
        raise NotAllowedNow(
            f"the application of {municipality} is {current}; it cannot be {target}",
            nb=f"Søknaden fra {municipality} er {STATUS_NB[current]} og kan ikke bli "
            f"{STATUS_NB[target]}.",
            nn=f"Søknaden frå {municipality} er {STATUS_NB[current]} og kan ikkje bli "
            f"{STATUS_NB[target]}.",
        )


def require_place(capacity: int | None, admitted: int, region: str) -> None:
    """`region` by its name, as the reason is read by people."""
    if capacity is not None and admitted >= capacity:
        en, nb, nn = _places_taken(capacity, region)
        raise CapacityFull(
            f"{en}; wait-list the application instead",
            nb=f"{nb}; sett søknaden på venteliste.",
            nn=f"{nn}; set søknaden på venteliste.",
        )


def _places_taken(capacity: int, region: str) -> tuple[str, str, str]:
    """That a region's places are taken, in en, nb and nn, with the number said right."""
    if capacity == 0:
        return (
            f"region {region} has no places",
            f"Regionen {region} har ingen plasser",
            f"Regionen {region} har ingen plassar",
        )
    if capacity == 1:
        return (
            f"region {region} has its one place taken",
            f"Den ene plassen i regionen {region} er tatt",
            f"Den eine plassen i regionen {region} er teken",
        )
    return (
        f"region {region} has all its {capacity} places taken",
        f"Alle {capacity} plassene i regionen {region} er tatt",
        f"Alle {capacity} plassane i regionen {region} er tekne",
    )


def require_capacity_holds(capacity: int, admitted: int, region: str) -> None:
    """Capacity cannot be lowered under the places already given."""
    if capacity < admitted:
        raise Conflict(
            f"region {region} has {admitted} admitted already; capacity cannot be {capacity}",
            nb=f"Regionen {region} har allerede {admitted} tatt opp; kapasiteten kan ikke være "
            f"{capacity}.",
            nn=f"Regionen {region} har alt {admitted} tekne opp; kapasiteten kan ikkje vere "
            f"{capacity}.",
            field="capacity_per_branch",
        )


@dataclass(frozen=True)
class Waiting:
    municipality_number: str
    sequence: int  # the order in which they were wait-listed


def first_in_line(waiting: Sequence[Waiting]) -> Waiting | None:
    return min(waiting, key=lambda w: w.sequence, default=None)


@dataclass(frozen=True)
class Region:
    """A region's applications in a round as a decision needs them, read under the region's
    lock (decisions in one region are serialised so that capacity holds)."""

    admitted: int
    waiting: tuple[Waiting, ...] = ()


@dataclass(frozen=True)
class Application:
    """An application, whole: where it stands and, while it is a draft, what it says (its
    group is registered member by member only when it is submitted), and who took each step.

    A repository saves it as it is; `waitlist_sequence` is given by the store when the
    application joins the wait-list (None here until then)."""

    id: UUID
    round_id: str
    municipality_number: str
    county_number: str
    branch_id: str
    status: Status
    motivation: str = ""
    development_areas: tuple[str, ...] = ()
    co_creation_plan: str = ""
    draft_group: tuple[Mapping[str, Any], ...] = ()
    own_development_areas: tuple[str, ...] = ()
    themes: tuple[str, ...] = ()
    submitted_at: datetime | None = None
    decided_at: datetime | None = None
    decision_reason: str | None = None
    decided_by: str | None = None
    early_reason: str | None = None
    promoted_from_waitlist: bool = False
    waitlist_sequence: int | None = None
    withdrawn_at: datetime | None = None
    withdrawn_by: str | None = None
    withdrawal_reason: str | None = None
    revoked_at: datetime | None = None
    revoked_by: str | None = None
    revocation_reason: str | None = None

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> Application:
        return cls(
            id=row["id"],
            round_id=row["round_id"],
            municipality_number=row["municipality_number"],
            county_number=row["county_number"],
            branch_id=row["branch_id"],
            status=Status(row["status"]),
            motivation=row.get("motivation") or "",
            development_areas=tuple(row.get("development_areas") or ()),
            co_creation_plan=row.get("co_creation_plan") or "",
            draft_group=tuple(row.get("draft_group") or ()),
            own_development_areas=tuple(row.get("own_development_areas") or ()),
            themes=tuple(row.get("themes") or ()),
            submitted_at=row.get("submitted_at"),
            decided_at=row.get("decided_at"),
            decision_reason=row.get("decision_reason"),
            decided_by=row.get("decided_by"),
            early_reason=row.get("early_reason"),
            promoted_from_waitlist=bool(row.get("promoted_from_waitlist")),
            waitlist_sequence=row.get("waitlist_sequence"),
            withdrawn_at=row.get("withdrawn_at"),
            withdrawn_by=row.get("withdrawn_by"),
            withdrawal_reason=row.get("withdrawal_reason"),
            revoked_at=row.get("revoked_at"),
            revoked_by=row.get("revoked_by"),
            revocation_reason=row.get("revocation_reason"),
        )

    def with_decision(
        self,
        status: Status,
        *,
        at: datetime | None,
        by: str | None,
        reason: str | None = None,
        early_reason: str | None = None,
        promoted: bool = False,
    ) -> Application:
        """In `status` by a decision taken `at` (None: undecided, as a draft is); it leaves
        the wait-list, which it joins again only by being wait-listed (the store draws its
        place in line)."""
        return replace(
            self,
            status=status,
            decided_at=at,
            decision_reason=reason,
            decided_by=by,
            early_reason=early_reason,
            promoted_from_waitlist=promoted,
            waitlist_sequence=None,
        )

    def _decided(self, at: datetime) -> dict[str, Any]:
        """What every decision event says of the application."""
        return {
            "application_id": self.id,
            "round_id": self.round_id,
            "municipality_number": self.municipality_number,
            "county_number": self.county_number,
            "branch_id": self.branch_id,
            "decided_at": at,
        }


def no_application(name: str, round_id: str) -> NotFound:
    return NotFound(
        f"no application from {name} in round {round_id}",
        nb=f"Det finnes ingen søknad fra {name} i runde {round_id}.",
        nn=f"Det finst ingen søknad frå {name} i runde {round_id}.",
        field="municipality_number",
    )


def check_decision(
    app: Application,
    target: Status,
    *,
    reason: str,
    early_reason: str | None,
    window_deadline: date | None,
    now: datetime,
    name: str = "",
) -> None:
    """May programme management take this decision now? (`name`: the municipality's, for the
    reason.) The status must allow it, a decline needs a reason, and every application of
    the county is in (its window has closed) unless the decision is marked early, with a
    reason."""
    require_transition(app.status, target, name or app.municipality_number)
    if target is DECLINED and not reason.strip():
        raise DomainError(
            "a declined application needs a reason",
            nb="Et avslag må ha en begrunnelse.",
            nn="Eit avslag må ha ei grunngjeving.",
            field="reason",
        )
    if early_reason is None:
        if window_deadline is None:
            raise Conflict(
                f"county {app.county_number} has no application window in round {app.round_id}; "
                "a decision before one needs early_reason",
                nb=f"Fylke {app.county_number} har ingen søknadsperiode i runde {app.round_id}; "
                "et vedtak før det må ha early_reason.",
                nn=f"Fylke {app.county_number} har ingen søknadsperiode i runde {app.round_id}; "
                "eit vedtak før det må ha early_reason.",
                field="early_reason",
            )
        require_closed(window_deadline, now, app.county_number)


def group_refs(group: Sequence[Member]) -> list[GroupMemberRef]:
    return [
        GroupMemberRef(person_id=m.person_id, role=GroupRole(m.role.value))
        for m in group
        if m.person_id is not None  # always so once submitted: the type allows drafts
    ]


def admit(
    app: Application,
    *,
    region: Region,
    capacity: int | None,
    region_name: str,
    group: Sequence[Member],
    now: datetime,
    by: str | None,
    early_reason: str | None = None,
    promoted: bool = False,
) -> tuple[Application, list[MunicipalityAdmitted]]:
    """An admission, if the region has a place left. A move up the wait-list is nobody's
    decision (`by` is then None)."""
    require_place(capacity, region.admitted, region_name)
    admitted = app.with_decision(
        ADMITTED, at=now, by=by, early_reason=early_reason, promoted=promoted
    )
    event = MunicipalityAdmitted(
        **app._decided(now),
        decided_by=by,
        early_reason=early_reason,
        promoted_from_waitlist=promoted,
        group=group_refs(group),
    )
    return admitted, [event]


def decide(
    app: Application,
    target: Status,
    *,
    reason: str,
    early_reason: str | None,
    window_deadline: date | None,
    region: Region,
    capacity: int | None,
    region_name: str,
    group: Sequence[Member],
    now: datetime,
    by: str | None,
    name: str,
) -> tuple[Application, list[MunicipalityAdmitted | MunicipalityWaitlisted | MunicipalityDeclined]]:
    """Programme management's decision: the application as decided and the event to publish."""
    check_decision(
        app,
        target,
        reason=reason,
        early_reason=early_reason,
        window_deadline=window_deadline,
        now=now,
        name=name,
    )
    if target is ADMITTED:
        admitted, events = admit(
            app,
            region=region,
            capacity=capacity,
            region_name=region_name,
            group=group,
            now=now,
            by=by,
            early_reason=early_reason,
        )
        return admitted, list(events)
    decided = app.with_decision(
        target,
        at=now,
        by=by,
        reason=reason if target is DECLINED else None,
        early_reason=early_reason,
    )
    fields = {**app._decided(now), "decided_by": by, "early_reason": early_reason}
    if target is WAITLISTED:
        # Last in line: after every application of the region already waiting.
        return decided, [MunicipalityWaitlisted(**fields, position=len(region.waiting) + 1)]
    return decided, [MunicipalityDeclined(**fields, reason=reason)]


def withdraw(
    app: Application, *, reason: str, now: datetime, by: str | None, name: str
) -> tuple[Application, list[MunicipalityWithdrawn]]:
    """The county board takes the application back: a fact of its own, not a decision (the
    decision fields stay as they were); it leaves the wait-list."""
    require_transition(app.status, WITHDRAWN, name)
    withdrawn = replace(
        app,
        status=WITHDRAWN,
        withdrawn_at=now,
        withdrawal_reason=reason,
        withdrawn_by=by,
        waitlist_sequence=None,
    )
    # `decided_at` is kept for readers of v1: it is when this step was taken.
    event = MunicipalityWithdrawn(
        **app._decided(now),
        previous_status=app.status,
        reason=reason,
        withdrawn_at=now,
        withdrawn_by=by,
    )
    return withdrawn, [event]


def revoke(
    app: Application, *, reason: str, now: datetime, by: str | None, name: str
) -> tuple[Application, list[AdmissionRevoked]]:
    """Programme management takes an admission back, with a reason."""
    require_transition(app.status, REVOKED, name)
    revoked = replace(app, status=REVOKED, revoked_at=now, revocation_reason=reason, revoked_by=by)
    event = AdmissionRevoked(
        application_id=app.id,
        round_id=app.round_id,
        municipality_number=app.municipality_number,
        county_number=app.county_number,
        branch_id=app.branch_id,
        reason=reason,
        revoked_at=now,
        revoked_by=by,
    )
    return revoked, [event]


def frees_a_place(before: Status) -> bool:
    """Whether leaving this status gives a place to the first on the wait-list."""
    return before is ADMITTED
