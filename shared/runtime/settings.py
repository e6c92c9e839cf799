"""Settings of a service, from environment variables with one prefix per service.

For example `KS_<SERVICE>_DATABASE_URL`, `KS_<SERVICE>_HTTP_PORT`,
`KS_<SERVICE>_KAFKA_SECURITY_PROTOCOL`.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from shared.contracts.topics import DEFAULT_PREFIX
from shared.messaging.kafka_client import KafkaClientSettings

# A shorter HMAC secret is guessable; a start-up error says so rather than taking it.
MIN_PERSON_TOKEN_SECRET = 16


@functools.lru_cache(maxsize=8)
def _secret_file(path: Path, mtime_ns: int) -> str:
    """A secret's file, read again only when it changed (its mtime is part of the key)."""
    # One trailing newline is how editors and `echo` end a file; it is no part of it.
    return path.read_text().removesuffix("\n").removesuffix("\r")


class ServiceSettings(KafkaClientSettings):
    """The Kafka connection (`kafka_*`, see `KafkaClientSettings`; `.kafka` is the connection)
    and everything else a service process needs."""

    model_config = SettingsConfigDict(extra="ignore", hide_input_in_errors=True)

    SERVICE: ClassVar[str]

    # The topics this service owns get this many replicas, and writes to them wait for
    # `kafka_min_insync_replicas` copies (with acks=all); see docs/operations.md. One and one
    # suit a single local broker; a production cluster wants 3 and 2.
    kafka_replication_factor: int = Field(default=1, ge=1)
    kafka_min_insync_replicas: int = Field(default=1, ge=1)
    # No default: a service that falls back to some other role's DSN would start against the
    # wrong schema's rights; the deployment (or the local stack) always says which role it is.
    database_url: str = Field(description="DSN of the service's own login role")
    db_schema: str = ""
    db_pool_size: int = 10
    topic_prefix: str = DEFAULT_PREFIX
    consumer_group: str = ""
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    log_level: str = "INFO"
    # The event loop the process runs on: uvloop (libuv) spends less CPU per wake-up, socket
    # read and write than asyncio's own loop (docs/performance.md, eleventh round); "asyncio"
    # is there to rule the loop out when something misbehaves.
    event_loop: Literal["uvloop", "asyncio"] = "uvloop"
    relay_poll_interval_s: float = 1.0
    handler_max_attempts: int = 5
    # At most this many records are handled in one transaction; the poll waits this long for
    # records when none are there.
    consume_batch_size: int = Field(default=500, ge=1)
    consume_poll_timeout_ms: int = Field(default=100, ge=1)
    # A batch smaller than a full one waits up to this long for one more fetch to join it
    # (shared/messaging/consuming.py); the outbox relay, woken by a commit, waits this long
    # for more commits' rows before it reads (0: at once). Longer: fewer transactions, offset
    # commits and relay rounds per message at low rates, for that much latency per hop.
    # 20 and 10 cost a command at 200/s 6-19 % less CPU than 10 and 5, which took a tenth off
    # 3 and 0 (docs/performance.md, tenth and eleventh rounds).
    consume_linger_ms: float = Field(default=20, ge=0, le=1000)
    relay_linger_ms: float = Field(default=10, ge=0, le=1000)
    # Transactions of a batch, side by side, at most (a small batch takes fewer): its keys
    # are spread over them, each key in order in its own lane. More lanes overlap more round
    # trips to the database; each holds a connection of the pool while it runs.
    consume_lanes: int = Field(default=4, ge=1)
    # Housekeeping. A published outbox row is history once Kafka has it. An inbox row keeps a
    # redelivered message from acting twice, and a message can come again long after it was
    # handled (a re-driven dead letter, a consumer group reset to an older offset, a client
    # retrying a command), so the inbox is kept longer.
    outbox_retention_days: float = Field(default=7, gt=0)
    inbox_retention_days: float = Field(default=30, gt=0)
    # How long an Idempotency-Key's answer is replayed; after that the key is free again.
    idempotency_retention_days: float = Field(default=30, gt=0)
    housekeeping_interval_s: float = Field(default=3600, gt=0)
    # Traces go over OTLP/HTTP to this collector (its base URL, e.g. http://otel:4318); empty:
    # the standard OTEL_EXPORTER_OTLP_ENDPOINT, and without that, no tracing at all.
    otlp_endpoint: str = ""
    # Ready only while the Kafka consumer has fetched from the broker this recently.
    ready_fetch_within_s: float = Field(default=30, gt=0)
    # Person tokens (shared/runtime/auth.py): the HMAC secret a sign-in front signs them
    # with, or a file holding it (a mounted Secret; a rotated file counts from its next
    # change). Neither: only the API tokens are taken.
    person_token_secret: SecretStr | None = None
    person_token_secret_file: Path | None = None

    @field_validator("person_token_secret", "person_token_secret_file", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # A deployment template sets every variable, empty where a setting does not apply.
        return None if value == "" else value

    @model_validator(mode="after")
    def _one_person_token_secret(self) -> ServiceSettings:
        # At start, naming the variables, rather than at the first request.
        path = self.person_token_secret_file
        if path is None and self.person_token_secret is None:
            return self
        if path is not None and self.person_token_secret is not None:
            raise ValueError("give person_token_secret or person_token_secret_file, not both")
        if path is not None and not path.is_file():
            raise ValueError(f"person_token_secret_file: no readable file at {path}")
        if len(self.person_token_key()) < MIN_PERSON_TOKEN_SECRET:
            raise ValueError(
                f"the person-token secret needs at least {MIN_PERSON_TOKEN_SECRET} characters"
            )
        return self

    def person_token_key(self) -> str:
        """The person-token secret, from the setting or its file; "" when neither is set."""
        if self.person_token_secret is not None:
            return self.person_token_secret.get_secret_value()
        path = self.person_token_secret_file
        return _secret_file(path, path.stat().st_mtime_ns) if path is not None else ""

    # Shadows pydantic's deprecated v1 `BaseModel.schema()` classmethod on purpose; the name is
    # part of the settings API every service uses.
    @property
    def schema(self) -> str:  # type: ignore[override]
        return self.db_schema or self.SERVICE

    @property
    def group_id(self) -> str:
        return self.consumer_group or f"{self.topic_prefix}.{self.SERVICE}"
