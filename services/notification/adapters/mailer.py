"""Sending mail: claim due mails, send them over reused SMTP connections, then mark them.
The worker that runs this is `entrypoints/mailer.py`.

No database transaction is open while a mail is on the wire: a batch is claimed in one short
statement (status 'sending' with a lease), sent over at most `smtp_connections` connections
at once, and marked sent as the server takes each, in group commits together with the
notification-sent events. A crash between the server's "250" and the mark sends that mail
again, with the same Message-ID (derived from the delivery id), so a mail system or a reader
can tell it is the same mail; how many can be taken and not yet marked is bounded
(`mail_unmarked_per_connection` per connection), also while the database is slow.

Outcomes per mail: accepted -> sent; a 5xx refusal or a mail that cannot be written (template
error, no such template) -> failed with a reason and an event; a 4xx or no server -> due again
after a backoff. One mail's failure never holds up the others.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formatdate, parseaddr

import aiosmtplib
import aiosmtplib.smtp
import asyncpg
from aiosmtplib.protocol import (
    COMMAND_INJECTION_REGEX,
    MAX_RESPONSE_LENGTH,
    SMTPProtocol,
    normalize_message_line_endings,
)
from aiosmtplib.response import SMTPResponse
from jinja2 import TemplateError
from opentelemetry.context import Context
from opentelemetry.trace import SpanKind
from prometheus_client import Counter

from services.notification.adapters import mime, repository
from services.notification.adapters.repository import Claimed
from services.notification.domain import calendar
from services.notification.settings import NotificationSettings
from services.notification.templates import Templates
from shared.contracts.events.notification import NotificationFailed, NotificationSent, RecipientKind
from shared.contracts.topics import events_topic
from shared.messaging import tracing
from shared.messaging.envelope import Envelope
from shared.messaging.redact import redact
from shared.messaging.retry import backoff_delay, describe, is_transient
from shared.messaging.wakeups import OUTBOX, after_commit, wake
from shared.runtime.spec import Runtime

log = logging.getLogger(__name__)
MAILS = Counter("ks_mails_total", "Mails by outcome", ["template", "outcome"])
SOURCE = "/notification/mailer"
# Groups of marks written side by side: one, so that groups grow under load and a commit
# serves many mails (more side by side split the groups and cost throughput; see
# docs/performance.md).
MARK_FLUSHES = 1


class Unwritable(Exception):
    """The mail cannot be written (its template fails, an address cannot go in its headers):
    sending again would fail again."""


@dataclass(frozen=True)
class Composed:
    """A mail ready for the wire: envelope sender and recipient, and the message's bytes."""

    sender: str
    recipient: str
    data: bytes


# The sender's name and address, parsed once per setting rather than once per mail: the
# setting does not change, and parsing it per mail was a visible share of the mail stage's
# CPU (docs/performance.md, seventh round).
_parsed_sender = functools.lru_cache(maxsize=4)(parseaddr)


def build_mail(settings: NotificationSettings, mail: Claimed, templates: Templates) -> Composed:
    """The whole message: headers, plain text, HTML and, for a gathering, its calendar part
    (inline, for calendar programs' Accept/Update, and as a file to open)."""
    context = {
        **mail.context,
        # An owed notice to a person erased meanwhile carries their name itself.
        "recipient_name": mail.recipient_name or mail.context.get("recipient_name", ""),
        "contact_name": mail.reply_to_name or "",
    }
    try:
        rendered = templates.render_mail(mail.template, mail.language, context)
    except (TemplateError, LookupError, ValueError, TypeError) as error:
        raise Unwritable(f"template {mail.template!r} ({mail.language}): {error!r}") from error
    sender_name, sender = _parsed_sender(settings.mail_from)
    try:
        recipient = mime.ascii_address(mail.address)
        headers = [
            ("From", mime.address(sender_name, sender)),
            ("To", mime.address(context["recipient_name"], recipient)),
        ]
        if mail.reply_to_email:
            reply_to = mime.address(mail.reply_to_name or "", mail.reply_to_email)
            headers.append(("Reply-To", reply_to))
    except mime.NotAscii as error:
        raise Unwritable(f"address: {error}") from error
    headers += [
        ("Subject", mime.encoded_words(rendered.subject)),
        ("Date", formatdate(localtime=False)),
        ("Message-ID", f"<{mail.id}@notification.kulturskole>"),
        ("Content-Language", mail.language),
        ("Auto-Submitted", "auto-generated"),
        ("X-Kulturskole-Template", mail.template),
    ]
    alternatives = [mime.Part("plain", rendered.text), mime.Part("html", rendered.html)]
    attachments = []
    spec = mail.context.get("calendar")
    if spec:
        ics = calendar.invitation(
            spec, organizer=sender, attendee=recipient, attendee_name=context["recipient_name"]
        ).decode()
        method = (("method", str(spec["method"])),)
        alternatives.append(mime.Part("calendar", ics, method))
        name = "invitasjon.ics" if spec["method"] == "REQUEST" else "avlysning.ics"
        attachments.append(mime.Part("calendar", ics, method, filename=name))
    return Composed(sender, recipient, mime.message(headers, alternatives, attachments))


