"""A county branch's interest in a round: registered once, updated by registering again."""

from __future__ import annotations

import uuid
from uuid import UUID

from services.registration.adapters.repositories import Repositories
from services.registration.domain import interest
from services.registration.handlers.context import Context, publish_contact
from services.registration.handlers.persons import erase
from shared.contracts.events.registration import (
    ContactDetails,
    ContactHandover,
    InterestRegistered,
    InterestUpdated,
    RegisterInterest,
)
from shared.messaging.bus import UnitOfWork


async def register_interest(
    cmd: RegisterInterest, uow: UnitOfWork, ctx: Context
) -> InterestRegistered | InterestUpdated:
    repos = ctx.repositories(uow)
    branch = ctx.reference.branch(cmd.branch)
    # One read: the round (shared lock), the members among the municipalities and the
    # branch's registration so far (locked); then its municipalities' contacts, if any.
    intake = await repos.interests.intake(
        round_id=cmd.round_id,
        branch_id=branch.id if branch is not None else None,
        municipality_numbers=cmd.municipality_numbers,
    )
    existing = intake.existing
    before = await repos.interests.municipality_contacts(existing.id) if existing else {}
    registered = interest.register(
        ctx.reference,
        cmd,
        found=intake.round,
        members=intake.members,
        existing=existing,
        before=before,
        now=ctx.clock(),
        new_id=uuid.uuid4,
    )
    saved = registered.saved
    # One write: the contact person, the registration and a line of its history.
    await repos.interests.save(saved)
    if registered.replaced is not None and registered.handover is not None:
        await _hand_over(uow, ctx, repos, registered.replaced, registered.handover)
    await publish_contact(uow, ctx, saved.person_id, cmd.contact)
    for named in registered.contacts:
        await repos.interests.save_municipality_contact(saved.registration_id, named)
        await publish_contact(uow, ctx, named.person_id, named.contact)
    if registered.gone:
        await repos.interests.drop_municipality_contacts(saved.registration_id, registered.gone)
    for person_id in registered.let_go:
        if not await repos.persons.in_use(person_id):
            await erase(uow, ctx, person_id, by=None)
    await uow.emit(ctx.events, registered.event)
    return registered.event


async def _hand_over(
    uow: UnitOfWork, ctx: Context, repos: Repositories, previous: UUID, handover: ContactHandover
) -> None:
    """Tell the former contact (on the restricted topic, with their details, so that they
    can be written to) that someone else now holds it; then, if nothing else here refers to
    them, nothing of theirs is kept (a tombstone follows under the same key, in order)."""
    contact = await repos.persons.contact(previous)
    if contact is None:
        return
    notice = ContactDetails(
        person_id=previous,
        name=contact.name,
        email=contact.email,
        phone=contact.phone,
        language=contact.language,
        handed_over=handover,
    )
    if await repos.persons.in_use(previous):
        await uow.emit(ctx.contacts, notice)
    else:
        await erase(uow, ctx, previous, by=None, last_word=notice)
