"""A command is declared once: its contract, its handler, who may send it, its HTTP route.

A service lists its commands in one `CommandRegistry`; from it come the handler table (for
`ServiceSpec.handlers`, so the command topic runs the same handlers) and the HTTP routes
(each authorizes the bearer token's principal, then runs the command through the message
bus, with `Idempotency-Key` support from `shared.idempotency`). Adding a command touches one
entry. Handlers take `(command, uow, ctx)`, where `ctx` is the service's own context.

    REGISTRY = CommandRegistry[Context]([
        CommandEntry(OpenThing, open_thing, programme_only, Route("/things", "Open a thing", "things", 201)),
    ])
    handlers = REGISTRY.handlers(ctx)                  # for the ServiceSpec
    router = REGISTRY.router(context=lambda runtime: runtime.extras["context"])
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import APIRouter, Header, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from shared.auth import Principal, PrincipalDep
from shared.events.base import Contract
from shared.idempotency import REPLAYED_HEADER, Answer, IdempotentRequest, run_once
from shared.messaging import Handler, Outcome, Rejected, UnitOfWork
from shared.service import Runtime, RuntimeDep

Ctx = TypeVar("Ctx")

CommandHandler = Callable[[Any, UnitOfWork, Ctx], Awaitable[Any]]
# Raises `shared.auth.Forbidden` (403) or `Rejected` (4xx) when the principal may not.
Rule = Callable[[Principal, Any, Ctx], None]


@dataclass(frozen=True)
class Route:
    path: str
    summary: str
    tag: str
    status_code: int = 200


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
REPLAYED = {
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
REFUSALS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No or unknown bearer token"},
    403: {"description": "Not allowed for this principal, with the reason"},
    404: {"description": "What the command names does not exist"},
    409: {"description": "Conflicts with the current state, with the reason"},
    422: {"description": "Refused, with the reason (invalid input, a rule says no, ...)"},
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


def _no_translation(_: Exception) -> Rejected | None:
    return None


class CommandRegistry(Generic[Ctx]):
    """`refusal` maps a service's own domain errors to `Rejected` (4xx over HTTP, a dead
    letter from Kafka) in this one place; what it returns None for propagates unchanged."""

    def __init__(
        self,
        entries: Iterable[CommandEntry[Ctx]],
        *,
        refusal: Callable[[Exception], Rejected | None] = _no_translation,
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
        """`handler` as the message bus calls it, its domain errors turned into refusals."""
        refusal = self.refusal

        async def bound(message: Any, uow: UnitOfWork) -> Any:
            try:
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
        self.entries[type(command)].authorize(principal, command, ctx)

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
            code = 200 if found.duplicate else status_code
            return Answer(status_code=code, body=found.model_dump(mode="json"))

        if key is None:
            first = answer(await runtime.command(command))
            return JSONResponse(first.body, status_code=first.status_code)
        request = IdempotentRequest.of(caller=principal.caller, route=route, key=key, body=command)
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
            )

        endpoint.__annotations__["command"] = model
        endpoint.__name__ = model.__name__
        endpoint.__doc__ = model.__doc__
        router.add_api_route(
            route.path,
            endpoint,
            methods=["POST"],
            summary=route.summary,
            tags=[route.tag],
            status_code=route.status_code,
            responses={route.status_code: REPLAYED, **REFUSALS},
            response_model=Accepted,
        )
