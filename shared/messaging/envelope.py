"""CloudEvents 1.0 in Kafka binary mode: attributes in `ce_*` headers, the data as the value.

Also carries the conversation (`correlationid`: the id of the message that started it) and the
cause (`causationid`: the id of the message that caused this one) as CloudEvents extension
attributes, `ce_correlationid` and `ce_causationid`: extension names are lowercase letters and
digits only, or the CloudEvents SDKs drop them. The W3C trace context goes as the CloudEvents
distributed-tracing extension (`ce_traceparent`, `ce_tracestate`), when tracing is on. Messages written before that (still on topics,
in dead-letter topics and in outboxes) carry `correlation_id` and `causation_id` headers; they
are read too. Decoding never raises anything but `PoisonMessage`, whose reason goes to the DLQ.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from shared.contracts.events.base import REGISTRY, Contract
from shared.messaging.tracing import current_trace_id, trace_id_of

SPECVERSION = "1.0"
CONTENT_TYPE = "application/json"
CORRELATION_HEADER = "ce_correlationid"
CAUSATION_HEADER = "ce_causationid"
# Who sent a command (`role:branch:name`, as `shared.runtime.auth.Principal.caller`), a CloudEvents
# extension attribute like the two above. Optional: envelopes without it are read as before.
PRINCIPAL_HEADER = "ce_principal"
# The CloudEvents distributed-tracing extension: the W3C trace context of the message's making.
TRACEPARENT_HEADER = "ce_traceparent"
TRACESTATE_HEADER = "ce_tracestate"
# The headers before they were CloudEvents extension attributes; read, never written.
LEGACY_CORRELATION_HEADER = "correlation_id"
LEGACY_CAUSATION_HEADER = "causation_id"
Headers = Sequence[tuple[str, bytes]]
# The largest value read. Every contract bounds its text, so the largest message of ours is
# tens of kilobytes (an application with its kommunegruppe); a bigger one is not ours.
MAX_VALUE_BYTES = 256 * 1024


# The message whose handler runs now, for the log lines written meanwhile.
current_message: ContextVar[Envelope | None] = ContextVar("current_message", default=None)


class PoisonMessage(Exception):
    """A message that can never be handled as it is: undecodable, invalid or of unknown type."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Envelope:
    id: str
    type: str
    source: str
    time: datetime
    data: bytes
    subject: str | None = None
    correlation_id: str = ""
    causation_id: str | None = None
    content_type: str = CONTENT_TYPE
    extra: dict[str, str] = field(default_factory=dict)
    principal: str | None = None
    traceparent: str | None = None
    tracestate: str | None = None

    def headers(self) -> list[tuple[str, bytes]]:
        pairs = {
            "ce_specversion": SPECVERSION,
            "ce_id": self.id,
            "ce_type": self.type,
            "ce_source": self.source,
            "ce_time": self.time.isoformat(),
            "content-type": self.content_type,
            CORRELATION_HEADER: self.correlation_id or self.id,
        }
        if self.subject:
            pairs["ce_subject"] = self.subject
        if self.causation_id:
            pairs[CAUSATION_HEADER] = self.causation_id
        if self.principal:
            pairs[PRINCIPAL_HEADER] = self.principal
        if self.traceparent:
            pairs[TRACEPARENT_HEADER] = self.traceparent
            if self.tracestate:
                pairs[TRACESTATE_HEADER] = self.tracestate
        return [(k, v.encode()) for k, v in pairs.items()]

    @classmethod
    def wrap(
        cls,
        contract: Contract,
        *,
        source: str,
        subject: str | None = None,
        caused_by: Envelope | None = None,
        event_id: str | None = None,
        principal: str | None = None,
        traceparent: str | None = None,
        tracestate: str | None = None,
    ) -> Envelope:
        """A new envelope for `contract`, continuing the conversation of `caused_by`."""
        new_id = event_id or str(uuid.uuid4())
        return cls(
            id=new_id,
            type=contract.TYPE,
            source=source,
            time=datetime.now(UTC),
            data=contract.model_dump_json().encode(),
            subject=subject,
            correlation_id=(caused_by.correlation_id if caused_by else "") or new_id,
            causation_id=caused_by.id if caused_by else None,
            principal=principal,
            traceparent=traceparent,
            tracestate=tracestate,
        )

    @classmethod
    def from_kafka(cls, headers: Headers | None, value: bytes | None) -> Envelope:
        found: dict[str, str] = {}
        for name, raw in headers or ():
            if name in found and (name.startswith("ce_") or name == "content-type"):
                # An attribute is one header: which of two a reader takes is anybody's guess.
                raise PoisonMessage(f"header {name!r} more than once")
            try:
                found[name] = raw.decode() if raw is not None else ""
            except UnicodeDecodeError as error:
                raise PoisonMessage(f"header {name!r} is not UTF-8") from error
        missing = [
            h for h in ("ce_specversion", "ce_id", "ce_type", "ce_source") if not found.get(h)
        ]
        if missing:
            raise PoisonMessage(
                f"not a CloudEvent in binary mode: missing header(s) {', '.join(missing)}"
            )
        if found["ce_specversion"] != SPECVERSION:
            raise PoisonMessage(f"unsupported ce_specversion {found['ce_specversion']!r}")
        content_type = found.get("content-type", CONTENT_TYPE)
        if content_type.split(";")[0].strip().lower() != CONTENT_TYPE:
            raise PoisonMessage(f"unsupported content-type {content_type!r}")
        if value is None:
            raise PoisonMessage("empty message value")
        try:
            when = (
                datetime.fromisoformat(found["ce_time"])
                if "ce_time" in found  # optional, but when it is there, a time
                else datetime.now(UTC)
            )
        except ValueError as error:
            raise PoisonMessage(f"ce_time is not an RFC 3339 time: {found['ce_time']!r}") from error
        if when.tzinfo is None:
            raise PoisonMessage("ce_time has no time zone")
        return cls(
            id=found["ce_id"],
            type=found["ce_type"],
            source=found["ce_source"],
            time=when,
            data=value,
            subject=found.get("ce_subject"),
            correlation_id=(
                found.get(CORRELATION_HEADER)
                or found.get(LEGACY_CORRELATION_HEADER)
                or found["ce_id"]
            ),
            causation_id=found.get(CAUSATION_HEADER) or found.get(LEGACY_CAUSATION_HEADER),
            content_type=content_type,
            principal=found.get(PRINCIPAL_HEADER) or None,
            traceparent=found.get(TRACEPARENT_HEADER) or None,
            tracestate=found.get(TRACESTATE_HEADER) or None,
        )

    def log_fields(self) -> dict[str, str | None]:
        """What every log line about this message names: its id, type, conversation and
        trace (the trace of the span being recorded, else the one it came with)."""
        return {
            "ce_id": self.id,
            "ce_type": self.type,
            "correlation_id": self.correlation_id or self.id,
            "trace_id": current_trace_id() or trace_id_of(self.traceparent),
        }

    def decode(self, accepted: Sequence[str] | None = None) -> Contract:
        """Validate the data against the contract named by `ce_type`."""
        model = REGISTRY.get(self.type)
        if model is None or (accepted is not None and self.type not in accepted):
            raise PoisonMessage(f"unknown or unexpected ce_type {self.type!r}")
        if len(self.data) > MAX_VALUE_BYTES:
            raise PoisonMessage(
                f"value is {len(self.data)} bytes, more than the {MAX_VALUE_BYTES} a message may be"
            )
        try:
            text = self.data.decode()  # JSON between systems is UTF-8 (RFC 8259), nothing else
        except UnicodeDecodeError as error:
            raise PoisonMessage(f"value is not JSON: not UTF-8: {error}"[:500]) from error
        try:
            payload: Any = json.loads(
                text, object_pairs_hook=_unique_names, parse_constant=_no_constant
            )
        except (ValueError, RecursionError) as error:  # JSONDecodeError, depth
            raise PoisonMessage(f"value is not JSON: {error}"[:500]) from error
        if "\\u0000" in text and (where := _nul_in(payload)) is not None:
            # Nothing of ours holds NUL, and PostgreSQL text cannot: refused here, not by a
            # handler failing until its attempts are used up.
            raise PoisonMessage(f"{self.type} failed validation: {where}: text contains NUL")
        try:
            return model.model_validate(payload)
        except ValidationError as error:
            raise PoisonMessage(f"{self.type} failed validation: {_summary(error)}") from error


