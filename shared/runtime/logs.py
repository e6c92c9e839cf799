"""JSON logs on stdout, one object a line, so operators can ship them as they are.

A log archive outlives erasure, so no e-mail address or phone number is written to it: the
formatter masks them in the message, the extra fields and the exception text.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from pythonjsonlogger.core import LogData
from pythonjsonlogger.json import JsonEncoder, JsonFormatter

from shared.messaging.envelope import current_message
from shared.messaging.redact import redact

# What the JSON encoder writes as it is: nothing in these can hold an address.
_VERBATIM = (bool, int, float, type(None))


class RedactingJsonFormatter(JsonFormatter):
    """python-json-logger's formatter, with addresses masked in every value it writes."""

    _encoder = JsonEncoder()

    def process_log_record(self, log_data: LogData) -> LogData:
        return {key: self._redacted(value) for key, value in log_data.items()}

    def _redacted(self, value: Any) -> Any:
        if isinstance(value, str):
            return redact(value)
        if isinstance(value, _VERBATIM):
            return value
        if isinstance(value, dict):
            return {key: self._redacted(item) for key, item in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self._redacted(item) for item in value]
        # Anything else (an exception, a UUID, a dataclass, a datetime) as the encoder would
        # write it, then masked: its text may hold an address too.
        return self._redacted(self._encoder.default(value))


class MessageFields(logging.Filter):
    """Every line written while a handler runs names its message: `ce_id`, `ce_type`,
    `correlation_id` and `trace_id` (a line that names them itself keeps its own)."""

    def filter(self, record: logging.LogRecord) -> bool:
        envelope = current_message.get()
        if envelope is not None:
            for name, value in envelope.log_fields().items():
                if not hasattr(record, name):
                    setattr(record, name, value)
        return True


def json_formatter(service: str) -> logging.Formatter:
    return RedactingJsonFormatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        static_fields={"service": service},
    )


def configure_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(json_formatter(service))
    handler.addFilter(MessageFields())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiokafka logs each refused connection at ERROR while the broker is away; we retry anyway.
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
