"""A county branch's interest in a round: registered once, updated by registering again."""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

from services.registration.adapters.repositories import InterestSaved
from services.registration.domain.deadlines import require_before
from services.registration.domain.interest import check_municipality_contacts, scope_of_interest
from services.registration.domain.persons import same_person
from services.registration.domain.rounds import require_round
from services.registration.handlers.context import Context, publish_contact
from services.registration.handlers.persons import erase
from shared.contracts.events.registration import (
    ContactDetails,
    ContactHandover,
    InterestRegistered,
    InterestUpdated,
    MunicipalityContactRef,
    RegisterInterest,
)
from shared.messaging.bus import UnitOfWork


async def register_interest(
    cmd: RegisterInterest, uow: UnitOfWork, ctx: Context
) -> InterestRegistered | InterestUpdated:
    # One read: the round (shared lock), the members among the municipalities and the
    # branch's registration so far (locked). The checks then run in the order they always
    # have: the round, its deadline, the branch and municipalities, membership.
    branch = ctx.reference.branch(cmd.branch)
    repos = ctx.repositories(uow)
    intake = await repos.interests.intake(
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
    check_municipality_contacts(
        [c.municipality_number for c in cmd.municipality_contacts], municipalities
    )
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
        if not same_person(existing.contact_email, cmd.contact.email):
            replaced, person_id = person_id, uuid.uuid4()
    # One write: the contact person, the registration and a line of its history.
    await repos.interests.save(
        InterestSaved(
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
    )
    if replaced is not None:
        await _hand_over(uow, ctx, replaced, registration_id, cmd.round_id, scope, person_id)
    await publish_contact(uow, ctx, person_id, cmd.contact)
    named = await _municipality_contacts(uow, ctx, registration_id, cmd, new=existing is None)
    fields: dict[str, Any] = {
        "registration_id": registration_id,
        "round_id": cmd.round_id,
        "branch_id": scope.branch.id,
        "branch_name": scope.branch.name,
        "county_numbers": list(scope.branch.county_numbers),
        "municipality_numbers": municipalities,
        "contact_person_id": person_id,
        "message": cmd.message,
        "municipality_contacts": named,
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


async def _municipality_contacts(
    uow: UnitOfWork, ctx: Context, registration_id: UUID, cmd: RegisterInterest, *, new: bool
) -> list[MunicipalityContactRef]:
    """The contact named for each municipality: kept under the same id while the address is
    the same; one no longer named is forgotten here (and downstream) unless still in use."""
    repos = ctx.repositories(uow)
    before = {} if new else await repos.interests.municipality_contacts(registration_id)
    named: list[MunicipalityContactRef] = []
    for item in sorted(cmd.municipality_contacts, key=lambda c: c.municipality_number):
        number, contact = item.municipality_number, item.contact
        previous = before.get(number)
        same = previous is not None and same_person(previous[1], contact.email)
        person_id = previous[0] if same and previous is not None else uuid.uuid4()
        await repos.interests.save_municipality_contact(registration_id, number, person_id, contact)
        await publish_contact(uow, ctx, person_id, contact)
        named.append(MunicipalityContactRef(municipality_number=number, person_id=person_id))
    kept = {ref.person_id for ref in named}
    gone = sorted(n for n in before if n not in {ref.municipality_number for ref in named})
    if gone:
        await repos.interests.drop_municipality_contacts(registration_id, gone)
    for person_id, _ in sorted(before.values()):
        if person_id not in kept and not await repos.persons.in_use(person_id):
            await erase(uow, ctx, person_id, by=None)
    return named


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
    persons = ctx.repositories(uow).persons
    contact = await persons.contact(previous)
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
    if await persons.in_use(previous):
        await uow.emit(ctx.contacts, notice)
    else:
        await erase(uow, ctx, previous, by=None, last_word=notice)
