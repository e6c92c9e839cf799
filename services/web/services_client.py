"""Calls to the three services, as the signed-in person.

Each call carries a bearer token for the person: a person token made for this call when
`person_token_secret` is set, else the service token the settings name for the person's
role and branch. Refusals come back as problem documents, read into messages per field.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import httpx

from services.web.security import Person
from services.web.settings import WebSettings
from services.web.tokens import issue_person_token

# Calls made for the request in hand: the page's cost, in its `X-Service-Calls` header.
CALLS: ContextVar[list[int] | None] = ContextVar("service_calls", default=None)


class Unavailable(Exception):
    """A service did not answer (down, timed out): the page says so and keeps the input."""


@dataclass
class Reply:
    status: int
    body: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass
class Refusal:
    """A problem document as a form shows it: a message per field, and one for the form."""

    detail: str
    fields: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, reply: Reply) -> Refusal:
        body = reply.body if isinstance(reply.body, dict) else {}
        errors = body.get("errors") or []
        fields = {
            str(e["field"]): str(e["reason"])
            for e in errors
            if isinstance(e, dict) and e.get("field")
        }
        detail = str(body.get("detail") or body.get("title") or f"HTTP {reply.status}")
        if not fields and body.get("field"):
            fields[str(body["field"])] = detail
        return cls(detail, fields)


class Services:
    def __init__(self, settings: WebSettings, transport: httpx.AsyncBaseTransport | None = None):
        self.settings = settings
        self.urls = {
            "registration": settings.registration_url.rstrip("/"),
            "scheduling": settings.scheduling_url.rstrip("/"),
            "notification": settings.notification_url.rstrip("/"),
        }
        self.client = httpx.AsyncClient(timeout=settings.service_timeout_s, transport=transport)

    async def close(self) -> None:
        await self.client.aclose()

    def token_for(self, person: Person) -> str | None:
        s = self.settings
        if s.person_token_secret:
            return issue_person_token(
                s.person_token_secret,
                person.role,
                person.name,
                person.branch,
                s.person_token_ttl_s,
            )
        key = f"county_board:{person.branch}" if person.role == "county_board" else person.role
        return s.service_tokens.get(key)

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        person: Person,
        lang: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
    ) -> Reply:
        headers = {"Accept-Language": lang}
        token = self.token_for(person)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        counter = CALLS.get()
        if counter is not None:
            counter[0] += 1
        try:
            response = await self.client.request(
                method, self.urls[service] + path, json=json, params=params, headers=headers
            )
        except httpx.HTTPError as error:
            raise Unavailable(f"{service}: {type(error).__name__}") from error
        if response.status_code >= 500:
            raise Unavailable(f"{service}: HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            body = response.text
        return Reply(response.status_code, body)

    async def download(
        self, service: str, path: str, person: Person, lang: str, **params: Any
    ) -> httpx.Response:
        """A file as the service sends it (CSV), for the browser to save."""
        token = self.token_for(person)
        headers = {
            "Accept-Language": lang,
            **({"Authorization": f"Bearer {token}"} if token else {}),
        }
        counter = CALLS.get()
        if counter is not None:
            counter[0] += 1
        try:
            return await self.client.get(self.urls[service] + path, params=params, headers=headers)
        except httpx.HTTPError as error:
            raise Unavailable(f"{service}: {type(error).__name__}") from error

    async def get(self, service: str, path: str, person: Person, lang: str, **params: Any) -> Reply:
        return await self.call(service, "GET", path, person, lang, params=params or None)

    async def post(self, service: str, path: str, person: Person, lang: str, body: Any) -> Reply:
        return await self.call(service, "POST", path, person, lang, json=body)
