"""An SMTP sink for local runs and tests: accepts every mail, stores it, shows it.

    python -m shared.devtools.smtp_sink --smtp-port 2525 --web-port 8025 --store DIR

It offers PIPELINING, as the mail servers the notification service sends to do. Each
accepted message is written to DIR as an .eml file. The web view lists them at `/`,
and `/api/messages` gives them as JSON (sender, recipients, subject, text body, headers)
so tests and people read the same thing: besides the plain text, the HTML part and every
other part that is not the body (attachments, an inline calendar), with its content as text.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import html
import json
import threading
import time
import uuid
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import uvicorn
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from fastapi import FastAPI
from fastapi.responses import HTMLResponse


class MailStore:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._parsed: dict[str, dict[str, Any]] = {}  # each file is parsed once

    def add(self, mail_from: str, rcpt_tos: list[str], content: bytes) -> None:
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
        # Parsed once, as it arrives, and kept beside the mail: a sink restarted over many
        # stored mails answers its first query without parsing them all again.
        found: dict[str, Any] = {"mail_from": mail_from, "rcpt_tos": rcpt_tos}
        try:
            found = _parse(name, mail_from, rcpt_tos, content)
        except Exception:  # kept all the same; a query tries again and says what is wrong
            pass
        with self._lock:
            (self.folder / f"{name}.json").write_text(json.dumps(found))
            # The .eml last: a reader that sees it also sees its envelope.
            tmp = self.folder / f"{name}.tmp"
            tmp.write_bytes(content)
            tmp.rename(self.folder / f"{name}.eml")

    def messages(self, containing: str | None = None) -> list[dict[str, Any]]:
        out = []
        for path in sorted(self.folder.glob("*.eml")):
            if path.stem not in self._parsed:
                self._parsed[path.stem] = self._read(path)
            found = self._parsed[path.stem]
            if containing is None or containing in found["text"] or containing in found["to"]:
                out.append(found)
        return out

    def _read(self, path: Path) -> dict[str, Any]:
        stored: dict[str, Any] = json.loads(path.with_suffix(".json").read_text())
        if "id" in stored:
            return stored
        # Stored by an older sink: only the envelope is beside the mail.
        return _parse(path.stem, stored["mail_from"], stored["rcpt_tos"], path.read_bytes())

    def clear(self) -> int:
        with self._lock:
            removed = 0
            for path in self.folder.glob("*"):
                path.unlink()
                removed += path.suffix == ".eml"
            self._parsed.clear()
        return removed


def _parse(name: str, mail_from: str, rcpt_tos: list[str], content: bytes) -> dict[str, Any]:
    parsed = email.message_from_bytes(content, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return {
        "id": name,
        "envelope_from": mail_from,
        "envelope_to": rcpt_tos,
        "subject": str(parsed.get("Subject", "")),
        "from": str(parsed.get("From", "")),
        "to": str(parsed.get("To", "")),
        "message_id": str(parsed.get("Message-ID", "")),
        "headers": {k: str(v) for k, v in parsed.items()},
        "text": _text_body(parsed),
        "html": _html_body(parsed),
        "attachments": [part.get_content_type() for part in parsed.iter_attachments()],
        "parts": _parts(parsed),
    }


def _text_body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    # Lines as a reader sees them: SMTP's CRLF line ends become plain newlines.
    return str(part.get_content()).replace("\r\n", "\n") if part is not None else ""


def _html_body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    return str(part.get_content()).replace("\r\n", "\n") if part is not None else ""


def _parts(message: EmailMessage) -> list[dict[str, Any]]:
    """Every leaf part but the plain and HTML bodies: content type, its parameters (such as
    a calendar's `method`), the file name if it has one, and the content as text."""
    bodies = {id(message.get_body(preferencelist=(kind,))) for kind in ("plain", "html")}
    found = []
    for part in message.walk():
        if part.is_multipart() or id(part) in bodies:
            continue
        content = part.get_content()
        found.append(
            {
                "content_type": part.get_content_type(),
                "params": {k: v for k, v in part.get_params() or [] if v},
                "filename": part.get_filename(),
                "disposition": part.get_content_disposition(),
                "content": content.decode(errors="replace")
                if isinstance(content, bytes)
                else str(content),
            }
        )
    return found


class StoringHandler:
    def __init__(self, store: MailStore) -> None:
        self.store = store

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        """PIPELINING offered, as the mail servers the service sends to offer it: aiosmtpd reads
        one command after the other from its stream, so commands written together are
        answered in order."""
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        self.store.add(str(envelope.mail_from), [str(r) for r in envelope.rcpt_tos], content)
        return "250 Message accepted for delivery"


def web_app(store: MailStore) -> FastAPI:
    app = FastAPI(title="SMTP sink")

    @app.get("/api/messages")
    def list_messages(contains: str | None = None) -> list[dict[str, Any]]:
        """Received mail, oldest first; `contains` keeps those whose text or To has it."""
        return store.messages(contains)

    @app.delete("/api/messages")
    def clear_messages() -> dict[str, int]:
        return {"removed": store.clear()}

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        rows = "".join(
            f"<tr><td>{html.escape(m['id'][:19])}</td><td>{html.escape(m['to'])}</td>"
            f"<td>{html.escape(m['subject'])}</td><td><pre>{html.escape(m['text'])}</pre></td></tr>"
            for m in reversed(store.messages())
        )
        return (
            "<!doctype html><meta charset=utf-8><title>SMTP sink</title>"
            "<h1>Received mail</h1><table border=1 cellpadding=4>"
            "<tr><th>id</th><th>to</th><th>subject</th><th>text</th></tr>"
            f"{rows}</table>"
        )

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description="SMTP sink with a web view")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--smtp-port", type=int, default=2525)
    parser.add_argument("--web-port", type=int, default=8025)
    parser.add_argument("--store", type=Path, required=True)
    args = parser.parse_args()
    store = MailStore(args.store)
    controller = Controller(StoringHandler(store), hostname=args.host, port=args.smtp_port)
    controller.start()
    try:
        uvicorn.run(web_app(store), host=args.host, port=args.web_port, log_level="warning")
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
