"""Commands in, domain calls and outbox rows out, inside one unit of work.

Every handler runs in the transaction `MessageBus.handle` opened: state, inbox row and
outgoing events commit together or not at all. A rule that says no raises `Rejected`, so
nothing of the command is stored (over HTTP a 4xx, from Kafka a dead letter, with reason).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg

from services.registration.adapters import repository as repo
from services.registration.domain import decisions as rules
from services.registration.domain.deadlines import (
    closes_at,
    default_interest_deadline,
    require_before,
    require_later,
    require_open,
)
from services.registration.domain.groups import Member, check_group
from services.registration.domain.interest import (
    DomainError,
    municipality_in_branch,
    require_members,
    scope_of_interest,
)
from services.registration.domain.reference import ReferenceData
from shared.events.base import Contract
from shared.events.registration import (
    AddGroupMember,
    ApplicationSubmitted,
    ApplicationWindowOpened,
    ContactDetails,
    ContactPerson,
    DeadlineExtended,
    DeadlineKind,
    DecideApplication,
    Decision,
    ErasePerson,
    ExtendDeadline,
    GroupMember,
    GroupMemberAdded,
    GroupMemberRef,
    GroupMemberRemoved,
    ImportMembers,
    InterestRegistered,
    InterestUpdated,
    MembershipChanged,
    MunicipalityAdmitted,
    MunicipalityDeclined,
    MunicipalityWaitlisted,
    MunicipalityWithdrawn,
    OpenApplicationWindow,
    OpenRound,
    PersonErased,
    RegisterInterest,
    RemoveGroupMember,
    ReplaceGroupMember,
    RoundOpened,
    SaveApplicationDraft,
    SubmitApplication,
    WithdrawMunicipality,
    contacts_topic,
)
from shared.messaging import Handler, Rejected, UnitOfWork
from shared.outbox import add_to_outbox
from shared.topics import events_topic

OSLO = ZoneInfo("Europe/Oslo")


def oslo_now() -> datetime:
    return datetime.now(OSLO)


@dataclass(frozen=True)
class Context:
    reference: ReferenceData
    topic_prefix: str
    clock: Callable[[], datetime] = field(default=oslo_now)

    @property
    def events(self) -> str:
        return events_topic("registration", self.topic_prefix)

    @property
    def contacts(self) -> str:
        return contacts_topic(self.topic_prefix)


def refused(error: DomainError, status: int = 422) -> Rejected:
    return Rejected(str(error), status=status)


async def _round(uow: UnitOfWork, round_id: str, *, changes: bool = False) -> asyncpg.Record:
    """The round, locked so that a deadline cannot move under a command that checks it.

    Only a command that changes the round takes it exclusively; the rest share it, so they
    do not queue behind one another.
    """
    found = await repo.get_round(uow.conn, round_id, lock="update" if changes else "share")
    if found is None:
        raise Rejected(f"no programme round {round_id} is open", status=404)
    return found


async def _publish_contact(
    uow: UnitOfWork, ctx: Context, person_id: UUID, who: ContactPerson | GroupMember
) -> None:
    await uow.emit(
        ctx.contacts,
        ContactDetails(
            person_id=person_id,
            name=who.name,
            email=who.email,
            phone=who.phone,
            language=who.language,
        ),
    )


# --- rounds, windows, deadlines, membership --------------------------------------------------------


async def open_round(cmd: OpenRound, uow: UnitOfWork, ctx: Context) -> RoundOpened:
    unknown = sorted(set(cmd.capacity_per_branch) - set(ctx.reference.branches))
    if unknown or any(n < 0 for n in cmd.capacity_per_branch.values()):
        raise Rejected(
            f"capacities need known branch ids and numbers ≥ 0 (unknown: {', '.join(unknown)})"
        )
    deadline = cmd.interest_deadline or default_interest_deadline(cmd.round_id)
    if not await repo.add_round(
        uow.conn,
        round_id=cmd.round_id,
        interest_deadline=deadline,
        capacity_per_branch=cmd.capacity_per_branch,
    ):
        raise Rejected(f"round {cmd.round_id} is already open", status=409)
    event = RoundOpened(
        round_id=cmd.round_id,
        interest_deadline=deadline,
        interest_closes_at=closes_at(deadline),
        capacity_per_branch=cmd.capacity_per_branch,
    )
    await uow.emit(ctx.events, event)
    return event


async def open_application_window(
    cmd: OpenApplicationWindow, uow: UnitOfWork, ctx: Context
) -> ApplicationWindowOpened:
    await _round(uow, cmd.round_id)
    if cmd.county_number not in ctx.reference.counties:
        raise Rejected(f"unknown county number {cmd.county_number} (2024 structure)")
    if cmd.deadline < cmd.opens_on:
        raise Rejected("the application deadline cannot come before the window opens")
    if not await repo.add_window(
        uow.conn,
        round_id=cmd.round_id,
        county=cmd.county_number,
        opens_on=cmd.opens_on,
        deadline=cmd.deadline,
    ):
        raise Rejected(
            f"the application window of county {cmd.county_number} is already open; extend its deadline instead",
            status=409,
        )
    event = ApplicationWindowOpened(
        round_id=cmd.round_id,
        county_number=cmd.county_number,
        opens_on=cmd.opens_on,
        deadline=cmd.deadline,
        closes_at=closes_at(cmd.deadline),
    )
    await uow.emit(ctx.events, event)
    return event


async def extend_deadline(cmd: ExtendDeadline, uow: UnitOfWork, ctx: Context) -> DeadlineExtended:
    found = await _round(uow, cmd.round_id, changes=True)
    try:
        if cmd.kind is DeadlineKind.INTEREST:
            previous = found["interest_deadline"]
            require_later(previous, cmd.new_deadline)
            await repo.set_interest_deadline(uow.conn, cmd.round_id, cmd.new_deadline)
        else:
            if cmd.county_number is None:
                raise Rejected("an application deadline belongs to a county: give county_number")
            window = await repo.get_window(uow.conn, cmd.round_id, cmd.county_number)
            if window is None:
                raise Rejected(
                    f"county {cmd.county_number} has no application window in round {cmd.round_id}",
                    status=404,
                )
            previous = window["deadline"]
            require_later(previous, cmd.new_deadline)
            await repo.set_window_deadline(
                uow.conn, cmd.round_id, cmd.county_number, cmd.new_deadline
            )
    except DomainError as error:
        raise refused(error) from error
    event = DeadlineExtended(
        round_id=cmd.round_id,
        kind=cmd.kind,
        county_number=cmd.county_number if cmd.kind is DeadlineKind.APPLICATION else None,
        previous_deadline=previous,
        new_deadline=cmd.new_deadline,
        closes_at=closes_at(cmd.new_deadline),
    )
    await uow.emit(ctx.events, event)
    return event


async def import_members(cmd: ImportMembers, uow: UnitOfWork, ctx: Context) -> MembershipChanged:
    unknown = sorted({n for n in cmd.municipality_numbers if n not in ctx.reference.municipalities})
    if unknown:
        raise Rejected(f"unknown municipality number(s) {', '.join(unknown)} (2024 structure)")
    new = set(cmd.municipality_numbers)
    old = await repo.members(uow.conn)
    await repo.replace_members(uow.conn, new)
    event = MembershipChanged(
        added=sorted(new - old), removed=sorted(old - new), member_count=len(new)
    )
    await uow.emit(ctx.events, event)
    return event


# --- interest --------------------------------------------------------------------------------------------


async def register_interest(
    cmd: RegisterInterest, uow: UnitOfWork, ctx: Context
) -> InterestRegistered | InterestUpdated:
    found = await _round(uow, cmd.round_id)
    now = ctx.clock()
    try:
        require_before(found["interest_deadline"], now, f"interest for round {cmd.round_id}")
        scope = scope_of_interest(
            ctx.reference,
            branch=cmd.branch,
            municipality_numbers=cmd.municipality_numbers,
            members=await repo.members_among(uow.conn, cmd.municipality_numbers),
        )
    except DomainError as error:
        raise refused(error) from error
    existing = await repo.get_interest_for(
        uow.conn, round_id=cmd.round_id, branch_id=scope.branch.id
    )
    municipalities = list(scope.municipality_numbers)
    if existing is None:
        registration_id, person_id = uuid.uuid4(), uuid.uuid4()
        await repo.add_person(uow.conn, person_id=person_id, contact=cmd.contact)
        await repo.add_interest(
            uow.conn,
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
        registration_id, person_id = existing["id"], existing["contact_person_id"]
        same_contact = (await repo.person_email(uow.conn, person_id) or "").lower() == str(
            cmd.contact.email
        ).lower()
        replaced: UUID | None = None
        if same_contact:
            await repo.update_person(uow.conn, person_id=person_id, contact=cmd.contact)
        else:
            replaced, person_id = person_id, uuid.uuid4()
            await repo.add_person(uow.conn, person_id=person_id, contact=cmd.contact)
        await repo.update_interest(
            uow.conn,
            registration_id=registration_id,
            municipality_numbers=municipalities,
            contact_person_id=person_id,
            message=cmd.message,
            updated_at=now,
        )
        if replaced is not None and not await repo.person_in_use(uow.conn, replaced):
            # The replaced contact is nobody's contact any more: nothing of theirs is kept.
            await _erase(uow, ctx, replaced)
    await _publish_contact(uow, ctx, person_id, cmd.contact)
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
        else InterestUpdated(**fields, updated_at=now)
    )
    await uow.emit(ctx.events, event)
    return event


# --- applications ------------------------------------------------------------------------------------------


def _place(ctx: Context, municipality: str) -> tuple[str, str]:
    try:
        county, branch = municipality_in_branch(ctx.reference, municipality)
    except DomainError as error:
        raise refused(error) from error
    return county, branch.id


async def _application(uow: UnitOfWork, round_id: str, municipality: str) -> asyncpg.Record:
    found = await repo.get_application(uow.conn, round_id, municipality)
    if found is None:
        raise Rejected(f"no application from {municipality} in round {round_id}", status=404)
    return found


async def _require_window(uow: UnitOfWork, ctx: Context, round_id: str, county: str) -> None:
    window = await repo.get_window(uow.conn, round_id, county)
    if window is None:
        raise Rejected(
            f"county {county} has no application window in round {round_id} yet "
            "(it opens after the county's annual meeting)",
            status=409,
        )
    try:
        require_open(
            window["opens_on"],
            window["deadline"],
            ctx.clock(),
            f"applications from county {county}",
        )
    except DomainError as error:
        raise refused(error) from error


async def save_application_draft(cmd: SaveApplicationDraft, uow: UnitOfWork, ctx: Context) -> UUID:
    await _round(uow, cmd.round_id)
    county, branch_id = _place(ctx, cmd.municipality_number)
    try:
        require_members(
            ctx.reference,
            await repo.members_among(uow.conn, [cmd.municipality_number]),
            [cmd.municipality_number],
        )
    except DomainError as error:
        raise refused(error) from error
    await _require_window(uow, ctx, cmd.round_id, county)
    existing = await repo.get_application(uow.conn, cmd.round_id, cmd.municipality_number)
    if existing is not None and existing["status"] != rules.DRAFT:
        raise Rejected(
            f"the application of {cmd.municipality_number} is already {existing['status']}",
            status=409,
        )
    application_id = existing["id"] if existing is not None else uuid.uuid4()
    await repo.save_draft(
        uow.conn,
        application_id=application_id,
        round_id=cmd.round_id,
        municipality=cmd.municipality_number,
        county=county,
        branch_id=branch_id,
        motivation=cmd.motivation,
        development_areas=cmd.development_areas,
        co_creation_plan=cmd.co_creation_plan,
        draft_group=[m.model_dump(mode="json") for m in cmd.group],
    )
    return application_id


async def _register_member(
    uow: UnitOfWork, ctx: Context, application_id: UUID, member: GroupMember
) -> UUID:
    """A group member becomes a person here; their contact goes to the restricted topic."""
    person_id = uuid.uuid4()
    await repo.add_person(
        uow.conn,
        person_id=person_id,
        contact=ContactPerson(
            name=member.name, email=member.email, phone=member.phone, language=member.language
        ),
    )
    await repo.add_group_member(
        uow.conn,
        application_id=application_id,
        person_id=person_id,
        role=member.role.value,
        organisation=member.organisation,
        committed=member.commits_to_gatherings,
    )
    await _publish_contact(uow, ctx, person_id, member)
    return person_id


async def submit_application(
    cmd: SubmitApplication, uow: UnitOfWork, ctx: Context
) -> ApplicationSubmitted:
    await _round(uow, cmd.round_id)
    draft = await _application(uow, cmd.round_id, cmd.municipality_number)
    if draft["status"] != rules.DRAFT:
        raise Rejected(
            f"the application of {cmd.municipality_number} is already {draft['status']}", status=409
        )
    await _require_window(uow, ctx, cmd.round_id, draft["county_number"])
    try:
        require_members(
            ctx.reference,
            await repo.members_among(uow.conn, [cmd.municipality_number]),
            [cmd.municipality_number],
        )
    except DomainError as error:
        raise refused(error) from error
    missing = [
        name
        for name, value in (
            ("motivation", draft["motivation"]),
            ("development areas", draft["development_areas"]),
            ("a local co-creation plan", draft["co_creation_plan"]),
        )
        if not value
    ]
    if missing:
        raise Rejected(f"the application needs {', '.join(missing)} before it is submitted")
    group = [GroupMember.model_validate(m) for m in draft["draft_group"]]
    try:
        check_group([Member(str(m.email), m.role.value, m.commits_to_gatherings) for m in group])
    except DomainError as error:
        raise refused(error) from error
    # The whole group in this one transaction: registered all or nothing.
    refs = []
    for member in group:
        person_id = await _register_member(uow, ctx, draft["id"], member)
        refs.append(GroupMemberRef(person_id=person_id, role=member.role))
    now = ctx.clock()
    await repo.mark_submitted(uow.conn, draft["id"], now)
    event = ApplicationSubmitted(
        application_id=draft["id"],
        round_id=cmd.round_id,
        municipality_number=cmd.municipality_number,
        county_number=draft["county_number"],
        branch_id=draft["branch_id"],
        development_areas=list(draft["development_areas"]),
        group=refs,
        submitted_at=now,
    )
    await uow.emit(ctx.events, event)
    return event


# --- decisions and withdrawals ---------------------------------------------------------------------


def _decided(app: asyncpg.Record, at: datetime) -> dict[str, Any]:
    return {
        "application_id": app["id"],
        "round_id": app["round_id"],
        "municipality_number": app["municipality_number"],
        "county_number": app["county_number"],
        "branch_id": app["branch_id"],
        "decided_at": at,
    }


async def _group_refs(uow: UnitOfWork, application_id: UUID) -> list[GroupMemberRef]:
    return [
        GroupMemberRef(person_id=r["person_id"], role=r["role"])
        for r in await repo.active_group(uow.conn, application_id)
    ]


async def _admit(
    uow: UnitOfWork, ctx: Context, app: asyncpg.Record, capacity: int | None, *, promoted: bool
) -> MunicipalityAdmitted:
    admitted = await repo.count_status(uow.conn, app["round_id"], app["branch_id"], rules.ADMITTED)
    rules.require_place(capacity, admitted, app["branch_id"])
    now = ctx.clock()
    await repo.set_status(uow.conn, app["id"], rules.ADMITTED, at=now)
    event = MunicipalityAdmitted(
        **_decided(app, now),
        promoted_from_waitlist=promoted,
        group=await _group_refs(uow, app["id"]),
    )
    await uow.emit(ctx.events, event)
    return event


async def decide_application(cmd: DecideApplication, uow: UnitOfWork, ctx: Context) -> Contract:
    found = await _round(uow, cmd.round_id)
    app = await _application(uow, cmd.round_id, cmd.municipality_number)
    await repo.lock_region(uow.conn, cmd.round_id, app["branch_id"])
    capacity = found["capacity_per_branch"].get(app["branch_id"])
    target = {
        Decision.ADMIT: rules.ADMITTED,
        Decision.WAITLIST: rules.WAITLISTED,
        Decision.DECLINE: rules.DECLINED,
    }[cmd.decision]
    try:
        rules.require_transition(app["status"], target, cmd.municipality_number)
        if cmd.decision is Decision.ADMIT:
            return await _admit(uow, ctx, app, capacity, promoted=False)
    except rules.CapacityFull as error:
        raise refused(error, 409) from error
    except DomainError as error:
        raise refused(error, 409) from error
    now = ctx.clock()
    event: Contract
    if cmd.decision is Decision.WAITLIST:
        await repo.set_status(uow.conn, app["id"], rules.WAITLISTED, at=now, waitlist=True)
        position = len(await repo.waitlist(uow.conn, cmd.round_id, app["branch_id"]))
        event = MunicipalityWaitlisted(**_decided(app, now), position=position)
    else:
        if not cmd.reason.strip():
            raise Rejected("a declined application needs a reason")
        await repo.set_status(uow.conn, app["id"], rules.DECLINED, at=now, reason=cmd.reason)
        event = MunicipalityDeclined(**_decided(app, now), reason=cmd.reason)
    await uow.emit(ctx.events, event)
    return event


async def withdraw_municipality(
    cmd: WithdrawMunicipality, uow: UnitOfWork, ctx: Context
) -> MunicipalityWithdrawn:
    found = await _round(uow, cmd.round_id)
    app = await _application(uow, cmd.round_id, cmd.municipality_number)
    await repo.lock_region(uow.conn, cmd.round_id, app["branch_id"])
    try:
        rules.require_transition(app["status"], rules.WITHDRAWN, cmd.municipality_number)
    except DomainError as error:
        raise refused(error, 409) from error
    now = ctx.clock()
    await repo.set_status(uow.conn, app["id"], rules.WITHDRAWN, at=now, reason=cmd.reason)
    event = MunicipalityWithdrawn(
        **_decided(app, now), previous_status=app["status"], reason=cmd.reason
    )
    await uow.emit(ctx.events, event)
    if app["status"] == rules.ADMITTED:
        # The freed place goes to the first on the region's wait-list.
        waiting = [
            rules.Waiting(r["municipality_number"], r["waitlist_sequence"])
            for r in await repo.waitlist(uow.conn, cmd.round_id, app["branch_id"])
        ]
        first = rules.first_in_line(waiting)
        if first is not None:
            next_app = await _application(uow, cmd.round_id, first.municipality_number)
            try:
                await _admit(
                    uow,
                    ctx,
                    next_app,
                    found["capacity_per_branch"].get(app["branch_id"]),
                    promoted=True,
                )
            except rules.CapacityFull:
                pass  # capacity was lowered meanwhile: the wait-list keeps its order
    return event


# --- group changes -----------------------------------------------------------------------------------


CHANGEABLE = {rules.SUBMITTED, rules.WAITLISTED, rules.ADMITTED}


async def _changeable(uow: UnitOfWork, round_id: str, municipality: str) -> asyncpg.Record:
    app = await _application(uow, round_id, municipality)
    if app["status"] not in CHANGEABLE:
        raise Rejected(
            f"the group of {municipality} cannot change: the application is {app['status']}",
            status=409,
        )
    return app


async def _check_after_change(uow: UnitOfWork, app: asyncpg.Record) -> None:
    group = await repo.active_group(uow.conn, app["id"])
    try:
        check_group([Member(r["email"], r["role"], r["committed"]) for r in group])
    except DomainError as error:
        raise refused(error, 409) from error


async def _add_member(
    uow: UnitOfWork, ctx: Context, app: asyncpg.Record, member: GroupMember
) -> GroupMemberAdded:
    if not member.commits_to_gatherings:
        raise Rejected("a new member must commit to the gatherings and the work between them")
    person_id = await _register_member(uow, ctx, app["id"], member)
    return GroupMemberAdded(
        application_id=app["id"],
        round_id=app["round_id"],
        municipality_number=app["municipality_number"],
        person_id=person_id,
        role=member.role,
        changed_at=ctx.clock(),
    )


async def _remove_member(
    uow: UnitOfWork, ctx: Context, app: asyncpg.Record, person_id: UUID
) -> GroupMemberRemoved:
    current = {r["person_id"]: r for r in await repo.active_group(uow.conn, app["id"])}
    if person_id not in current:
        raise Rejected(
            f"{person_id} is not in the group of {app['municipality_number']}", status=404
        )
    await repo.remove_group_member(uow.conn, app["id"], person_id)
    return GroupMemberRemoved(
        application_id=app["id"],
        round_id=app["round_id"],
        municipality_number=app["municipality_number"],
        person_id=person_id,
        role=current[person_id]["role"],
        changed_at=ctx.clock(),
    )


async def add_group_member(cmd: AddGroupMember, uow: UnitOfWork, ctx: Context) -> GroupMemberAdded:
    app = await _changeable(uow, cmd.round_id, cmd.municipality_number)
    added = await _add_member(uow, ctx, app, cmd.member)
    await _check_after_change(uow, app)
    await uow.emit(ctx.events, added)
    return added


async def remove_group_member(
    cmd: RemoveGroupMember, uow: UnitOfWork, ctx: Context
) -> GroupMemberRemoved:
    app = await _changeable(uow, cmd.round_id, cmd.municipality_number)
    removed = await _remove_member(uow, ctx, app, cmd.person_id)
    await _check_after_change(uow, app)
    await uow.emit(ctx.events, removed)
    return removed


async def replace_group_member(
    cmd: ReplaceGroupMember, uow: UnitOfWork, ctx: Context
) -> GroupMemberAdded:
    app = await _changeable(uow, cmd.round_id, cmd.municipality_number)
    removed = await _remove_member(uow, ctx, app, cmd.person_id)
    added = await _add_member(uow, ctx, app, cmd.member)
    await _check_after_change(uow, app)
    await uow.emit(ctx.events, removed)
    await uow.emit(ctx.events, added)
    return added


# --- personal data ---------------------------------------------------------------------------------


async def _erase(uow: UnitOfWork, ctx: Context, person_id: UUID) -> PersonErased | None:
    """Erase a person's contact data here and tell downstream; None if there was none."""
    if not await repo.erase_person(uow.conn, person_id, contacts_topic=ctx.contacts):
        return None
    now = ctx.clock()
    # A tombstone removes the contact record from the compacted topic (and from consumers that
    # hold it); the event tells every consumer of the public topic.
    await add_to_outbox(
        uow.conn,
        topic=ctx.contacts,
        key=str(person_id),
        envelope=None,
        tombstone_id=f"tombstone:{person_id}:{now.isoformat()}",
    )
    event = PersonErased(person_id=person_id, erased_at=now)
    await uow.emit(ctx.events, event)
    return event


