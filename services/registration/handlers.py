"""Commands and events in, domain calls and outbox rows out, inside one unit of work."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from services.registration.adapters import repository
from services.registration.domain.interest import DomainError, scope_of_interest
from services.registration.domain.reference import ReferenceData
from shared.events.registration import ContactDetails, InterestRegistered, RegisterInterest
from shared.messaging import Handler, Rejected, UnitOfWork
from shared.topics import contacts_topic, events_topic

OSLO = ZoneInfo("Europe/Oslo")


@dataclass(frozen=True)
class Context:
    reference: ReferenceData
    topic_prefix: str


async def register_interest(
    command: RegisterInterest, uow: UnitOfWork, ctx: Context
) -> InterestRegistered:
    try:
        scope = scope_of_interest(
            ctx.reference, branch=command.branch, municipality_numbers=command.municipality_numbers
        )
    except DomainError as error:
        raise Rejected(str(error)) from error
    if await repository.interest_exists(
        uow.conn, round_id=command.round_id, branch_id=scope.branch.id
    ):
        raise Rejected(
            f"interest from {scope.branch.name} for round {command.round_id} is already registered",
            status=409,
        )
    person_id = uuid.uuid4()
    registration_id = uuid.uuid4()
    now = datetime.now(OSLO)
    await repository.add_person(uow.conn, person_id=person_id, contact=command.contact)
    await repository.add_interest(
        uow.conn,
        registration_id=registration_id,
        round_id=command.round_id,
        branch_id=scope.branch.id,
        municipality_numbers=list(scope.municipality_numbers),
        contact_person_id=person_id,
        message=command.message,
        registered_at=now,
    )
    # Contact details first, on the restricted topic; the public event carries only the id.
    await uow.emit(
        contacts_topic(ctx.topic_prefix),
        ContactDetails(
            person_id=person_id,
            name=command.contact.name,
            email=command.contact.email,
            phone=command.contact.phone,
            language=command.contact.language,
        ),
    )
    event = InterestRegistered(
        registration_id=registration_id,
        round_id=command.round_id,
        branch_id=scope.branch.id,
        branch_name=scope.branch.name,
        county_numbers=list(scope.branch.county_numbers),
        municipality_numbers=list(scope.municipality_numbers),
        contact_person_id=person_id,
        message=command.message,
        registered_at=now,
    )
    await uow.emit(events_topic("registration", ctx.topic_prefix), event)
    return event


def make_handlers(ctx: Context) -> dict[str, Handler]:
    """The one table of what this service handles."""

    async def on_register_interest(
        command: RegisterInterest, uow: UnitOfWork
    ) -> InterestRegistered:
        return await register_interest(command, uow, ctx)

    return {RegisterInterest.TYPE: on_register_interest}
