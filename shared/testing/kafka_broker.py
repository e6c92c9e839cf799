"""A private single-node Kafka (KRaft) for tests that stop and start the broker.

The shared broker of the local stack serves every test at once, so a test that takes a broker
away needs one of its own: the same Apache Kafka jars the local stack runs
(deploy/local/kafka/target/lib, fetched by `make infra`), free loopback ports, and a data
folder of its own. `stop()` ends it the way an operator or a crash would (SIGTERM, SIGKILL
after a deadline); `start()` again comes back on the same ports with the same data, so
committed records and producer state survive as they do on a restarted broker.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import shutil
import signal
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from shared.kafka_admin import wait_for_kafka

ROOT = Path(__file__).resolve().parents[2]
KAFKA_DIR = ROOT / "deploy" / "local" / "kafka"
KAFKA_LIB = KAFKA_DIR / "target" / "lib"


class BrokerUnavailable(RuntimeError):
    """The broker cannot run here (no JDK, no jars): a test should skip, not fail."""


def missing_prerequisite() -> str | None:
    """Why a private broker cannot start on this machine, or None when it can."""
    if shutil.which("java") is None:
        return "no `java` on PATH"
    if not any(KAFKA_LIB.glob("kafka_2.13-*.jar")):
        return f"no Kafka jars under {KAFKA_LIB} (`make infra` fetches them)"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cluster_id() -> str:
    # Kafka's Uuid.toString: URL-safe base64 of 16 random bytes, unpadded; never leading '-'.
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not text.startswith("-"):
            return text


class PrivateKafka:
    """One KRaft broker+controller on 127.0.0.1, its state under `workdir`."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = _free_port()
        self.controller_port = _free_port()
        self.data = workdir / "data"
        self.properties = workdir / "server.properties"
        self.logfile = workdir / "kafka.log"
        self._proc: asyncio.subprocess.Process | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    def _java(self) -> list[str]:
        return [
            "java",
            "-Xms128m",
            "-Xmx512m",
            "-XX:TieredStopAtLevel=1",  # starts faster; a test broker carries little load
            "-cp",
            f"{KAFKA_LIB}/*",
            f"-Dlog4j2.configurationFile={KAFKA_DIR / 'log4j2.properties'}",
        ]

    def _write_properties(self) -> None:
        self.properties.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.bootstrap.servers=127.0.0.1:{self.controller_port}",
                    f"listeners=PLAINTEXT://127.0.0.1:{self.port},"
                    f"CONTROLLER://127.0.0.1:{self.controller_port}",
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
                    "controller.listener.names=CONTROLLER",
                    "inter.broker.listener.name=PLAINTEXT",
                    "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                    f"log.dirs={self.data}",
                    "num.partitions=3",
                    "offsets.topic.replication.factor=1",
                    "offsets.topic.num.partitions=3",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "share.coordinator.state.topic.replication.factor=1",
                    "share.coordinator.state.topic.min.isr=1",
                    "group.initial.rebalance.delay.ms=0",
                    # Topics are created by the tests, as they are by the services' deployers.
                    "auto.create.topics.enable=false",
                    "",
                ]
            )
        )

    async def _format(self) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        proc = await asyncio.create_subprocess_exec(
            *self._java(),
            "kafka.tools.StorageTool",
            "format",
            "--standalone",
            "-t",
            _cluster_id(),
            "-c",
            str(self.properties),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"formatting Kafka storage failed: {output.decode()[-2000:]}")

    async def start(self, timeout: float = 180.0) -> None:
        """Start the broker (formatting its storage the first time); return once it answers."""
        if self.running:
            return
        reason = missing_prerequisite()
        if reason:
            raise BrokerUnavailable(reason)
        self.workdir.mkdir(parents=True, exist_ok=True)
        if not self.properties.exists():
            self._write_properties()
        if not (self.data / "meta.properties").exists():
            await self._format()
        log = os.open(self.logfile, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            # In the test run's process group, so a Ctrl-C on the run ends the broker too.
            self._proc = await asyncio.create_subprocess_exec(
                *self._java(),
                "kafka.Kafka",
                str(self.properties),
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                stdin=asyncio.subprocess.DEVNULL,
            )
        finally:
            os.close(log)  # the broker holds its own copy
        try:
            await wait_for_kafka(self.bootstrap, timeout=timeout)
        except TimeoutError as error:
            await self.stop()
            raise TimeoutError(f"{error}; broker log: {self.logfile}") from error

    async def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM, as an orderly shutdown; SIGKILL when it has not ended by `timeout`."""
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), timeout)
        except TimeoutError:
            await self.kill()

    async def kill(self) -> None:
        """SIGKILL: no shutdown, no final flush, as a crashed machine would end."""
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        await proc.wait()


@contextlib.asynccontextmanager
async def private_broker(workdir: Path) -> AsyncIterator[PrivateKafka]:
    """A started private broker for the block; stopped (and its port freed) afterwards."""
    broker = PrivateKafka(workdir)
    await broker.start()
    try:
        yield broker
    finally:
        await broker.stop()
