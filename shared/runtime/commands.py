"""A command is declared once: its contract, its handler, who may send it, its HTTP route.

A service lists its commands in one `CommandRegistry`; from it come the handler table (for
`ServiceSpec.handlers`, so the command topic runs the same handlers) and the HTTP routes
(each authorizes the bearer token's principal, then runs the command through the message
bus, with `Idempotency-Key` support from `shared.runtime.idempotency`). Adding a command touches one
entry. Handlers take `(command, uow, ctx)`, where `ctx` is the service's own context.

    REGISTRY = CommandRegistry[Context]([
        CommandEntry(OpenThing, open_thing, programme_only, Route("/things", "Open a thing", "things", 201)),
    ])
    handlers = REGISTRY.handlers(ctx)                  # for the ServiceSpec
    router = REGISTRY.router(context=lambda runtime: runtime.extras["context"])
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import APIRouter, Depends, Header, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, create_model

from shared.contracts.events.base import Command, Contract
from shared.messaging.bus import Handler, Outcome, Rejected, UnitOfWork
from shared.runtime import problems
from shared.runtime.auth import Principal, PrincipalDep, Role
from shared.runtime.idempotency import REPLAYED_HEADER, Answer, IdempotentRequest, run_once
from shared.runtime.problems import PROBLEM_JSON, require_json
from shared.runtime.spec import Runtime, RuntimeDep

Ctx = TypeVar("Ctx")

CommandHandler = Callable[[Any, UnitOfWork, Ctx], Awaitable[Any]]
# Raises `shared.runtime.auth.Forbidden` (403) or `Rejected` (4xx) when the principal may not.
Rule = Callable[[Principal, Any, Ctx], None]


@dataclass(frozen=True)
class Route:
    """`status_of` picks the status from the handler's result when it is not always the
    same (e.g. 201 for a first registration, 200 for an update); `other_statuses` documents
    the others. `result` is the schema of `Accepted.result` (the handler's return type)."""

    path: str
    summary: str
    tag: str
    status_code: int = 200
    result: Any = None  # a model, or a union of models
    status_of: Callable[[Any], int] | None = None
    other_statuses: Mapping[int, str] | None = None


@dataclass(frozen=True)
class CommandEntry(Generic[Ctx]):
    contract: type[Contract]
    handler: CommandHandler[Ctx]
    authorize: Rule[Ctx]
    route: Route | None = None  # None: taken from the command topic only


IdempotencyKey = Annotated[
    str | None,
    Header(
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description=(
            "Makes retries safe. The key belongs to the caller (bearer token's principal) and "
            "the route, and is bound to the request body. A retry with the same key and body "
            "is not run again: it gets the original answer (status and body, as first sent) "
            f"with the header `{REPLAYED_HEADER}: true`. The same key with another body is "
            "refused with 422. A refused request keeps nothing, so its retry is checked anew."
        ),
    ),
]
REPLAYED: dict[str, Any] = {
    "description": "The command's answer; a retry with the same Idempotency-Key and body "
    f"gets the original answer again, with `{REPLAYED_HEADER}: true`",
    "headers": {
        REPLAYED_HEADER: {
            "description": "`true` when this is the stored answer of an earlier request "
            "with the same Idempotency-Key and body; the command did not run again",
            "schema": {"type": "string", "enum": ["true"]},
        }
    },
}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}}}


# RFC 9457 problem details (shared.runtime.problems), as every refusal is answered.
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "type": {"type": "string", "description": "Stable per rule, a URN"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string", "description": "In the Accept-Language (nb default)"},
        "instance": {"type": "string"},
        "field": {"type": "string", "description": "The offending field, when one is"},
    },
    "required": ["type", "title", "status", "detail"],
}
REFUSALS: dict[int | str, dict[str, Any]] = {
    400: _problem("The body is not valid JSON"),
    401: _problem("No or unknown bearer token"),
    403: _problem("Not allowed for this principal, with the reason"),
    404: _problem("What the command names does not exist"),
    409: _problem("Conflicts with the current state, with the reason"),
    415: _problem("The body is not application/json"),
    422: _problem("Refused, with the reason (invalid input, a rule says no, ...)"),
}
# What a read may answer besides its result; a route outside the registry that takes a body
# may also answer 400 (not JSON).
READ_REFUSALS: dict[int | str, dict[str, Any]] = {
    k: v for k, v in REFUSALS.items() if k in (401, 403, 404, 422)
}


