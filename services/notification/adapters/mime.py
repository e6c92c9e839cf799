"""The bytes of an outgoing mail, written directly in the few shapes this service sends.

Why not `email.message`: the standard library's builders parse or trial-encode every header
they are given, which costs more than handing the mail to the SMTP server does, and mail
sending is measured against a bare SMTP sender (docs/performance.md). The shapes are fixed
and simple (text and HTML as alternatives, optionally with a calendar part and its
attachment), so writing them is short; the tests parse every shape back with the standard
library's parser.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import formataddr

CRLF = "\r\n"
# An encoded word is at most 75 characters, and a line that holds one at most 76: 39 bytes of
# text (52 base64 characters) per word leave room for the header name before it.
_WORD_BYTES = 39


def encoded_words(value: str) -> str:
    """RFC 2047: ASCII as it is, anything else as base64 encoded words (folded), each word as
    many whole characters as fit in `_WORD_BYTES` bytes of UTF-8."""
    if value.isascii():
        return value
    data = value.encode()
    words: list[str] = []
    start = 0
    while start < len(data):
        end = start + _WORD_BYTES
        # Back to the start of a character: a byte 10xxxxxx continues the one before it.
        while end < len(data) and data[end] & 0xC0 == 0x80:
            end -= 1
        words.append(f"=?utf-8?b?{base64.b64encode(data[start:end]).decode()}?=")
        start = end
    return (CRLF + " ").join(words)


class NotAscii(ValueError):
    """An address whose local part is not ASCII: it needs SMTPUTF8, which is not used here."""


def ascii_address(addr: str) -> str:
    """The address as it goes in an ASCII header and envelope: an internationalized domain in
    its IDNA (punycode) form. A local part outside ASCII raises `NotAscii`."""
    if addr.isascii():
        return addr
    local, _, domain = addr.rpartition("@")
    if not local.isascii():
        # The reason is stored and published: it names no address.
        raise NotAscii("the part before @ is not ASCII (it would need SMTPUTF8)")
    try:
        return f"{local}@{domain.encode('idna').decode('ascii')}"
    except UnicodeError as error:
        raise NotAscii(f"the domain is not a valid IDNA name ({error})") from error


def address(name: str, addr: str) -> str:
    addr = ascii_address(addr)
    if not name:
        return addr
    if name.isascii():
        return formataddr((name, addr))
    return f"{encoded_words(name)}{CRLF} <{addr}>"


def _base64_body(content: str) -> str:
    return base64.encodebytes(content.encode()).decode().replace("\n", CRLF)


@dataclass(frozen=True)
class Part:
    """A text part: its subtype, its content, extra Content-Type parameters, a file name."""

    subtype: str
    content: str
    params: tuple[tuple[str, str], ...] = ()
    filename: str | None = None

    def render(self) -> str:
        params = "".join(f'; {k}="{v}"' for k, v in self.params)
        lines = [
            f'Content-Type: text/{self.subtype}; charset="utf-8"{params}',
            "Content-Transfer-Encoding: base64",
        ]
        if self.filename:
            lines.append(f'Content-Disposition: attachment; filename="{self.filename}"')
        return CRLF.join(lines) + CRLF + CRLF + _base64_body(self.content)


def _multipart(subtype: str, parts: Sequence[str]) -> str:
    boundary = f"=_{uuid.uuid4().hex}"
    body = "".join(f"--{boundary}{CRLF}{part}{CRLF}" for part in parts)
    return (
        f'Content-Type: multipart/{subtype};{CRLF} boundary="{boundary}"{CRLF}{CRLF}'
        f"{body}--{boundary}--{CRLF}"
    )


def message(
    headers: Sequence[tuple[str, str]],
    alternatives: Sequence[Part],
    attachments: Sequence[Part] = (),
) -> bytes:
    """Headers (values already encoded), then the alternatives, wrapped with any attachment
    in multipart/mixed."""
    content = _multipart("alternative", [p.render() for p in alternatives])
    if attachments:
        content = _multipart("mixed", [content, *(p.render() for p in attachments)])
    head = "".join(f"{name}: {value}{CRLF}" for name, value in headers)
    return (head + "MIME-Version: 1.0" + CRLF + content).encode()
