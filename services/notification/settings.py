from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class NotificationSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="KS_NOTIFICATION_", extra="ignore")
    SERVICE: ClassVar[str] = "notification"

    http_port: int = 8003
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 2525
    smtp_timeout_s: float = 10.0
    mail_from: str = "Norsk kulturskoleråd <noreply@kulturskoleradet.no>"
    # The programme's mailbox, where interest is to be reported (the invitation's address).
    programme_mailbox: str = "post@kulturskoleradet.no"
    mail_batch_size: int = 50
    mail_poll_interval_s: float = 2.0
