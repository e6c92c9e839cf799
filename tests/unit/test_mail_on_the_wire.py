"""A mail's bytes on the wire after DATA are what aiosmtplib's `data` would write."""

from __future__ import annotations

import random

import pytest
from aiosmtplib.protocol import PERIOD_REGEX, normalize_message_line_endings

from services.notification.adapters.mailer import on_the_wire

pytestmark = pytest.mark.unit


def as_aiosmtplib_writes(message: bytes) -> bytes:
    return PERIOD_REGEX.sub(b"..", normalize_message_line_endings(message)) + b".\r\n"


@pytest.mark.parametrize(
    "message",
    [
        b"",
        b".",
        b"\r\n",
        b".\r\n.\r\n",
        b"Subject: x\r\n\r\n.leading dot\r\nend",
        b"lone\nnewline\rand lone return\r\n.dot\n.dot\r.dot",
        b"\r\r\n\n\r",
        b"ends with a return\r",
    ],
)
def test_the_bytes_written_are_aiosmtplibs(message: bytes) -> None:
    assert on_the_wire(message) == as_aiosmtplib_writes(message)


def test_the_bytes_written_are_aiosmtplibs_for_any_mix_of_line_ends_and_dots() -> None:
    pick = random.Random(20261206)
    for _ in range(20_000):
        message = bytes(pick.choice(b"\r\n.a") for _ in range(pick.randrange(0, 12)))
        assert on_the_wire(message) == as_aiosmtplib_writes(message), message
