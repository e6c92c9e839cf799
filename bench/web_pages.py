"""`python -m bench.web_pages`: how fast each page of the web front answers on the demo data.

Starts the services and the web front as processes on the tests' infrastructure (Kafka,
PostgreSQL and the SMTP sink from `KS_TEST_*`, as `make test` sets them; topics and a database
of its own, removed afterwards), loads the demo data (`deploy/local/demo.py`), signs in as the
demo's programme management, Vestland's board and the observer, and asks each page
`--requests` times in turn. Prints per page the median and 95th percentile of the time to the
last byte, and how many calls to the services the page made (its `X-Service-Calls` header).
A benchmark, not a test: nothing here fails on a figure.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from services.catalog import SERVICES
from services.web.local import LOCAL_STAFF, local_env, sign_in_links
from shared.messaging.kafka_admin import delete_topics_with_prefix, ensure_topics
from shared.runtime.catalog import names, topic_specs
from shared.testing.fixtures import (
    ROOT,
    ServiceProcesses,
    create_test_database,
    drop_test_database,
    free_port,
    start_endpoints,
)

BOARD = "leder.vestland@example.no"


def pages(round_id: str) -> dict[str, list[str]]:
    programme, observer = list(LOCAL_STAFF)
    return {
        programme: [
            "/programme",
            f"/programme/rounds/{round_id}",
            f"/programme/rounds/{round_id}/applications/4601",
            f"/programme/rounds/{round_id}/regions/vestland/plan?semester=1",
            "/programme/deliveries",
        ],
        BOARD: [
            "/board",
            f"/board/rounds/{round_id}/interest",
            f"/board/rounds/{round_id}/applications",
            f"/board/rounds/{round_id}/applications/4601",
            f"/board/rounds/{round_id}/calendar",
        ],
        observer: [f"/observer?round={round_id}"],
    }


def signed_in(web: str, email: str) -> httpx.Client:
    client = httpx.Client(base_url=web, timeout=30, follow_redirects=True)
    link = sign_in_links(web, [email], 600)[email]
    page = client.get(link.removeprefix(web))
    found = {
        name: re.search(rf'name="{name}" value="([^"]+)"', page.text) for name in ("csrf", "token")
    }
    data = {name: match.group(1) for name, match in found.items() if match}
    answer = client.post("/sign-in/link", data=data)
    if answer.status_code != 200 or "sign-in" in str(answer.url):
        raise SystemExit(f"could not sign in as {email}: {answer.status_code}")
    return client


def measure(web: str, round_id: str, requests: int) -> list[tuple[str, float, float, int]]:
    rows = []
    for email, paths in pages(round_id).items():
        client = signed_in(web, email)
        try:
            for path in paths:
                times, calls = [], 0
                client.get(path)  # warm: templates compiled, connections open
                for _ in range(requests):
                    started = time.perf_counter()
                    answer = client.get(path)
                    times.append((time.perf_counter() - started) * 1000)
                    if answer.status_code != 200:
                        raise SystemExit(f"{path}: {answer.status_code}")
                    calls = int(answer.headers["x-service-calls"])
                p95 = statistics.quantiles(times, n=20)[-1]
                rows.append((path, statistics.median(times), p95, calls))
        finally:
            client.close()
    return rows


def run(procs: ServiceProcesses, smtp_web: str, requests: int) -> None:
    """The services, the demo data, the web front, the figures (blocking: in a thread)."""
    procs.start()
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "deploy" / "local" / "demo.py"),
            "--registration",
            procs.url("registration"),
            "--scheduling",
            procs.url("scheduling"),
            "--mail",
            smtp_web,
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    rounds = httpx.get(
        f"{procs.url('registration')}/rounds", headers={"Authorization": "Bearer local-observer"}
    ).json()
    round_id = rounds[-1]["round_id"]
    port = free_port()
    env = local_env(
        port=port,
        registration=procs.url("registration"),
        scheduling=procs.url("scheduling"),
        notification=procs.url("notification"),
        smtp_host=procs.endpoints.smtp_host,
        smtp_port=procs.endpoints.smtp_port,
    )
    # Plain HTTP here: a Secure cookie would not come back from httpx.
    env["KS_WEB_COOKIE_SECURE"] = "false"
    procs.ports["web"] = port
    with open(procs.logs / "web.log", "ab") as log:
        procs.procs["web"] = subprocess.Popen(
            [sys.executable, "-m", "services.web"],
            env={**os.environ, **env},
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    procs.wait_ready("web")
    rows = measure(procs.url("web"), round_id, requests)
    print(f"web front, demo data of round {round_id}, {requests} requests per page, in turn")
    print(f"{'page':<58} {'p50 ms':>7} {'p95 ms':>7} {'calls':>5}")
    for path, p50, p95, calls in rows:
        print(f"{path:<58} {p50:7.1f} {p95:7.1f} {calls:5d}")


async def main(requests: int) -> None:
    endpoints = start_endpoints(Path(tempfile.mkdtemp(prefix="bench-web-")))
    database = await create_test_database(endpoints, names(SERVICES))
    prefix = f"b{uuid.uuid4().hex[:10]}"
    await ensure_topics(endpoints.kafka_bootstrap, topic_specs(SERVICES, prefix))
    logs = Path(tempfile.mkdtemp(prefix="bench-web-logs-"))
    procs = ServiceProcesses(endpoints, database, prefix, logs, SERVICES)
    try:
        await asyncio.to_thread(run, procs, endpoints.smtp_web, requests)
    finally:
        procs.stop_all()
        await drop_test_database(endpoints, database)
        await delete_topics_with_prefix(endpoints.kafka_bootstrap, prefix)
        endpoints.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.web_pages", description=__doc__)
    parser.add_argument("--requests", type=int, default=50, help="per page (default 50)")
    asyncio.run(main(parser.parse_args().requests))
