"""The mail worker's SMTP client and PIPELINING (RFC 2920), against servers on loopback.

Where a server offers PIPELINING the client writes MAIL, RCPT and DATA together and reads
their replies in order, however they arrive; a refusal among them fails the mail with the
server's reason and leaves the connection fit for the next mail. Where it does not, the
client waits for each reply, as before (the other mail tests' servers do not offer it).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import aiosmtplib
import pytest

from services.notification.adapters.mailer import Client, Replies

pytestmark = pytest.mark.integration

MESSAGE = b"Subject: Hei\r\n\r\nFirst line\r\n.A line that starts with a dot\r\nLast line\r\n"


@dataclass
class Scripted:
    """A small SMTP server that answers as its test says. `together`: it answers nothing of
    an envelope until MAIL, RCPT and DATA have all arrived, as a client that waits for each
    reply would never have them arrive. `split`: each reply is its own write."""

    pipelining: bool = True
    together: bool = False
    split: bool = False
    refuse: dict[str, bytes] = field(default_factory=dict)  # command -> its reply
    mails: list[bytes] = field(default_factory=list)
    commands: list[bytes] = field(default_factory=list)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async def reply(*lines: bytes) -> None:
            for line in lines:
                writer.write(line)
                if self.split:
                    await writer.drain()  # each reply a write of its own
            await writer.drain()

        await reply(b"220 scripted ESMTP\r\n")
        envelope: list[bytes] = []
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                line = await reader.readuntil(b"\r\n")
                verb = line.split(b" ", 1)[0].split(b":", 1)[0].strip().upper()
                self.commands.append(verb)
                if verb == b"EHLO":
                    offers = [b"250-scripted\r\n"]
                    if self.pipelining:
                        offers.append(b"250-PIPELINING\r\n")
                    await reply(*offers, b"250 8BITMIME\r\n")
                elif verb in (b"MAIL", b"RCPT", b"DATA"):
                    envelope.append(verb)
                    if self.together and envelope != [b"MAIL", b"RCPT", b"DATA"]:
                        continue
                    answers = [self._answer(v) for v in (envelope if self.together else [verb])]
                    envelope = [] if verb == b"DATA" or self.together else envelope
                    await reply(*answers)
                    if answers[-1].startswith(b"354"):
                        content = b""
                        while (data := await reader.readuntil(b"\r\n")) != b".\r\n":
                            content += data
                        self.mails.append(content + b".\r\n")
                        await reply(self.refuse.get("END", b"250 2.0.0 Ok: queued\r\n"))
                elif verb == b"RSET":
                    envelope = []
                    await reply(b"250 2.0.0 Ok\r\n")
                elif verb == b"QUIT":
                    await reply(b"221 2.0.0 Bye\r\n")
                    break
                else:
                    await reply(b"502 5.5.2 Error: command not recognized\r\n")
        writer.close()

    def _answer(self, verb: bytes) -> bytes:
        default = {b"MAIL": b"250 2.1.0 Ok\r\n", b"RCPT": b"250 2.1.5 Ok\r\n"}
        return self.refuse.get(verb.decode(), default.get(verb, b"354 End data with .\r\n"))


@contextlib.asynccontextmanager
async def running(server: Scripted, timeout: float = 5) -> AsyncIterator[Callable[[], Client]]:
    listening = await asyncio.start_server(server.serve, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    clients: list[Client] = []

    def client() -> Client:
        clients.append(Client(hostname="127.0.0.1", port=port, timeout=timeout))
        return clients[-1]

    try:
        yield client
    finally:
        for c in clients:
            c.close()
        listening.close()


def dot_stuffed(message: bytes) -> bytes:
    return message.replace(b"\r\n.A line", b"\r\n..A line") + b".\r\n"


async def test_a_server_that_answers_only_a_whole_envelope_gets_it_written_at_once() -> None:
    """A client that waited for MAIL's reply before writing RCPT would wait for ever here."""
    server = Scripted(together=True)
    async with running(server) as client:
        smtp = client()
        await smtp.connect()
        for _ in range(2):  # and again over the same connection
            await smtp.send_one("noreply@example.no", "kari@example.no", MESSAGE)
    assert server.mails == [dot_stuffed(MESSAGE)] * 2


async def test_replies_that_arrive_one_at_a_time_are_all_read() -> None:
    server = Scripted(split=True)
    async with running(server) as client:
        smtp = client()
        await smtp.connect()
        await smtp.send_one("noreply@example.no", "kari@example.no", MESSAGE)
        await smtp.send_one("noreply@example.no", "ola@example.no", MESSAGE)
    assert len(server.mails) == 2


class Written(asyncio.Transport):
    """A transport that keeps what is written to it, for a protocol fed by hand."""

    def __init__(self) -> None:
        super().__init__()
        self.written = b""

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += bytes(data)

    def is_closing(self) -> bool:
        return False

    def get_extra_info(self, name: str, default: object = None) -> object:
        return default


