"""The programme round and its counties' application windows, as the rules see them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum

from services.registration.domain.deadlines import (
    closes_at,
    default_interest_deadline,
    require_later,
    require_not_past,
)
from services.registration.domain.decisions import require_capacity_holds
from services.registration.domain.reference import ReferenceData, branch_named
from shared.contracts.errors import Conflict, DomainError, NotFound
from shared.contracts.events.registration import (
    ApplicationWindowOpened,
    DeadlineExtended,
    DeadlineKind,
    RoundCapacityChanged,
    RoundClosed,
    RoundOpened,
)
from shared.contracts.events.registration import RoundState as PublishedRoundState


class RoundState(StrEnum):
    """The values of the published `RoundState`, kept here so the domain needs no contracts."""

    OPEN = "open"
    CLOSED = "closed"  # no new interest or applications; decisions go on
    CANCELLED = "cancelled"  # nothing more happens in it


@dataclass(frozen=True)
class Round:
    round_id: str
    interest_deadline: date
    capacity_per_branch: Mapping[str, int]
    state: RoundState
    state_reason: str | None = None

    def capacity(self, branch_id: str) -> int | None:
        """Places in the region; None: no limit set."""
        return self.capacity_per_branch.get(branch_id)

    def require_active(self, *, intake: bool) -> None:
        """A cancelled round takes nothing; a closed one no new interest or applications
        (`intake`), while decisions and group changes go on."""
        state = self.state
        if state is RoundState.CANCELLED or (intake and state is RoundState.CLOSED):
            word_nb = "avlyst" if state is RoundState.CANCELLED else "stengt"
            word_nn = "avlyst" if state is RoundState.CANCELLED else "stengd"
            raise Conflict(
                f"round {self.round_id} is {state.value}",
                nb=f"Programrunden {self.round_id} er {word_nb}.",
                nn=f"Programrunden {self.round_id} er {word_nn}.",
                field="round_id",
            )

    def require_not_closed(self) -> None:
        if self.state is RoundState.CLOSED:
            raise Conflict(
                f"round {self.round_id} is already closed",
                nb=f"Programrunden {self.round_id} er allerede stengt.",
                nn=f"Programrunden {self.round_id} er alt stengd.",
                field="round_id",
            )

    def change_capacity(
        self,
        changes: Mapping[str, int],
        admitted: Mapping[str, int],
        names: Mapping[str, str],
        *,
        by: str | None,
    ) -> tuple[Round, list[RoundCapacityChanged]]:
        """Places per region, never under those admitted there (`admitted`, read under each
        region's lock; `names`: the regions as people read them)."""
        for branch_id, places in changes.items():
            require_capacity_holds(places, admitted[branch_id], names[branch_id])
        capacity = {**self.capacity_per_branch, **changes}
        event = RoundCapacityChanged(
            round_id=self.round_id, capacity_per_branch=capacity, changed_by=by
        )
        return replace(self, capacity_per_branch=capacity), [event]

    def end(
        self, state: RoundState, reason: str, *, now: datetime, by: str | None
    ) -> tuple[Round, list[RoundClosed]]:
        """Closed (no more intake) or cancelled (nothing more); a closed round once only."""
        if state is RoundState.CLOSED:
            self.require_not_closed()
        event = RoundClosed(
            round_id=self.round_id,
            state=PublishedRoundState(state.value),
            reason=reason,
            closed_at=now,
            closed_by=by,
        )
        return replace(self, state=state, state_reason=reason), [event]

    def extend_interest(self, new_deadline: date) -> tuple[Round, list[DeadlineExtended]]:
        require_later(self.interest_deadline, new_deadline)
        event = DeadlineExtended(
            round_id=self.round_id,
            kind=DeadlineKind.INTEREST,
            county_number=None,
            previous_deadline=self.interest_deadline,
            new_deadline=new_deadline,
            closes_at=closes_at(new_deadline),
        )
        return replace(self, interest_deadline=new_deadline), [event]


def capacities(reference: ReferenceData, given: Mapping[str, int]) -> dict[str, int]:
    """Places per region, keyed by branch id whether the caller named it by id or name."""
    found: dict[str, int] = {}
    for key, places in given.items():
        if places < 0:
            raise DomainError(
                f"capacity of {key!r} must be a number ≥ 0",
                nb="Antall plasser må være 0 eller mer.",
                nn="Talet på plassar må vere 0 eller meir.",
                field="capacity_per_branch",
            )
        found[branch_named(reference, key, field="capacity_per_branch").id] = places
    return found


def open_round(
    round_id: str,
    *,
    interest_deadline: date | None,
    capacity_per_branch: Mapping[str, int],
    allow_past_deadline: bool,
    now: datetime,
) -> tuple[Round, list[RoundOpened]]:
    """A new round; its interest deadline by default as the invitation has it. A deadline
    already past is most likely a typo, unless the caller says it is meant."""
    deadline = interest_deadline or default_interest_deadline(round_id)
    if not allow_past_deadline:
        require_not_past(
            deadline, now, f"round {round_id}'s interest deadline", "interest_deadline"
        )
    opened = Round(round_id, deadline, dict(capacity_per_branch), RoundState.OPEN)
    event = RoundOpened(
        round_id=round_id,
        interest_deadline=deadline,
        interest_closes_at=closes_at(deadline),
        capacity_per_branch=dict(capacity_per_branch),
    )
    return opened, [event]


def round_exists(round_id: str) -> Conflict:
    return Conflict(
        f"round {round_id} is already open",
        nb=f"Programrunden {round_id} er allerede åpnet.",
        nn=f"Programrunden {round_id} er alt opna.",
        field="round_id",
    )


def no_round(round_id: str) -> NotFound:
    return NotFound(
        f"no programme round {round_id} is open",
        nb=f"Programrunden {round_id} finnes ikke.",
        nn=f"Programrunden {round_id} finst ikkje.",
        field="round_id",
    )


def require_round(found: Round | None, round_id: str, *, intake: bool = False) -> Round:
    """The round read for a command, if it exists and takes the command: a cancelled round
    takes nothing; `intake` (interest or applications) not a closed one either."""
    if found is None:
        raise no_round(round_id)
    found.require_active(intake=intake)
    return found


@dataclass(frozen=True)
class Window:
    """A county's application window: from the first day to the end of the deadline day."""

    round_id: str
    county_number: str
    opens_on: date
    deadline: date

    def extend(self, new_deadline: date) -> tuple[Window, list[DeadlineExtended]]:
        require_later(self.deadline, new_deadline)
        event = DeadlineExtended(
            round_id=self.round_id,
            kind=DeadlineKind.APPLICATION,
            county_number=self.county_number,
            previous_deadline=self.deadline,
            new_deadline=new_deadline,
            closes_at=closes_at(new_deadline),
        )
        return replace(self, deadline=new_deadline), [event]


def open_window(
    reference: ReferenceData,
    round_id: str,
    county_number: str,
    *,
    opens_on: date,
    deadline: date,
    now: datetime,
) -> tuple[Window, list[ApplicationWindowOpened]]:
    """A county's application window, opened after its annual meeting."""
    if county_number not in reference.counties:
        raise DomainError(
            f"unknown county number {county_number} (2024 structure)",
            nb=f"Ukjent fylkesnummer {county_number} (fylkesinndelingen fra 2024).",
            nn=f"Ukjent fylkesnummer {county_number} (fylkesinndelinga frå 2024).",
            field="county_number",
        )
    if deadline < opens_on:
        raise DomainError(
            "the application deadline cannot come before the window opens",
            nb="Søknadsfristen kan ikke være før søknadsperioden åpner.",
            nn="Søknadsfristen kan ikkje vere før søknadsperioden opnar.",
            field="deadline",
        )
    require_not_past(deadline, now, "the application window", "deadline")
    event = ApplicationWindowOpened(
        round_id=round_id,
        county_number=county_number,
        opens_on=opens_on,
        deadline=deadline,
        closes_at=closes_at(deadline),
    )
    return Window(round_id, county_number, opens_on, deadline), [event]


def window_exists(county_number: str) -> Conflict:
    return Conflict(
        f"the application window of county {county_number} is already open; "
        "extend its deadline instead",
        nb=f"Fylke {county_number} har allerede en søknadsperiode; forleng fristen i stedet.",
        nn=f"Fylke {county_number} har alt ein søknadsperiode; forleng fristen i staden.",
        field="county_number",
    )


def no_window(round_id: str, county_number: str | None) -> DomainError:
    """An application deadline to extend: it belongs to a county that has a window."""
    if county_number is None:
        return DomainError(
            "an application deadline belongs to a county: give county_number",
            nb="En søknadsfrist hører til et fylke: oppgi county_number.",
            nn="Ein søknadsfrist høyrer til eit fylke: oppgje county_number.",
            field="county_number",
        )
    return NotFound(
        f"county {county_number} has no application window in round {round_id}",
        nb=f"Fylke {county_number} har ingen søknadsperiode i runde {round_id}.",
        nn=f"Fylke {county_number} har ingen søknadsperiode i runde {round_id}.",
        field="county_number",
    )
