"""Events in, recipients and planned mails out, inside one unit of work."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.notification.adapters import repository
from services.notification.domain.messages import mails_for_interest_registered
from shared.events.registration import (
    ContactDetails,
    InterestRegistered,
    InterestUpdated,
    PersonErased,
)
from shared.messaging import Handler, UnitOfWork


@dataclass(frozen=True)
class Context:
    programme_mailbox: str


def make_handlers(ctx: Context) -> dict[str, Handler]:
    """The one table of what this service handles."""

    async def on_contact_details(contact: ContactDetails, uow: UnitOfWork) -> None:
        await repository.upsert_recipient(
            uow.conn,
            person_id=contact.person_id,
            name=contact.name,
            email=str(contact.email),
            language=contact.language.value,
        )

    async def on_interest_registered(event: InterestRegistered, uow: UnitOfWork) -> None:
        data: dict[str, Any] = event.model_dump(mode="json")
        mails = mails_for_interest_registered(data, programme_mailbox=ctx.programme_mailbox)
        await repository.plan_deliveries(uow.conn, event_id=uow.caused_by.id, mails=mails)

    async def on_interest_updated(event: InterestUpdated, uow: UnitOfWork) -> None:
        data: dict[str, Any] = event.model_dump(mode="json")
        mails = mails_for_interest_registered(
            data, programme_mailbox=ctx.programme_mailbox, updated=True
        )
        await repository.plan_deliveries(uow.conn, event_id=uow.caused_by.id, mails=mails)

    async def on_person_erased(event: PersonErased, uow: UnitOfWork) -> None:
        await repository.forget_recipient(uow.conn, event.person_id)

    return {
        ContactDetails.TYPE: on_contact_details,
        PersonErased.TYPE: on_person_erased,
        InterestRegistered.TYPE: on_interest_registered,
        InterestUpdated.TYPE: on_interest_updated,
    }
