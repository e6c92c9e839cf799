"""A county branch's interest in a round: registered once, updated by registering again."""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

from services.registration.domain.deadlines import require_before
from services.registration.domain.interest import scope_of_interest
from services.registration.handlers.context import Context, publish_contact, require_round
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
    # One read: the round (shared lock), the members among the municipalities and the
    # branch's registration so far (locked). The checks then run in the order they always
    # have: the round, its deadline, the branch and municipalities, membership.
    branch = ctx.reference.branch(cmd.branch)
    intake = await ctx.store(uow).interest_intake(
        round_id=cmd.round_id,
        branch_id=branch.id if branch is not None else None,
        municipality_numbers=cmd.municipality_numbers,
    )
    found = require_round(intake.round, cmd.round_id, intake=True)
    now = ctx.clock()
    require_before(found.interest_deadline, now, f"interest for round {cmd.round_id}")
    scope = scope_of_interest(
        ctx.reference,
        branch=cmd.branch,
        municipality_numbers=cmd.municipality_numbers,
        members=intake.members,
    )
    existing = intake.existing
    municipalities = list(scope.municipality_numbers)
    replaced: UUID | None = None
    added: list[str]
    removed: list[str]
    if existing is None:
        registration_id, person_id = uuid.uuid4(), uuid.uuid4()
        added, removed = municipalities, []
    else:
        # Registering again updates the registration; the same contact (by e-mail) keeps their id.
        registration_id, person_id = existing.id, existing.contact_person_id
        added, removed = existing.changes(municipalities)
        same_contact = (existing.contact_email or "").lower() == str(cmd.contact.email).lower()
        if not same_contact:
            replaced, person_id = person_id, uuid.uuid4()
    # One write: the contact person, the registration and a line of its history.
    await ctx.store(uow).save_interest(
        registration_id=registration_id,
        new=existing is None,
        round_id=cmd.round_id,
        branch_id=scope.branch.id,
        municipality_numbers=municipalities,
        person_id=person_id,
        contact=cmd.contact,
        message=cmd.message,
        at=now,
        added=added,
        removed=removed,
        contact_changed=replaced is not None,
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