class Replies(SMTPProtocol):
    """aiosmtplib's protocol, able to take the replies to several commands written at once.

    Its own reading hands over one reply per command and drops what arrives before that reply
    is picked up, so commands written together (PIPELINING, RFC 2920) would lose replies. While
    `pipelined` waits, every complete reply is queued as it arrives; otherwise it reads as
    aiosmtplib's does."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._queued: collections.deque[SMTPResponse] | None = None
        self._arrived: asyncio.Future[None] | None = None

    def data_received(self, data: bytes) -> None:
        if self._queued is None:
            super().data_received(data)
            return
        self._buffer.extend(data)
        try:
            while (reply := self._read_response_from_buffer()) is not None:
                self._queued.append(reply)
            if len(self._buffer) > MAX_RESPONSE_LENGTH:
                raise aiosmtplib.SMTPResponseException(
                    aiosmtplib.SMTPStatus.invalid_response, "Response too long"
                )
        except Exception as error:
            self._wake(error)
        else:
            if self._queued:
                self._wake(None)

    def connection_lost(self, exc: Exception | None) -> None:
        lost = aiosmtplib.SMTPServerDisconnected("Connection lost")
        lost.__cause__ = exc
        self._wake(lost)
        super().connection_lost(exc)

    def eof_received(self) -> bool:
        self._wake(aiosmtplib.SMTPServerDisconnected("Unexpected EOF received"))
        return super().eof_received()

    def _wake(self, error: BaseException | None) -> None:
        if self._arrived is not None and not self._arrived.done():
            if error is None:
                self._arrived.set_result(None)
            else:
                self._arrived.set_exception(error)

    async def pipelined(
        self, data: bytes, replies: int, timeout: float | None
    ) -> list[SMTPResponse]:
        """Write `data` (commands, or a message and its end) and read `replies` replies."""
        self._queued = collections.deque()
        try:
            self.write(data)
            found: list[SMTPResponse] = []
            while len(found) < replies:
                if self._queued:
                    found.append(self._queued.popleft())
                    continue
                self._arrived = asyncio.get_running_loop().create_future()
                try:
                    await asyncio.wait_for(self._arrived, timeout)
                except TimeoutError as error:
                    raise aiosmtplib.SMTPReadTimeoutError(
                        "Timed out waiting for replies"
                    ) from error
                finally:
                    self._arrived = None
            return found
        finally:
            self._queued = None


# aiosmtplib builds its protocol by this module-level name when it connects, and builds it
# before it first waits (`SMTP._create_connection`): set only around that, so `Client`'s
# connections get `Replies` and nothing else in the process is touched.
_BUILDS = vars(aiosmtplib.smtp)  # the names `SMTP._create_connection` looks up
_SMTP_PROTOCOL = _BUILDS["SMTPProtocol"]


class Client(aiosmtplib.SMTP):
    """aiosmtplib's SMTP client, with a send for the one shape this service sends: one mail,
    one recipient, both addresses already written by `build_mail` (ASCII, checked there).

    Where the server offers PIPELINING (RFC 2920; Postfix, Exim, Exchange and the hosted
    services do), MAIL, RCPT and DATA go in one write and the message with its end in a
    second: two round trips a mail instead of four, and about a third of the client's CPU
    (docs/performance.md, fifteenth round). Otherwise each command waits for its reply.

    `sendmail` parses each address with `email.utils.parseaddr` twice and scans the message
    once more to size it: the client's CPU a mail was about 260 µs with it and 180 without
    (docs/performance.md, thirteenth round). A control character in an address is refused as
    `execute_command` refuses it; the replies are read as `sendmail` reads them, with its
    exceptions, and a refusal resets the envelope as it does."""

    async def _create_connection(self, timeout: float | None) -> SMTPResponse:
        _BUILDS["SMTPProtocol"] = Replies
        try:
            return await super()._create_connection(timeout)
        finally:
            _BUILDS["SMTPProtocol"] = _SMTP_PROTOCOL

    async def send_one(self, sender: str, recipient: str, data: bytes) -> None:
        if self.is_ehlo_or_helo_needed:
            try:
                await self.ehlo()
            except aiosmtplib.SMTPHeloError:
                if not self.is_connected:
                    raise
                await self.helo()
        mail_from = b"FROM:<%s>" % sender.encode("ascii")
        rcpt_to = b"TO:<%s>" % recipient.encode("ascii")
        try:
            if isinstance(self.protocol, Replies) and self.supports_extension("pipelining"):
                await self._pipelined(self.protocol, sender, recipient, mail_from, rcpt_to, data)
                return
            reply = await self.execute_command(b"MAIL", mail_from)
            _sender_taken(reply, sender)
            _recipient_taken(await self.execute_command(b"RCPT", rcpt_to), recipient)
            await self.data(data)
        except (aiosmtplib.SMTPResponseException, aiosmtplib.SMTPRecipientsRefused):
            with contextlib.suppress(ConnectionError, aiosmtplib.SMTPResponseException):
                await self.rset()
            raise

    async def _pipelined(
        self,
        protocol: Replies,
        sender: str,
        recipient: str,
        mail_from: bytes,
        rcpt_to: bytes,
        data: bytes,
    ) -> None:
        if COMMAND_INJECTION_REGEX.search(mail_from + rcpt_to):
            raise ValueError("Command arg contains a prohibited control character")
        timeout = self.timeout
        try:
            mail, rcpt, start = await protocol.pipelined(
                b"MAIL %s\r\nRCPT %s\r\nDATA\r\n" % (mail_from, rcpt_to), 3, timeout
            )
            try:
                _sender_taken(mail, sender)
                _recipient_taken(rcpt, recipient)
            except (aiosmtplib.SMTPResponseException, aiosmtplib.SMTPRecipientsRefused):
                if start.code == aiosmtplib.SMTPStatus.start_input:
                    # The server took DATA all the same: an empty message ends it (RFC 2920).
                    await protocol.pipelined(b".\r\n", 1, timeout)
                raise
            if start.code != aiosmtplib.SMTPStatus.start_input:
                raise aiosmtplib.SMTPDataError(start.code, start.message)
            (done,) = await protocol.pipelined(on_the_wire(data), 1, timeout)
            if done.code != aiosmtplib.SMTPStatus.completed:
                raise aiosmtplib.SMTPDataError(done.code, done.message)
        except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError):
            # Replies not read leave the connection out of step: closed, as aiosmtplib does.
            self.close()
            raise


def on_the_wire(message: bytes) -> bytes:
    """The message as DATA carries it, as aiosmtplib's `data` writes it: every line ending a
    CRLF, a dot that starts a line doubled, and the end. Its regular expressions took about
    90 µs of a 4.5 KB mail's 150 µs of client CPU, pipelined; `build_mail`'s mails end every
    line with a CRLF already, which three counts tell, and then the rest is a replace."""
    crlf = message.count(b"\r\n")
    if message.count(b"\n") != crlf or message.count(b"\r") != crlf:
        message = normalize_message_line_endings(message)
    elif not message.endswith(b"\r\n"):
        message += b"\r\n"
    message = message.replace(b"\n.", b"\n..")
    if message.startswith(b"."):
        message = b"." + message
    return message + b".\r\n"


def _sender_taken(reply: SMTPResponse, sender: str) -> None:
    if reply.code != aiosmtplib.SMTPStatus.completed:
        raise aiosmtplib.SMTPSenderRefused(reply.code, reply.message, sender)


def _recipient_taken(reply: SMTPResponse, recipient: str) -> None:
    if reply.code not in (aiosmtplib.SMTPStatus.completed, aiosmtplib.SMTPStatus.will_forward):
        refused = aiosmtplib.SMTPRecipientRefused(reply.code, reply.message, recipient)
        raise aiosmtplib.SMTPRecipientsRefused([refused])


class Held(Exception):
    """Not sent now: marking the mails sent before it failed (the database is away), and a
    mail sent now could not be marked either."""


@dataclass
class Outcome:
    sent: list[Claimed]  # taken by the server, still to be marked
    failed: list[tuple[Claimed, str]]
    retry: list[tuple[Claimed, str]]
    marked: list[Claimed]  # taken by the server and marked already
    # When the server took each mail (its "250" after the data): the mail's sent_at, in its
    # row and its notification-sent event, however long its mark waits behind others.
    accepted: dict[uuid.UUID, datetime] = field(default_factory=dict)


class SmtpPool:
    """At most `smtp_connections` SMTP connections, each kept open and reused mail after mail,
    and a window on the mails taken by the server and not yet recorded."""

    def __init__(self, settings: NotificationSettings) -> None:
        self.settings = settings
        self.idle: asyncio.Queue[Client] = asyncio.Queue()
        for _ in range(settings.smtp_connections):
            self.idle.put_nowait(self._client())
        self.window = asyncio.Semaphore(
            settings.smtp_connections * settings.mail_unmarked_per_connection
        )

    def _client(self) -> Client:
        s = self.settings
        return Client(
            hostname=s.smtp_host,
            port=s.smtp_port,
            timeout=s.smtp_timeout_s,
            use_tls=s.smtp_tls,
            start_tls=s.smtp_starttls if not s.smtp_tls else False,
            username=s.smtp_username or None,
            password=s.smtp_password.get_secret_value() or None,
        )

    async def send(
        self,
        mail: Composed,
        *,
        then: Callable[[], Awaitable[None]] | None = None,
        held: Callable[[], str | None] | None = None,
    ) -> None:
        """Send one mail; `then` runs once the server has taken it. A mail holds its place in
        the window from before it is sent until `then` is done, so at most `window` mails are
        ever taken by the server and not yet recorded (what a crash can repeat). `held`, asked
        once the mail has its place, gives a reason not to send it now (`Held`)."""
        async with self.window:
            reason = held() if held is not None else None
            if reason is not None:
                raise Held(reason)
            client = await self.idle.get()
            try:
                reused = client.is_connected
                if not reused:
                    await client.connect()
                try:
                    await client.send_one(mail.sender, mail.recipient, mail.data)
                except aiosmtplib.SMTPServerDisconnected:
                    if not reused:
                        raise
                    # The server closed an idle connection; one fresh try is not a retry.
                    await self._reset(client)
                    await client.connect()
                    await client.send_one(mail.sender, mail.recipient, mail.data)
            except BaseException:
                await self._reset(client)
                raise
            finally:
                self.idle.put_nowait(client)
            if then is not None:
                await then()

    async def _reset(self, client: Client) -> None:
        with contextlib.suppress(Exception):
            client.close()

    async def close(self) -> None:
        while not self.idle.empty():
            client = self.idle.get_nowait()
            if client.is_connected:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(client.quit(), 2)
            await self._reset(client)


def classify(error: BaseException) -> str:
    """'failed' for a permanent refusal (5xx), 'retry' for anything that may pass (4xx, down)."""
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in error.recipients]
        return "failed" if codes and all(c >= 500 for c in codes) else "retry"
    if isinstance(error, aiosmtplib.SMTPResponseException):
        return "failed" if error.code >= 500 else "retry"
    return "retry"


async def send_batch(
    mails: Sequence[Claimed],
    settings: NotificationSettings,
    templates: Templates,
    smtp: SmtpPool,
    *,
    on_sent: Callable[[Claimed, datetime], Awaitable[None]] | None = None,
    parents: Mapping[str, Context] | None = None,
) -> Outcome:
    """Send the batch over the pool. `on_sent` records a mail the moment the server took it,
    holding its place in the pool's window (if it fails, the mail is left in `sent` for the
    batch's own marking)."""
    outcome = Outcome([], [], [], [])
    # The server could not be reached: the rest of the batch waits for the next try instead
    # of each mail waiting out its own connection timeout.
    unreachable: list[str] = []
    # A mark failed (the database is away): a failed mark frees the mail's place in the window,
    # so the rest of the batch would go out unmarked, each to be sent again after a crash or
    # a lost claim; it waits for the next try instead.
    unmarked: list[str] = []

    async def one(mail: Claimed) -> None:
        try:
            composed = build_mail(settings, mail, templates)
        except Unwritable as error:
            outcome.failed.append((mail, str(error)))
            return
        except Exception as error:
            # A mail that cannot be built fails on its own: ending the round would also send
            # again the mails of the batch that the server took but that are not marked yet.
            log.exception("a mail could not be built", extra={"delivery_id": str(mail.id)})
            outcome.failed.append((mail, f"could not be built: {error!r}"))
            return
        if unreachable:
            outcome.retry.append((mail, unreachable[0]))
            return
        marked = False

        async def record() -> None:
            nonlocal marked
            outcome.accepted[mail.id] = at = datetime.now(UTC)
            if on_sent is None:
                return
            try:
                await on_sent(mail, at)
            except Exception as error:
                log.warning("a sent mail not marked yet", extra={"error": describe(error)})
                unmarked.append(f"held: marking sent mails failed: {describe(error)}")
            else:
                marked = True

        try:
            # In the trace of the message that planned the mail (`parents`), when tracing.
            with tracing.span(
                "notification",
                "smtp send",
                parent=(parents or {}).get(mail.event_id),
                kind=SpanKind.CLIENT,
                attributes={
                    "kulturskole.delivery_id": str(mail.id),
                    "mail.template": mail.template,
                },
            ):
                await smtp.send(
                    composed, then=record, held=lambda: unmarked[0] if unmarked else None
                )
        except Held as error:
            outcome.retry.append((mail, str(error)))
            return
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            reason = redact(f"{type(error).__name__}: {error}")
            if classify(error) == "failed":
                outcome.failed.append((mail, reason))
                return
            if isinstance(error, (aiosmtplib.SMTPConnectError, OSError, TimeoutError)):
                unreachable.append(reason)
            outcome.retry.append((mail, reason))
            return
        (outcome.marked if marked else outcome.sent).append(mail)

    await asyncio.gather(*(one(m) for m in mails))
    return outcome


