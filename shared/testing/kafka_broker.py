"""A private single-node Kafka (KRaft) for tests that stop and start the broker.

The shared broker of the local stack serves every test at once, so a test that takes a broker
away needs one of its own: the same Apache Kafka jars the local stack runs
(deploy/local/kafka/target/lib, fetched by `make infra`), free loopback ports, and a data
folder of its own. `stop()` ends it the way an operator or a crash would (SIGTERM, SIGKILL
after a deadline); `start()` again comes back on the same ports with the same data, so
committed records and producer state survive as they do on a restarted broker.

`PrivateKafka(workdir, secure=True, users=[...])` starts it as a secured cluster is run:
SASL_SSL with SCRAM-SHA-512 only, ACLs enforced, a CA of its own (see
shared/devtools/kafka_broker.py, whose properties the local stack uses too). `admin` and
`connection(user)` are the `KafkaConnection`s of the super user and of each user.
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
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from shared.devtools import kafka_broker as config
from shared.messaging.kafka_admin import wait_for_kafka
from shared.messaging.kafka_client import KafkaConnection

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


async def spawn_broker(
    java: list[str], properties: Path, logfile: Path
) -> asyncio.subprocess.Process:
    """`kafka.Kafka` on `properties`, its output appended to `logfile`. In the test run's
    process group, so a Ctrl-C on the run ends the broker too."""
    log = os.open(logfile, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        return await asyncio.create_subprocess_exec(
            *java,
            "kafka.Kafka",
            str(properties),
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
            stdin=asyncio.subprocess.DEVNULL,
        )
    finally:
        os.close(log)  # the broker holds its own copy


class PrivateKafka:
    """One KRaft broker+controller on 127.0.0.1, its state under `workdir`."""

    def __init__(self, workdir: Path, *, secure: bool = False, users: Sequence[str] = ()) -> None:
        self.workdir = workdir
        self.port = _free_port()
        self.controller_port = _free_port()
        self.data = workdir / "data"
        self.properties = workdir / "server.properties"
        self.logfile = workdir / "kafka.log"
        self._proc: asyncio.subprocess.Process | None = None
        self.secured: config.Secured | None = None
        if secure:
            self.secured = config.Secured(
                tls=config.make_tls(workdir / "tls"),
                users=config.make_users(workdir / "users", users),
            )

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def ca_file(self) -> Path | None:
        return self.secured.tls.ca_file if self.secured else None

    def connection(self, user: str = config.ADMIN) -> KafkaConnection:
        """How `user` connects (a plain broker: PLAINTEXT, whoever asks)."""
        if self.secured is None:
            return KafkaConnection(bootstrap=self.bootstrap)
        return KafkaConnection(
            bootstrap=self.bootstrap,
            security_protocol="SASL_SSL",
            sasl_mechanism=config.SCRAM_MECHANISM,
            sasl_username=user,
            sasl_password_file=self.secured.users[user],
            ssl_ca_file=self.secured.tls.ca_file,
        )

    @property
    def admin(self) -> KafkaConnection:
        """The super user's connection (topic set-up, ACLs)."""
        return self.connection(config.ADMIN)

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
            config.properties(
                port=self.port,
                controller_port=self.controller_port,
                data=self.data,
                secured=self.secured,
            )
        )
        self.properties.chmod(0o600)  # a secured broker's holds its own passwords

    async def _format(self) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        argfile = config.format_argfile(
            self.workdir / "format.args",
            cluster_id=_cluster_id(),
            properties_file=self.properties,
            secured=self.secured,
        )
        try:
            proc = await asyncio.create_subprocess_exec(
                *self._java(),
                f"@{argfile}",
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            output, _ = await proc.communicate()
        finally:
            argfile.unlink(missing_ok=True)
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
        self._proc = await spawn_broker(self._java(), self.properties, self.logfile)
        try:
            await wait_for_kafka(self.admin, timeout=timeout)
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
async def private_broker(
    workdir: Path, *, secure: bool = False, users: Sequence[str] = ()
) -> AsyncIterator[PrivateKafka]:
    """A started private broker for the block; stopped (and its port freed) afterwards."""
    broker = PrivateKafka(workdir, secure=secure, users=users)
    await broker.start()
    try:
        yield broker
    finally:
        await broker.stop()
