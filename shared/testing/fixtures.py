"""Test fixtures for the real parts: Kafka, PostgreSQL, the SMTP sink, service processes.

Endpoints come from environment variables when set (CI and `make test` start the local stack
and export them); otherwise Kafka and PostgreSQL start with testcontainers, which needs a
Docker engine. Every test gets topics (a prefix) and a database of its own, and removes them
afterwards unless `KS_TEST_KEEP=1` asks to keep them for a look.

Which services there are comes from a catalog of `ServiceDeclaration`s that the caller passes
in; this module names none.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

from shared.db.provision import drop_database, provision
from shared.runtime.catalog import Catalog, LocalInfra, find, names

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def local_password(service: str) -> str:
    return f"{service}-local"


def keep_test_state() -> bool:
    """`KS_TEST_KEEP=1`: leave each test's topics and database behind, to look at them."""
    return os.environ.get("KS_TEST_KEEP", "").strip().lower() in ("1", "true", "yes")


async def eventually(
    check: Callable[[], Awaitable[T]], *, timeout: float = 30.0, what: str = "condition"
) -> T:
    """Poll `check` until it returns something truthy; fail with `what` at the deadline."""
    deadline = time.monotonic() + timeout
    delay = 0.05
    last: T | None = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(delay)  # polling interval, bounded by the deadline above
        delay = min(delay * 1.5, 0.5)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Endpoints:
    kafka_bootstrap: str
    pg_superuser_dsn: str
    smtp_host: str
    smtp_port: int
    smtp_web: str
    _cleanup: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        for step in reversed(self._cleanup):
            step()


def start_endpoints(tmp: Path) -> Endpoints:
    cleanup: list[Callable[[], None]] = []
    kafka = os.environ.get("KS_TEST_KAFKA_BOOTSTRAP")
    if not kafka:
        from testcontainers.kafka import KafkaContainer

        container = KafkaContainer("apache/kafka:4.1.1").with_kraft()
        container.start()
        cleanup.append(container.stop)
        kafka = container.get_bootstrap_server()
    pg = os.environ.get("KS_TEST_PG_SUPERUSER_DSN")
    if not pg:
        from testcontainers.postgres import PostgresContainer

        pg_container = PostgresContainer("postgres:15", username="postgres", password="postgres")
        pg_container.start()
        cleanup.append(pg_container.stop)
        pg = pg_container.get_connection_url(driver=None)
    smtp = os.environ.get("KS_TEST_SMTP")
    web = os.environ.get("KS_TEST_SMTP_WEB")
    if not (smtp and web):
        smtp_port, web_port = free_port(), free_port()
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "shared.devtools.smtp_sink",
                "--smtp-port",
                str(smtp_port),
                "--web-port",
                str(web_port),
                "--store",
                str(tmp / "mail"),
            ],
            cwd=ROOT,
        )
        cleanup.append(proc.terminate)
        smtp, web = f"127.0.0.1:{smtp_port}", f"http://127.0.0.1:{web_port}"
        _wait_http(f"{web}/api/messages", 30)
    host, _, port = smtp.rpartition(":")
    return Endpoints(kafka, pg, host, int(port), web, cleanup)


def _wait_http(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)  # start-up poll with a deadline
    raise TimeoutError(f"{url} did not answer within {timeout}s")


@dataclass
class TestDatabase:
    __test__ = False  # a fixture value, not a test class
    name: str
    dsns: dict[str, str]


async def create_test_database(endpoints: Endpoints, services: Iterable[str]) -> TestDatabase:
    """A new database with a login role and schema per service; `dsns` by service name."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    passwords = {s: local_password(s) for s in services}
    await provision(endpoints.pg_superuser_dsn, name, passwords=passwords)
    base = endpoints.pg_superuser_dsn.split("@", 1)[1].rsplit("/", 1)[0]
    return TestDatabase(
        name, {s: f"postgresql://{s}:{password}@{base}/{name}" for s, password in passwords.items()}
    )


async def drop_test_database(endpoints: Endpoints, database: TestDatabase) -> None:
    await drop_database(endpoints.pg_superuser_dsn, database.name)


class SinkClient:
    """Reads what the SMTP sink received, as a person would in its web view."""

    def __init__(self, web: str) -> None:
        self.web = web

    async def messages(self, *, containing: str | None = None) -> list[dict[str, Any]]:
        params = {"contains": containing} if containing else {}
        async with httpx.AsyncClient(timeout=30) as client:
            response = await client.get(f"{self.web}/api/messages", params=params)
            response.raise_for_status()
            found: list[dict[str, Any]] = response.json()
        return found


@dataclass
class ServiceProcesses:
    """The catalog's services as real processes, on a test's own topics and database."""

    endpoints: Endpoints
    database: TestDatabase
    topic_prefix: str
    logs: Path
    catalog: Catalog
    ports: dict[str, int] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    # Settings of a service beyond the tests' own, e.g. {"notification": {"KS_…": "…"}}.
    overrides: dict[str, dict[str, str]] = field(default_factory=dict)
    # Processes per service (default one): replicas in one consumer group, each on its own
    # HTTP port, named `<service>`, `<service>#2`, … (`instances`); start, url, kill and stop
    # take either name.
    replicas: dict[str, int] = field(default_factory=dict)

    @staticmethod
    def service_of(instance: str) -> str:
        return instance.partition("#")[0]

    def instances(self, service: str) -> list[str]:
        count = self.replicas.get(service, 1)
        return [service, *(f"{service}#{n}" for n in range(2, count + 1))]

    def running(self, instance: str) -> bool:
        proc = self.procs.get(instance)
        return proc is not None and proc.poll() is None

    def env(self, service: str) -> dict[str, str]:
        name = self.service_of(service)
        declaration = find(self.catalog, name)
        infra = LocalInfra(smtp_host=self.endpoints.smtp_host, smtp_port=self.endpoints.smtp_port)
        return {
            **os.environ,
            **declaration.env(
                kafka_bootstrap=self.endpoints.kafka_bootstrap,
                database_url=self.database.dsns[name],
                topic_prefix=self.topic_prefix,
                http_port=self.ports[service],
                relay_poll_interval_s=0.5,
            ),
            **declaration.local_env(infra),
            **self.overrides.get(name, {}),
        }

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def _expand(self, services: tuple[str, ...]) -> list[str]:
        """Instances to start: a service with replicas means those of it not running."""
        found: list[str] = []
        for service in services or tuple(names(self.catalog)):
            if "#" in service or self.replicas.get(service, 1) == 1:
                found.append(service)
            else:
                found += [i for i in self.instances(service) if not self.running(i)]
        return found

    def start(self, *services: str) -> None:
        chosen = self._expand(services)
        for service in chosen:
            self.ports.setdefault(service, free_port())
            log = open(self.logs / f"{service}.log", "ab")
            self.procs[service] = subprocess.Popen(
                [sys.executable, "-m", find(self.catalog, self.service_of(service)).module],
                env=self.env(service),
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        for service in chosen:
            self.wait_ready(service)

    def wait_ready(self, service: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.procs[service].poll() is not None:
                raise RuntimeError(f"{service} exited; see {self.logs / (service + '.log')}")
            try:
                if httpx.get(f"{self.url(service)}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)  # start-up poll with a deadline
        raise TimeoutError(f"{service} not ready within {timeout}s")

    def kill(self, service: str) -> None:
        """SIGKILL: no shutdown hooks, no final commits, as a crash would be."""
        proc = self.procs[service]
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)

    def stop(self, service: str) -> None:
        """SIGTERM, and wait for the graceful shutdown."""
        proc = self.procs[service]
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
