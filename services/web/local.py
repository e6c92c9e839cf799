"""The web front's settings for a local or test run (never a real deployment's).

It calls the services with their fixed local tokens (`local-programme`, `local-observer`,
`local-board-<branch>`) until they take person tokens; the demo's people sign in with the
addresses listed here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from shared.reference import ReferenceData

LOCAL_SECRET = "local-web-secret-never-for-a-real-deployment"

LOCAL_SERVICE_TOKENS = {
    "programme": "local-programme",
    "observer": "local-observer",
    **{
        f"county_board:{branch.id}": f"local-board-{branch.id}"
        for branch in ReferenceData.load().branches.values()
    },
}

# The demo's people: programme management, an observer and each county board's contact.
LOCAL_STAFF = {
    "programleder@kulturskoleradet.example.no": {"name": "Kari Programleder", "role": "programme"},
    "observator@kulturskoleradet.example.no": {"name": "Ola Observatør", "role": "observer"},
}
# The addresses the demo sets as the boards' contacts (deploy/local/demo.py,
# `PUT /branches/{branch}/contact`): registration has no lookup of them by address.
LOCAL_BOARD_CONTACTS = {
    f"leder.{branch.id.split('-')[0]}@example.no": {
        "name": f"Styret i {branch.name}",
        "branch": branch.id,
    }
    for branch in ReferenceData.load().branches.values()
}


def sign_in_links(public_url: str, emails: list[str], ttl_s: int) -> dict[str, str]:
    """Ready sign-in links for `emails` (the local stack prints the demo's), made with the
    local secret as the web front would make them."""
    from urllib.parse import quote

    from services.web.security import SignInLinks

    links = SignInLinks(LOCAL_SECRET, ttl_s)
    return {
        email: f"{public_url.rstrip('/')}/sign-in/link?token={quote(links.make(email))}"
        for email in emails
    }


def local_env(
    *,
    port: int,
    registration: str,
    scheduling: str,
    notification: str,
    smtp_host: str,
    smtp_port: int,
    staff: Mapping[str, Mapping[str, str]] | None = None,
    board_contacts: Mapping[str, Mapping[str, str]] | None = None,
    person_token_secret: str = "",
) -> dict[str, str]:
    """`KS_WEB_*` environment variables for a local run on `port`; with
    `person_token_secret` (the services' own), it calls them with person tokens."""
    return {
        "KS_WEB_PERSON_TOKEN_SECRET": person_token_secret,
        "KS_WEB_HTTP_PORT": str(port),
        "KS_WEB_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "KS_WEB_REGISTRATION_URL": registration,
        "KS_WEB_SCHEDULING_URL": scheduling,
        "KS_WEB_NOTIFICATION_URL": notification,
        "KS_WEB_SECRET_KEY": LOCAL_SECRET,
        "KS_WEB_SERVICE_TOKENS": json.dumps(LOCAL_SERVICE_TOKENS),
        "KS_WEB_STAFF": json.dumps(staff if staff is not None else LOCAL_STAFF),
        "KS_WEB_BOARD_CONTACTS": json.dumps(
            board_contacts if board_contacts is not None else LOCAL_BOARD_CONTACTS
        ),
        "KS_WEB_SMTP_HOST": smtp_host,
        "KS_WEB_SMTP_PORT": str(smtp_port),
    }
