from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from shared.runtime.settings import ServiceSettings


class NotificationSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="KS_NOTIFICATION_", extra="ignore")
    SERVICE: ClassVar[str] = "notification"

    http_port: int = 8003
    # Bearer tokens of the HTTP API (the delivery log, previews, opt-outs, supervisors), the
    # same JSON shape as the other services'; empty: every such request is refused (401).
    api_tokens: str = ""
    # An operator's own branch table (columns avdeling, fylkesnummer); default: shared.reference.
    branches_csv: str = ""

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 2525
    smtp_timeout_s: float = 10.0
    smtp_starttls: bool = False  # upgrade a plain connection (port 587)
    smtp_tls: bool = False  # implicit TLS from the first byte (port 465)
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    # Open SMTP connections, each reused for mail after mail: the bound on concurrency.
    smtp_connections: int = Field(default=10, ge=1, le=100)
    # Mails the server has taken and the database not yet recorded, per connection: what a
    # crash can send again (with the same Message-ID). 1 is strictest; each more lets a
    # connection go on while earlier mails are being marked (docs/performance.md).
    mail_unmarked_per_connection: int = Field(default=3, ge=1, le=20)
    mail_from: str = "Norsk kulturskoleråd <noreply@kulturskoleradet.no>"
    # The programme's mailbox, where interest is to be reported (the invitation's address).
    programme_mailbox: str = "post@kulturskoleradet.no"
    # False holds outgoing mail: events are still handled and their mails planned, none is
    # sent until a process with sending on runs (a mail server's maintenance, a migration).
    mail_sending: bool = True
    # At most this many mails claimed and not yet marked, claimed in parts of a quarter.
    mail_batch_size: int = Field(default=200, ge=1)
    mail_poll_interval_s: float = 2.0
    # A claimed mail not marked within this time (the sender died) is claimed again.
    mail_lease_s: float = Field(default=300, gt=0)
    # Backoff of a mail the server did not take (4xx, unreachable): doubling up to this.
    mail_retry_base_s: float = Field(default=1.0, gt=0)
    mail_retry_max_s: float = Field(default=300, gt=0)
    # The programme copy of interest names the board's contact and answers to them: it waits
    # this long for their contact details, then goes without.
    reply_to_wait_s: float = Field(default=300, ge=0)

    # Answer links in invitations: signed with this secret (scheduling's
    # KS_SCHEDULING_ANSWER_SECRET) and pointing at scheduling's public address. Either empty:
    # invitations go without them.
    answer_secret: SecretStr = SecretStr("")
    answer_base_url: str = ""

    reminder_days_before_gathering: list[int] = Field(default_factory=lambda: [7, 1])
    reminder_days_before_deadline: list[int] = Field(default_factory=lambda: [7, 1])
    reminder_poll_interval_s: float = Field(default=30, gt=0)
