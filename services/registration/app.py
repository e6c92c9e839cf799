"""Composition root of the registration service: settings, the command registry, the app."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI

from services.registration.domain.reference import REFERENCE_DIR, ReferenceData
from services.registration.entrypoints import http, inbound
from services.registration.entrypoints.auth import (
    by_branch,
    by_municipality,
    parse_tokens,
    programme,
)
from services.registration.entrypoints.workers import forget_erased
from services.registration.handlers.applications import (
    DraftSaved,
    save_application_draft,
    submit_application,
)
from services.registration.handlers.branches import set_branch_contact, set_development_areas
from services.registration.handlers.context import Context
from services.registration.handlers.decisions import (
    decide_application,
    revoke_admission,
    withdraw_municipality,
)
from services.registration.handlers.groups import (
    add_group_member,
    remove_group_member,
    replace_group_member,
)
from services.registration.handlers.interest import register_interest
from services.registration.handlers.membership import import_members
from services.registration.handlers.persons import erase_person
from services.registration.handlers.rounds import (
    cancel_round,
    change_capacity,
    close_round,
    extend_deadline,
    open_application_window,
    open_round,
)
from services.registration.settings import LOCAL_API_TOKENS, RegistrationSettings
from shared.contracts.events.base import REGISTRY, Event
from shared.contracts.events.registration import (
    CONTACTS,
    AddGroupMember,
    AdmissionRevoked,
    ApplicationSubmitted,
    ApplicationWindowOpened,
    CancelRound,
    ChangeCapacity,
    CloseRound,
    ContactDetails,
    DeadlineExtended,
    DecideApplication,
    ErasePerson,
    ExtendDeadline,
    GroupMemberAdded,
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
    RevokeAdmission,
    RoundCapacityChanged,
    RoundClosed,
    RoundOpened,
    SaveApplicationDraft,
    SetBranchContact,
    SetDevelopmentAreas,
    SubmitApplication,
    WithdrawMunicipality,
    contacts_topic,
)
from shared.contracts.topics import TopicSpec, commands_topic, events_topic, service_topics
from shared.messaging.bus import Handler
from shared.runtime.auth import TOKENS
from shared.runtime.catalog import LocalInfra, ServiceDeclaration
from shared.runtime.commands import CommandEntry, CommandRegistry, Route
from shared.runtime.service import build_app
from shared.runtime.spec import Runtime, ServiceSpec

VERSION = "0.2.0"
CONTEXT = "context"


def _interest_status(result: Any) -> int:
    return 200 if isinstance(result, InterestUpdated) else 201


# Each command once: contract, handler, who may send it, its route.
COMMANDS = CommandRegistry[Context](
    [
        CommandEntry(
            OpenRound,
            open_round,
            programme,
            Route(
                "/rounds",
                "Open a programme round (a past interest deadline only if stated)",
                "rounds",
                201,
                result=RoundOpened,
            ),
        ),
        CommandEntry(
            ChangeCapacity,
            change_capacity,
            programme,
            Route(
                "/capacity-changes",
                "Change places per region (never under those admitted)",
                "rounds",
                result=RoundCapacityChanged,
            ),
        ),
        CommandEntry(
            CloseRound,
            close_round,
            programme,
            Route(
                "/round-closures",
                "Close a round: no more interest or applications; decisions go on",
                "rounds",
                result=RoundClosed,
            ),
        ),
        CommandEntry(
            CancelRound,
            cancel_round,
            programme,
            Route(
                "/round-cancellations",
                "Cancel a round (with a reason): nothing more happens in it",
                "rounds",
                result=RoundClosed,
            ),
        ),
        CommandEntry(
            OpenApplicationWindow,
            open_application_window,
            programme,
            Route(
                "/application-windows",
                "Open a county's application window after its annual meeting",
                "rounds",
                201,
                result=ApplicationWindowOpened,
            ),
        ),
        CommandEntry(
            ExtendDeadline,
            extend_deadline,
            programme,
            Route(
                "/deadline-extensions",
                "Extend an interest or application deadline",
                "rounds",
                result=DeadlineExtended,
            ),
        ),
        # Also as CSV: `POST /members/csv` (`http.command_routes`).
        CommandEntry(
            ImportMembers,
            import_members,
            programme,
            Route(
                "/members",
                "Replace the membership list (JSON)",
                "members",
                result=MembershipChanged,
            ),
        ),
        CommandEntry(
            RegisterInterest,
            register_interest,
            by_branch,
            Route(
                "/interest-registrations",
                "Register interest (201); registering again updates it (200)",
                "interest",
                201,
                result=InterestRegistered | InterestUpdated,
                status_of=_interest_status,
                other_statuses={200: "An update of the branch's registration"},
            ),
        ),
        CommandEntry(
            SaveApplicationDraft,
            save_application_draft,
            by_municipality,
            Route(
                "/application-drafts",
                "Save a municipality's application draft (also before its window opens)",
                "applications",
                result=DraftSaved,
            ),
        ),
        CommandEntry(
            SubmitApplication,
            submit_application,
            by_municipality,
            Route(
                "/application-submissions",
                "Submit the draft in its window: checked whole, the group registered all or nothing",
                "applications",
                result=ApplicationSubmitted,
            ),
        ),
        CommandEntry(
            DecideApplication,
            decide_application,
            programme,
            Route(
                "/decisions",
                "Admit, wait-list or decline once the county's window has closed (or early, "
                "with a reason)",
                "decisions",
                result=MunicipalityAdmitted | MunicipalityWaitlisted | MunicipalityDeclined,
            ),
        ),
        CommandEntry(
            WithdrawMunicipality,
            withdraw_municipality,
            by_municipality,
            Route(
                "/withdrawals",
                "Withdraw a municipality; a freed place goes to the first on the wait-list",
                "decisions",
                result=MunicipalityWithdrawn,
            ),
        ),
        CommandEntry(
            RevokeAdmission,
            revoke_admission,
            programme,
            Route(
                "/revocations",
                "Revoke an admission with a reason; the place goes to the first on the wait-list",
                "decisions",
                result=AdmissionRevoked,
            ),
        ),
        CommandEntry(
            AddGroupMember,
            add_group_member,
            by_municipality,
            Route(
                "/group-members",
                "Add a kommunegruppe member",
                "applications",
                result=GroupMemberAdded,
            ),
        ),
        CommandEntry(
            RemoveGroupMember,
            remove_group_member,
            by_municipality,
            Route(
                "/group-member-removals",
                "Remove a kommunegruppe member",
                "applications",
                result=GroupMemberRemoved,
            ),
        ),
        CommandEntry(
            ReplaceGroupMember,
            replace_group_member,
            by_municipality,
            Route(
                "/group-member-replacements",
                "Replace a kommunegruppe member",
                "applications",
                result=GroupMemberAdded,
            ),
        ),
        # Over HTTP as `PUT /branches/{branch}/contact` (`http.command_routes`).
        CommandEntry(SetBranchContact, set_branch_contact, programme),
        # `PUT /rounds/{round}/branches/{branch}/development-areas` (`http.command_routes`).
        CommandEntry(SetDevelopmentAreas, set_development_areas, by_branch),
        CommandEntry(
            ErasePerson,
            erase_person,
            programme,
            Route(
                "/erasures",
                "Erase a person's contact data (and tell downstream)",
                "persons",
                result=PersonErased,
            ),
        ),
    ],
)


def make_handlers(ctx: Context) -> dict[str, Handler]:
    """The one table of what this service handles, bound to its context."""
    return COMMANDS.handlers(ctx)


def context_of(runtime: Runtime) -> Context:
    ctx: Context = runtime.extras[CONTEXT]
    return ctx


def make_context(settings: RegistrationSettings) -> Context:
    branches = (
        Path(settings.branches_csv)
        if settings.branches_csv
        else REFERENCE_DIR / "fylkesavdelinger.csv"
    )
    return Context(
        reference=ReferenceData.load(branches_csv=branches), topic_prefix=settings.topic_prefix
    )


def router() -> APIRouter:
    combined = APIRouter()
    combined.include_router(COMMANDS.router(context=context_of))
    combined.include_router(http.command_routes(COMMANDS, context_of))
    combined.include_router(http.router)
    combined.include_router(inbound.router)
    return combined


def service_spec(
    settings: RegistrationSettings | None = None, ctx: Context | None = None
) -> ServiceSpec:
    """What this service is; `create_app` runs it, the contracts export documents it."""
    settings = settings or RegistrationSettings()
    ctx = ctx or make_context(settings)
    prefix = settings.topic_prefix
    tokens = parse_tokens(settings.api_tokens, ctx.reference)  # a bad token file fails start-up

    async def on_startup(runtime: Runtime) -> None:
        runtime.extras.update({CONTEXT: ctx, TOKENS: tokens})

    published = [
        c for c in REGISTRY.values() if issubclass(c, Event) and c.SERVICE == "registration"
    ]
    return ServiceSpec(
        name="registration",
        version=VERSION,
        description="County branches, member municipalities, interest, applications, decisions.",
        settings=settings,
        handlers=make_handlers(ctx),
        subscribe_to=[commands_topic("registration", prefix)],
        publishes={
            events_topic("registration", prefix): published,
            contacts_topic(prefix): [ContactDetails],
        },
        router=router(),
        migrations=Path(__file__).parent / "migrations",
        workers=[forget_erased, inbound.inbound_mail],
        on_startup=on_startup,
    )


def create_app(settings: RegistrationSettings | None = None) -> FastAPI:
    return build_app(service_spec(settings))


def topics(prefix: str) -> list[TopicSpec]:
    """What it owns: its events, its commands, the compacted contacts topic, their DLQs."""
    return service_topics("registration", prefix, compacted=[CONTACTS])


def local_env(_: LocalInfra) -> dict[str, str]:
    """A local or test run accepts the local tokens (never a real deployment's)."""
    return SERVICE.env(api_tokens=json.dumps(LOCAL_API_TOKENS))


SERVICE = ServiceDeclaration(
    name="registration",
    module="services.registration",
    settings=RegistrationSettings,
    spec=service_spec,
    topics=topics,
    local_env=local_env,
)
