"""Contact details in, erasure: the addresses mails go to, and forgetting them."""

from __future__ import annotations

import logging
import uuid

from services.notification.adapters.store import Store
from services.notification.domain.messages import Handover
from services.notification.handlers.context import Context
from shared.contracts.events import registration as reg
from shared.contracts.events import scheduling as sched
from shared.messaging.bus import Rejected, Tombstone, UnitOfWork

log = logging.getLogger(__name__)


async def _keep_address(
    contact: reg.ContactDetails | sched.GuestContact, store: Store, *, who: str
) -> None:
    kept = await store.upsert_recipient(
        person_id=contact.person_id,
        name=contact.name,
        email=str(contact.email),
        language=contact.language.value,
    )
    if not kept:
        # Late or redelivered: an erased person stays erased.
        log.info("contact details of an erased %s ignored", who, extra={"person": contact.key()})


async def contact_details(contact: reg.ContactDetails, uow: UnitOfWork, ctx: Context) -> None:
    store = ctx.store(uow)
    await _keep_address(contact, store, who="person")
    handover = Handover.of(contact)
    if handover is not None:
        # Told even if the erasure that follows it was already seen on the public topic;
        # the mail keeps the address until it is sent, then nothing of theirs stays.
        mails = handover.mails(
            name=contact.name, address=str(contact.email), language=contact.language.value
        )
        await store.plan(handover.key, mails)


async def guest_contact(contact: sched.GuestContact, uow: UnitOfWork, ctx: Context) -> None:
    await _keep_address(contact, ctx.store(uow), who="guest")


async def person_erased(
    event: reg.PersonErased | sched.GuestErased, uow: UnitOfWork, ctx: Context
) -> None:
    await ctx.store(uow).erase_recipient(event.person_id)


async def contact_tombstone(tombstone: Tombstone, uow: UnitOfWork, ctx: Context) -> None:
    try:
        person_id = uuid.UUID(tombstone.key)
    except ValueError as error:
        raise Rejected(f"a contacts tombstone's key must be a person id: {error}") from error
    await ctx.store(uow).erase_recipient(person_id)
