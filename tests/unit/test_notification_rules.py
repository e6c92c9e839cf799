"""The notification rules: who is told what, when reminders fall due, what a mail holds."""

from __future__ import annotations

import asyncio
import email
import email.policy
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiosmtplib
import pytest
from icalendar import Calendar

from services.notification.adapters import mime
from services.notification.adapters.mailer import (
    Composed,
    Held,
    SmtpPool,
    Unwritable,
    build_mail,
    classify,
    send_batch,
)
from services.notification.adapters.repository import Claimed
from services.notification.domain import messages as rules
from services.notification.domain.calendar import invitation
from services.notification.domain.messages import Board, Gathering, InvitationTarget, Member, Places
from services.notification.domain.reminders import (
    ReminderKind,
    branches_without_interest,
    plan,
    unsubmitted,
)
from services.notification.entrypoints.http import SAMPLE
from services.notification.settings import NotificationSettings
from services.notification.templates import LANGUAGES, Templates, blocks, span
from shared.contracts.events import registration as reg
from shared.contracts.events import scheduling as sched
from shared.reference import ReferenceData

pytestmark = pytest.mark.unit

PLACES = Places(ReferenceData.load())
BOARD = Board("vestland", "Vestland", str(uuid.UUID(int=1)))
KULTURSKOLE = Member(str(uuid.UUID(int=2)), "kulturskole")
TEACHER = Member(str(uuid.UUID(int=3)), "grunnskole")
MAILBOX = "post@kulturskoleradet.no"
DASH = "\u2013"


@pytest.fixture(scope="module")
def templates() -> Templates:
    return Templates()


def decision(**changes: Any) -> dict[str, Any]:
    return {
        "application_id": uuid.uuid4(),
        "round_id": "2025",
        "municipality_number": "4621",
        "county_number": "46",
        "branch_id": "vestland",
        "decided_at": "2025-11-20T10:00:00+00:00",
        **changes,
    }


# --- whom a decision reaches ----------------------------------------------------------------------


def test_admission_reaches_the_board_and_the_whole_group() -> None:
    mails = rules.mails_for_decision(
        reg.MunicipalityAdmitted.model_validate({**decision(), "group": []}),
        board=BOARD,
        group=[TEACHER, KULTURSKOLE],
        places=PLACES,
    )
    assert [m.person_id for m in mails] == [
        BOARD.person_id,
        TEACHER.person_id,
        KULTURSKOLE.person_id,
    ]
    assert {m.template for m in mails} == {"admitted"}
    assert mails[0].context["to_board"] is True and mails[1].context["to_board"] is False
    assert mails[0].context["municipality_name"] == "Voss"


def test_a_decline_reaches_the_board_and_the_municipalitys_contact_only() -> None:
    mails = rules.mails_for_decision(
        reg.MunicipalityDeclined.model_validate({**decision(), "reason": "Ingen plass."}),
        board=BOARD,
        group=[TEACHER, KULTURSKOLE],
        places=PLACES,
    )
    assert [m.person_id for m in mails] == [BOARD.person_id, KULTURSKOLE.person_id]
    assert all(m.context["reason"] == "Ingen plass." for m in mails)


def test_a_board_contact_who_is_also_in_the_group_gets_one_mail() -> None:
    same = Member(BOARD.person_id, "kulturskole")
    admitted = reg.MunicipalityAdmitted.model_validate({**decision(), "group": []})
    mails = rules.mails_for_decision(admitted, board=BOARD, group=[same], places=PLACES)
    assert len(mails) == 1


def test_the_municipalitys_contact_is_its_kulturskole_first() -> None:
    assert rules.municipality_contact([TEACHER, KULTURSKOLE]) == KULTURSKOLE
    assert rules.municipality_contact([TEACHER]) == TEACHER
    assert rules.municipality_contact([]) is None


