"""The mail worker: sends due deliveries over SMTP, marks them sent, retries failures.

Each mail is sent while its row is locked, so replicas never send the same one; the row is
marked sent in the same transaction. Its Message-ID is derived from the delivery id, so a
mail that is sent again after a crash between SMTP's "250" and our commit is recognisable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib
from prometheus_client import Counter

from services.notification.adapters import repository
from services.notification.settings import NotificationSettings
from services.notification.templates import Templates
from shared.db.pool import connect
from shared.retry import backoff_delay
from shared.service import Runtime

log = logging.getLogger(__name__)
MAILS = Counter("ks_mails_total", "Mails handed to the SMTP server", ["template", "outcome"])


def build_mail(
    settings: NotificationSettings, row: dict[str, object], subject: str, body: str
) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = settings.mail_from
    mail["To"] = str(row["address"])
    mail["Subject"] = subject
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = f"<{row['id']}@notification.kulturskole>"
    mail["Content-Language"] = str(row["language"])
    mail.set_content(body)
    return mail


async def send_due(runtime: Runtime, templates: Templates) -> int:
    """Send what is due, one transaction per mail.

    A mail is marked sent in the transaction that holds its lock while SMTP accepts it, so a
    crash can repeat at most the one mail in flight (same Message-ID), never a whole batch.
    """
    settings = runtime.settings
    assert isinstance(settings, NotificationSettings)
    sent = 0
    for delivery_id in await repository.due_delivery_ids(runtime.pool, settings.mail_batch_size):
        async with runtime.pool.acquire() as conn, conn.transaction():
            row = await repository.lock_due_delivery(conn, delivery_id)
            if row is None:
                continue  # sent meanwhile, or another replica is on it
            context = {**row["context"], "recipient_name": row["recipient_name"] or ""}
            try:
                subject, body = templates.render(row["template"], row["language"], context)
                mail = build_mail(settings, dict(row), subject, body)
                await aiosmtplib.send(
                    mail,
                    hostname=settings.smtp_host,
                    port=settings.smtp_port,
                    timeout=settings.smtp_timeout_s,
                    start_tls=False,
                    use_tls=False,
                )
            except (aiosmtplib.SMTPException, OSError, LookupError) as error:
                MAILS.labels(row["template"], "failed").inc()
                delay = backoff_delay(row["attempts"] + 1, base=1.0, cap=300.0)
                log.warning(
                    "mail not accepted, will retry",
                    extra={"delivery": str(row["id"]), "error": repr(error), "retry_in_s": delay},
                )
                await repository.mark_failed(conn, row["id"], error=repr(error), retry_in_s=delay)
                continue
            await repository.mark_sent(conn, row["id"])
            MAILS.labels(row["template"], "sent").inc()
            sent += 1
    return sent


async def mail_worker(runtime: Runtime) -> None:
    settings = runtime.settings
    assert isinstance(settings, NotificationSettings)
    templates = Templates()
    wake = asyncio.Event()
    attempt = 0
    while True:
        listener = None
        try:
            listener = await connect(
                settings.database_url, settings.schema, name="notification-mail-listener"
            )
            await listener.add_listener(repository.DELIVERIES_CHANNEL, lambda *_: wake.set())
            attempt = 0
            while True:
                wake.clear()
                if await send_due(runtime, templates) >= settings.mail_batch_size:
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), settings.mail_poll_interval_s)
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
