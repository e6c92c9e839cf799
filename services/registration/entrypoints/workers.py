"""Background work of the registration service."""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from shared.contracts.events.registration import contacts_topic
from shared.runtime.spec import Runtime

log = logging.getLogger(__name__)

FORGET_INTERVAL_S = 0.5

# An erased person's last record on the contacts topic (the notice that someone else now holds
# their contact role, with the address it is sent to) leaves the outbox as soon as it is sent.
FORGET_SENT = """
DELETE FROM outbox o
WHERE o.topic = $1 AND o.payload IS NOT NULL
  AND (o.published_at IS NOT NULL OR o.discarded_at IS NOT NULL)
  AND EXISTS (SELECT 1 FROM persons p WHERE p.id::text = o.key AND p.erased_at IS NOT NULL)
"""


async def forget_erased(runtime: Runtime) -> None:
    """Nothing of an erased person stays here: not even the record that told them, once sent."""
    topic = contacts_topic(runtime.settings.topic_prefix)
    while True:
        try:
            await runtime.pool.execute(FORGET_SENT, topic)
        except (OSError, asyncpg.PostgresError) as error:
            log.warning(
                "could not clear sent records of erased persons", extra={"error": repr(error)}
            )
        await asyncio.sleep(FORGET_INTERVAL_S)
