"""Who may send which command: programme management plans; a county board asks for dialogue
meetings, proposes and schedules delingsarenaer, and records RSVPs and attendance in its own
region; observers only read."""

from __future__ import annotations

from typing import Any

from services.scheduling.handlers.context import Context
from shared.contracts.events.scheduling import GatheringKind
from shared.runtime.auth import Principal, Role, parse_tokens, require_branch, require_programme


def tokens(raw: str, ctx: Context) -> dict[str, Principal]:
    """The bearer tokens of the settings; a board names its region by id or name."""

    def region_id(name_or_id: str) -> str | None:
        found = ctx.regions.get(name_or_id)
        return found.id if found else None

    return parse_tokens(raw, region_id)


def programme(principal: Principal, command: Any, ctx: Context) -> None:
    require_programme(principal)


def region_board(principal: Principal, command: Any, ctx: Context) -> None:
    """Programme management, or the board of the command's region."""
    require_branch(principal, *_region(ctx, command.region))


def gathering_rule(principal: Principal, command: Any, ctx: Context) -> None:
    """Programme management schedules every kind; a county board, which helps arrange
    delingsarenaer, schedules a delingsarena in its own region."""
    if principal.role is Role.COUNTY_BOARD and command.kind is GatheringKind.DELINGSARENA:
        require_branch(principal, *_region(ctx, command.region))
        return
    require_programme(principal)


def _region(ctx: Context, region: str) -> tuple[str, str]:
    found = ctx.region(region)
    return found.id, found.name
