"""Who may do what on Kafka: each service's ACLs, derived from what it declares, and the check
a service makes at start that its principal has them.

A service's principal (`User:<service>` by default) may
- READ, WRITE and DESCRIBE the topics it owns (events, commands, compacted ones, their DLQs);
- WRITE and DESCRIBE any other topic it publishes to;
- READ and DESCRIBE the topics it follows, and WRITE and DESCRIBE their `.dlq` topics (a message
  it cannot handle is dead-lettered beside the topic it came from);
- READ its consumer group (a PREFIXED pattern on the group id, `<prefix>.<service>`);
- IDEMPOTENT_WRITE on the cluster (its producers are idempotent).

aiokafka's admin client has no ACL calls, so CreateAcls and DescribeAcls go out as protocol
requests of version 1 (Kafka 4 removed version 0, KIP-896), and the start-time check asks for
Metadata version 8, which says per topic which operations the caller may perform.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka.errors import (
    KafkaError,
    for_code,
)
from aiokafka.protocol.admin import (
    CreateAclsRequest_v1,
    CreateAclsResponse_v1,
    DescribeAclsRequest_v1,
    DescribeAclsResponse_v1,
)
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.types import Array, Boolean, Bytes, Int16, Int32, Schema, String

from shared.contracts.topics import DEFAULT_PREFIX, dlq_topic
from shared.messaging.kafka_admin import admin_client
from shared.messaging.kafka_client import Kafka, KafkaAccessError, as_connection, check_login
from shared.runtime.catalog import Catalog, ServiceDeclaration

log = logging.getLogger(__name__)

CLUSTER = "kafka-cluster"  # the one name of the CLUSTER resource
DEFAULT_PRINCIPAL = "User:{service}"


class ResourceType(enum.IntEnum):
    TOPIC = 2
    GROUP = 3
    CLUSTER = 4


class PatternType(enum.IntEnum):
    LITERAL = 3
    PREFIXED = 4


class Operation(enum.IntEnum):
    READ = 3
    WRITE = 4
    CREATE = 5
    DELETE = 6
    ALTER = 7
    DESCRIBE = 8
    CLUSTER_ACTION = 9
    DESCRIBE_CONFIGS = 10
    ALTER_CONFIGS = 11
    IDEMPOTENT_WRITE = 12


ALLOW = 3  # AclPermissionType.ALLOW
ANY = 1  # the "any" value of the filters of DescribeAcls


@dataclass(frozen=True, order=True)
class Acl:
    """One ALLOW rule: `principal` may `operation` on a resource, from any host."""

    principal: str
    resource_type: ResourceType
    resource_name: str
    operation: Operation
    pattern: PatternType = PatternType.LITERAL
    host: str = "*"

    def __str__(self) -> str:
        pattern = "" if self.pattern is PatternType.LITERAL else f" ({self.pattern.name})"
        return (
            f"{self.principal}  ALLOW {self.operation.name:<16} "
            f"{self.resource_type.name} {self.resource_name}{pattern}"
        )


# --- what each service may do -------------------------------------------------------------


@dataclass(frozen=True)
class Needs:
    """What a service does on Kafka: the topics it reads, writes, its group."""

    service: str
    owns: tuple[str, ...]
    reads: tuple[str, ...]
    writes: tuple[str, ...]
    group: str


def needs(declaration: ServiceDeclaration[Any], prefix: str = DEFAULT_PREFIX) -> Needs:
    """What `declaration` reads and writes under `prefix`, from its spec and its topics."""
    settings = declaration.settings.model_construct(topic_prefix=prefix)
    spec = declaration.spec(settings)
    owns = tuple(topic.name for topic in declaration.topics(prefix))
    reads = tuple(dict.fromkeys(spec.subscribe_to))
    writes = tuple(
        dict.fromkeys([*spec.publishes, *(dlq_topic(topic) for topic in spec.subscribe_to)])
    )
    return Needs(declaration.name, owns, reads, writes, settings.group_id)


def service_acls(
    declaration: ServiceDeclaration[Any],
    prefix: str = DEFAULT_PREFIX,
    *,
    principal: str = DEFAULT_PRINCIPAL,
) -> list[Acl]:
    """The ALLOW rules of one service's principal (`{service}` in `principal` is its name)."""
    need = needs(declaration, prefix)
    who = principal.format(service=need.service)
    wanted: dict[str, set[Operation]] = {}
    for topic in need.owns:
        wanted.setdefault(topic, set()).update(
            {Operation.READ, Operation.WRITE, Operation.DESCRIBE}
        )
    for topic in need.reads:
        wanted.setdefault(topic, set()).update({Operation.READ, Operation.DESCRIBE})
    for topic in need.writes:
        wanted.setdefault(topic, set()).update({Operation.WRITE, Operation.DESCRIBE})
    acls = [
        Acl(who, ResourceType.TOPIC, topic, operation)
        for topic, operations in wanted.items()
        for operation in operations
    ]
    acls.append(Acl(who, ResourceType.GROUP, need.group, Operation.READ, PatternType.PREFIXED))
    acls.append(Acl(who, ResourceType.CLUSTER, CLUSTER, Operation.IDEMPOTENT_WRITE))
    return sorted(acls)