def _event(
    mail: Claimed,
    prefix: str,
    *,
    reason: str | None = None,
    trace: tuple[str | None, str | None] = (None, None),
    at: datetime | None = None,
) -> tuple[str, Envelope]:
    kind = RecipientKind(mail.recipient_kind)
    facts = {
        "delivery_id": mail.id,
        "caused_by": mail.event_id,
        "template": mail.template,
        "language": mail.language,
        "recipient_kind": kind,
        "person_id": mail.person_id,
        "supervisor_id": mail.supervisor_id,
        "attempts": mail.attempts + 1,
    }
    now = at or datetime.now(UTC)
    contract: NotificationSent | NotificationFailed
    if reason is None:
        contract = NotificationSent(**facts, sent_at=now)
    else:
        contract = NotificationFailed(**facts, reason=reason, failed_at=now)
    # The id follows from the delivery and its outcome: marking again queues nothing new.
    outcome = "sent" if reason is None else "failed"
    envelope = Envelope.wrap(
        contract,
        source=SOURCE,
        subject=contract.key(),
        event_id=str(uuid.uuid5(mail.id, outcome)),
        traceparent=trace[0],
        tracestate=trace[1],
    )
    return events_topic("notification", prefix), envelope


async def claim(
    runtime: Runtime,
    lock: repository.WorkerLock,
    *,
    limit: int = 0,
    gone: Sequence[int] = (),
) -> list[Claimed]:
    """Due mails, at most `limit` (default: the batch size), leased to the worker holding
    `lock`; the claims of the workers in `gone` count as due."""
    settings = runtime.settings
    assert isinstance(settings, NotificationSettings)
    return await repository.claim_due(
        lock,
        limit=limit or settings.mail_batch_size,
        lease_s=settings.mail_lease_s,
        reply_to_wait_s=settings.reply_to_wait_s,
        gone=gone,
    )


