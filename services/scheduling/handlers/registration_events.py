"""The registration events this service follows, and the handler of each."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from services.scheduling.handlers import invitations, rounds
from services.scheduling.handlers.context import Context
from shared.contracts.events.base import Contract
from shared.contracts.events.registration import (
    AdmissionRevoked,
    ApplicationSubmitted,
    GroupMemberAdded,
    GroupMemberRemoved,
    InterestRegistered,
    InterestUpdated,
    MunicipalityAdmitted,
    MunicipalityWithdrawn,
    PersonErased,
    RoundClosed,
    RoundOpened,
)
from shared.messaging.bus import UnitOfWork

FOLLOWS: dict[type[Contract], Callable[[Any, UnitOfWork, Context], Awaitable[Any]]] = {
    RoundOpened: rounds.on_round_opened,
    RoundClosed: rounds.on_round_closed,
    InterestRegistered: invitations.interest_registered,
    InterestUpdated: invitations.interest_registered,
    ApplicationSubmitted: invitations.application_submitted,
    MunicipalityAdmitted: invitations.municipality_admitted,
    MunicipalityWithdrawn: invitations.municipality_withdrawn,
    AdmissionRevoked: invitations.municipality_withdrawn,
    GroupMemberAdded: invitations.group_member_added,
    GroupMemberRemoved: invitations.group_member_removed,
    PersonErased: invitations.person_erased,
}