def test_application_received_goes_to_board_contact_and_a_programme_copy() -> None:
    mails = rules.mails_for_application_submitted(
        reg.ApplicationSubmitted.model_validate(
            {
                **decision(),
                "submitted_at": "2025-11-01T10:00:00+00:00",
                "development_areas": ["Medvirkning"],
                "group": [],
            }
        ),
        board=BOARD,
        group=[TEACHER, KULTURSKOLE],
        programme_mailbox=MAILBOX,
        places=PLACES,
    )
    assert [m.recipient_key for m in mails] == [
        f"person:{BOARD.person_id}",
        f"person:{KULTURSKOLE.person_id}",
        f"mailbox:{MAILBOX}",
    ]
    assert mails[2].context["copy"] is True and mails[2].language == "nb"
    assert mails[0].context["group_size"] == 2


def test_without_a_known_board_the_window_mail_goes_to_nobody() -> None:
    event = reg.ApplicationWindowOpened.model_validate(
        {
            "round_id": "2025",
            "county_number": "46",
            "opens_on": "2025-10-01",
            "deadline": "2025-11-15",
            "closes_at": "2025-11-15T22:59:00+00:00",
        }
    )
    assert rules.mails_for_window_opened(event, board=None, places=PLACES) == []
    [mail] = rules.mails_for_window_opened(event, board=BOARD, places=PLACES)
    assert mail.context["county_name"] == "Vestland"


def test_an_interest_update_names_what_was_added_and_removed_when_the_event_says() -> None:
    event = {
        "registration_id": uuid.uuid4(),
        "round_id": "2025",
        "branch_id": "vestland",
        "branch_name": "Vestland",
        "county_numbers": ["46"],
        "municipality_numbers": ["4601", "4621"],
        "contact_person_id": BOARD.person_id,
        "message": "",
        "updated_at": "2025-09-01T10:00:00+00:00",
    }
    older = rules.mails_for_interest_registered(
        reg.InterestUpdated.model_validate(event), programme_mailbox=MAILBOX, places=PLACES
    )
    assert "added" not in older[0].context  # an older event says nothing: nothing is claimed
    newer = rules.mails_for_interest_registered(
        reg.InterestUpdated.model_validate(
            {
                **event,
                "added_municipality_numbers": ["4621"],
                "removed_municipality_numbers": ["4602"],
            }
        ),
        programme_mailbox=MAILBOX,
        places=PLACES,
    )
    assert (newer[0].context["added"], newer[0].context["removed"]) == (["Voss"], ["Kinn"])


def test_a_handover_notice_is_addressed_from_the_contact_record_itself() -> None:
    former, new = str(uuid.uuid4()), str(uuid.uuid4())
    handover = rules.Handover("r1", "2025", "Vestland", former, new)
    [mail] = handover.mails(name="Kari", address="kari@example.no", language="nn")
    assert (mail.person_id, mail.template) == (former, "contact_replaced")
    assert (mail.address, mail.language) == ("kari@example.no", "nn")
    assert mail.context["recipient_name"] == "Kari"
    # One mail per handover, however often the record comes again.
    assert handover.key == rules.Handover("r1", "2025", "Vestland", former, new).key
    assert (
        rules.Handover("r1", "2025", "Vestland", new, new).mails(
            name="Kari", address="kari@example.no", language="nb"
        )
        == []
    )


# --- gatherings ------------------------------------------------------------------------------------


GATHERING = Gathering(
    gathering_id=str(uuid.UUID(int=9)),
    round_id="2025",
    region="vestland",
    kind="samling",
    title="Samling 1",
    starts_at="2026-02-03T09:00:00+00:00",
    ends_at="2026-02-03T15:00:00+00:00",
    sequence=3,
    venue={"name": "Grieghallen", "address": "Bergen"},
)


def test_a_municipality_invited_as_such_is_told_through_its_board() -> None:
    targets = [
        InvitationTarget(None, "4601", "municipality"),
        InvitationTarget(TEACHER.person_id, "4621", "grunnskole"),
        InvitationTarget(None, "1103", "municipality"),  # no board known: nobody to tell
    ]
    mails = rules.mails_for_gathering(
        "gathering_invitation",
        GATHERING,
        targets,
        board_of={"4601": BOARD},
        method="REQUEST",
        places=PLACES,
    )
    assert [(m.person_id, m.context["on_behalf_of"]) for m in mails] == [
        (BOARD.person_id, "Bergen"),
        (TEACHER.person_id, ""),
    ]
    calendar = mails[0].context["calendar"]
    assert calendar["uid"] == f"{GATHERING.gathering_id}@kulturskoleradet.no"
    assert (calendar["method"], calendar["sequence"]) == ("REQUEST", 3)


