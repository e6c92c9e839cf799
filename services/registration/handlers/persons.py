"""Personal data: erased here, and downstream told (a tombstone and an event)."""

from __future__ import annotations

from uuid import UUID

from services.registration.domain import persons
from services.registration.handlers.context import Context, actor
from shared.contracts.events.registration import ContactDetails, ErasePerson, PersonErased
from shared.messaging.bus import UnitOfWork


async def erase(
    uow: UnitOfWork,
    ctx: Context,
    person_id: UUID,
    *,
    by: str | None,
    last_word: ContactDetails | None = None,
) -> PersonErased | None:
    """Erase a person's contact data here and tell downstream; None if there was none.

    `last_word` goes on the contacts topic after their earlier records are withdrawn from the
    outbox and before the tombstone, so a consumer reads it (e.g. to tell them they are no
    longer the contact) and then forgets them; compaction keeps only the tombstone."""
    repository = ctx.repositories(uow).persons
    if not await repository.erase(person_id, contacts_topic=ctx.contacts, by=by):
        return None
    if last_word is not None:
        await uow.emit(ctx.contacts, last_word)
    now = ctx.clock()
    # A tombstone removes the contact record from the compacted topic (and from consumers that
    # hold it); the event tells every consumer of the public topic.
    await repository.tombstone(
        ctx.contacts, str(person_id), f"tombstone:{person_id}:{now.isoformat()}"
    )
    event = persons.erased(person_id, now=now, by=by)
    await uow.emit(ctx.events, event)
    return event


async def erase_person(cmd: ErasePerson, uow: UnitOfWork, ctx: Context) -> PersonErased:
    event = await erase(uow, ctx, cmd.person_id, by=actor())
    if event is None:
        raise persons.nothing_to_erase(cmd.person_id)
    return event
