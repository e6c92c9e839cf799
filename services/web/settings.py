"""Settings of the web front, from `KS_WEB_*` environment variables.

It keeps no programme data: it talks to the three services over HTTP, signs people in by a
mailed one-time link, and holds who they are in a signed session cookie.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class WebSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="KS_WEB_", extra="ignore", hide_input_in_errors=True
    )

    http_host: str = "127.0.0.1"
    http_port: int = 8004
    log_level: str = "INFO"
    # As the services' (shared/runtime/settings.py): uvloop, or asyncio's own loop.
    event_loop: Literal["uvloop", "asyncio"] = "uvloop"
    # Where people reach it (the sign-in links in mails point here).
    public_url: str = "http://127.0.0.1:8004"
    registration_url: str = "http://127.0.0.1:8001"
    scheduling_url: str = "http://127.0.0.1:8002"
    notification_url: str = "http://127.0.0.1:8003"
    # Signs the session cookie and the sign-in links; no default, a guessable key would let
    # anyone sign themselves in.
    secret_key: str = Field(min_length=16, description="Signs sessions and sign-in links")
    # The services take person tokens signed with this secret (their
    # KS_<SERVICE>_PERSON_TOKEN_SECRET). Empty: the web front calls them with the service
    # token `service_tokens` names for the person's role and branch instead (kept here,
    # never sent to the browser).
    person_token_secret: str = ""
    person_token_ttl_s: int = Field(default=300, ge=30)
    # {"programme": "<token>", "observer": "<token>", "county_board:<branch id>": "<token>"}
    service_tokens: dict[str, str] = Field(default_factory=dict)
    # Who may sign in. Programme management's staff: {"<email>": {"name": "...", "role":
    # "programme" | "observer"}}. Board contacts: {"<email>": {"name": "...", "branch":
    # "<branch id or name>"}}. Registration has no API that looks up a board's contact by
    # address, so the boards' contacts are listed here.
    staff: dict[str, dict[str, str]] = Field(default_factory=dict)
    board_contacts: dict[str, dict[str, str]] = Field(default_factory=dict)
    # Sign-in mail.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 2525
    smtp_starttls: bool = False
    smtp_tls: bool = False
    smtp_username: str = ""
    smtp_password: str = ""
    mail_from: str = "Fremtidens kulturskole <ikke-svar@kulturskoleradet.no>"
    sign_in_link_ttl_s: int = Field(default=900, ge=60)
    # Sign-in requests per address and per client address within an hour.
    sign_in_per_address_per_hour: int = Field(default=5, ge=1)
    sign_in_per_client_per_hour: int = Field(default=30, ge=1)
    session_max_age_s: int = Field(default=8 * 3600, ge=300)
    # Secure cookies only; a plain-HTTP deployment on anything but localhost needs false.
    cookie_secure: bool = True
    service_timeout_s: float = 10.0

    @field_validator("staff", "board_contacts", "service_tokens", mode="before")
    @classmethod
    def _json(cls, value: Any) -> Any:
        if isinstance(value, str):
            return json.loads(value) if value.strip() else {}
        return value

    @field_validator("staff", "board_contacts", mode="after")
    @classmethod
    def _lower_addresses(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        return {address.strip().lower(): entry for address, entry in value.items()}
