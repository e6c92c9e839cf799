"""Log lines keep no e-mail addresses or phone numbers: message, extra fields, tracebacks."""

from __future__ import annotations

import json
import logging
import sys
import uuid
from typing import Any

import pytest

from shared.messaging.redact import EMAIL_MASK, PHONE_MASK
from shared.runtime.logs import json_formatter

pytestmark = pytest.mark.unit

ADDRESS = "kari.nordmann@example.no"
PHONE = "+47 912 34 567"


def holds_no_contact(line: str) -> bool:
    """Neither the address nor the phone number, in any spacing: the line's own digits (its
    time, a random id) may well contain "912", so the number is looked for whole."""
    return "kari" not in line and "912 34 567" not in line and "91234567" not in line


def formatted(record: logging.LogRecord) -> tuple[str, dict[str, Any]]:
    line = json_formatter("test").format(record)
    return line, json.loads(line)


def record(msg: str, *args: object, extra: dict[str, Any] | None = None) -> logging.LogRecord:
    made = logging.LogRecord("test.logger", logging.WARNING, __file__, 1, msg, args, None)
    for key, value in (extra or {}).items():
        setattr(made, key, value)
    return made


def test_message_and_its_arguments_are_masked() -> None:
    line, data = formatted(record("mail to %s (tel. %s) not accepted", ADDRESS, PHONE))
    assert data["message"] == f"mail to {EMAIL_MASK} (tel. {PHONE_MASK}) not accepted"
    assert holds_no_contact(line)


def test_extra_fields_are_masked_however_nested() -> None:
    delivery = uuid.uuid4()
    error = ValueError(f"550 mailbox {ADDRESS} unavailable")
    line, data = formatted(
        record(
            "mail not accepted",
            extra={
                "error": error,  # an object: masked as the encoder writes it
                "reason": f"rejected: {ADDRESS}",
                "context": {"to": [ADDRESS], "phone": PHONE, "attempt": 3},
                "delivery": delivery,
            },
        )
    )
    assert holds_no_contact(line)
    assert data["error"] == f"ValueError: 550 mailbox {EMAIL_MASK} unavailable"
    assert data["reason"] == f"rejected: {EMAIL_MASK}"
    assert data["context"] == {"to": [EMAIL_MASK], "phone": PHONE_MASK, "attempt": 3}
    # What holds no address is written as before.
    assert data["delivery"] == str(delivery)
    assert data["level"] == "WARNING" and data["logger"] == "test.logger"
    assert data["service"] == "test"


def test_traceback_text_is_masked() -> None:
    try:
        raise RuntimeError(f"refused {ADDRESS}")
    except RuntimeError:
        made = logging.LogRecord(
            "test.logger", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )
    line, data = formatted(made)
    assert "kari" not in line
    assert f"RuntimeError: refused {EMAIL_MASK}" in data["exc_info"]


def test_numbers_and_times_that_are_no_phone_numbers_stay() -> None:
    _, data = formatted(
        record("offset %d of partition %d", 1234, 0, extra={"offset": 123456789, "port": 19092})
    )
    assert data["message"] == "offset 1234 of partition 0"
    assert data["offset"] == 123456789 and data["port"] == 19092
