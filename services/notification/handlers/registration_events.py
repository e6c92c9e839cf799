"""Registration's events: boards and their interest, rounds and deadlines, applications,
decisions and kommunegrupper, kept as far as mail needs them, and the letters they cause."""

from __future__ import annotations

from services.notification.domain import messages as rules
from services.notification.domain.messages import Board, Member, county_of, members_of
from services.notification.handlers.context import Context, plan
from services.notification.handlers.reminders import plan_deadline_reminders
from shared.contracts.events import registration as reg
from shared.messaging.bus import UnitOfWork


async def interest(
    event: reg.InterestRegistered | reg.InterestUpdated, uow: UnitOfWork, ctx: Context
) -> None:
    await ctx.store(uow).save_board_and_interest(
        branch_id=event.branch_id,
        branch_name=event.branch_name,
        county_numbers=event.county_numbers,
        person_id=event.contact_person_id,
        round_id=event.round_id,
        municipality_numbers=event.municipality_numbers,
    )
    mails = rules.mails_for_interest_registered(
        event, programme_mailbox=ctx.programme_mailbox, places=ctx.places
    )
    await plan(uow, ctx, mails)


async def round_opened(event: reg.RoundOpened, uow: UnitOfWork, ctx: Context) -> None:
    store = ctx.store(uow)
    await plan_deadline_reminders(
        store,
        ctx,
        round_id=event.round_id,
        kind="interest",
        county_number=None,
        deadline=event.interest_deadline,
        closes_at=event.interest_closes_at,
    )
    if event.interest_closes_at <= ctx.clock():
        return  # opened after its deadline (on purpose): no invitation to meet it
    mails = rules.mails_for_round_opened(
        event.round_id,
        event.interest_deadline,
        boards=await store.all_boards(),
        programme_mailbox=ctx.programme_mailbox,
    )
    await store.plan(rules.round_letters_key(event.round_id), mails)


async def branch_contact_set(event: reg.BranchContactSet, uow: UnitOfWork, ctx: Context) -> None:
    """A board's contact, and the letter of each round still taking interest if they have not
    had it (under the round's key, so never twice)."""
    store = ctx.store(uow)
    await store.save_board(
        branch_id=event.branch_id,
        branch_name=event.branch_name,
        county_numbers=event.county_numbers,
        person_id=event.contact_person_id,
    )
    board = Board(event.branch_id, event.branch_name, str(event.contact_person_id))
    for round_id, deadline in await store.rounds_taking_interest(ctx.clock()):
        mails = rules.mails_for_round_opened(
            round_id, deadline, boards=[board], programme_mailbox=ctx.programme_mailbox
        )
        await store.plan(rules.round_letters_key(round_id), mails)


async def round_closed(event: reg.RoundClosed, uow: UnitOfWork, ctx: Context) -> None:
    """Closed or cancelled: no more interest or applications, so no deadline reminders."""
    store = ctx.store(uow)
    await store.drop_round_reminders(event.round_id)
    await store.close_round(event.round_id)


async def window_opened(event: reg.ApplicationWindowOpened, uow: UnitOfWork, ctx: Context) -> None:
    store = ctx.store(uow)
    await plan_deadline_reminders(
        store,
        ctx,
        round_id=event.round_id,
        kind="application",
        county_number=event.county_number,
        deadline=event.deadline,
        closes_at=event.closes_at,
    )
    board = await store.board_of_county(event.county_number)
    await plan(uow, ctx, rules.mails_for_window_opened(event, board=board, places=ctx.places))


async def deadline_extended(event: reg.DeadlineExtended, uow: UnitOfWork, ctx: Context) -> None:
    store = ctx.store(uow)
    await plan_deadline_reminders(
        store,
        ctx,
        round_id=event.round_id,
        kind=event.kind.value,
        county_number=event.county_number,
        deadline=event.new_deadline,
        closes_at=event.closes_at,
    )
    if event.kind is reg.DeadlineKind.INTEREST:
        boards = await store.all_boards()
    else:
        board = await store.board_of_county(event.county_number)
        boards = [board] if board else []
    await plan(uow, ctx, rules.mails_for_deadline_extended(event, boards=boards, places=ctx.places))


async def application_submitted(
    event: reg.ApplicationSubmitted, uow: UnitOfWork, ctx: Context
) -> None:
    store = ctx.store(uow)
    group = members_of(event.group)
    await store.save_application(
        round_id=event.round_id,
        municipality_number=event.municipality_number,
        county_number=event.county_number,
        branch_id=event.branch_id,
        status="submitted",
    )
    await store.replace_group(event.round_id, event.municipality_number, group)
    mails = rules.mails_for_application_submitted(
        event,
        board=await store.board_of_branch(event.branch_id),
        group=group,
        programme_mailbox=ctx.programme_mailbox,
        places=ctx.places,
    )
    await plan(uow, ctx, mails)


async def decision(event: rules.Decision, uow: UnitOfWork, ctx: Context) -> None:
    """Admitted, wait-listed, declined, withdrawn or revoked: the application's status (an
    admission brings its kommunegruppe), and the letters."""
    store = ctx.store(uow)
    if isinstance(event, reg.MunicipalityAdmitted):
        await store.replace_group(
            event.round_id, event.municipality_number, members_of(event.group)
        )
    await store.save_application(
        round_id=event.round_id,
        municipality_number=event.municipality_number,
        county_number=event.county_number,
        branch_id=event.branch_id,
        status=rules.decided(event).status,
    )
    mails = rules.mails_for_decision(
        event,
        board=await store.board_of_branch(event.branch_id),
        group=await store.group_of(event.round_id, event.municipality_number),
        places=ctx.places,
    )
    await plan(uow, ctx, mails)


async def member_added(event: reg.GroupMemberAdded, uow: UnitOfWork, ctx: Context) -> None:
    store = ctx.store(uow)
    member = Member(str(event.person_id), event.role.value)
    await store.add_member(event.round_id, event.municipality_number, member)
    board = await store.board_of_county(county_of(event.municipality_number))
    await plan(uow, ctx, rules.mails_for_member_added(event, board=board, places=ctx.places))


async def member_removed(event: reg.GroupMemberRemoved, uow: UnitOfWork, ctx: Context) -> None:
    await ctx.store(uow).remove_member(event.round_id, event.municipality_number, event.person_id)
