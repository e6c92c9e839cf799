"""A county branch's interest in a round: registered once, updated by registering again."""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

from services.registration.domain.deadlines import require_before
from services.registration.domain.interest import scope_of_interest
from services.registration.handlers.context import Context, load_round, publish_contact
from services.registration.handlers.persons import erase
from shared.events.registration import (
    ContactDetails,
    ContactHandover,
    InterestRegistered,
    InterestUpdated,
    RegisterInterest,
)
from shared.messaging import UnitOfWork


async def register_interest(
    cmd: RegisterInterest, uow: UnitOfWork, ctx: Context
) -> InterestRegistered | InterestUpdated:
    found = await load_round(uow, ctx, cmd.round_id, intake=True)
    now = ctx.clock()
    require_before(found.interest_deadline, now, f"interest for round {cmd.round_id}")
    scope = scope_of_interest(
        ctx.reference,
        branch=cmd.branch,
        municipality_numbers=cmd.municipality_numbers,
        members=await ctx.store(uow).members_among(cmd.municipality_numbers),
    )
    existing = await ctx.store(uow).get_interest_for(
        round_id=cmd.round_id, branch_id=scope.branch.id
    )
    municipalities = list(scope.municipality_numbers)
    replaced: UUID | None = None
    added: list[str]
    removed: list[str]
    if existing is None:
        registration_id, person_id = uuid.uuid4(), uuid.uuid4()
        added, removed = municipalities, []
        await ctx.store(uow).add_person(person_id=person_id, contact=cmd.contact)
        await ctx.store(uow).add_interest(
            registration_id=registration_id,
            round_id=cmd.round_id,
            branch_id=scope.branch.id,
            municipality_numbers=municipalities,
            contact_person_id=person_id,
            message=cmd.message,
            registered_at=now,
        )
    else:
        # Registering again updates the registration; the same contact (by e-mail) keeps their id.
        registration_id, person_id = existing.id, existing.contact_person_id
        added, removed = existing.changes(municipalities)
        same_contact = (existing.contact_email or "").lower() == str(cmd.contact.email).lower()
        if same_contact:
            await ctx.store(uow).update_person(person_id=person_id, contact=cmd.contact)
        else:
            replaced, person_id = person_id, uuid.uuid4()
            await ctx.store(uow).add_person(person_id=person_id, contact=cmd.contact)
        await ctx.store(uow).update_interest(
            registration_id=registration_id,
            municipality_numbers=municipalities,
            contact_person_id=person_id,
            message=cmd.message,
            updated_at=now,
        )
    await ctx.store(uow).add_interest_history(
        registration_id=registration_id,
        at=now,
        municipality_numbers=municipalities,
        added=added,
        removed=removed,
        contact_changed=replaced is not None,
        message=cmd.message,
    )
    if replaced is not None:
        await _hand_over(uow, ctx, replaced, registration_id, cmd.round_id, scope, person_id)
    await publish_contact(uow, ctx, person_id, cmd.contact)
    fields: dict[str, Any] = {
        "registration_id": registration_id,
        "round_id": cmd.round_id,
        "branch_id": scope.branch.id,
        "branch_name": scope.branch.name,
        "county_numbers": list(scope.branch.county_numbers),
        "municipality_numbers": municipalities,
        "contact_person_id": person_id,
        "message": cmd.message,
    }
    event: InterestRegistered | InterestUpdated = (
        InterestRegistered(**fields, registered_at=now)
        if existing is None
        else InterestUpdated(
            **fields,
            updated_at=now,
            added_municipality_numbers=added,
            removed_municipality_numbers=removed,
            previous_contact_person_id=replaced,
        )
    )
    await uow.emit(ctx.events, event)
    return event


async def _hand_over(
    uow: UnitOfWork,
    ctx: Context,
    previous: UUID,
    registration_id: UUID,
    round_id: str,
    scope: Any,
    new_person_id: UUID,
) -> None:
    """Tell the former contact (on the restricted topic, with their details, so that they
    can be written to) that someone else now holds it; then, if nothing else here refers to
    them, nothing of theirs is kept (a tombstone follows under the same key, in order)."""
    contact = await ctx.store(uow).person_contact(previous)
    if contact is None:
        return
    notice = ContactDetails(
        person_id=previous,
        name=contact.name,
        email=contact.email,
        phone=contact.phone,
        language=contact.language,
        handed_over=ContactHandover(
            registration_id=registration_id,
            round_id=round_id,
            branch_id=scope.branch.id,
            branch_name=scope.branch.name,
            new_contact_person_id=new_person_id,
        ),
    )
    if await ctx.store(uow).person_in_use(previous):
        await uow.emit(ctx.contacts, notice)
    else:
        await erase(uow, ctx, previous, by=None, last_word=notice)