async def deliver(
    runtime: Runtime,
    templates: Templates,
    smtp: SmtpPool,
    claimed: Sequence[Claimed],
    marker: Marker,
) -> None:
    """Send claimed mails and record what became of each (marks of the parts in flight share
    the worker's `marker`, so that they are grouped across parts)."""
    settings = runtime.settings
    assert isinstance(settings, NotificationSettings)
    parents = await tracing.inbox_parents(runtime.pool, [m.event_id for m in claimed])
    outcome = await send_batch(
        claimed, settings, templates, smtp, on_sent=marker.mark, parents=parents
    )
    await _mark(runtime, settings, outcome)
    _count(outcome)


class Marker:
    """Marks mails sent as the server takes them, in groups: each flush takes every mail taken
    since the last one began, so a commit is not paid per mail. Each mail keeps its place in
    the SMTP pool's window until its flush is done, which bounds what a crash can repeat."""

    def __init__(self, pool: asyncpg.Pool, prefix: str, *, flushes: int = MARK_FLUSHES) -> None:
        self.pool = pool
        self.prefix = prefix
        self.flushes = flushes
        self.waiting: list[tuple[Claimed, datetime, asyncio.Future[None]]] = []
        self.running: set[asyncio.Task[None]] = set()
        # The SMTP span of each mail waiting to be marked, for its event (when tracing).
        self.traces: dict[uuid.UUID, tuple[str | None, str | None]] = {}

    async def close(self) -> None:
        # Every mark is awaited before its batch ends; a flush may still send its wake-up.
        if self.running:
            await asyncio.wait(set(self.running), timeout=5)
        for task in self.running:
            task.cancel()

    async def mark(self, mail: Claimed, accepted_at: datetime) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if tracing.active():
            self.traces[mail.id] = tracing.current_context_headers()
        self.waiting.append((mail, accepted_at, future))
        self._start()
        await future

    def _start(self) -> None:
        if self.waiting and len(self.running) < self.flushes:
            group, self.waiting = self.waiting, []
            task = asyncio.create_task(self._flush(group), name="mail-marker")
            self.running.add(task)
            task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.running.discard(task)
        self._start()  # what came while every flush was busy

    async def _flush(self, group: list[tuple[Claimed, datetime, asyncio.Future[None]]]) -> None:
        try:
            events = [
                _event(m, self.prefix, trace=self.traces.pop(m.id, (None, None)), at=at)
                for m, at, _ in group
            ]
            async with self.pool.acquire() as conn:
                # One statement, so no transaction to open; the connections waiting for it
                # go on before the relay's wake-up is sent.
                await repository.mark_sent(
                    conn,
                    [m.id for m, _, _ in group],
                    events,
                    sent_at=[at for _, at, _ in group],
                    wake_relay=False,
                )
                for _, _, future in group:
                    if not future.done():
                        future.set_result(None)
                await wake(conn, OUTBOX)
        except BaseException as error:
            for _, _, future in group:
                if not future.done():
                    if isinstance(error, asyncio.CancelledError):
                        future.cancel()
                    else:
                        future.set_exception(error)
            if not isinstance(error, Exception):
                raise