def catalog_acls(
    services: Catalog, prefix: str = DEFAULT_PREFIX, *, principal: str = DEFAULT_PRINCIPAL
) -> list[Acl]:
    """The ALLOW rules of every service in the catalog."""
    return [
        acl for service in services for acl in service_acls(service, prefix, principal=principal)
    ]


# --- CreateAcls / DescribeAcls ------------------------------------------------------------


class _CreateAcls(Request[CreateAclsRequest_v1]):  # type: ignore[misc]  # aiokafka's protocol is untyped
    """Many ACLs in one request, version 1 only (aiokafka's builder sends one per request)."""

    API_KEY = 30

    def __init__(self, acls: Sequence[Acl]) -> None:
        self._acls = acls

    def build(self, request_struct_class: type[CreateAclsRequest_v1]) -> CreateAclsRequest_v1:
        return request_struct_class(
            [
                (
                    acl.resource_type,
                    acl.resource_name,
                    acl.pattern,
                    acl.principal,
                    acl.host,
                    acl.operation,
                    ALLOW,
                )
                for acl in self._acls
            ]
        )


class _DescribeAcls(Request[DescribeAclsRequest_v1]):  # type: ignore[misc]  # aiokafka's protocol is untyped
    API_KEY = 29

    def __init__(self, principal: str | None) -> None:
        self._principal = principal

    def build(self, request_struct_class: type[DescribeAclsRequest_v1]) -> DescribeAclsRequest_v1:
        # resource type ANY, name any, pattern type ANY, host any, operation ANY, ALLOW
        return request_struct_class(ANY, None, ANY, self._principal, None, ANY, ALLOW)


class AclError(RuntimeError):
    """The broker refused to create or list ACLs."""


async def create_acls(kafka: Kafka, acls: Sequence[Acl]) -> None:
    """Create `acls` (an ACL that exists already stays as it is). Needs ALTER on the cluster."""
    if not acls:
        return
    async with admin_client(kafka) as admin:
        # ACLs live in the metadata log: the controller takes them, any broker forwards them.
        response = await admin._send_request(_CreateAcls(acls))
    assert isinstance(response, CreateAclsResponse_v1)
    refused = [
        f"{acl}: {for_code(code).__name__}{f' ({message})' if message else ''}"
        for acl, (code, message) in zip(acls, response.creation_responses, strict=True)
        if code
    ]
    if refused:
        raise AclError("ACLs refused: " + "; ".join(refused))


async def describe_acls(kafka: Kafka, principal: str | None = None) -> list[Acl]:
    """The ALLOW ACLs the cluster holds (of `principal`, or everyone's)."""
    async with admin_client(kafka) as admin:
        response = await admin._send_request(_DescribeAcls(principal))
    assert isinstance(response, DescribeAclsResponse_v1)
    if response.error_code:
        raise AclError(f"listing ACLs: {for_code(response.error_code).__name__}")
    found: list[Acl] = []
    for resource_type, name, pattern, entries in response.resources:
        for who, host, operation, permission in entries:
            if permission != ALLOW or resource_type not in ResourceType._value2member_map_:
                continue
            if operation not in Operation._value2member_map_:
                continue
            found.append(
                Acl(
                    who,
                    ResourceType(resource_type),
                    name,
                    Operation(operation),
                    PatternType(pattern),
                    host,
                )
            )
    return sorted(found)


# --- the check at start -------------------------------------------------------------------


class _MetadataResponse_v8(Response):  # type: ignore[misc]  # aiokafka's protocol is untyped
    API_KEY = 3
    API_VERSION = 8
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        (
            "brokers",
            Array(
                ("node_id", Int32),
                ("host", String("utf-8")),
                ("port", Int32),
                ("rack", String("utf-8")),
            ),
        ),
        ("cluster_id", String("utf-8")),
        ("controller_id", Int32),
        (
            "topics",
            Array(
                ("error_code", Int16),
                ("topic", String("utf-8")),
                ("is_internal", Boolean),
                (
                    "partitions",
                    Array(
                        ("error_code", Int16),
                        ("partition", Int32),
                        ("leader", Int32),
                        ("leader_epoch", Int32),
                        ("replicas", Array(Int32)),
                        ("isr", Array(Int32)),
                        ("offline_replicas", Array(Int32)),
                    ),
                ),
                ("topic_authorized_operations", Int32),
            ),
        ),
        ("cluster_authorized_operations", Int32),
    )


class _MetadataRequest_v8(RequestStruct):  # type: ignore[misc]  # aiokafka's protocol is untyped
    API_KEY = 3
    API_VERSION = 8
    RESPONSE_TYPE = _MetadataResponse_v8
    SCHEMA = Schema(
        ("topics", Array(String("utf-8"))),
        ("allow_auto_topic_creation", Boolean),
        ("include_cluster_authorized_operations", Boolean),
        ("include_topic_authorized_operations", Boolean),
    )


