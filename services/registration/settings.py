from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from shared.reference import ReferenceData
from shared.runtime.settings import ServiceSettings


class RegistrationSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="KS_REGISTRATION_", extra="ignore")
    SERVICE: ClassVar[str] = "registration"

    http_port: int = 8001
    branches_csv: str = ""  # an operator's own branch→county file; default ships with the service
    # Bearer tokens of the HTTP API, as JSON: {"<token>": {"name": "...", "role": "programme" |
    # "county_board" | "observer", "branch": "<branch name or id, for a county board>"}}.
    # Empty: every HTTP command is refused (401); Kafka commands are trusted system input.
    api_tokens: str = ""
    # Interest by e-mail: an SMTP endpoint the programme mailbox forwards to. Off unless a host
    # is set (e.g. 127.0.0.1, or 0.0.0.0 behind the organisation's mail relay).
    inbound_smtp_host: str = ""
    inbound_smtp_port: int = 2526
    inbound_smtp_hostname: str = ""  # the name it greets with; default: the machine's


# Tokens the local stack and the tests use; never for a real deployment.
LOCAL_API_TOKENS = {
    "local-programme": {"name": "Programledelsen", "role": "programme"},
    "local-observer": {"name": "Observatør", "role": "observer"},
    # A board is named as people name it ("Styret i Møre og Romsdal"): the name shows in
    # what it decides (`withdrawn_by`, ...) and so in letters.
    **{
        f"local-board-{branch.id}": {
            "name": f"Styret i {branch.name}",
            "role": "county_board",
            "branch": branch.id,
        }
        for branch in ReferenceData.load().branches.values()
    },
}