class Accepted(BaseModel):
    """The command was handled.

    `result` is what the handler returned (mostly the event it published). `duplicate` is
    true only for a command handled before whose answer is no longer kept (`result` null).
    """

    duplicate: bool
    result: dict[str, Any] | None = None


def accepted(outcome: Outcome) -> Accepted:
    if not outcome.fresh:
        return Accepted(duplicate=True)
    result = outcome.result
    if isinstance(result, BaseModel):
        return Accepted(duplicate=False, result=result.model_dump(mode="json"))
    if isinstance(result, Mapping):
        return Accepted(duplicate=False, result=dict(result))
    return Accepted(duplicate=False, result={"id": str(result)} if result is not None else None)


# Who sends the command being handled: set by the HTTP route, or from a Kafka command's
# `ce_principal` extension; None for a trusted system command without one.
_ACTING: ContextVar[Principal | None] = ContextVar("acting_principal", default=None)


def acting() -> Principal | None:
    """The principal of the command being handled, for a handler to record who did it."""
    return _ACTING.get()


@contextmanager
def acting_as(principal: Principal | None) -> Iterator[None]:
    token = _ACTING.set(principal)
    try:
        yield
    finally:
        _ACTING.reset(token)


def principal_header(principal: Principal) -> str:
    """The `ce_principal` value of a principal: `role:branch:name`."""
    return principal.caller


def parse_principal(value: str) -> Principal:
    """A `ce_principal` value back to a principal; a bad one is refused (a dead letter)."""
    role, sep, rest = value.partition(":")
    branch, sep2, name = rest.partition(":")
    try:
        parsed_role = Role(role)
    except ValueError as error:
        raise Rejected(f"ce_principal {value[:100]!r}: unknown role", status=403) from error
    if not (sep and sep2 and name) or (parsed_role is Role.COUNTY_BOARD) != bool(branch):
        raise Rejected(
            f"ce_principal {value[:100]!r}: expected role:branch:name "
            "(a branch for a county board only)",
            status=403,
        )
    return Principal(name, parsed_role, branch or None)


