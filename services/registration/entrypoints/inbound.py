"""Interest by e-mail: an SMTP endpoint that keeps each mail, and programme management's routes
to confirm or reject what came in.

The invitation asks boards to write to the programme mailbox; the mail system forwards those
mails here (SMTP on `KS_REGISTRATION_INBOUND_SMTP_HOST`/`_PORT`, off unless set). Each mail is
stored in this service's schema before the server answers 250, so a crash loses nothing the
sender was told we have; a database that does not answer gets 451 and the sender's server
tries again. A mail naming one branch waits as `pending`; one naming none or several is
`unrecognised`. Programme management confirms one (it becomes an ordinary interest
registration, through the same handler, with the sender as contact) or rejects it.

SMTP, not IMAP polling: the mailbox is the organisation's own (post@), which also gets every
other kind of mail; a forwarding rule on the subject to this endpoint hands over exactly the
mails meant for the programme, at once, with no password to the mailbox kept here and no
state of "what have we read" to keep in step with someone else's mail client.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import asyncpg
from aiosmtpd.smtp import SMTP, Envelope, Session
from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.registration.adapters import inbound as store
from services.registration.domain.access import Principal, Role
from services.registration.domain.inbound import SUBJECT, normalise, read_mail
from services.registration.domain.reference import ReferenceData
from services.registration.entrypoints.auth import PrincipalDep
from services.registration.handlers.context import Context, oslo_now
from services.registration.settings import RegistrationSettings
from shared.contracts.events.registration import ContactPerson, Language, RegisterInterest
from shared.runtime.commands import REFUSALS, acting_as
from shared.runtime.problems import Problem, texts
from shared.runtime.spec import Runtime, RuntimeDep

log = logging.getLogger(__name__)

router = APIRouter(tags=["interest"], responses=REFUSALS)

MAX_MAIL_BYTES = 10 * 1024 * 1024  # a letter with an attachment or two; we keep its text
# The confirmation runs the command under this id: confirming twice registers once.
NAMESPACE = uuid.UUID("5b0c9a52-6a53-4c1e-a0d4-3c1c2b8f6e41")


class InboundInterestHandler:
    """aiosmtpd's handler: keep the mail, then say 250; 451 if it could not be kept."""

    def __init__(self, pool: asyncpg.Pool, reference: ReferenceData) -> None:
        self.pool = pool
        self.reference = reference

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        mail = read_mail(self.reference, str(envelope.mail_from or ""), content)
        try:
            mail_id = await store.keep(self.pool, mail_id=uuid.uuid4(), mail=mail, at=oslo_now())
        except (OSError, asyncpg.PostgresError, TimeoutError) as error:
            log.warning("inbound mail not kept; sender told to retry", extra={"error": repr(error)})
            return "451 4.3.0 Could not keep the message now; please try again later"
        found = mail.recognition.branch
        log.info(
            "inbound interest mail kept",
            extra={"inbound_id": str(mail_id), "branch": found.id if found else None},
        )
        return "250 2.0.0 Kept for programme management"


async def inbound_mail(runtime: Runtime) -> None:
    """The SMTP endpoint, in the service's own event loop, while the service runs."""
    settings = runtime.settings
    assert isinstance(settings, RegistrationSettings)
    if not settings.inbound_smtp_host:
        return
    ctx: Context = runtime.extras["context"]
    handler = InboundInterestHandler(runtime.pool, ctx.reference)
    # Once, off the loop: aiosmtpd would look the name up again for every connection.
    hostname = settings.inbound_smtp_hostname or await asyncio.to_thread(socket.getfqdn)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(
            handler,
            hostname=hostname,
            data_size_limit=MAX_MAIL_BYTES,
            enable_SMTPUTF8=True,
            ident="kulturskole registration",
        ),
        host=settings.inbound_smtp_host,
        port=settings.inbound_smtp_port,
    )
    log.info(
        "inbound interest SMTP listening",
        extra={"host": settings.inbound_smtp_host, "port": settings.inbound_smtp_port},
    )
    try:
        await server.serve_forever()
    finally:
        server.close()
        await server.wait_closed()


