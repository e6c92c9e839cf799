from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class RegistrationSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="KS_REGISTRATION_", extra="ignore")
    SERVICE: ClassVar[str] = "registration"

    http_port: int = 8001
    branches_csv: str = ""  # an operator's own branch→county file; default ships with the service
