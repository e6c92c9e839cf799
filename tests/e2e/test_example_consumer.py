"""The example consumer in examples/admissions-by-region, run end to end against the real stack.

It is a project of its own, written as a team outside this repository would: it uses only the
published contracts (contracts/jsonschema, docs/events.md), the CloudEvents SDK and aiokafka.
Its dependencies come from this repository's dev extra, which pins what its own
pyproject.toml pins (checked below), and it runs from its own folder, as its own process.

Registration runs as a process; Bergen is admitted over its HTTP API; the example, started
afterwards, reads the events topic from the beginning and counts Bergen for Vestland; a
withdrawal over the API, while it runs, takes the count back to none.
"""

from __future__ import annotations

import ast
import asyncio
import json
import sys
import tomllib
from collections.abc import AsyncIterator, Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx
import pytest
from packaging.requirements import Requirement

from shared.contracts.topics import events_topic
from shared.runtime.catalog import Catalog
from shared.testing.fixtures import ROOT, Endpoints, ServiceProcesses, TestDatabase
from tests.e2e.conftest import PROGRAMME, prepare
from tests.e2e.test_scheduling_flow import ROUND, admit_bergen

pytestmark = pytest.mark.e2e

EXAMPLE = ROOT / "examples" / "admissions-by-region"


@pytest.fixture
def procs(
    endpoints: Endpoints,
    database: TestDatabase,
    topic_prefix: str,
    logs_dir: Path,
    catalog: Catalog,
) -> Iterator[ServiceProcesses]:
    started = ServiceProcesses(endpoints, database, topic_prefix, logs_dir, catalog)
    try:
        yield started
    finally:
        started.stop_all()


class Example:
    """The example consumer as a process; its stdout is one JSON line per change of counts."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.seen: list[dict[str, Any]] = []

    async def until(self, wanted: dict[str, Any], timeout: float = 60) -> None:
        """Read its lines until it prints `wanted` (with a deadline)."""
        assert self.proc.stdout is not None
        async with asyncio.timeout(timeout):
            while not self.seen or self.seen[-1] != wanted:
                line = await self.proc.stdout.readline()
                assert line, f"the example exited ({self.proc.returncode}); printed {self.seen}"
                self.seen.append(json.loads(line))


@pytest.fixture
async def example(endpoints: Endpoints, topic_prefix: str) -> AsyncIterator[Any]:
    started: list[Example] = []

    async def start() -> Example:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "admissions_by_region",
            "--bootstrap",
            endpoints.kafka_bootstrap,
            "--topic",
            events_topic("registration", topic_prefix),
            "--schemas",
            str(ROOT / "contracts" / "jsonschema"),
            cwd=EXAMPLE,  # its own folder: its own package, not this repository's
            stdout=asyncio.subprocess.PIPE,
        )
        started.append(Example(proc))
        return started[-1]

    yield start
    for found in started:
        if found.proc.returncode is None:
            found.proc.terminate()
            await asyncio.wait_for(found.proc.wait(), timeout=20)


def test_the_example_depends_on_published_contracts_and_public_libraries_only() -> None:
    project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text(encoding="utf-8"))
    for requirement in map(Requirement, project["project"]["dependencies"]):
        # The suite runs it with this environment: it must have what the example pins.
        assert requirement.specifier.contains(version(requirement.name)), requirement
    imported: set[str] = set()
    for path in (EXAMPLE / "admissions_by_region").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    assert not imported & {"shared", "services", "tests"}, imported
    assert {"aiokafka", "cloudevents", "jsonschema"} <= imported


async def test_the_example_counts_an_admission_made_over_http_from_the_beginning(
    procs: ServiceProcesses, example: Any
) -> None:
    procs.start("registration")
    prepare(procs.url("registration"))
    await asyncio.to_thread(admit_bergen, procs.url("registration"))

    consumer: Example = await example()  # after the admission: it reads the history
    await consumer.until({"admitted": {ROUND: {"vestland": 1}}})

    async with httpx.AsyncClient(base_url=procs.url("registration"), timeout=30) as client:
        response = await client.post(
            "/withdrawals",
            json={"round_id": ROUND, "municipality_number": "4601", "reason": "test"},
            headers=PROGRAMME,
        )
    assert response.status_code in (200, 201), response.text
    await consumer.until({"admitted": {}})
    assert consumer.seen[0] == {"admitted": {}}  # its first line, before it read anything