def test_invitation_templates_follow_the_kind() -> None:
    assert rules.INVITATION_TEMPLATES["veiledning"] == "supervision_booked"
    assert rules.INVITATION_TEMPLATES["dialogmote"] == "dialogue_meeting_scheduled"
    assert "samling" not in rules.INVITATION_TEMPLATES  # the general invitation


def test_a_dialogmote_of_programme_managements_initiative_is_its_invitation() -> None:
    def template(kind: str, role: str, proposed: bool) -> str:
        return rules.invitation_template(kind, role, proposed_by_programme=proposed)

    assert template("dialogmote", "county_board", False) == "dialogue_meeting_scheduled"
    assert template("dialogmote", "county_board", True) == "dialogue_meeting_invitation"
    assert template("dialogmote", "guest", False) == "dialogue_meeting_invitation"
    assert template("samling", "kulturskole", False) == "gathering_invitation"


def test_a_dialogue_request_is_told_to_the_programme_mailbox() -> None:
    event = sched.DialogueMeetingRequested.model_validate(
        {
            "request_id": "00000000-0000-4000-8000-000000000003",
            "round_id": "2027",
            "region": "vestland",
            "topic": "Kobling av kommuner",
            "wished_dates": ["2026-10-07"],
            "requested_at": "2026-09-01T10:00:00+02:00",
        }
    )
    [mail] = rules.mails_for_dialogue_requested(
        event, programme_mailbox="post@example.no", places=PLACES
    )
    assert (mail.address, mail.template) == ("post@example.no", "dialogue_requested")
    assert mail.context["region_name"] == "Vestland"
    assert mail.context["topic"] == "Kobling av kommuner"


def test_calendar_invitation_parses_back_in_oslo_time() -> None:
    spec = GATHERING.calendar("CANCEL")
    raw = invitation(
        spec,
        organizer="noreply@kulturskoleradet.no",
        attendee="kari@example.no",
        attendee_name="Kari",
    )
    cal = Calendar.from_ical(raw)
    [event] = cal.walk("VEVENT")
    assert str(cal["METHOD"]) == "CANCEL"
    assert (str(event["UID"]), int(event["SEQUENCE"])) == (spec["uid"], 3)
    assert str(event["STATUS"]) == "CANCELLED"
    start = event.decoded("DTSTART")
    assert str(start.tzinfo) == "Europe/Oslo" and start.hour == 10  # 09:00 UTC in CET
    assert [c.name for c in cal.walk("VTIMEZONE")] == ["VTIMEZONE"]


# --- reminders -----------------------------------------------------------------------------------


NOW = datetime(2025, 9, 1, 12, 0, tzinfo=UTC)


def test_reminders_fall_due_the_given_days_before() -> None:
    moment = NOW + timedelta(days=10)
    found = plan(ReminderKind.GATHERING, "g", "0", moment, [1, 7], now=NOW)
    assert [(r.days_before, r.due_at) for r in found] == [
        (7, moment - timedelta(days=7)),
        (1, moment - timedelta(days=1)),
    ]


def test_a_reminder_whose_time_has_passed_is_not_planned() -> None:
    moment = NOW + timedelta(days=3)
    found = plan(ReminderKind.INTEREST_DEADLINE, "2025", "2025-09-04", moment, [7, 1], now=NOW)
    assert [r.days_before for r in found] == [1]
    assert plan(ReminderKind.GATHERING, "g", "0", NOW - timedelta(days=1), [7, 1], now=NOW) == []


def test_a_moved_date_is_a_new_version() -> None:
    before = plan(ReminderKind.GATHERING, "g", "0", NOW + timedelta(days=20), [7], now=NOW)
    after = plan(ReminderKind.GATHERING, "g", "1", NOW + timedelta(days=30), [7], now=NOW)
    assert before[0].version != after[0].version and before[0].due_at != after[0].due_at


