"""Contracts of the notification service: what became of each mail, and the commands that
set who is reminded and where supervisors are reached.

The events carry ids and kinds only, never an address: a consumer that needs to know whether
a person was told (a case worker's view, a dashboard) looks them up by person id in its own
data.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar
from uuid import UUID

from pydantic import AwareDatetime, EmailStr, Field, StringConstraints

from shared.contracts.events.base import TYPE_PREFIX, Command, Event

PREFIX = f"{TYPE_PREFIX}.notification"


class RecipientKind(StrEnum):
    PERSON = "person"  # a county board contact or kommunegruppe member, by person id
    MAILBOX = "mailbox"  # the programme's own mailbox
    SUPERVISOR = "supervisor"  # a supervisor (veileder), by programme management's id


class _Delivery(Event):
    delivery_id: UUID = Field(description="The mail; at most one per (cause, recipient, template)")
    caused_by: str = Field(description="Id of the event (or `reminder:<id>`) the mail is about")
    template: str = Field(description="Which message, e.g. `admitted`, `gathering_invitation`")
    language: str = Field(description="nb, nn or en")
    recipient_kind: RecipientKind
    person_id: UUID | None = None
    supervisor_id: str | None = None
    attempts: int = Field(ge=1)

    KEY: ClassVar[str | None] = "delivery_id"


class NotificationSent(_Delivery):
    """The SMTP server accepted the mail."""

    TYPE: ClassVar[str] = f"{PREFIX}.notification-sent.v1"
    SERVICE: ClassVar[str] = "notification"

    sent_at: AwareDatetime


class NotificationFailed(_Delivery):
    """The mail will not be sent: the server refused it for good (5xx) or it could not be
    written (a template error). The reason holds no address."""

    TYPE: ClassVar[str] = f"{PREFIX}.notification-failed.v1"
    SERVICE: ClassVar[str] = "notification"

    reason: str
    failed_at: AwareDatetime


# --- commands: programme management's settings of the service ----------------------------------

SupervisorId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,100}$")]


class SetReminders(Command):
    """Opt a person out of reminders (or back in). Mandatory messages (decisions, invitations,
    changes, cancellations) are sent regardless."""

    TYPE: ClassVar[str] = f"{PREFIX}.set-reminders.v1"
    SERVICE: ClassVar[str] = "notification"

    person_id: UUID
    reminders: bool = Field(
        description="false: no reminders for this person; true: reminders again"
    )

    KEY: ClassVar[str | None] = "person_id"


class SetSupervisor(Command):
    """A supervisor's contact, under the id scheduling's bookings use; mails that waited for
    it go now."""

    TYPE: ClassVar[str] = f"{PREFIX}.set-supervisor.v1"
    SERVICE: ClassVar[str] = "notification"

    supervisor_id: SupervisorId
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    email: EmailStr
    language: Annotated[str, StringConstraints(pattern="^(nb|nn|en)$")] = "nb"

    KEY: ClassVar[str | None] = "supervisor_id"


class RemoveSupervisor(Command):
    """Forget a supervisor's contact; mails still waiting for them are cancelled."""

    TYPE: ClassVar[str] = f"{PREFIX}.remove-supervisor.v1"
    SERVICE: ClassVar[str] = "notification"

    supervisor_id: SupervisorId

    KEY: ClassVar[str | None] = "supervisor_id"
