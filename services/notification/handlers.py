"""Events in, recipients and planned mails out, inside one unit of work."""

from __future__ import annotations

import logging
import uuid
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
from shared.messaging import Handler, Rejected, Tombstone, UnitOfWork, tombstone_handler

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Context:
    programme_mailbox: str
    # The restricted, compacted topic of contact details: a tombstone there erases the person.
    contacts_topic: str


def make_handlers(ctx: Context) -> dict[str, Handler]:
    """The one table of what this service handles."""

    async def on_contact_details(contact: ContactDetails, uow: UnitOfWork) -> None:
        kept = await repository.upsert_recipient(
            uow.conn,
            person_id=contact.person_id,
            name=contact.name,
            email=str(contact.email),
            language=contact.language.value,
        )
        if not kept:
            # Late or redelivered: an erased person stays erased.
            log.info("contact details of an erased person ignored", extra={"person": contact.key()})

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
        await repository.erase_recipient(uow.conn, event.person_id)

    async def on_contact_tombstone(tombstone: Tombstone, uow: UnitOfWork) -> None:
        try:
            person_id = uuid.UUID(tombstone.key)
        except ValueError as error:
            raise Rejected(f"a contacts tombstone's key must be a person id: {error}") from error
        await repository.erase_recipient(uow.conn, person_id)

    return {
        ContactDetails.TYPE: on_contact_details,
        PersonErased.TYPE: on_person_erased,
        tombstone_handler(ctx.contacts_topic): on_contact_tombstone,
        InterestRegistered.TYPE: on_interest_registered,
        InterestUpdated.TYPE: on_interest_updated,
    }