def test_the_interest_reminder_goes_to_branches_that_have_not_registered() -> None:
    boards = {"vestland": "p1", "rogaland": "p2", "nordland": "p3"}
    assert branches_without_interest(boards, ["rogaland"]) == {"vestland": "p1", "nordland": "p3"}


def test_the_application_reminder_names_municipalities_without_an_application() -> None:
    assert unsubmitted(["4601", "4621", "4602", "4601"], {"4621"}) == ["4601", "4602"]


# --- templates -----------------------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_renders_in_every_language(templates: Templates, language: str) -> None:
    names = templates.names()
    assert len(names) >= 23
    for name in names:
        rendered = templates.render_mail(name, language, SAMPLE)
        assert rendered.subject and "\n" not in rendered.subject, name
        assert rendered.text.endswith("\n") and "\n\n\n" not in rendered.text, name
        assert f'<html lang="{language}">' in rendered.html, name
        # The programme's name is a proper noun: never translated.
        for text in (rendered.subject, rendered.text):
            assert "Framtidas" not in text and "Future Culture School" not in text, name
        assert "Fremtidens kulturskole" in rendered.subject + rendered.text, name


def test_each_language_has_its_own_text(templates: Templates) -> None:
    for name in templates.names():
        texts = {lang: templates.render_mail(name, lang, SAMPLE).text for lang in LANGUAGES}
        assert len(set(texts.values())) == 3, name


def test_html_escapes_what_people_wrote(templates: Templates) -> None:
    context = {**SAMPLE, "reason": "<script>alert(1)</script> & co"}
    rendered = templates.render_mail("declined", "nb", context)
    assert "<script>" in rendered.text  # plain text is plain
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in rendered.html


def test_html_lists_and_paragraphs_follow_the_text() -> None:
    found = blocks("Hei,\n\nDu har lovet å:\n\n- delta\n- arbeide\n\nHilsen\nOss\n")
    assert [(b.kind, b.lines) for b in found] == [
        ("p", ("Hei,",)),
        ("p", ("Du har lovet å:",)),
        ("ul", ("delta", "arbeide")),
        ("p", ("Hilsen", "Oss")),
    ]


def test_a_time_span_is_shown_in_oslo_time() -> None:
    dash = "\u2013"
    assert span("2026-02-03T09:00:00+00:00", "2026-02-03T15:00:00+00:00") == (
        f"03.02.2026 kl. 10:00{dash}16:00"
    )
    assert span("2026-06-03T07:00:00+00:00", "2026-06-04T13:00:00+00:00") == (
        f"03.06.2026 kl. 09:00 {dash} 04.06.2026 kl. 15:00"
    )


def test_reminders_say_how_to_opt_out(templates: Templates) -> None:
    for language in LANGUAGES:
        text = templates.render_mail("reminder_gathering", language, SAMPLE).text
        assert any(word in text for word in ("reservere", "opt out")), language
    assert "reservere" not in templates.render_mail("admitted", "nb", SAMPLE).text


# --- the mail as sent -------------------------------------------------------------------------------


def claimed(**changes: Any) -> Claimed:
    values: dict[str, Any] = {
        "id": uuid.UUID(int=42),
        "event_id": "e1",
        "template": "gathering_invitation",
        "context": {**SAMPLE, "calendar": GATHERING.calendar("REQUEST")},
        "attempts": 0,
        "address": "kari@example.no",
        "language": "en",
        "recipient_name": "Kari Nordmann",
        "recipient_kind": "person",
        "person_id": uuid.UUID(int=7),
        "supervisor_id": None,
        "reply_to_name": None,
        "reply_to_email": None,
    }
    values.update(changes)
    return Claimed(**values)


