"""The rounds registration opens, closes and cancels: a gathering needs a round that exists."""

from __future__ import annotations

from services.scheduling.adapters import repository as repo
from services.scheduling.handlers.context import Context
from shared.contracts.errors import DomainError
from shared.contracts.events.registration import RoundClosed, RoundOpened
from shared.messaging.bus import UnitOfWork


async def round_opened(event: RoundOpened, uow: UnitOfWork, ctx: Context) -> None:
    await repo.save_round(uow.conn, event.round_id, "open", opened=True)


async def round_closed(event: RoundClosed, uow: UnitOfWork, ctx: Context) -> None:
    await repo.save_round(uow.conn, event.round_id, event.state.value, opened=False)


async def require_round(uow: UnitOfWork, round_id: str) -> None:
    """Known from registration's events and not cancelled (a closed round runs on)."""
    state = await repo.round_state(uow.conn, round_id)
    if state is None:
        raise DomainError(
            f"there is no round {round_id}: registration has not opened it",
            nb=f"Det finnes ingen runde {round_id}: den er ikke åpnet i påmeldingen.",
            nn=f"Det finst ingen runde {round_id}: han er ikkje opna i påmeldinga.",
            field="round_id",
            slug="unknown-round",
        )
    if state == "cancelled":
        raise DomainError(
            f"round {round_id} is cancelled",
            nb=f"Runde {round_id} er avlyst.",
            nn=f"Runde {round_id} er avlyst.",
            field="round_id",
            slug="round-cancelled",
        )