async def erase_person(cmd: ErasePerson, uow: UnitOfWork, ctx: Context) -> PersonErased:
    event = await _erase(uow, ctx, cmd.person_id)
    if event is None:
        raise Rejected(f"no person {cmd.person_id} with data to erase", status=404)
    return event


HANDLERS: dict[type[Contract], Callable[[Any, UnitOfWork, Context], Any]] = {
    OpenRound: open_round,
    OpenApplicationWindow: open_application_window,
    ExtendDeadline: extend_deadline,
    ImportMembers: import_members,
    RegisterInterest: register_interest,
    SaveApplicationDraft: save_application_draft,
    SubmitApplication: submit_application,
    DecideApplication: decide_application,
    WithdrawMunicipality: withdraw_municipality,
    AddGroupMember: add_group_member,
    RemoveGroupMember: remove_group_member,
    ReplaceGroupMember: replace_group_member,
    ErasePerson: erase_person,
}


def make_handlers(ctx: Context) -> dict[str, Handler]:
    """The one table of what this service handles, bound to its context."""

    def bind(handler: Callable[[Any, UnitOfWork, Context], Any]) -> Handler:
        async def bound(command: Any, uow: UnitOfWork) -> Any:
            return await handler(command, uow, ctx)

        return bound

    return {contract.TYPE: bind(handler) for contract, handler in HANDLERS.items()}
