"""A private three-node Kafka (KRaft) cluster for tests that take a broker away under load.

The same Apache Kafka jars as `kafka_broker.PrivateKafka`, three combined broker+controller
nodes on free loopback ports, each with a data folder of its own, formatted with one cluster
id and the same initial controllers (so `controller.quorum.bootstrap.servers` can list all
three). The internal topics are replicated three times with two in sync at least, as a
production cluster's would be; topics a test creates choose their own replication (see
`shared.messaging.kafka_admin.ensure_topics`).

`kill(node)` ends one node as a crash would (SIGKILL); `start(node)` brings it back on the
same ports with the same data. `leaders(topics)` says which node leads each partition, from
the brokers' metadata, so a test can take away the one that matters.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from shared.messaging.kafka_admin import wait_for_kafka
from shared.testing.kafka_broker import (
    KAFKA_DIR,
    KAFKA_LIB,
    BrokerUnavailable,
    _cluster_id,
    _free_port,
    missing_prerequisite,
    spawn_broker,
)


@dataclass
class ClusterNode:
    node_id: int
    port: int
    controller_port: int
    directory_id: str  # the metadata log folder's id, as the initial controllers name it
    workdir: Path
    proc: asyncio.subprocess.Process | None = field(default=None, repr=False)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def data(self) -> Path:
        return self.workdir / "data"

    @property
    def properties(self) -> Path:
        return self.workdir / "server.properties"

    @property
    def logfile(self) -> Path:
        return self.workdir / "kafka.log"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None


class KafkaCluster:
    """Three KRaft nodes, each broker and controller, their state under `workdir/node-<id>`."""

    def __init__(self, workdir: Path, size: int = 3) -> None:
        self.workdir = workdir
        self.cluster_id = _cluster_id()
        self.nodes = [
            ClusterNode(i, _free_port(), _free_port(), _cluster_id(), workdir / f"node-{i}")
            for i in range(1, size + 1)
        ]

    @property
    def bootstrap(self) -> str:
        """Every node, so a client finds the cluster whichever node is away."""
        return ",".join(node.address for node in self.nodes)

    def node(self, node_id: int) -> ClusterNode:
        return next(n for n in self.nodes if n.node_id == node_id)

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

    def _controllers(self) -> str:
        return ",".join(f"127.0.0.1:{n.controller_port}" for n in self.nodes)

    def _write_properties(self, node: ClusterNode) -> None:
        replicas = len(self.nodes)
        isr = min(2, replicas)
        node.properties.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    f"node.id={node.node_id}",
                    f"controller.quorum.bootstrap.servers={self._controllers()}",
                    f"listeners=PLAINTEXT://127.0.0.1:{node.port},"
                    f"CONTROLLER://127.0.0.1:{node.controller_port}",
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{node.port}",
                    "controller.listener.names=CONTROLLER",
                    "inter.broker.listener.name=PLAINTEXT",
                    "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                    f"log.dirs={node.data}",
                    "num.partitions=3",
                    f"default.replication.factor={replicas}",
                    f"min.insync.replicas={isr}",
                    f"offsets.topic.replication.factor={replicas}",
                    "offsets.topic.num.partitions=3",
                    f"transaction.state.log.replication.factor={replicas}",
                    f"transaction.state.log.min.isr={isr}",
                    f"share.coordinator.state.topic.replication.factor={replicas}",
                    f"share.coordinator.state.topic.min.isr={isr}",
                    "group.initial.rebalance.delay.ms=0",
                    # A node that stops heartbeating is fenced (and its partitions led
                    # elsewhere) within seconds, not the default nine.
                    "broker.heartbeat.interval.ms=500",
                    "broker.session.timeout.ms=3000",
                    # Topics are created by the tests, as they are by the services' deployers.
                    "auto.create.topics.enable=false",
                    "",
                ]
            )
        )

    async def _format(self, node: ClusterNode) -> None:
        node.data.mkdir(parents=True, exist_ok=True)
        initial = ",".join(
            f"{n.node_id}@127.0.0.1:{n.controller_port}:{n.directory_id}" for n in self.nodes
        )
        proc = await asyncio.create_subprocess_exec(
            *self._java(),
            "kafka.tools.StorageTool",
            "format",
            "-t",
            self.cluster_id,
            "-c",
            str(node.properties),
            "--initial-controllers",
            initial,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"formatting node {node.node_id} failed: {output.decode()[-2000:]}")

    async def start(self, *node_ids: int, timeout: float = 180.0) -> None:
        """Start the given nodes (all by default), formatting storage the first time; return
        once each answers."""
        reason = missing_prerequisite()
        if reason:
            raise BrokerUnavailable(reason)
        chosen = [self.node(i) for i in node_ids] if node_ids else self.nodes
        for node in chosen:
            node.workdir.mkdir(parents=True, exist_ok=True)
            if not node.properties.exists():
                self._write_properties(node)
        await asyncio.gather(
            *(self._format(n) for n in chosen if not (n.data / "meta.properties").exists())
        )
        for node in chosen:
            if node.running:
                continue
            node.proc = await spawn_broker(self._java(), node.properties, node.logfile)
        try:
            await asyncio.gather(*(wait_for_kafka(n.address, timeout=timeout) for n in chosen))
            await self.wait_for_brokers(timeout=timeout)
        except TimeoutError as error:
            raise TimeoutError(f"{error}; logs under {self.workdir}") from error

    async def wait_for_brokers(self, timeout: float = 60.0) -> None:
        """Until the cluster's metadata lists every running node as a broker."""
        wanted = {n.node_id for n in self.nodes if n.running}
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            try:
                if await self.brokers() >= wanted:
                    return
            except Exception:  # a node still starting; asked again below
                pass
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"brokers {sorted(wanted)} not all registered in {timeout}s")
            await asyncio.sleep(0.2)  # metadata poll, bounded by the deadline

    def _running_bootstrap(self) -> str:
        return ",".join(n.address for n in self.nodes if n.running) or self.bootstrap

    async def _metadata(self, topics: list[str] | None, timeout: float = 30.0) -> dict[str, Any]:
        """The cluster's metadata, asked of a running node (a node just killed stays in the
        metadata until it is fenced, and a request that lands on it is asked again)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            admin = AIOKafkaAdminClient(
                bootstrap_servers=self._running_bootstrap(), request_timeout_ms=5000
            )
            try:
                await admin.start()
                if topics is None:
                    cluster: dict[str, Any] = await admin.describe_cluster()
                    return cluster
                return {"topics": await admin.describe_topics(topics)}
            except (KafkaError, OSError):
                if asyncio.get_running_loop().time() > deadline:
                    raise
            finally:
                await admin.close()
            await asyncio.sleep(0.2)  # another node next time; bounded by the deadline

    async def brokers(self) -> set[int]:
        cluster = await self._metadata(None)
        return {int(b["node_id"]) for b in cluster["brokers"]}

    async def leaders(self, topics: Iterable[str]) -> dict[tuple[str, int], int]:
        """(topic, partition) -> the node leading it, as the cluster's metadata says."""
        described = (await self._metadata(list(topics)))["topics"]
        return {
            (str(t["topic"]), int(p["partition"])): int(p["leader"])
            for t in described
            for p in t["partitions"]
        }

    async def kill(self, node_id: int) -> None:
        """SIGKILL: no shutdown, no final flush, as a crashed machine would end."""
        node = self.node(node_id)
        proc = node.proc
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        await proc.wait()

    async def stop(self, timeout: float = 30.0) -> None:
        """Every node: SIGTERM, as an orderly shutdown; SIGKILL after `timeout`."""
        running = [n for n in self.nodes if n.running]
        for node in running:
            assert node.proc is not None
            with contextlib.suppress(ProcessLookupError):
                node.proc.send_signal(signal.SIGTERM)
        for node in running:
            assert node.proc is not None
            try:
                await asyncio.wait_for(node.proc.wait(), timeout)
            except TimeoutError:
                await self.kill(node.node_id)


@contextlib.asynccontextmanager
async def private_cluster(workdir: Path, size: int = 3) -> AsyncIterator[KafkaCluster]:
    """A started private cluster for the block; stopped (and its ports freed) afterwards."""
    cluster = KafkaCluster(workdir, size)
    try:
        await cluster.start()
        yield cluster
    finally:
        await cluster.stop()
