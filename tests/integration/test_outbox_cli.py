"""`kulturskole outbox retry` as an operator runs it: the service's own settings, filters, a dry
run, the question before --all, progress. Rows are parked here as the relay parks them (the
relay's own tests show that); the relay is not running, so un-parked rows stay waiting."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from shared.testing.fixtures import ROOT, TestDatabase

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
ADMITTED = "no.kulturskoleradet.registration.municipality-admitted.v1"
REGISTERED = "no.kulturskoleradet.registration.interest-registered.v1"


async def park(pool: asyncpg.Pool, topic: str, rows: list[tuple[str, str, datetime]]) -> list[int]:
    """Parked rows of (key, ce_type, parked_at); their ids."""
    ids = []
    for n, (key, ce_type, parked_at) in enumerate(rows):
        ids.append(
            await pool.fetchval(
                "INSERT INTO outbox (event_id, topic, key, headers, payload, parked_at,"
                " parked_reason) VALUES ($1, $2, $3, $4::jsonb, $5, $6, 'MessageSizeTooLargeError')"
                " RETURNING id",
                f"{topic}-{n}",
                topic,
                key,
                [["ce_type", ce_type], ["ce_id", f"{topic}-{n}"]],  # the codec makes it JSON
                b"{}",
                parked_at,
            )
        )
    return ids


async def parked(pool: asyncpg.Pool, topic: str) -> list[int]:
    rows = await pool.fetch(
        "SELECT id FROM outbox WHERE topic = $1 AND parked_at IS NOT NULL ORDER BY id", topic
    )
    return [r["id"] for r in rows]


async def outbox(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "shared.cli",
        "outbox",
        *args,
        cwd=ROOT,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("KS_")}, **env},
        stdin=asyncio.subprocess.DEVNULL,  # no terminal, as in a script
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_retry_takes_the_services_settings_filters_a_dry_run_and_asks_before_all(
    database: TestDatabase, registration_pool: asyncpg.Pool, token: str
) -> None:
    topic = f"t{token}.registration.events"
    a, b = f"branch-{token}-a", f"branch-{token}-b"
    ids = await park(
        registration_pool,
        topic,
        [
            (a, REGISTERED, T0),
            (b, ADMITTED, T0 + timedelta(hours=1)),
            (a, ADMITTED, T0 + timedelta(hours=2)),
            (b, REGISTERED, T0 + timedelta(hours=3)),
        ],
    )
    env = {"KS_REGISTRATION_DATABASE_URL": database.dsns["registration"]}
    retry = ("retry", "--service", "registration")

    code, _, err = await outbox(*retry, "--all", env=env)
    assert code == 3 and "--yes" in err and "nothing done" in err, (code, err)
    assert await parked(registration_pool, topic) == ids

    code, out, err = await outbox(*retry, "--all", "--type", ADMITTED, "--dry-run", env=env)
    assert code == 0, err
    assert [int(line.split()[0]) for line in out.splitlines()] == [ids[1], ids[2]]
    assert "would queue 2 parked row(s)" in err
    assert await parked(registration_pool, topic) == ids

    # Type and key together, then a time range: [since, until).
    code, out, err = await outbox(*retry, "--all", "--type", ADMITTED, "--key", b, "--yes", env=env)
    assert code == 0, err
    assert f"1 row(s) queued again in registration: {ids[1]}" in out
    assert await parked(registration_pool, topic) == [ids[0], ids[2], ids[3]]
    since, until = (T0 + timedelta(hours=2)).isoformat(), (T0 + timedelta(hours=3)).isoformat()
    code, out, err = await outbox(
        *retry, "--all", "--since", since, "--until", until, "--yes", env=env
    )
    assert code == 0, err
    assert f"queued again in registration: {ids[2]}" in out
    assert await parked(registration_pool, topic) == [ids[0], ids[3]]

    # By id, as before; filters belong to --all.
    code, _, err = await outbox(*retry, "--id", str(ids[0]), "--key", a, env=env)
    assert code == 2 and "narrow --all" in err
    code, out, err = await outbox(*retry, "--id", str(ids[0]), "--id", str(ids[1]), env=env)
    assert code == 1 and f"row {ids[1]} is not parked" in err
    assert f"queued again in registration: {ids[0]}" in out
    assert await parked(registration_pool, topic) == [ids[3]]

    # Without the service named, the generic variable is not read.
    code, _, err = await outbox(
        "retry", "--all", "--yes", env={"KS_DATABASE_URL": database.dsns["registration"]}
    )
    assert code == 2 and "KS_DATABASE_URL is not read" in err
    assert await parked(registration_pool, topic) == [ids[3]]


async def test_a_long_retry_shows_its_progress(
    database: TestDatabase, registration_pool: asyncpg.Pool, token: str
) -> None:
    topic = f"t{token}.registration.events"
    await registration_pool.execute(
        "INSERT INTO outbox (event_id, topic, key, headers, payload, parked_at, parked_reason)"
        " SELECT $1 || n, $1, 'k' || n, '[]'::jsonb, '{}'::bytea, $2, 'too large'"
        " FROM generate_series(1, 1200) AS n",
        topic,
        T0,
    )

    code, out, err = await outbox(
        "retry",
        "--service",
        "registration",
        "--all",
        "--yes",
        env={"KS_REGISTRATION_DATABASE_URL": database.dsns["registration"]},
    )

    assert code == 0, err
    assert "1200 row(s) queued again" in out
    steps = [line for line in err.splitlines() if line.startswith("outbox: queued ")]
    assert steps == [
        "outbox: queued 500/1200",
        "outbox: queued 1000/1200",
        "outbox: queued 1200/1200",
    ]
    assert await parked(registration_pool, topic) == []