async def test_replies_split_anywhere_across_reads_are_each_read_whole() -> None:
    """However the server's replies are cut into reads (here a few bytes at a time, across
    lines and replies), the three replies to one write come out whole and in order."""
    protocol = Replies(loop=asyncio.get_running_loop())
    transport = Written()
    protocol.connection_made(transport)
    reading = asyncio.ensure_future(
        protocol.pipelined(b"MAIL FROM:<a@b.no>\r\nRCPT TO:<c@d.no>\r\nDATA\r\n", 3, 5)
    )
    await asyncio.sleep(0)  # let it write and wait
    assert transport.written == b"MAIL FROM:<a@b.no>\r\nRCPT TO:<c@d.no>\r\nDATA\r\n"
    answer = b"250 2.1.0 Ok\r\n250-2.1.5 Ok\r\n250 2.1.5 and more\r\n354 go on\r\n"
    for at in range(0, len(answer), 5):
        protocol.data_received(answer[at : at + 5])
        await asyncio.sleep(0)  # the reader takes what is complete so far
    replies = await reading
    assert [(r.code, r.message) for r in replies] == [
        (250, "2.1.0 Ok"),
        (250, "2.1.5 Ok\n2.1.5 and more"),
        (354, "go on"),
    ]


@pytest.mark.parametrize(
    ("refuse", "error", "code"),
    [
        ({"MAIL": b"553 5.1.8 sender refused\r\n"}, aiosmtplib.SMTPSenderRefused, 553),
        ({"RCPT": b"550 5.1.1 no such user\r\n"}, aiosmtplib.SMTPRecipientsRefused, 550),
        ({"RCPT": b"450 4.2.0 try later\r\n"}, aiosmtplib.SMTPRecipientsRefused, 450),
        ({"DATA": b"554 5.5.1 no valid recipients\r\n"}, aiosmtplib.SMTPDataError, 554),
        ({"END": b"552 5.3.4 message too big\r\n"}, aiosmtplib.SMTPDataError, 552),
    ],
)
async def test_a_refusal_in_the_envelope_fails_the_mail_and_the_next_mail_goes(
    refuse: dict[str, bytes], error: type[Exception], code: int
) -> None:
    server = Scripted(refuse=refuse)
    async with running(server) as client:
        smtp = client()
        await smtp.connect()
        with pytest.raises(error) as refused:
            await smtp.send_one("noreply@example.no", "nobody@example.no", MESSAGE)
        found = refused.value
        codes = (
            [r.code for r in found.recipients]
            if isinstance(found, aiosmtplib.SMTPRecipientsRefused)
            else [getattr(found, "code", None)]
        )
        assert codes == [code]
        assert server.commands[-1] == b"RSET"  # the envelope reset, as sendmail resets it
        server.refuse.clear()
        await smtp.send_one("noreply@example.no", "kari@example.no", MESSAGE)
    assert server.mails[-1] == dot_stuffed(MESSAGE)


async def test_data_taken_after_a_refused_recipient_ends_with_an_empty_message() -> None:
    """RFC 2920: a server may answer DATA with 354 although no recipient was taken; the
    client then ends the message at once, sends nothing of it, and the mail fails."""
    server = Scripted(refuse={"RCPT": b"550 5.1.1 no such user\r\n"})
    async with running(server) as client:
        smtp = client()
        await smtp.connect()
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused):
            await smtp.send_one("noreply@example.no", "nobody@example.no", MESSAGE)
    assert server.mails == [b".\r\n"]


async def test_a_server_without_pipelining_gets_one_command_at_a_time() -> None:
    server = Scripted(pipelining=False, split=True)
    async with running(server) as client:
        smtp = client()
        await smtp.connect()
        await smtp.send_one("noreply@example.no", "kari@example.no", MESSAGE)
    assert server.mails == [dot_stuffed(MESSAGE)]

    waiting = Scripted(pipelining=False, together=True)  # and it is not written at once
    async with running(waiting, timeout=0.5) as client:
        smtp = client()
        await smtp.connect()
        with pytest.raises(aiosmtplib.SMTPTimeoutError):
            await asyncio.wait_for(
                smtp.send_one("noreply@example.no", "kari@example.no", MESSAGE), 10
            )


async def test_a_server_that_hangs_up_mid_envelope_is_an_error_not_a_wait() -> None:
    class HangingUp(Scripted):
        def _answer(self, verb: bytes) -> bytes:
            raise ConnectionResetError  # the server goes away without a word

    async with running(HangingUp()) as client:
        smtp = client()
        await smtp.connect()
        with pytest.raises(aiosmtplib.SMTPServerDisconnected):
            await smtp.send_one("noreply@example.no", "kari@example.no", MESSAGE)
        assert not smtp.is_connected


async def test_a_control_character_in_an_address_is_refused_before_anything_is_written() -> None:
    server = Scripted()
    async with running(server) as client:
        smtp = client()
        await smtp.connect()
        with pytest.raises(ValueError, match="control character"):
            await smtp.send_one("noreply@example.no", "kari@example.no\r\nRCPT TO:<x@y>", MESSAGE)
    assert b"MAIL" not in server.commands
