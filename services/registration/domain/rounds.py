"""The programme round and its counties' application windows, as the rules see them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from shared.contracts.errors import Conflict


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


@dataclass(frozen=True)
class Window:
    """A county's application window: from the first day to the end of the deadline day."""

    opens_on: date
    deadline: date