def test_a_mail_has_text_html_and_its_calendar(templates: Templates) -> None:
    settings = NotificationSettings(database_url="postgresql://unused")
    composed = build_mail(settings, claimed(), templates)
    assert (composed.sender, composed.recipient) == (
        "noreply@kulturskoleradet.no",
        "kari@example.no",
    )
    parsed = email.message_from_bytes(composed.data, policy=email.policy.default)
    assert parsed["From"] == "Norsk kulturskoleråd <noreply@kulturskoleradet.no>"
    assert parsed["To"] == "Kari Nordmann <kari@example.no>"
    assert parsed["Subject"] == f"Invitation: Samling 1 01.10.2025 {DASH} Fremtidens kulturskole"
    assert parsed["Content-Language"] == "en"
    assert parsed["Message-ID"] == f"<{uuid.UUID(int=42)}@notification.kulturskole>"
    assert parsed["Reply-To"] is None
    types = [part.get_content_type() for part in parsed.walk() if not part.is_multipart()]
    assert types == ["text/plain", "text/html", "text/calendar", "text/calendar"]
    [attachment] = list(parsed.iter_attachments())
    assert attachment.get_filename() == "invitasjon.ics"
    assert attachment.get_param("method") == "REQUEST"
    assert "Kari Nordmann" in parsed.get_body(("plain",)).get_content()
    assert parsed.get_body(("html",)).get_content().startswith("<!doctype html>")
    event = Calendar.from_ical(attachment.get_content()).walk("VEVENT")[0]
    assert str(event["UID"]) == GATHERING.calendar("REQUEST")["uid"]


@pytest.mark.parametrize("with_calendar", [True, False])
def test_a_built_mail_ends_every_line_with_crlf(templates: Templates, with_calendar: bool) -> None:
    """So the mail goes on the wire without its line ends mended (`mailer.on_the_wire`)."""
    settings = NotificationSettings(database_url="postgresql://unused")
    mail = (
        claimed()
        if with_calendar
        else claimed(
            template="interest_programme_copy",
            context={k: v for k, v in SAMPLE.items() if k != "calendar"},
        )
    )
    data = build_mail(settings, mail, templates).data
    assert data.count(b"\n") == data.count(b"\r\n") == data.count(b"\r") > 20


def test_long_and_non_ascii_headers_read_back_whole() -> None:
    name = "Åse Øvergård-Læråsen"
    subject = f"Påminnelse: søknadsfrist {DASH} Fremtidens kulturskole " * 3
    raw = mime.message(
        [
            ("To", mime.address(name.strip(), "ase@example.no")),
            ("Subject", mime.encoded_words(subject)),
        ],
        [mime.Part("plain", "Hei\n")],
    )
    assert all(len(line) <= 78 for line in raw.decode().split("\r\n"))
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Subject"] == subject
    assert parsed["To"].addresses[0].display_name == name.strip()
    assert parsed.get_body(("plain",)).get_content() == "Hei\n"


def test_a_programme_copy_answers_to_the_contact(templates: Templates) -> None:
    settings = NotificationSettings(database_url="postgresql://unused")
    mail = claimed(
        template="interest_programme_copy",
        context={k: v for k, v in SAMPLE.items() if k != "calendar"},
        language="nb",
        reply_to_name="Kari Nordmann",
        reply_to_email="kari@example.no",
        address=MAILBOX,
        recipient_name="",
    )
    composed = build_mail(settings, mail, templates)
    parsed = email.message_from_bytes(composed.data, policy=email.policy.default)
    assert parsed["Reply-To"] == "Kari Nordmann <kari@example.no>"
    assert parsed["Subject"] == "Fremtidens kulturskole, Regionale program"
    assert parsed["Content-Language"] == "nb"
    assert [p.get_content_type() for p in parsed.walk()] == [
        "multipart/alternative",
        "text/plain",
        "text/html",
    ]


def test_a_mail_its_template_cannot_write_is_unwritable(templates: Templates) -> None:
    settings = NotificationSettings(database_url="postgresql://unused")
    with pytest.raises(Unwritable, match="municipality_name"):
        build_mail(settings, claimed(template="admitted", context={"round_id": "2025"}), templates)
    with pytest.raises(Unwritable, match="no_such"):
        build_mail(settings, claimed(template="no_such"), templates)