class CommandRegistry(Generic[Ctx]):
    """`refusal` maps domain errors to `Rejected` (4xx over HTTP, a dead letter from Kafka) in
    this one place (by default `shared.runtime.problems.refusal`, for every service's
    `DomainError`); what it returns None for propagates unchanged."""

    def __init__(
        self,
        entries: Iterable[CommandEntry[Ctx]],
        *,
        refusal: Callable[[Exception], Rejected | None] = problems.refusal,
    ) -> None:
        self.refusal = refusal
        self.entries: dict[type[Contract], CommandEntry[Ctx]] = {}
        paths: set[str] = set()
        for entry in entries:
            if entry.contract in self.entries:
                raise ValueError(f"{entry.contract.__name__} is registered twice")
            if entry.route is not None:
                if entry.route.path in paths:
                    raise ValueError(f"two commands on POST {entry.route.path}")
                paths.add(entry.route.path)
            self.entries[entry.contract] = entry

    def handlers(self, ctx: Ctx) -> dict[str, Handler]:
        """The handler table by `ce_type`, bound to the service's context."""
        return {c.TYPE: self.bind(entry.handler, ctx) for c, entry in self.entries.items()}

    def bind(self, handler: CommandHandler[Ctx], ctx: Ctx) -> Handler:
        """`handler` as the message bus calls it, its domain errors turned into refusals.

        A command whose envelope names its principal (`ce_principal`, from Kafka) is checked
        by the same rule as over HTTP, and the handler sees who acts (`acting()`)."""
        refusal = self.refusal

        async def bound(message: Any, uow: UnitOfWork) -> Any:
            try:
                named = uow.caused_by.principal
                # Only a request is authorized by who sent it; a fact (an event followed from
                # another service) is read whatever extension attributes it carries.
                if named and isinstance(message, Command):
                    principal = parse_principal(named)
                    self.authorize(principal, message, ctx)
                    with acting_as(principal):
                        return await handler(message, uow, ctx)
                return await handler(message, uow, ctx)
            except Rejected:
                raise
            except Exception as error:
                refused = refusal(error)
                if refused is None:
                    raise
                raise refused from error

        return bound

    def authorize(self, principal: Principal, command: Contract, ctx: Ctx) -> None:
        entry = self.entries.get(type(command))
        if entry is not None:
            entry.authorize(principal, command, ctx)

    async def run(
        self,
        runtime: Runtime,
        principal: Principal,
        command: Contract,
        ctx: Ctx,
        *,
        key: str | None,
        route: str,
        status_code: int = 200,
        status_of: Callable[[Any], int] | None = None,
    ) -> Response:
        """Authorize, then run once (per Idempotency-Key, when given) through the bus."""
        try:
            self.authorize(principal, command, ctx)
        except Rejected:
            raise
        except Exception as error:
            refused = self.refusal(error)
            if refused is None:
                raise
            raise refused from error

        def answer(outcome: Outcome) -> Answer:
            found = accepted(outcome)
            if found.duplicate:
                code = 200
            elif status_of is not None:
                code = status_of(outcome.result)
            else:
                code = status_code
            return Answer(status_code=code, body=found.model_dump(mode="json"))

        with acting_as(principal):
            if key is None:
                first = answer(await runtime.command(command))
                return JSONResponse(first.body, status_code=first.status_code)
            request = IdempotentRequest.of(
                caller=principal.caller, route=route, key=key, body=command
            )
            return await run_once(runtime, command, request, answer)

    def router(self, *, context: Callable[[Runtime], Ctx]) -> APIRouter:
        """A POST route per entry that has one; `context` finds the service's context."""
        router = APIRouter()
        for entry in self.entries.values():
            if entry.route is not None:
                self._add_route(router, entry.contract, entry.route, context)
        return router

    def _add_route(
        self,
        router: APIRouter,
        model: type[Contract],
        route: Route,
        context: Callable[[Runtime], Ctx],
    ) -> None:
        async def endpoint(
            command: Any,
            runtime: RuntimeDep,
            principal: PrincipalDep,
            idempotency_key: IdempotencyKey = None,
        ) -> Response:
            return await self.run(
                runtime,
                principal,
                command,
                context(runtime),
                key=idempotency_key,
                route=f"POST {route.path}",
                status_code=route.status_code,
                status_of=route.status_of,
            )

        endpoint.__annotations__["command"] = model
        endpoint.__name__ = model.__name__
        endpoint.__doc__ = model.__doc__
        answer_model = accepted_model(model, route.result)
        others: dict[int | str, dict[str, Any]] = {
            code: REPLAYED
            | {"model": answer_model, "description": f"{text}. " + REPLAYED["description"]}
            for code, text in (route.other_statuses or {}).items()
        }
        router.add_api_route(
            route.path,
            endpoint,
            methods=["POST"],
            summary=route.summary,
            tags=[route.tag],
            status_code=route.status_code,
            responses={route.status_code: REPLAYED, **others, **REFUSALS},
            response_model=answer_model,
            dependencies=[Depends(require_json)],
        )


def accepted_model(command: type[Contract], result: Any) -> type[BaseModel]:
    """`Accepted` with `result` typed as what the command's handler returns, for the docs."""
    if result is None:
        return Accepted
    model: type[BaseModel] = create_model(
        f"{command.__name__}Accepted",
        __base__=Accepted,
        __doc__=Accepted.__doc__,
        result=(result | None, None),
    )
    return model
