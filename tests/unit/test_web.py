"""The web front without the services: pages, sign-in, sessions, CSRF, refusals on forms.

The services are replaced by an httpx transport that answers as they would; mail goes to a
list. What is checked is what a person sees and what reaches the services.
"""

from __future__ import annotations

import json
import re
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from services.web.app import create_app, field_id
from services.web.i18n import format_date, format_datetime
from services.web.settings import WebSettings
from services.web.tokens import issue_person_token, read_person_token

pytestmark = pytest.mark.unit

BOARD = "styret@vestland.example.no"
PROGRAMME = "kari@kulturskoleradet.example.no"
OBSERVER = "ola@observer.example.no"


class FakeServices:
    """Answers the routes the pages call; records every request."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.answers: dict[tuple[str, str], tuple[int, Any]] = {
            ("GET", "/rounds"): (200, [ROUND]),
            ("GET", "/rounds/2030/interest-registrations"): (200, []),
        }

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        status, body = self.answers.get((request.method, request.url.path), (404, {}))
        return httpx.Response(status, json=body)

    def sent(self, path: str) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests if r.url.path == path]


ROUND = {
    "round_id": "2030",
    "state": "open",
    "interest_deadline": "2029-09-15",
    "windows": [
        {
            "county_number": "46",
            "county_name": "Vestland",
            "opens_on": "2029-11-01",
            "deadline": "2029-12-01",
            "open_now": False,
        }
    ],
}


@pytest.fixture
def fake() -> FakeServices:
    return FakeServices()


@pytest.fixture
def mails() -> list[EmailMessage]:
    return []


def settings(**overrides: Any) -> WebSettings:
    values: dict[str, Any] = {
        "secret_key": "a-test-secret-of-some-length",
        "staff": {
            PROGRAMME: {"name": "Kari Programleder", "role": "programme"},
            OBSERVER: {"name": "Ola Observatør", "role": "observer"},
        },
        "board_contacts": {BOARD: {"name": "Styret i Vestland", "branch": "Vestland"}},
        "service_tokens": {
            "programme": "tok-programme",
            "observer": "tok-observer",
            "county_board:vestland": "tok-board-vestland",
        },
        "sign_in_per_address_per_hour": 3,
        **overrides,
    }
    return WebSettings(**values)


@pytest.fixture
def client(fake: FakeServices, mails: list[EmailMessage]) -> TestClient:
    async def mailer(message: EmailMessage) -> None:
        mails.append(message)

    app = create_app(settings(), transport=httpx.MockTransport(fake.handler), mailer=mailer)
    # https: the session cookie is Secure, and a browser sends it over HTTPS only.
    return TestClient(app, base_url="https://testserver")


def csrf(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


def sign_in(client: TestClient, mails: list[EmailMessage], email: str) -> None:
    page = client.get("/sign-in")
    client.post("/sign-in", data={"email": email, "csrf": csrf(page)})
    link = re.search(r"https?://\S+", mails[-1].get_content())
    assert link
    path = link.group(0).split("8004", 1)[1]
    confirm = client.get(path)
    assert confirm.status_code == 200
    token = re.search(r'name="token" value="([^"]+)"', confirm.text)
    assert token
    done = client.post(
        "/sign-in/link",
        data={"token": token.group(1), "csrf": csrf(confirm)},
        follow_redirects=False,
    )
    assert done.status_code == 303


def test_health_and_readiness_answer_without_a_session(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json()["assets"] is True


def test_pages_carry_a_csp_without_inline_script_and_designsystemet_from_here(
    client: TestClient,
) -> None:
    page = client.get("/sign-in")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "<script>" not in page.text and "style=" not in page.text
    assert client.get("/static/ds/css/index.css").status_code == 200
    assert client.get("/static/ds/theme/digdir.css").status_code == 200
    assert 'lang="nb"' in page.text and "Logg inn" in page.text


def test_the_chosen_language_is_remembered(client: TestClient) -> None:
    page = client.get("/sign-in")
    chosen = client.post(
        "/language",
        data={"lang": "nn", "next": "/sign-in", "csrf": csrf(page)},
        follow_redirects=False,
    )
    assert chosen.status_code == 303 and chosen.headers["location"] == "/sign-in"
    again = client.get("/sign-in")
    assert 'lang="nn"' in again.text and "Skriv e-postadressa di" in again.text


def test_language_choice_goes_back_only_to_this_site(client: TestClient) -> None:
    page = client.get("/sign-in")
    chosen = client.post(
        "/language",
        data={"lang": "en", "next": "//evil.example/", "csrf": csrf(page)},
        follow_redirects=False,
    )
    assert chosen.headers["location"] == "/"


def test_an_address_that_is_none_is_asked_for_again(client: TestClient) -> None:
    page = client.get("/sign-in")
    answer = client.post("/sign-in", data={"email": "ikke en adresse", "csrf": csrf(page)})
    assert answer.status_code == 422
    assert "E-postadresse: Skriv en e-postadresse" in answer.text
    assert 'value="ikke en adresse"' in answer.text


def test_a_form_without_the_csrf_token_is_refused(
    client: TestClient, mails: list[EmailMessage]
) -> None:
    client.get("/sign-in")
    refused = client.post("/sign-in", data={"email": BOARD, "csrf": "guess"})
    assert refused.status_code == 403
    assert mails == []


def test_known_and_unknown_addresses_get_the_same_answer(
    client: TestClient, mails: list[EmailMessage]
) -> None:
    page = client.get("/sign-in")
    known = client.post("/sign-in", data={"email": BOARD, "csrf": csrf(page)})
    unknown = client.post("/sign-in", data={"email": "nobody@example.no", "csrf": csrf(page)})
    assert known.status_code == unknown.status_code == 200
    strip = re.compile(r'name="csrf" value="[^"]+"')
    assert strip.sub("", known.text) == strip.sub("", unknown.text)
    assert [m["To"] for m in mails] == [BOARD]


def test_a_sign_in_link_works_once(client: TestClient, mails: list[EmailMessage]) -> None:
    sign_in(client, mails, BOARD)
    board = client.get("/board")
    assert board.status_code == 200 and "Styret i Vestland" in board.text
    link = re.search(r"https?://\S+", mails[-1].get_content())
    assert link
    again = client.get(link.group(0).split("8004", 1)[1])
    assert again.status_code == 400 and "brukt" in again.text


def test_sign_in_requests_are_rate_limited_whoever_asks(
    client: TestClient, mails: list[EmailMessage]
) -> None:
    page = client.get("/sign-in")
    answers = [
        client.post("/sign-in", data={"email": "x@example.no", "csrf": csrf(page)}).status_code
        for _ in range(4)
    ]
    assert answers == [200, 200, 200, 429]


def test_the_session_cookie_is_signed_httponly_secure_and_names_no_service_token(
    client: TestClient, mails: list[EmailMessage]
) -> None:
    page = client.get("/sign-in")
    client.post("/sign-in", data={"email": BOARD, "csrf": csrf(page)})
    link = re.search(r"https?://\S+", mails[-1].get_content())
    assert link
    confirm = client.get(link.group(0).split("8004", 1)[1])
    token = re.search(r'name="token" value="([^"]+)"', confirm.text)
    assert token
    done = client.post(
        "/sign-in/link",
        data={"token": token.group(1), "csrf": csrf(confirm)},
        follow_redirects=False,
    )
    cookie = done.headers["set-cookie"]
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=lax" in cookie
    assert "tok-board" not in cookie
    client.cookies.set("ks_session", "forged." + cookie.split("=", 1)[1].split(";")[0][7:])
    assert client.get("/board", follow_redirects=False).status_code == 401


def test_a_board_calls_the_services_as_its_own_board(
    client: TestClient, mails: list[EmailMessage], fake: FakeServices
) -> None:
    sign_in(client, mails, BOARD)
    page = client.get("/board")
    assert "15. september 2029" in page.text
    assert page.headers["x-service-calls"] == "1"  # GET /rounds
    assert fake.requests[-1].headers["authorization"] == "Bearer tok-board-vestland"
    assert fake.requests[-1].headers["accept-language"] == "nb"


def test_a_person_taken_off_the_lists_is_signed_out_at_once(
    fake: FakeServices, mails: list[EmailMessage]
) -> None:
    async def mailer(message: EmailMessage) -> None:
        mails.append(message)

    before = create_app(settings(), transport=httpx.MockTransport(fake.handler), mailer=mailer)
    client = TestClient(before, base_url="https://testserver")
    sign_in(client, mails, BOARD)
    assert client.get("/board").status_code == 200
    # The same secret, the board's contact gone: the cookie no longer names a known person.
    after = create_app(
        settings(board_contacts={}), transport=httpx.MockTransport(fake.handler), mailer=mailer
    )
    later = TestClient(after, base_url="https://testserver", cookies=client.cookies)
    assert later.get("/board").status_code == 401


def test_a_board_is_refused_another_countys_municipality(
    client: TestClient, mails: list[EmailMessage], fake: FakeServices
) -> None:
    sign_in(client, mails, BOARD)
    before = len(fake.requests)
    # 0301 Oslo belongs to Oslo og Viken's branch, not Vestland's.
    assert client.get("/board/rounds/2030/applications/0301").status_code == 403
    assert len(fake.requests) == before


def test_a_board_may_not_open_programme_pages(
    client: TestClient, mails: list[EmailMessage]
) -> None:
    sign_in(client, mails, BOARD)
    assert client.get("/programme").status_code == 403
    assert client.get("/programme/deliveries").status_code == 403


def test_a_refusal_shows_beside_its_field_and_keeps_what_was_entered(
    client: TestClient, mails: list[EmailMessage], fake: FakeServices
) -> None:
    fake.answers[("POST", "/interest-registrations")] = (
        422,
        {
            "type": "urn:kulturskole:problem:invalid-input",
            "title": "Ugyldige opplysninger",
            "detail": "Kontroller disse feltene: contact.email: er ikke en gyldig e-postadresse",
            "field": "contact.email",
            "errors": [{"field": "contact.email", "reason": "er ikke en gyldig e-postadresse"}],
        },
    )
    sign_in(client, mails, BOARD)
    page = client.get("/board/rounds/2030/interest")
    answer = client.post(
        "/board/rounds/2030/interest",
        data={
            "csrf": csrf(page),
            "municipality_numbers": ["4601", "4621"],
            "contact-name": "Kari Nordmann",
            "contact-email": "kari-at-example",
            "contact-language": "nb",
            "message": "Styret vil delta.",
        },
    )
    assert answer.status_code == 422
    # The error summary at the top links to the field, named by its label.
    assert 'href="#contact-email">E-postadresse: er ikke en gyldig e-postadresse' in answer.text
    assert 'id="contact-email-error"' in answer.text
    assert 'value="kari-at-example"' in answer.text and "Styret vil delta." in answer.text
    assert answer.text.count("checked") >= 2
    sent = fake.sent("/interest-registrations")[-1]
    assert sent["branch"] == "Vestland" and sent["municipality_numbers"] == ["4601", "4621"]


def test_the_services_answer_in_the_chosen_language(
    client: TestClient, mails: list[EmailMessage], fake: FakeServices
) -> None:
    sign_in(client, mails, BOARD)
    page = client.get("/board")
    client.post("/language", data={"lang": "nn", "next": "/board", "csrf": csrf(page)})
    again = client.get("/board")
    assert fake.requests[-1].headers["accept-language"] == "nn"
    assert "Frist for interesse" in again.text and "15. september 2029" in again.text
    assert 'lang="nn"' in again.text


def test_a_refused_submission_keeps_the_group_and_points_at_the_field(
    client: TestClient, mails: list[EmailMessage], fake: FakeServices
) -> None:
    fake.answers[("GET", "/rounds/2030/development-areas")] = (
        200,
        [{"branch_id": "vestland", "areas": []}],
    )
    fake.answers[("POST", "/application-drafts")] = (200, {"status": "draft"})
    fake.answers[("POST", "/application-submissions")] = (
        422,
        {
            "type": "urn:kulturskole:problem:incomplete",
            "title": "Ufullstendig",
            "detail": "Søknaden mangler utviklingsområder før den kan sendes inn.",
            "field": "development_areas",
        },
    )
    sign_in(client, mails, BOARD)
    page = client.get("/board/rounds/2030/applications/4601")
    assert page.status_code == 200
    answer = client.post(
        "/board/rounds/2030/applications/4601",
        data={
            "csrf": csrf(page),
            "action": "submit",
            "rows": "2",
            "motivation": "Vi vil.",
            "group-1-name": "Liv Rektor",
            "group-1-email": "liv@example.no",
            "group-1-role": "kulturskole",
            "group-1-organisation": "Bergen kulturskole",
            "group-1-commits": "on",
        },
    )
    assert answer.status_code == 422
    assert 'href="#own_development_areas"' in answer.text
    assert 'value="Liv Rektor"' in answer.text and "Vi vil." in answer.text
    draft = fake.sent("/application-drafts")[-1]
    # The empty first row is no member; the second is.
    assert [m["name"] for m in draft["group"]] == ["Liv Rektor"]
    assert draft["group"][0]["commits_to_gatherings"] is True


def test_what_people_enter_is_shown_as_text_never_as_markup(
    client: TestClient, mails: list[EmailMessage], fake: FakeServices
) -> None:
    fake.answers[("POST", "/interest-registrations")] = (
        422,
        {"detail": "Nei.", "field": "message", "errors": [{"field": "message", "reason": "nei"}]},
    )
    sign_in(client, mails, BOARD)
    page = client.get("/board/rounds/2030/interest")
    answer = client.post(
        "/board/rounds/2030/interest",
        data={"csrf": csrf(page), "message": "<script>alert(1)</script>", "contact-name": "K"},
    )
    assert "<script>alert(1)</script>" not in answer.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in answer.text


def test_a_page_without_a_session_asks_to_sign_in(client: TestClient) -> None:
    page = client.get("/board")
    assert page.status_code == 401 and 'href="/sign-in"' in page.text


def test_a_board_records_who_came_to_a_gathering_that_has_begun(
    client: TestClient, mails: list[EmailMessage], fake: FakeServices
) -> None:
    gathering = "5b7f7c1e-0d4e-4a57-9a59-2f1f0f4d8f10"
    person = "0f5a2a3e-3b7e-4a4c-9a8e-6c1d2e3f4a5b"
    fake.answers[("GET", f"/gatherings/{gathering}")] = (
        200,
        {
            "gathering_id": gathering,
            "region": "vestland",
            "kind": "samling",
            "title": "Samling 1",
            "venue": {"name": "Grieghallen", "address": None},
            "status": "scheduled",
            "starts_at": "2026-01-12T10:00:00+01:00",
            "ends_at": "2026-01-12T15:00:00+01:00",
            "capacity": None,
            "confirmed": 1,
            "invitations": [
                {
                    "invitation_id": "1",
                    "person_id": person,
                    "municipality_number": "4601",
                    "role": "kulturskole",
                    "rsvp": "yes",
                    "attended": None,
                },
                {
                    "invitation_id": "2",
                    "person_id": None,
                    "municipality_number": "4627",
                    "role": "municipality",
                    "rsvp": None,
                    "attended": None,
                },
            ],
        },
    )
    fake.answers[("POST", "/attendance")] = (200, {})
    sign_in(client, mails, BOARD)
    page = client.get(f"/board/rounds/2030/gatherings/{gathering}")
    assert "Registrer oppmøte" in page.text and "12. januar 2026 kl. 10.00" in page.text
    done = client.post(
        f"/board/rounds/2030/gatherings/{gathering}/attendance",
        data={"csrf": csrf(page), "present": [f"p:{person}", "m:4627"]},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert fake.sent("/attendance")[-1] == {
        "gathering_id": gathering,
        "region": "vestland",
        "present_persons": [person],
        "present_municipalities": ["4627"],
    }


def test_an_application_one_question_at_a_time_keeps_the_other_answers(
    client: TestClient, mails: list[EmailMessage], fake: FakeServices
) -> None:
    fake.answers[("GET", "/rounds/2030/development-areas")] = (200, [])
    fake.answers[("GET", "/rounds/2030/applications/4601")] = (
        200,
        {
            "status": "draft",
            "motivation": "Vi vil.",
            "co_creation_plan": "Plan.",
            "themes": ["samskaping"],
            "development_areas": [],
            "own_development_areas": ["Dans"],
            "group": [
                {
                    "name": "Liv",
                    "email": "liv@example.no",
                    "phone": None,
                    "role": "kulturskole",
                    "organisation": "Bergen kulturskole",
                    "commits_to_gatherings": True,
                }
            ],
            "decided_at": None,
            "decided_by": None,
            "decision_reason": None,
        },
    )
    fake.answers[("POST", "/application-drafts")] = (200, {"status": "draft"})
    sign_in(client, mails, BOARD)
    page = client.get("/board/rounds/2030/applications/4601/steps/3")
    assert "Steg 3 av 4" in page.text
    assert 'id="co_creation_plan"' in page.text and 'id="motivation"' not in page.text
    done = client.post(
        "/board/rounds/2030/applications/4601/steps/3",
        data={"csrf": csrf(page), "action": "save", "co_creation_plan": "Ny plan."},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"].endswith("/steps/4")
    draft = fake.sent("/application-drafts")[-1]
    assert draft["co_creation_plan"] == "Ny plan."
    assert draft["motivation"] == "Vi vil." and draft["themes"] == ["samskaping"]
    assert draft["own_development_areas"] == ["Dans"]
    assert [m["name"] for m in draft["group"]] == ["Liv"]


def test_an_observer_sees_counts_only(
    client: TestClient, mails: list[EmailMessage], fake: FakeServices
) -> None:
    fake.answers[("GET", "/rounds/2030/status")] = (
        200,
        {
            "totals": {
                "branches_interested": 4,
                "interested": 9,
                "applied": 3,
                "admitted": 1,
                "waitlisted": 1,
                "declined": 0,
                "withdrawn": 0,
            },
            "branches": [
                {
                    "branch_name": "Vestland",
                    "interested": 3,
                    "applied": 2,
                    "admitted": 1,
                    "waitlisted": 1,
                }
            ],
        },
    )
    sign_in(client, mails, OBSERVER)
    page = client.get("/observer")
    assert page.status_code == 200 and "Vestland" in page.text
    assert client.get("/board").status_code == 403
    assert client.get("/programme").status_code == 403


def test_person_tokens_are_used_when_the_services_take_them(fake: FakeServices) -> None:
    mails: list[EmailMessage] = []

    async def mailer(message: EmailMessage) -> None:
        mails.append(message)

    app = create_app(
        settings(person_token_secret="shared-secret-for-person-tokens"),
        transport=httpx.MockTransport(fake.handler),
        mailer=mailer,
    )
    client = TestClient(app, base_url="https://testserver")
    sign_in(client, mails, PROGRAMME)
    client.get("/programme")
    token = fake.requests[-1].headers["authorization"].removeprefix("Bearer ")
    payload = read_person_token("shared-secret-for-person-tokens", token)
    assert payload is not None
    assert (payload["role"], payload["name"], payload["branch"]) == (
        "programme",
        "Kari Programleder",
        None,
    )


def test_person_token_format() -> None:
    token = issue_person_token("s3cret", "county_board", "Styret i Vestland", "vestland", 60)
    assert read_person_token("s3cret", token)["branch"] == "vestland"  # type: ignore[index]
    assert read_person_token("other", token) is None
    assert read_person_token("s3cret", token, now=10**12) is None  # expired
    body, _, mac = token.partition(".")
    assert read_person_token("s3cret", body + "x." + mac) is None


def test_dates_are_written_the_norwegian_way() -> None:
    assert format_date("2027-09-15", "nb") == "15. september 2027"
    assert format_date("2027-09-15", "en") == "15 September 2027"
    assert format_datetime("2027-01-12T09:00:00+00:00", "nn") == "12. januar 2027 kl. 10.00"
    assert format_datetime("2027-07-12T09:00:00+00:00", "nb") == "12. juli 2027 kl. 11.00"


CALENDAR = {"round_id": "2030", "region": "vestland", "semesters": [], "gatherings": []}
REQUEST = "7c9e6679-7425-40de-944b-e07fc1f90ae7"


def test_programme_management_books_veiledning_for_an_admitted_municipality_by_name(
    client: TestClient, mails: list[EmailMessage], fake: FakeServices
) -> None:
    fake.answers[("GET", "/rounds/2030/regions/vestland/calendar")] = (200, CALENDAR)
    fake.answers[("GET", "/rounds/2030/applications")] = (
        200,
        [{"municipality_number": "4601", "municipality_name": "Bergen", "status": "admitted"}],
    )
    fake.answers[("POST", "/supervisions")] = (201, {"gathering_id": REQUEST})
    sign_in(client, mails, PROGRAMME)
    page = client.get("/programme/rounds/2030/regions/vestland/supervisions")
    assert page.status_code == 200
    assert '<option value="4601" >Bergen</option>' in page.text
    asked = [r for r in fake.requests if r.url.path == "/rounds/2030/applications"][-1]
    assert (asked.url.params["branch"], asked.url.params["status"]) == ("vestland", "admitted")
    done = client.post(
        "/programme/rounds/2030/regions/vestland/supervisions",
        data={
            "csrf": csrf(page),
            "municipality_number": "4601",
            "supervisor_id": "veileder-1",
            "day": "2030-03-12",
            "start": "10:00",
            "end": "12:00",
            "venue-name": "Rådhuset",
            "venue-address": "",
            "venue-digital_link": "https://meet.example.no/bergen",
        },
    )
    assert done.status_code == 200 and "Veiledningen er booket." in done.text
    assert fake.sent("/supervisions")[-1] == {
        "round_id": "2030",
        "municipality_number": "4601",
        "supervisor_id": "veileder-1",
        "venue": {
            "name": "Rådhuset",
            "address": None,
            "digital_link": "https://meet.example.no/bergen",
        },
        # Europe/Oslo: winter time in March.
        "starts_at": "2030-03-12T10:00:00+01:00",
        "ends_at": "2030-03-12T12:00:00+01:00",
    }


def test_a_supervisor_already_booked_is_shown_beside_the_day_with_the_input_kept(
    client: TestClient, mails: list[EmailMessage], fake: FakeServices
) -> None:
    fake.answers[("GET", "/rounds/2030/regions/vestland/calendar")] = (200, CALENDAR)
    fake.answers[("GET", "/rounds/2030/applications")] = (
        200,
        [{"municipality_number": "4601", "municipality_name": "Bergen", "status": "admitted"}],
    )
    fake.answers[("POST", "/supervisions")] = (
        409,
        {
            "type": "urn:kulturskole:problem:supervisor-booked",
            "detail": "Veilederen er allerede booket 12.03.2030 kl. 09:00\u201311:00.",
            "field": "starts_at",
        },
    )
    sign_in(client, mails, PROGRAMME)
    page = client.get("/programme/rounds/2030/regions/vestland/supervisions")
    form = {
        "csrf": csrf(page),
        "municipality_number": "4601",
        "supervisor_id": "veileder-1",
        "day": "2030-03-12",
        "start": "10:00",
        "end": "12:00",
        "venue-name": "Rådhuset",
        "venue-address": "Rådhusgaten 10, Bergen",
    }
    answer = client.post("/programme/rounds/2030/regions/vestland/supervisions", data=form)
    assert answer.status_code == 409
    assert 'href="#day">Dag: Veilederen er allerede booket' in answer.text
    assert 'id="day-error"' in answer.text
    assert 'value="veileder-1"' in answer.text and 'value="Rådhusgaten 10, Bergen"' in answer.text
    # An end before the start is asked for again before any service is called.
    calls = len(fake.sent("/supervisions"))
    again = client.post(
        "/programme/rounds/2030/regions/vestland/supervisions", data={**form, "end": "09:00"}
    )
    assert again.status_code == 422 and "Må være etter starttiden." in again.text
    assert len(fake.sent("/supervisions")) == calls


def test_programme_management_answers_a_dialogue_request(
    client: TestClient, mails: list[EmailMessage], fake: FakeServices
) -> None:
    asked = {
        "id": REQUEST,
        "round_id": "2030",
        "region": "vestland",
        "topic": "Oppstart i Askøy",
        "wished_dates": ["2030-02-04", "2030-02-05"],
        "requested_at": "2030-01-10T09:00:00+00:00",
        "gathering_id": None,
        "origin": "board",
        "requested_by": "Styret i Vestland",
    }
    fake.answers[("GET", "/rounds/2030/dialogue-requests")] = (200, [asked])
    fake.answers[("POST", "/dialogue-meetings")] = (
        422,
        {
            "detail": "Kontroller disse feltene: venue: en venue trenger adresse eller lenke",
            "errors": [{"field": "venue", "reason": "trenger adresse eller lenke"}],
        },
    )
    sign_in(client, mails, PROGRAMME)
    listing = client.get("/programme/rounds/2030/dialogue-requests")
    assert "Oppstart i Askøy" in listing.text and "4. februar 2030" in listing.text
    assert "fylkesavdelingen (Styret i Vestland)" in listing.text
    page = client.get(f"/programme/rounds/2030/dialogue-requests/{REQUEST}")
    assert page.status_code == 200 and 'value="2030-02-04"' in page.text  # the first wish
    form = {
        "csrf": csrf(page),
        "day": "2030-02-04",
        "start": "13:00",
        "end": "14:30",
        "venue-name": "Fylkeshuset",
        "also_invite": ["4627"],
    }
    url = f"/programme/rounds/2030/dialogue-requests/{REQUEST}/meeting"
    refused = client.post(url, data=form)
    assert refused.status_code == 422
    assert 'href="#venue-address">Adresse: trenger adresse eller lenke' in refused.text
    assert 'value="Fylkeshuset"' in refused.text
    assert re.search(r'id="m-4627" name="also_invite" value="4627"\s+checked', refused.text)
    fake.answers[("POST", "/dialogue-meetings")] = (201, {"request_id": REQUEST})
    done = client.post(url, data={**form, "venue-address": "Agnes Mowinckels gate 5"})
    assert done.status_code == 200 and "Dialogmøtet er satt opp." in done.text
    assert fake.sent("/dialogue-meetings")[-1] == {
        "request_id": REQUEST,
        "venue": {
            "name": "Fylkeshuset",
            "address": "Agnes Mowinckels gate 5",
            "digital_link": None,
        },
        "also_invite": ["4627"],
        "starts_at": "2030-02-04T13:00:00+01:00",
        "ends_at": "2030-02-04T14:30:00+01:00",
    }


def test_service_field_paths_become_form_ids() -> None:
    assert field_id("contact.email") == "contact-email"
    assert field_id("group.0.role") == "group-0-role"


# Every route of the web front and who may open it (the services' own table,
# tests/access_matrix.py, is of bearer tokens; here a session is the credential).
ACCESS = {
    ("GET", "/healthz"): "anyone",
    ("GET", "/readyz"): "anyone",
    ("GET", "/"): "anyone",
    ("POST", "/language"): "anyone",
    ("GET", "/sign-in"): "anyone",
    ("POST", "/sign-in"): "anyone",
    ("GET", "/sign-in/link"): "anyone",
    ("POST", "/sign-in/link"): "anyone",
    ("POST", "/sign-out"): "anyone",
    ("GET", "/board"): "county_board",
    ("GET", "/board/rounds/{round_id}/interest"): "county_board",
    ("POST", "/board/rounds/{round_id}/interest"): "county_board",
    ("GET", "/board/rounds/{round_id}/applications"): "county_board",
    ("GET", "/board/rounds/{round_id}/applications/{number}"): "county_board",
    ("POST", "/board/rounds/{round_id}/applications/{number}"): "county_board",
    ("POST", "/board/rounds/{round_id}/applications/{number}/withdrawal"): "county_board",
    ("GET", "/board/rounds/{round_id}/applications/{number}/steps/{step}"): "county_board",
    ("POST", "/board/rounds/{round_id}/applications/{number}/steps/{step}"): "county_board",
    ("GET", "/board/rounds/{round_id}/calendar"): "county_board",
    ("POST", "/board/rounds/{round_id}/dialogue-requests"): "county_board",
    ("GET", "/board/rounds/{round_id}/gatherings/{gathering_id}"): "county_board",
    ("POST", "/board/rounds/{round_id}/gatherings/{gathering_id}/rsvps"): "county_board",
    ("POST", "/board/rounds/{round_id}/gatherings/{gathering_id}/attendance"): "county_board",
    ("GET", "/programme"): "programme",
    ("POST", "/programme/rounds"): "programme",
    ("GET", "/programme/rounds/{round_id}"): "programme",
    ("POST", "/programme/rounds/{round_id}/windows"): "programme",
    ("POST", "/programme/rounds/{round_id}/closure"): "programme",
    ("POST", "/programme/rounds/{round_id}/capacity"): "programme",
    ("POST", "/programme/rounds/{round_id}/deadline"): "programme",
    ("GET", "/programme/rounds/{round_id}/participants.csv"): "programme",
    ("GET", "/programme/rounds/{round_id}/attendance"): "programme",
    ("POST", "/programme/rounds/{round_id}/cancellation"): "programme",
    ("POST", "/programme/rounds/{round_id}/applications/{number}/revocation"): "programme",
    ("GET", "/programme/rounds/{round_id}/applications/{number}"): "programme",
    ("POST", "/programme/rounds/{round_id}/applications/{number}/decision"): "programme",
    ("GET", "/programme/rounds/{round_id}/regions/{region}/plan"): "programme",
    ("POST", "/programme/rounds/{round_id}/regions/{region}/semesters"): "programme",
    ("POST", "/programme/rounds/{round_id}/regions/{region}/gatherings"): "programme",
    ("GET", "/programme/deliveries"): "programme",
    ("GET", "/programme/rounds/{round_id}/regions/{region}/supervisions"): "programme",
    ("POST", "/programme/rounds/{round_id}/regions/{region}/supervisions"): "programme",
    ("GET", "/programme/rounds/{round_id}/dialogue-requests"): "programme",
    ("GET", "/programme/rounds/{round_id}/dialogue-requests/{request_id}"): "programme",
    ("POST", "/programme/rounds/{round_id}/dialogue-requests/{request_id}/meeting"): "programme",
    ("GET", "/programme/rounds/{round_id}/gatherings/{gathering_id}"): "programme",
    ("POST", "/programme/rounds/{round_id}/gatherings/{gathering_id}/rescheduling"): "programme",
    ("POST", "/programme/rounds/{round_id}/gatherings/{gathering_id}/cancellation"): "programme",
    ("GET", "/observer"): "observer",
}


def test_every_route_is_classified(client: TestClient) -> None:
    declared = {
        (method, route.path)
        for route in client.app.routes  # type: ignore[attr-defined]
        if not route.path.startswith("/static")
        for method in getattr(route, "methods", ()) or ()
        if method != "HEAD"
    }
    assert declared == set(ACCESS)


@pytest.mark.parametrize(
    ("method", "route"), [k for k, v in ACCESS.items() if v != "anyone"], ids=str
)
def test_without_a_session_every_role_page_is_refused(
    client: TestClient, fake: FakeServices, method: str, route: str
) -> None:
    page = client.get("/sign-in")
    path = route.format(
        round_id="2030",
        number="4601",
        region="vestland",
        gathering_id="5b7f7c1e-0d4e-4a57-9a59-2f1f0f4d8f10",
        step="1",
        request_id=REQUEST,
    )
    answer = client.request(method, path, data={"csrf": csrf(page)})
    assert answer.status_code == 401
    assert fake.requests == []