def test_an_internationalized_domain_goes_in_its_ascii_form(templates: Templates) -> None:
    settings = NotificationSettings(database_url="postgresql://unused")
    composed = build_mail(settings, claimed(address="kari@bø.no"), templates)
    assert composed.recipient == "kari@xn--b-5ga.no"
    parsed = email.message_from_bytes(composed.data, policy=email.policy.default)
    assert parsed["To"] == "Kari Nordmann <kari@xn--b-5ga.no>"
    [attachment] = list(parsed.iter_attachments())
    event = Calendar.from_ical(attachment.get_content()).walk("VEVENT")[0]
    assert str(event["ATTENDEE"]) == "mailto:kari@xn--b-5ga.no"


def test_an_address_that_needs_smtputf8_is_unwritable_and_named_in_no_reason(
    templates: Templates,
) -> None:
    settings = NotificationSettings(database_url="postgresql://unused")
    for mail in (
        claimed(address="styret.trønde@example.no"),
        claimed(reply_to_name="Kari", reply_to_email="kåri@example.no"),
    ):
        with pytest.raises(Unwritable, match="SMTPUTF8") as raised:
            build_mail(settings, mail, templates)
        assert "@example.no" not in str(raised.value)


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (aiosmtplib.SMTPResponseException(550, "no such user"), "failed"),
        (aiosmtplib.SMTPResponseException(552, "too big"), "failed"),
        (aiosmtplib.SMTPResponseException(451, "try later"), "retry"),
        (
            aiosmtplib.SMTPRecipientsRefused([aiosmtplib.SMTPRecipientRefused(550, "no", "x@y")]),
            "failed",
        ),
        (
            aiosmtplib.SMTPRecipientsRefused([aiosmtplib.SMTPRecipientRefused(450, "busy", "x@y")]),
            "retry",
        ),
        (aiosmtplib.SMTPServerDisconnected("gone"), "retry"),
        (aiosmtplib.SMTPConnectError("refused"), "retry"),
        (ConnectionRefusedError(111, "refused"), "retry"),
        (TimeoutError(), "retry"),
    ],
)
def test_a_refusal_is_final_and_anything_else_is_tried_again(
    error: BaseException, outcome: str
) -> None:
    assert classify(error) == outcome


class FakeServer(SmtpPool):
    """An SMTP server in memory: refuses some addresses for good, or is not there at all."""

    def __init__(self, *, refuse: str = "", down: bool = False) -> None:
        self.refuse, self.down = refuse, down
        self.tries: list[str] = []

    async def send(
        self,
        mail: Composed,
        *,
        then: Callable[[], Awaitable[None]] | None = None,
        held: Callable[[], str | None] | None = None,
    ) -> None:
        reason = held() if held is not None else None
        if reason is not None:
            raise Held(reason)
        self.tries.append(mail.recipient)
        if self.down:
            raise ConnectionRefusedError(111, "Connection refused")
        if self.refuse and mail.recipient.startswith(self.refuse):
            raise aiosmtplib.SMTPResponseException(550, f"no such user {mail.recipient}")
        if then is not None:
            await then()


def batch(n: int) -> list[Claimed]:
    return [
        claimed(
            id=uuid.UUID(int=100 + i),
            address=f"p{i}@example.no",
            template="waitlisted",
            context=dict(SAMPLE),
        )
        for i in range(n)
    ]


async def test_a_refusal_and_a_broken_template_are_their_own_mails_only(
    templates: Templates,
) -> None:
    settings = NotificationSettings(database_url="postgresql://unused")
    mails = [*batch(4), claimed(id=uuid.UUID(int=99), template="admitted", context={})]
    outcome = await send_batch(mails, settings, templates, FakeServer(refuse="p2@"))
    assert sorted(m.address for m in outcome.sent) == [
        "p0@example.no",
        "p1@example.no",
        "p3@example.no",
    ]
    assert [
        (m.address, "550" in r, "p2@example.no" in r)
        for m, r in outcome.failed
        if m.template == "waitlisted"
    ] == [
        ("p2@example.no", True, False)  # the reason keeps the code, not the address
    ]
    assert [m.template for m, _ in outcome.failed].count("admitted") == 1
    assert outcome.retry == []


