from __future__ import annotations

from typing import ClassVar

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from shared.runtime.settings import ServiceSettings


class SchedulingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="KS_SCHEDULING_", extra="ignore")
    SERVICE: ClassVar[str] = "scheduling"

    http_port: int = 8002
    # Bearer tokens of the HTTP API, as JSON, the same shape as registration's:
    # {"<token>": {"name": "...", "role": "programme" | "county_board" | "observer",
    #              "branch": "<region id or name, for a county board>"}}.
    # Empty: every HTTP request but health and metrics is refused (401).
    api_tokens: str = ""
    # An operator's own tables; the defaults ship in reference/ (see its SOURCE.md).
    school_holidays_csv: str = (
        ""  # columns fylkesnummer, fylkesnavn, hostferie_uke, vinterferie_uke
    )
    regions_csv: str = ""  # columns region_id, avdeling, fylkesnummer
    # The HMAC secret of the answer links in invitation mails (the same as notification's
    # KS_NOTIFICATION_ANSWER_SECRET); empty: every answer link is refused.
    answer_secret: SecretStr = SecretStr("")

    @property
    def group_id(self) -> str:
        """A consumer group of its own that starts at the beginning of registration's history.

        The service once consumed without handlers under `<prefix>.scheduling` and committed
        past every event; this group has no offsets anywhere, so on first start it reads
        from the earliest record (auto_offset_reset) and sees every admission that already
        happened. To rebuild, name a new group (`consumer_group`): the inbox and the
        desired-versus-actual invitations make a replay change nothing that is in line.
        """
        return self.consumer_group or f"{self.topic_prefix}.scheduling.calendar-v1"
