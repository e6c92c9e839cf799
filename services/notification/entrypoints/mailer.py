"""The mail worker: claims due mails and has them sent (adapters/mailer.py), woken when mails
are planned and polling in between; it starts again after an interruption."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import secrets
import time

import asyncpg

from services.notification.adapters import repository
from services.notification.adapters.mailer import MARK_FLUSHES, Marker, SmtpPool, claim, deliver
from services.notification.settings import NotificationSettings
from services.notification.templates import Templates
from shared.db.pool import connect, create_pool
from shared.messaging.retry import backoff_delay
from shared.messaging.wakeups import listening_here
from shared.runtime.spec import Runtime

log = logging.getLogger(__name__)

# How often (seconds) a worker looks for workers that are gone, whose claims it may take over.
GONE_CHECK_S = 1.0


async def open_pool(settings: NotificationSettings) -> asyncpg.Pool:
    """The mail worker's own connections: its marks plan each statement for the table as it
    is, and read it without bitmap scans (shared/db/pool.py). Its claims are made on the
    session that holds its lock."""
    return await create_pool(
        settings.database_url,
        settings.schema,
        max_size=MARK_FLUSHES + 2,  # and a batch's marking, and its trace lookup
        name="notification-mail",
        custom_plans=True,
        queue_reads=True,
    )


async def mail_worker(runtime: Runtime) -> None:
    settings = runtime.settings
    assert isinstance(settings, NotificationSettings)
    if not settings.mail_sending:
        log.warning("outgoing mail is held (mail_sending is off): mails are planned, not sent")
        return
    templates = Templates()
    wake = asyncio.Event()
    attempt = 0
    smtp = SmtpPool(settings)
    # Marks on connections of the worker's own: a connection waits for its mail's mark, which
    # must not queue behind the consumers' batch transactions for the pool. Claims are made on
    # the session that holds the worker's lock.
    own: asyncpg.Pool | None = None
    try:
        while True:
            listener = None
            try:
                if own is None:
                    own = await open_pool(settings)
                listener = await connect(
                    settings.database_url,
                    settings.schema,
                    name="notification-mail-listener",
                    queue_reads=True,
                    index_plans=True,  # its claim is planned once (shared/db/pool.py)
                )
                await listener.add_listener(repository.DELIVERIES_CHANNEL, lambda *_: wake.set())
                # This worker's claims live as long as this session's lock (a new key for a
                # new session: claims of one that broke off are due again). When the session
                # ends (the database restarted), the round ends too: claiming on under a key
                # nobody holds would hand each claim to the next claim, this worker's or
                # another's, while its mail is still on the wire.
                listener.add_termination_listener(lambda _: wake.set())
                worker = secrets.randbelow(2**31 - 1) + 1
                lock = await repository.hold_worker_lock(listener, worker)
                attempt = 0
                mailing = dataclasses.replace(runtime, pool=own)
                here = listening_here(
                    settings.database_url, repository.DELIVERIES_CHANNEL, wake.set
                )
                with here:
                    await _send_continuously(mailing, templates, smtp, wake, lock=lock)
            except asyncio.CancelledError:
                raise
            except Exception:
                attempt += 1
                log.exception("mail worker interrupted, retrying")
                await asyncio.sleep(backoff_delay(attempt))
            finally:
                if listener is not None:
                    with contextlib.suppress(Exception):
                        await listener.close()
    finally:
        await smtp.close()
        if own is not None:
            try:
                await asyncio.wait_for(own.close(), 5)
            except (TimeoutError, asyncpg.PostgresError, OSError):
                own.terminate()


async def _send_continuously(
    runtime: Runtime,
    templates: Templates,
    smtp: SmtpPool,
    wake: asyncio.Event,
    *,
    lock: repository.WorkerLock,
) -> None:
    """Claim in parts of a quarter batch while earlier parts are on the wire, up to a batch in
    flight: the connections do not idle while a batch waits for its slowest mail, and a mail
    planned meanwhile waits for a part, not for the whole batch.

    With nothing in flight a wake-up claims at once; with parts in flight the next claim waits
    for one of them to end, so that under load a claim takes what came meanwhile instead of
    each planned mail costing a claim of its own. Returns only by an error: of a part, or the
    end of the session that holds the worker's `lock` (its claims are made on it). The parts
    in flight are let finish (their marks wait for the database), so that what the server
    took is marked, not sent again.
    """
    settings = runtime.settings
    assert isinstance(settings, NotificationSettings)
    part = max(1, settings.mail_batch_size // 4)
    flying: dict[asyncio.Task[None], int] = {}
    marker = Marker(runtime.pool, settings.topic_prefix)
    gone: list[int] = []
    looked = float("-inf")
    try:
        while True:
            wake.clear()
            if lock.session.is_closed():
                raise ConnectionError("the mail worker's database session ended")
            room = settings.mail_batch_size - sum(flying.values())
            if room > 0:
                if time.monotonic() - looked >= GONE_CHECK_S:
                    gone = await repository.gone_workers(lock.session)
                    looked = time.monotonic()
                limit = min(part, room)
                claimed = await claim(runtime, lock, limit=limit, gone=gone)
                if claimed:
                    task = asyncio.create_task(deliver(runtime, templates, smtp, claimed, marker))
                    flying[task] = len(claimed)
                    if len(claimed) == limit:
                        continue  # more may be due: claim again while there is room
            waiting = asyncio.ensure_future(wake.wait())
            try:
                await asyncio.wait(
                    set(flying) or {waiting},
                    timeout=settings.mail_poll_interval_s,
                    return_when=asyncio.FIRST_COMPLETED,
                )
            finally:
                waiting.cancel()
            for task in [t for t in flying if t.done()]:
                del flying[task]
                task.result()  # a part that failed ends the round
    except Exception:
        await _finish(flying)
        raise
    finally:
        for task in flying:
            task.cancel()
        await asyncio.gather(*flying, return_exceptions=True)
        await marker.close()


async def _finish(flying: dict[asyncio.Task[None], int]) -> None:
    """Let the parts in flight end on their own after another part failed or the session
    ended: each marks what the server took, waiting for the database if it is away."""
    ended = await asyncio.gather(*flying, return_exceptions=True)
    for error in ended:
        if isinstance(error, Exception):
            log.warning("a part of the mail round failed as it ended", exc_info=error)