# --- HTTP ------------------------------------------------------------------------------------------

Status = Literal["pending", "unrecognised", "confirmed", "rejected"]
InboundPath = Annotated[UUID, Path(description="The mail's id")]


class InboundInterest(BaseModel):
    """A mail to the programme mailbox, as kept: who sent it, what it said, which branch it
    names (`branch_id`, or the `candidates` when it names several) and what became of it."""

    id: UUID
    received_at: datetime
    sender_name: str
    sender_email: str
    subject: str
    subject_as_asked: bool = Field(description=f"The subject is {SUBJECT!r}")
    body: str
    branch_id: str | None
    branch_name: str | None
    candidates: list[str]
    status: Status
    decided_at: datetime | None
    decided_by: str | None
    reason: str | None
    registration_id: UUID | None


class Confirmation(BaseModel):
    """What the mail becomes: an interest registration of the round. The branch is the one
    recognised unless named here (it must be for an unrecognised mail); the contact is the
    sender unless named here. `message` goes into the public event: write what the branch
    wants said, not the mail (which may carry signatures with phone numbers)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    round_id: Annotated[str, Field(pattern=r"^\d{4}$")]
    branch: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    municipality_numbers: list[Annotated[str, Field(pattern=r"^\d{4}$")]] = Field(
        default_factory=list, max_length=100
    )
    contact: ContactPerson | None = None
    language: Language = Language.BOKMAAL
    message: Annotated[str, Field(max_length=4000)] = ""


class Rejection(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: Annotated[str, Field(min_length=1, max_length=2000)]


def _programme_only(principal: Principal) -> None:
    if principal.role is not Role.PROGRAMME:
        raise Problem(
            "forbidden",
            texts(
                "Bare programledelsen kan behandle e-post til programmet.",
                "Berre programleiinga kan handsame e-post til programmet.",
                "Only programme management handles mail to the programme.",
            ),
            status=403,
        )


def _view(reference: ReferenceData, row: Any) -> InboundInterest:
    branch = reference.branch(row["branch_id"]) if row["branch_id"] else None
    return InboundInterest(
        id=row["id"],
        received_at=row["received_at"],
        sender_name=row["sender_name"],
        sender_email=row["sender_email"],
        subject=row["subject"],
        subject_as_asked=normalise(SUBJECT) in normalise(row["subject"]),
        body=row["body"],
        branch_id=row["branch_id"],
        branch_name=branch.name if branch else None,
        candidates=list(row["candidates"]),
        status=row["status"],
        decided_at=row["decided_at"],
        decided_by=row["decided_by"],
        reason=row["reason"],
        registration_id=row["registration_id"],
    )


async def _open_mail(runtime: Runtime, mail_id: UUID) -> Any:
    row = await store.get(runtime.pool, mail_id)
    if row is None:
        raise Problem(
            "not-found",
            texts(
                "Finner ingen slik e-post.", "Finn ingen slik e-post.", f"no inbound mail {mail_id}"
            ),
            status=404,
        )
    if row["status"] in ("confirmed", "rejected"):
        raise _decided(row["status"])
    return row


def _decided(status: str) -> Problem:
    return Problem(
        "already-decided",
        texts(
            f"E-posten er allerede behandlet ({status}).",
            f"E-posten er alt handsama ({status}).",
            f"the mail was handled already ({status})",
        ),
        status=409,
    )


READS: dict[int | str, dict[str, Any]] = {k: REFUSALS[k] for k in (401, 403, 404)}


@router.get("/inbound-interest", responses=READS)
async def list_inbound_interest(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    status: Annotated[Status | None, Query(description="Only mails in this state")] = None,
) -> list[InboundInterest]:
    """Mails to the programme mailbox, oldest first: pending and unrecognised ones wait for
    programme management. Programme management only."""
    _programme_only(principal)
    ctx: Context = runtime.extras["context"]
    return [_view(ctx.reference, r) for r in await store.listing(runtime.pool, status)]


@router.get("/inbound-interest/{mail_id}", responses=READS)
async def get_inbound_interest(
    mail_id: InboundPath, runtime: RuntimeDep, principal: PrincipalDep
) -> InboundInterest:
    _programme_only(principal)
    ctx: Context = runtime.extras["context"]
    row = await store.get(runtime.pool, mail_id)
    if row is None:
        raise Problem("not-found", texts("Finnes ikke.", "Finst ikkje.", "not found"), status=404)
    return _view(ctx.reference, row)


@router.post("/inbound-interest/{mail_id}/confirmation", responses=REFUSALS)
async def confirm_inbound_interest(
    mail_id: InboundPath, body: Confirmation, runtime: RuntimeDep, principal: PrincipalDep
) -> InboundInterest:
    """Confirm a mail as the branch's interest: registered through the same handler as
    `POST /interest-registrations` (receipt to the contact, copy to the programme mailbox),
    in the same transaction as the mail is marked confirmed. Programme management only."""
    _programme_only(principal)
    ctx: Context = runtime.extras["context"]
    row = await _open_mail(runtime, mail_id)
    branch = body.branch or row["branch_id"]
    if not branch:
        raise Problem(
            "branch-required",
            texts(
                "E-posten nevner ingen (eller flere) fylkesavdelinger: oppgi avdelingen.",
                "E-posten nemner inga (eller fleire) fylkesavdelingar: oppgje avdelinga.",
                "the mail names no branch (or several): name the branch",
            ),
            field="branch",
        )
    try:
        contact = body.contact or ContactPerson.model_validate(
            {"name": row["sender_name"], "email": row["sender_email"], "language": body.language}
        )
    except ValidationError as error:
        raise Problem(
            "contact-required",
            texts(
                "Avsenderens adresse kan ikke brukes som kontakt: oppgi kontaktpersonen.",
                "Adressa til avsendaren kan ikkje nyttast som kontakt: oppgje kontaktpersonen.",
                "the sender's address cannot be the contact: name the contact",
            ),
            field="contact",
        ) from error
    command = RegisterInterest(
        round_id=body.round_id,
        branch=branch,
        municipality_numbers=body.municipality_numbers,
        contact=contact,
        message=body.message,
    )
    found = ctx.reference.branch(branch)

    async def mark(conn: asyncpg.Connection, result: Any) -> None:
        registration_id = getattr(result, "registration_id", None)
        if not await store.decide(
            conn,
            mail_id,
            status="confirmed",
            at=oslo_now(),
            by=principal.name,
            registration_id=registration_id,
            branch_id=found.id if found else None,
        ):
            raise _decided("confirmed")

    with acting_as(principal):
        await runtime.command(
            command, message_id=str(uuid.uuid5(NAMESPACE, str(mail_id))), before_commit=mark
        )
    decided = await store.get(runtime.pool, mail_id)
    return _view(ctx.reference, decided)


@router.post("/inbound-interest/{mail_id}/rejection", responses=REFUSALS)
async def reject_inbound_interest(
    mail_id: InboundPath, body: Rejection, runtime: RuntimeDep, principal: PrincipalDep
) -> InboundInterest:
    """Not interest after all (or not from a board): kept as rejected, with the reason.
    Programme management only."""
    _programme_only(principal)
    ctx: Context = runtime.extras["context"]
    await _open_mail(runtime, mail_id)
    async with runtime.pool.acquire() as conn:
        if not await store.decide(
            conn, mail_id, status="rejected", at=oslo_now(), by=principal.name, reason=body.reason
        ):
            raise _decided("rejected")
    decided = await store.get(runtime.pool, mail_id)
    return _view(ctx.reference, decided)