class _Metadata(Request[_MetadataRequest_v8]):  # type: ignore[misc]  # aiokafka's protocol is untyped
    """Metadata of some topics with the operations the caller may perform on each."""

    API_KEY = 3

    def __init__(self, topics: Sequence[str]) -> None:
        self._topics = topics

    def build(self, request_struct_class: type[_MetadataRequest_v8]) -> _MetadataRequest_v8:
        return request_struct_class(list(self._topics), False, False, True)


class _DescribeGroupsResponse_v3(Response):  # type: ignore[misc]  # aiokafka's protocol is untyped
    API_KEY = 15
    API_VERSION = 3
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        (
            "groups",
            Array(
                ("error_code", Int16),
                ("group", String("utf-8")),
                ("state", String("utf-8")),
                ("protocol_type", String("utf-8")),
                ("protocol", String("utf-8")),
                (
                    "members",
                    Array(
                        ("member_id", String("utf-8")),
                        ("client_id", String("utf-8")),
                        ("client_host", String("utf-8")),
                        ("member_metadata", Bytes),
                        ("member_assignment", Bytes),
                    ),
                ),
                ("authorized_operations", Int32),
            ),
        ),
    )


class _DescribeGroupsRequest_v3(RequestStruct):  # type: ignore[misc]  # aiokafka's protocol is untyped
    # aiokafka's own v3 struct decodes the answer with the v2 schema, which has no operations.
    API_KEY = 15
    API_VERSION = 3
    RESPONSE_TYPE = _DescribeGroupsResponse_v3
    SCHEMA = Schema(("groups", Array(String("utf-8"))), ("include_authorized_operations", Boolean))


class _DescribeGroup(Request[_DescribeGroupsRequest_v3]):  # type: ignore[misc]  # aiokafka's protocol is untyped
    API_KEY = 15

    def __init__(self, group: str) -> None:
        self._group = group

    def build(
        self, request_struct_class: type[_DescribeGroupsRequest_v3]
    ) -> _DescribeGroupsRequest_v3:
        return request_struct_class([self._group], True)


def _allowed(bits: int, operation: Operation) -> bool:
    return bool(bits & (1 << operation))


async def check_access(
    kafka: Kafka,
    *,
    reads: Iterable[str] = (),
    writes: Iterable[str] = (),
    group: str | None = None,
) -> None:
    """Raise `KafkaAccessError` naming each topic (or the group) this principal may not use as
    it needs to; return when all is allowed. A topic that does not exist (yet) is only
    logged: making topics is the set-up job's, and the consumer waits for them."""
    connection = as_connection(kafka)
    await check_login(connection)
    reads, writes = list(dict.fromkeys(reads)), list(dict.fromkeys(writes))
    topics = list(dict.fromkeys([*reads, *writes]))
    problems: list[str] = []
    absent: list[str] = []
    async with admin_client(connection) as admin:
        if topics:
            response = await admin._send_request(_Metadata(topics))
            assert isinstance(response, _MetadataResponse_v8)
            for code, topic, _internal, _partitions, bits in response.topics:
                error = for_code(code) if code else None
                if error is not None and error.errno == 29:  # TOPIC_AUTHORIZATION_FAILED
                    problems.append(f"topic {topic}: not authorized (not even to DESCRIBE it)")
                    continue
                if error is not None and error.errno == 3:  # UNKNOWN_TOPIC_OR_PARTITION
                    absent.append(topic)
                    continue
                if error is not None and error.errno != 5:  # LEADER_NOT_AVAILABLE: still fine
                    problems.append(f"topic {topic}: {error.__name__}")
                    continue
                missing = [
                    operation.name
                    for operation, needed in (
                        (Operation.READ, topic in reads),
                        (Operation.WRITE, topic in writes),
                    )
                    if needed and not _allowed(bits, operation)
                ]
                if missing:
                    problems.append(f"topic {topic}: not authorized to {' and '.join(missing)}")
        if group is not None:
            try:
                coordinator = await admin.find_coordinator(group)
                response = await admin._send_request_to_node(coordinator, _DescribeGroup(group))
            except KafkaError as error:
                if getattr(error, "errno", None) == 30:  # GROUP_AUTHORIZATION_FAILED
                    problems.append(f"consumer group {group}: not authorized")
                else:
                    raise
            else:
                assert isinstance(response, _DescribeGroupsResponse_v3)
                for code, name, *_rest, bits in response.groups:
                    if code == 30 or (code == 0 and not _allowed(bits, Operation.READ)):
                        problems.append(f"consumer group {name}: not authorized to READ")
    if absent:
        log.warning(
            "topics not there yet (the set-up job makes them)",
            extra={"topics": absent, "kafka": connection.bootstrap},
        )
    if problems:
        raise KafkaAccessError(
            f"{connection.principal} lacks access on {connection.bootstrap}: " + "; ".join(problems)
        )
