"""Programme management's decisions, capacity per region and the wait-list."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from services.registration.domain.deadlines import require_closed
from shared.contracts.errors import Conflict, DomainError


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
class Application:
    """An application as the rules see it: where it stands and, while it is a draft, what
    it says (its group is registered member by member only when it is submitted)."""

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
    reason.) The status must allow it, a decline
    needs a reason, and every application of the county is in (its window has closed) unless
    the decision is marked early, with a reason."""
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