async def test_an_unreachable_server_is_tried_once_per_batch(templates: Templates) -> None:
    settings = NotificationSettings(database_url="postgresql://unused")
    server = FakeServer(down=True)
    outcome = await send_batch(batch(10), settings, templates, server)
    assert len(outcome.retry) == 10 and outcome.sent == [] and outcome.failed == []
    assert len(server.tries) == 1
    assert all("refused" in reason for _, reason in outcome.retry)


class CountingClient:
    """An SMTP connection in memory that counts the mails taken by the server."""

    def __init__(self, taken: list[str]) -> None:
        self.taken = taken
        self.is_connected = False

    async def connect(self) -> None:
        self.is_connected = True

    async def send_one(self, sender: str, recipient: str, data: bytes) -> None:
        await asyncio.sleep(0)  # the wire: others run meanwhile
        self.taken.append(recipient)

    def close(self) -> None:
        self.is_connected = False


@pytest.mark.parametrize("per_connection", [1, 3])
async def test_mails_taken_and_not_yet_marked_stay_within_the_window(
    templates: Templates, per_connection: int
) -> None:
    """What a crash can repeat is what the server took and we have not marked: at most
    `mail_unmarked_per_connection` per connection, however slow the marking."""
    settings = NotificationSettings(
        database_url="postgresql://unused",
        smtp_connections=3,
        mail_unmarked_per_connection=per_connection,
    )
    taken: list[str] = []
    pool = SmtpPool(settings)
    pool.idle = asyncio.Queue()
    for _ in range(settings.smtp_connections):
        pool.idle.put_nowait(CountingClient(taken))  # type: ignore[arg-type]
    marked: list[str] = []
    most_unmarked = 0

    async def slow_mark(mail: Claimed, accepted_at: datetime) -> None:
        nonlocal most_unmarked
        most_unmarked = max(most_unmarked, len(taken) - len(marked))
        for _ in range(20):  # a commit that takes a while
            await asyncio.sleep(0)
        marked.append(mail.address)

    outcome = await send_batch(batch(30), settings, templates, pool, on_sent=slow_mark)
    assert sorted(marked) == sorted(m.address for m in batch(30)) == sorted(taken)
    assert len(outcome.marked) == 30 and outcome.sent == []
    # The window is used (connections go on while earlier mails are marked), never exceeded.
    assert most_unmarked == 3 * per_connection, most_unmarked


def test_a_withdrawn_invitation_is_cancelled_unless_the_person_is_still_invited() -> None:
    board = Board("vestland", "Vestland", "board-person")
    boards = {"4601": board, "4640": board}
    remaining = [InvitationTarget("kari"), InvitationTarget(None, "4640", "municipality")]
    # The board still speaks for Sogndal: a CANCEL of the shared entry would take that away.
    assert rules.still_invited("board-person", remaining, boards)
    assert rules.still_invited("kari", remaining, boards)
    assert not rules.still_invited("ola", remaining, boards)
    mails = rules.mails_for_gathering(
        "invitation_withdrawn",
        GATHERING,
        [InvitationTarget("ola")],
        board_of=boards,
        method="CANCEL",
        places=PLACES,
    )
    assert [(m.person_id, m.context["calendar"]["method"]) for m in mails] == [("ola", "CANCEL")]


def test_a_released_supervisor_gets_the_cancel_in_each_language() -> None:
    [mail] = rules.mails_for_supervision_released(GATHERING, "veileder-1", "4601", PLACES)
    assert (mail.supervisor_id, mail.context["calendar"]["method"]) == ("veileder-1", "CANCEL")
    templates = Templates()
    said = {
        lang: templates.render_mail(mail.template, lang, {**mail.context, "recipient_name": "Vera"})
        for lang in LANGUAGES
    }
    assert said["nb"].text.count("Bergen kommune er ikke lenger med i Fremtidens kulturskole") == 1
    assert "Bergen kommune er ikkje lenger med" in said["nn"].text
    assert "The municipality of Bergen no longer takes part" in said["en"].text
    assert said["en"].subject.startswith("Cancelled: supervision")