def header_log_fields(headers: Headers | None) -> dict[str, str | None]:
    """`Envelope.log_fields` of a record that may not decode (a dead letter, a record that
    escaped): what its headers say, None for what they do not."""
    found: dict[str, str] = {}
    for name, raw in headers or ():
        if name in _LOGGED and raw is not None:
            found[name] = raw.decode(errors="replace")[:200]
    return {
        "ce_id": found.get("ce_id"),
        "ce_type": found.get("ce_type"),
        "correlation_id": found.get(CORRELATION_HEADER)
        or found.get(LEGACY_CORRELATION_HEADER)
        or found.get("ce_id"),
        "trace_id": current_trace_id() or trace_id_of(found.get(TRACEPARENT_HEADER)),
    }


_LOGGED = {"ce_id", "ce_type", CORRELATION_HEADER, LEGACY_CORRELATION_HEADER, TRACEPARENT_HEADER}


def _unique_names(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        # Which of the two a reader takes differs between parsers (RFC 8259, section 4).
        names = [name for name, _ in pairs]
        twice = next(name for name in names if names.count(name) > 1)
        raise ValueError(f"property {twice[:100]!r} twice in one object")
    return found


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _nul_in(found: Any, where: str = "(root)") -> str | None:
    """Where a text (or a property name) in `found` holds a NUL character, if one does."""
    if isinstance(found, str):
        return where if "\x00" in found else None
    if isinstance(found, dict):
        items: Any = found.items()
    elif isinstance(found, list):
        items = enumerate(found)
    else:
        return None
    for name, inner in items:
        path = str(name) if where == "(root)" else f"{where}.{name}"
        if "\x00" in str(name):
            return where
        if (deeper := _nul_in(inner, path)) is not None:
            return deeper
    return None


def _summary(error: ValidationError) -> str:
    parts = []
    for item in error.errors()[:5]:
        where = ".".join(str(p) for p in item["loc"]) or "(root)"
        if item["type"] == "extra_forbidden":
            # Commands are strict: say plainly which property the contract does not know.
            parts.append(f"{where}: unknown property {item['loc'][-1]!r}, not in this contract")
        else:
            parts.append(f"{where}: {item['msg']}")
    more = error.error_count() - 5
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")
