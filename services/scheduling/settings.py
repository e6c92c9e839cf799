from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class SchedulingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="KS_SCHEDULING_", extra="ignore")
    SERVICE: ClassVar[str] = "scheduling"

    http_port: int = 8002