async def _mark(runtime: Runtime, settings: NotificationSettings, outcome: Outcome) -> None:
    """Record what became of the batch. The mails are out: a database that is away for a
    while is waited for, so that they are not sent again when their lease runs out."""
    if not (outcome.sent or outcome.failed or outcome.retry):
        return  # each mail was marked as the server took it: no transaction to open
    attempt = 0
    while True:
        try:
            await _mark_once(runtime, settings, outcome)
            return
        except Exception as error:
            attempt += 1
            if not is_transient(error) or attempt >= 20:
                raise
            log.warning("marking sent mails failed, will retry", extra={"error": describe(error)})
            await asyncio.sleep(backoff_delay(attempt, cap=10.0))


async def _mark_once(runtime: Runtime, settings: NotificationSettings, outcome: Outcome) -> None:
    prefix = settings.topic_prefix
    async with runtime.pool.acquire() as conn, after_commit(conn), conn.transaction():
        if outcome.sent:
            at = [outcome.accepted.get(m.id) or datetime.now(UTC) for m in outcome.sent]
            await repository.mark_sent(
                conn,
                [m.id for m in outcome.sent],
                [_event(m, prefix, at=t) for m, t in zip(outcome.sent, at, strict=True)],
                sent_at=at,
            )
        if outcome.failed:
            await repository.mark_failed(
                conn,
                [(m.id, reason) for m, reason in outcome.failed],
                [_event(m, prefix, reason=redact(reason)[:500]) for m, reason in outcome.failed],
            )
        if outcome.retry:
            await repository.retry_later(
                conn,
                [
                    (
                        m.id,
                        reason,
                        backoff_delay(
                            m.attempts + 1,
                            base=settings.mail_retry_base_s,
                            cap=settings.mail_retry_max_s,
                        ),
                    )
                    for m, reason in outcome.retry
                ],
            )


def _count(outcome: Outcome) -> None:
    for m in [*outcome.marked, *outcome.sent]:
        MAILS.labels(m.template, "sent").inc()
    for m, reason in outcome.failed:
        MAILS.labels(m.template, "failed").inc()
        log.error("mail failed for good", extra={"delivery": str(m.id), "reason": reason})
    for m, reason in outcome.retry:
        MAILS.labels(m.template, "retry").inc()
        log.warning(
            "mail not accepted, will retry", extra={"delivery": str(m.id), "reason": reason}
        )
