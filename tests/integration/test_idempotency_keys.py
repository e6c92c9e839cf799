"""HTTP Idempotency-Key on the real database and broker: a key belongs to its caller and
route and is bound to the body. A retry gets the original answer; nobody's key can drop
another caller's command; two identical requests at once run the command once.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest

from shared.runtime.idempotency import REPLAYED_HEADER, purge_idempotency_keys
from shared.testing.fixtures import eventually
from tests.integration.registration_app import (
    AGDER,
    PROGRAMME,
    ROUND,
    VESTLAND,
    Registration,
    registration_fixture,  # noqa: F401
)

pytestmark = pytest.mark.integration


def interest(branch: str, municipalities: list[str], **more: Any) -> dict[str, Any]:
    return {
        "round_id": ROUND,
        "branch": branch,
        "municipality_numbers": municipalities,
        "contact": {"name": f"Kontakt {branch}", "email": f"styret@{branch.lower()}.example.no"},
        "message": "Styret ønsker å være med.",
        **more,
    }


VESTLAND_INTEREST = interest("Vestland", ["4601"])
AGDER_INTEREST = interest("Agder", ["4204"])


def keyed(who: dict[str, str], key: str) -> dict[str, str]:
    return {**who, "Idempotency-Key": key}


async def post(
    app: Registration, path: str, body: Any, who: dict[str, str], key: str
) -> httpx.Response:
    return await app.client.post(path, json=body, headers=keyed(who, key))


async def count(app: Registration, query: str, *args: Any) -> int:
    return int(await app.db.fetchval(query, *args))


async def test_two_boards_with_the_same_key_both_take_effect(registration: Registration) -> None:
    app = registration
    await app.open_round(windows=())

    vestland = await post(app, "/interest-registrations", VESTLAND_INTEREST, VESTLAND, "styre-1")
    agder = await post(app, "/interest-registrations", AGDER_INTEREST, AGDER, "styre-1")

    for response in (vestland, agder):
        assert response.status_code == 201, response.text
        assert REPLAYED_HEADER.lower() not in response.headers
        assert response.json()["duplicate"] is False
    assert vestland.json()["result"]["branch_id"] == "vestland"
    assert agder.json()["result"]["branch_id"] == "agder"
    stored = await app.db.fetch(
        "SELECT branch_id, municipality_numbers FROM interest_registrations ORDER BY branch_id"
    )
    assert [(r["branch_id"], list(r["municipality_numbers"])) for r in stored] == [
        ("agder", ["4204"]),
        ("vestland", ["4601"]),
    ]
    assert (await app.event_types())["interest-registered.v1"] == 2
    assert (await app.status_of("4204"))["interested"] is True
    assert (await app.status_of("4601"))["interested"] is True


async def test_a_retry_gets_the_original_status_and_body(registration: Registration) -> None:
    app = registration
    await app.open_round(windows=())

    first = await post(app, "/interest-registrations", VESTLAND_INTEREST, VESTLAND, "once")
    assert first.status_code == 201, first.text
    before = await app.snapshot()

    # The same request, written differently: other key order, other whitespace.
    rewritten = json.dumps(dict(reversed(list(VESTLAND_INTEREST.items()))), indent=3)
    again = await app.client.post(
        "/interest-registrations",
        content=rewritten,
        headers={**keyed(VESTLAND, "once"), "Content-Type": "application/json"},
    )
    assert again.status_code == 201, again.text
    assert again.headers[REPLAYED_HEADER] == "true"
    assert again.json() == first.json()  # `duplicate` false, the same registration id
    assert await app.snapshot() == before, "the retry changed something"
    assert (await app.event_types())["interest-registered.v1"] == 1

    # An update answers 200 on its first run; its retry answers 200 too, with that body.
    update = interest("Vestland", ["4601", "4640"])
    updated = await post(app, "/interest-registrations", update, VESTLAND, "update-1")
    assert updated.status_code == 200, updated.text
    replayed = await post(app, "/interest-registrations", update, VESTLAND, "update-1")
    assert (replayed.status_code, replayed.json()) == (200, updated.json())
    assert replayed.headers[REPLAYED_HEADER] == "true"
    types = await app.event_types()
    assert (types["interest-registered.v1"], types["interest-updated.v1"]) == (1, 1)


async def test_the_same_key_with_another_body_is_refused(registration: Registration) -> None:
    app = registration
    await app.open_round(windows=())
    first = await post(app, "/interest-registrations", VESTLAND_INTEREST, VESTLAND, "k-42")
    assert first.status_code == 201, first.text

    changed = interest("Vestland", ["4601", "4640"])
    await app.refused(
        "/interest-registrations",
        changed,
        keyed(VESTLAND, "k-42"),
        422,
        "Idempotency-Key 'k-42' was already used on POST /interest-registrations",
        "different request body",
    )
    # Still refused on a later try: the key stays bound to the first body.
    again = await post(app, "/interest-registrations", changed, VESTLAND, "k-42")
    assert again.status_code == 422, again.text
    registration = await app.db.fetchrow("SELECT municipality_numbers FROM interest_registrations")
    assert list(registration["municipality_numbers"]) == ["4601"]


async def test_a_refused_request_does_not_use_up_its_key(registration: Registration) -> None:
    app = registration
    await app.open_round(windows=())
    await app.refused(
        "/interest-registrations",
        interest("Vestland", ["4601", "9998"]),
        keyed(VESTLAND, "fix-and-retry"),
        422,
        "unknown municipality number(s) 9998",
    )
    fixed = await post(app, "/interest-registrations", VESTLAND_INTEREST, VESTLAND, "fix-and-retry")
    assert fixed.status_code == 201, fixed.text
    assert fixed.json()["duplicate"] is False
    assert REPLAYED_HEADER.lower() not in fixed.headers


async def test_the_same_key_on_another_route_is_another_request(
    registration: Registration,
) -> None:
    app = registration
    members = await post(app, "/members", {"municipality_numbers": ["4601"]}, PROGRAMME, "k")
    assert members.status_code == 200, members.text
    opened = await post(app, "/rounds", {"round_id": ROUND}, PROGRAMME, "k")
    assert opened.status_code == 201, opened.text
    assert opened.json()["duplicate"] is False
    assert opened.json()["result"]["round_id"] == ROUND
    assert REPLAYED_HEADER.lower() not in opened.headers
    assert await count(app, "SELECT count(*) FROM rounds WHERE round_id = $1", ROUND) == 1
    # And each route's retry replays its own answer.
    again = await post(app, "/rounds", {"round_id": ROUND}, PROGRAMME, "k")
    assert (again.status_code, again.json()) == (201, opened.json())
    assert again.headers[REPLAYED_HEADER] == "true"


async def test_two_identical_requests_at_once_run_the_command_once(
    registration: Registration,
) -> None:
    app = registration
    await app.open_round(windows=())

    # Hold the round, which the command reads under a share lock, so that both requests are
    # inside the bus at the same time: one waits on the round, the other on the inbox row.
    async with app.db.transaction():
        await app.db.execute("SELECT 1 FROM rounds WHERE round_id = $1 FOR UPDATE", ROUND)
        both = [
            asyncio.create_task(
                post(app, "/interest-registrations", VESTLAND_INTEREST, VESTLAND, "twice")
            )
            for _ in range(2)
        ]

        async def both_waiting() -> bool:
            # Inside a transaction the activity view is a snapshot: take a fresh one each time.
            await app.db.execute("SELECT pg_stat_clear_snapshot()")
            waiting = await app.db.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND application_name = 'registration' AND wait_event_type = 'Lock'"
            )
            return bool(waiting == 2)

        await eventually(both_waiting, timeout=10, what="both requests to wait on a lock")
    first, second = await asyncio.gather(*both)

    assert (first.status_code, second.status_code) == (201, 201), (first.text, second.text)
    assert first.json() == second.json()
    assert first.json()["duplicate"] is False
    # One ran the command; the other waited for it and answers its stored answer.
    replayed = sorted(str(r.headers.get(REPLAYED_HEADER)) for r in (first, second))
    assert replayed == ["None", "true"], replayed
    assert await count(app, "SELECT count(*) FROM interest_registrations") == 1
    assert await count(app, "SELECT count(*) FROM persons") == 1
    assert (await app.event_types())["interest-registered.v1"] == 1


async def test_purged_keys_are_free_again(registration: Registration) -> None:
    app = registration
    await app.open_round(windows=())
    first = await post(app, "/interest-registrations", VESTLAND_INTEREST, VESTLAND, "old")
    assert first.status_code == 201, first.text
    keyed_rows = "SELECT count(*) FROM idempotency_keys"
    # Only this request had a key; within the retention nothing goes.
    assert await count(app, keyed_rows) == 1
    assert await purge_idempotency_keys(app.db, timedelta(days=1)) == 0
    assert await purge_idempotency_keys(app.db, timedelta(hours=12)) == 0  # not "0 days"
    assert await count(app, keyed_rows) == 1

    message_id = await app.db.fetchval("SELECT message_id FROM idempotency_keys")
    assert await count(app, "SELECT count(*) FROM inbox WHERE message_id = $1", message_id) == 1
    assert await purge_idempotency_keys(app.db, timedelta(0)) == 1
    assert await count(app, keyed_rows) == 0
    # Its inbox row goes with it, or the key's next use would be taken for a duplicate.
    assert await count(app, "SELECT count(*) FROM inbox WHERE message_id = $1", message_id) == 0

    # The key is new again: the command runs (an update of the registration now).
    later = await post(app, "/interest-registrations", VESTLAND_INTEREST, VESTLAND, "old")
    assert later.status_code == 200, later.text
    assert REPLAYED_HEADER.lower() not in later.headers
    assert later.json()["duplicate"] is False
    assert later.json()["result"]["registration_id"] == first.json()["result"]["registration_id"]

    # Batches go on until nothing old is left.
    agder = await post(app, "/interest-registrations", AGDER_INTEREST, AGDER, "old")
    assert agder.status_code == 201, agder.text
    assert await purge_idempotency_keys(app.db, timedelta(0), batch_size=1) == 2
    assert await count(app, keyed_rows) == 0
