"""The web front in a real browser (Debian's Chromium, driven by Playwright) against all
services as processes, on the real Kafka, PostgreSQL and SMTP sink.

A county board signs in with the link from the mail sink, registers interest and saves and
submits applications with their kommunegrupper; programme management signs in, opens the
county's window, admits one municipality and wait-lists another, plans a semester and
schedules a samling on a suggested date, books veiledning for the admitted municipality and
answers the board's dialogmøte request; the board sees the decisions, the samling, the
veiledning and the dialogmøte in its calendar, and the decision mails arrive. The same with JavaScript off. axe-core finds no
violation on any page of the journey; a board is refused another county's pages and actions.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page, async_playwright
from playwright.async_api import TimeoutError as PlaywrightTimeout

from services.web.local import local_env
from shared.runtime.catalog import Catalog, find, names
from shared.testing.fixtures import (
    ROOT,
    Endpoints,
    ServiceProcesses,
    SinkClient,
    TestDatabase,
    eventually,
    free_port,
)
from tests.e2e.conftest import PROGRAMME, prepare_platform, round_known

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CHROMIUM = "/usr/bin/chromium"
# KS_WEB_SCREENSHOTS=docs/screenshots: the journey saves its main pages there (the README's).
SCREENSHOTS = os.environ.get("KS_WEB_SCREENSHOTS", "")
ROUND = "2031"
BERGEN, ASKOY = "4601", "4627"


@dataclass
class People:
    """This test's own addresses, so the shared mail sink's other mails do not count."""

    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    @property
    def board(self) -> str:
        return f"styret-{self.tag}@vestland.example.no"

    @property
    def other_board(self) -> str:
        return f"styret-{self.tag}@agder.example.no"

    @property
    def programme(self) -> str:
        return f"programleder-{self.tag}@kulturskoleradet.example.no"

    def member(self, who: str) -> str:
        return f"{who}-{self.tag}@bergen.example.no"


@pytest.fixture
def people() -> People:
    return People()


# The services and the web front share it: each call carries a token for the person.
PERSON_TOKEN_SECRET = "journey-person-token-secret"


@pytest.fixture
def services(
    endpoints: Endpoints,
    database: TestDatabase,
    topic_prefix: str,
    logs_dir: Path,
    catalog: Catalog,
) -> Iterator[ServiceProcesses]:
    """All the services as processes, taking person tokens signed with the journey's secret."""
    overrides = {
        service: {f"{find(catalog, service).env_prefix}PERSON_TOKEN_SECRET": PERSON_TOKEN_SECRET}
        for service in names(catalog)
    }
    procs = ServiceProcesses(
        endpoints, database, topic_prefix, logs_dir, catalog, overrides=overrides
    )
    try:
        procs.start()
        prepare_platform(procs)
        yield procs
    finally:
        procs.stop_all()


@pytest.fixture
def web(services: ServiceProcesses, endpoints: Endpoints, people: People) -> Iterator[str]:
    """The web front as a process beside the services, stopped with them."""
    port = free_port()
    env = local_env(
        port=port,
        registration=services.url("registration"),
        scheduling=services.url("scheduling"),
        notification=services.url("notification"),
        smtp_host=endpoints.smtp_host,
        smtp_port=endpoints.smtp_port,
        staff={people.programme: {"name": "Kari Programleder", "role": "programme"}},
        board_contacts={
            people.board: {"name": "Styret i Vestland", "branch": "vestland"},
            people.other_board: {"name": "Styret i Agder", "branch": "agder"},
        },
        person_token_secret=PERSON_TOKEN_SECRET,
    )
    log = open(services.logs / "web.log", "ab")
    services.ports["web"] = port
    services.procs["web"] = subprocess.Popen(
        [sys.executable, "-m", "services.web"],
        env={**os.environ, **env},
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    services.wait_ready("web")
    yield services.url("web")  # stop_all (the services fixture) stops it with the rest


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not Path(CHROMIUM).exists():  # noqa: ASYNC240 (once, before the browser starts)
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (make test does)")
    async with async_playwright() as playwright:
        # Norwegian browser chrome too (date fields as dd.mm.åååå in the screenshots).
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--lang=nb-NO"])
        yield launched
        await launched.close()


class Visitor:
    """One person in their own browser context, checking each page with axe-core."""

    def __init__(self, page: Page, base: str, javascript: bool) -> None:
        self.page, self.base, self.javascript = page, base, javascript
        self.axe = Axe()
        self.checked: list[str] = []

    async def check(self) -> None:
        """No axe-core violation on this page (axe runs as script: with JavaScript on)."""
        assert await self.page.title(), "every page has a title"
        assert await self.page.locator("main h1").count() == 1
        if self.javascript:
            results = await self.axe.run(self.page)
            assert results.violations_count == 0, results.generate_report()
        self.checked.append(self.page.url)

    async def shot(self, name: str) -> None:
        """A screenshot of the whole page, when KS_WEB_SCREENSHOTS names a folder."""
        if SCREENSHOTS and self.javascript:
            await self.page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)

    async def goto(self, path: str) -> None:
        response = await self.page.goto(self.base + path)
        assert response is not None and response.status == 200, (path, response and response.status)
        await self.check()

    async def submit(self, button: str) -> None:
        await self.page.get_by_role("button", name=button, exact=True).click()
        await self.page.wait_for_load_state()

    async def sign_in(self, sink: SinkClient, email: str) -> None:
        await self.goto("/sign-in")
        await self.shot("sign-in")
        await self.page.get_by_label("E-postadresse").fill(email)
        await self.submit("Send innloggingslenke")
        await shows(self, "Hvis adressen er kjent")
        await self.check()

        async def link() -> str | None:
            for message in await sink.messages(containing=email):
                if email in message["to"]:
                    found = re.search(r"http://\S+/sign-in/link\?token=\S+", message["text"])
                    if found:
                        return found.group(0)
            return None

        url = await eventually(link, timeout=30, what=f"a sign-in link to {email}")
        assert url is not None
        await self.page.goto(url)
        await self.check()
        await self.submit("Logg inn")
        await shows(self, "Logg ut")


async def shows(visitor: Visitor, text: str) -> None:
    """Until the page shows `text`; else fail with what it shows instead."""
    try:
        await visitor.page.get_by_text(text).first.wait_for(timeout=15_000)
    except PlaywrightTimeout:
        shown = await visitor.page.locator("main").inner_text()
        raise AssertionError(f"{text!r} not shown at {visitor.page.url}:\n{shown}") from None


async def visitor(browser: Browser, base: str, javascript: bool) -> Visitor:
    context = await browser.new_context(
        java_script_enabled=javascript, locale="nb-NO", viewport={"width": 1100, "height": 800}
    )
    return Visitor(await context.new_page(), base, javascript)


async def fill_member(page: Page, row: int, name: str, email: str, role: str, org: str) -> None:
    await page.locator(f"#group-{row}-name").fill(name)
    await page.locator(f"#group-{row}-email").fill(email)
    await page.locator(f"#group-{row}-role").select_option(role)
    await page.locator(f"#group-{row}-organisation").fill(org)
    await page.locator(f"#group-{row}-commits").check()


async def apply(board: Visitor, people: People, number: str, name: str) -> None:
    await board.goto(f"/board/rounds/{ROUND}/applications/{number}")
    page = board.page
    if number == BERGEN:
        await board.shot("board-application")
    await page.get_by_label("Begrunnelse").fill(
        f"{name} vil utvikle kulturskolen sammen med skolene."
    )
    await page.get_by_label("samskaping", exact=True).check()
    await page.get_by_label("Kommunens egne utviklingsområder").fill("Kulturskole i skoletiden")
    await page.get_by_label("Plan for samskaping").fill("Felles prosjekt med barnehagene.")
    await fill_member(
        page,
        0,
        f"Rektor {name}",
        people.member(f"kulturskole-{number}"),
        "kulturskole",
        f"{name} kulturskole",
    )
    await fill_member(
        page, 1, f"Lærer {name}", people.member(f"skole-{number}"), "grunnskole", f"{name} skole"
    )
    await board.submit("Lagre utkast")
    await shows(board, "Lagret.")
    await board.check()


async def apply_in_steps(board: Visitor, people: People, number: str, name: str) -> None:
    """The same application one question at a time, each step saved before the next."""
    page = board.page
    await board.goto(f"/board/rounds/{ROUND}/applications/{number}/steps/1")
    await shows(board, "Steg 1 av 4")
    await page.get_by_label("Begrunnelse").fill(f"{name} vil lære av de andre kommunene.")
    await board.submit("Lagre og gå videre")
    await shows(board, "Steg 2 av 4")
    await board.check()
    await page.get_by_label("medvirkning", exact=True).check()
    await page.get_by_label("Kommunens egne utviklingsområder").fill("Medvirkning i SFO")
    await board.submit("Lagre og gå videre")
    await shows(board, "Steg 3 av 4")
    await board.check()
    await page.get_by_label("Plan for samskaping").fill("Samarbeid med SFO-ene.")
    await board.submit("Lagre og gå videre")
    await shows(board, "Steg 4 av 4")
    await board.check()
    await fill_member(
        page,
        0,
        f"Rektor {name}",
        people.member(f"kulturskole-{number}"),
        "kulturskole",
        f"{name} kulturskole",
    )
    await fill_member(
        page, 1, f"Leder {name}", people.member(f"sfo-{number}"), "sfo", f"{name} SFO"
    )
    await board.submit("Lagre og gå videre")
    await shows(board, "Lagret.")
    # Every step's answer is in the draft.
    assert "lære av de andre" in await page.get_by_label("Begrunnelse").input_value()
    assert await page.get_by_label("medvirkning", exact=True).is_checked()
    assert await page.locator("#group-1-name").input_value() == f"Leder {name}"
    await board.check()


async def journey(
    browser: Browser,
    web: str,
    sink: SinkClient,
    people: People,
    javascript: bool,
    services: ServiceProcesses,
) -> None:
    board = await visitor(browser, web, javascript)
    await board.sign_in(sink, people.board)
    assert board.page.url.endswith("/board")
    await board.check()
    await board.shot("board-home")

    # Interest for Bergen and Askøy, picked by name.
    await board.goto(f"/board/rounds/{ROUND}/interest")
    page = board.page
    await page.get_by_label("Bergen", exact=True).check()
    await page.get_by_label("Askøy", exact=True).check()
    # A refusal first: a bad address is shown beside its field, and nothing ticked is lost.
    await page.get_by_label("Navn").fill("Kari Nordmann")
    await page.get_by_label("E-postadresse").fill(
        "kari@bergen"
    )  # the browser takes it; the service does not
    await board.submit("Send")
    await page.locator("#contact-email-error").wait_for()
    assert await page.get_by_label("Bergen", exact=True).is_checked()
    assert await page.get_by_label("Navn").input_value() == "Kari Nordmann"
    await board.check()
    await board.shot("board-interest-refused")
    await page.get_by_label("E-postadresse").fill(people.member("kontakt"))
    await board.submit("Send")
    await shows(board, "Interessen er registrert.")

    # Drafts before the window opens.
    await apply(board, people, BERGEN, "Bergen")
    await apply_in_steps(board, people, ASKOY, "Askøy")

    # Programme management opens Vestland's window.
    programme = await visitor(browser, web, javascript)
    await programme.sign_in(sink, people.programme)
    await programme.goto(f"/programme/rounds/{ROUND}")
    p = programme.page
    await programme.shot("programme-round")
    await p.get_by_label("Fylke", exact=True).select_option("46")
    today = date.today()
    await p.get_by_label("Åpner").fill(today.isoformat())
    await p.get_by_label("Frist", exact=True).fill((today + timedelta(days=30)).isoformat())
    await programme.submit("Åpne søknadsvindu")
    await shows(programme, "Søknadsvinduet er åpnet.")
    await programme.check()

    # The board submits both.
    for number in (BERGEN, ASKOY):
        await board.goto(f"/board/rounds/{ROUND}/applications/{number}")
        await board.submit("Send inn søknaden")
        await shows(board, "Søknaden er sendt inn.")
        await board.check()

    # Admit Bergen, wait-list Askøy (before the deadline, with a reason).
    for number, choice in ((BERGEN, "Ta opp"), (ASKOY, "Sett på venteliste")):
        await programme.goto(f"/programme/rounds/{ROUND}/applications/{number}")
        await p.get_by_label(choice).check()
        if number == BERGEN:
            await programme.shot("programme-application")
        await p.get_by_label("Hvorfor før søknadsfristen").fill("Fylkesårsmøtet har vedtatt.")
        await programme.submit("Fatt vedtak")
        await shows(programme, "Vedtaket er registrert.")
        await programme.check()
    # The services learnt who decided: the person signed in, not a shared token's name.
    async with httpx.AsyncClient(base_url=services.url("registration"), timeout=30) as api:
        found = await api.get(f"/rounds/{ROUND}/applications/{BERGEN}", headers=PROGRAMME)
    assert found.status_code == 200, found.text
    assert found.json()["decided_by"] == "Kari Programleder"

    # Capacity, a later deadline, the participants export and the attendance page.
    await programme.goto(f"/programme/rounds/{ROUND}")
    await p.get_by_label("Region", exact=True).select_option("vestland")
    await p.get_by_label("Plasser").fill("3")
    await programme.submit("Endre kapasitet")
    await shows(programme, "Kapasiteten er endret.")
    await p.get_by_label("Type", exact=True).select_option("application")
    await p.get_by_label("Fylke (for søknadsfrist)").select_option("46")
    await p.get_by_label("Ny frist").fill((today + timedelta(days=40)).isoformat())
    await programme.submit("Utsett en frist")
    await shows(programme, "Fristen er utsatt.")
    await programme.check()
    export = await p.request.get(f"{web}/programme/rounds/{ROUND}/participants.csv")
    assert export.status == 200
    assert people.member(f"kulturskole-{BERGEN}") in await export.text()
    await programme.goto(f"/programme/rounds/{ROUND}/attendance")

    # Plan semester 1 and schedule a samling on the first suggested date.
    await round_known(services.url("scheduling"), ROUND)
    await programme.goto(f"/programme/rounds/{ROUND}/regions/vestland/plan")
    await p.locator("#semester-number").fill("1")
    await p.get_by_label("Første dag").fill(f"{ROUND}-01-06")
    await p.get_by_label("Siste dag").fill(f"{ROUND}-06-15")
    await programme.submit("Planlegg semesteret")
    await shows(programme, "Semesteret er planlagt.")
    await programme.check()
    await programme.shot("programme-plan")
    title = f"Samling 1 {people.tag}"
    await p.get_by_label("Tittel").fill(title)
    await p.get_by_label("Sted").fill("Grieghallen")
    await p.get_by_label("Adresse").fill("Edvard Griegs plass 1, Bergen")
    await programme.submit("Sett opp samlingen")
    await shows(programme, "Samlingen er satt opp.")
    await programme.check()
    # Moved an hour later, from the samling's own page.
    await p.get_by_role("link", name=title).click()
    await p.wait_for_load_state()
    await programme.check()
    await p.get_by_label("Starter kl.").fill("11:00")
    await p.get_by_label("Slutter kl.").fill("16:00")
    await p.get_by_label("Begrunnelse for flyttingen").fill("Flyet lander senere.")
    await programme.submit("Flytt samlingen")
    await shows(programme, "Samlingen er flyttet.")
    assert "kl. 11.00" in await p.locator("#gathering-when").inner_text()
    await programme.check()
    await programme.goto("/programme/deliveries")
    await programme.shot("programme-deliveries")

    # The board sees the decisions and, once scheduling has it, the samling.
    await board.goto(f"/board/rounds/{ROUND}/applications")
    rows = board.page.locator("tbody tr")
    assert "tatt opp" in await rows.filter(has_text="Bergen").inner_text()
    assert "på venteliste" in await rows.filter(has_text="Askøy").inner_text()
    await board.shot("board-applications")
    await board.goto(f"/board/rounds/{ROUND}/applications/{BERGEN}")
    assert "tatt opp" in await board.page.locator("#application-status").inner_text()
    await board.goto(f"/board/rounds/{ROUND}/calendar")
    assert title in await board.page.locator("main").inner_text()

    # A dialogmøte asked for from the calendar.
    await board.page.get_by_label("Tema for møtet").fill("Oppstart i Askøy")
    await board.submit("Be om et dialogmøte")
    await shows(board, "Forespørselen er sendt.")
    await board.check()

    # Programme management books veiledning for Bergen, from the round's overview.
    await programme.goto(f"/programme/rounds/{ROUND}")
    await p.get_by_role("link", name="Book veiledning \u2013 Vestland").click()
    await p.wait_for_load_state()
    await programme.check()
    supervision = f"Veiledning {people.tag}"
    supervisor = f"veileder-{people.tag}"

    async def book(start: str, end: str) -> str:
        await p.get_by_label("Kommune", exact=True).select_option(label="Bergen")
        await p.get_by_label("Veileder (id)").fill(supervisor)
        await p.get_by_label("Dag", exact=True).fill(f"{ROUND}-03-11")
        await p.get_by_label("Starter kl.").fill(start)
        await p.get_by_label("Slutter kl.").fill(end)
        await p.get_by_label("Tittel (valgfritt)").fill(supervision)
        await p.get_by_label("Sted", exact=True).fill("Bergen rådhus")
        await p.get_by_label("Lenke til digitalt møte").fill("https://mote.example.no/bergen")
        await programme.submit("Book veiledning")
        return await p.locator("main").inner_text()

    async def booked() -> bool:
        # Scheduling learns of Bergen's admission from registration's events: until then
        # it refuses the booking, and the form says so.
        if "Veiledningen er booket." in await book("10:00", "12:00"):
            return True
        await programme.goto(f"/programme/rounds/{ROUND}/regions/vestland/supervisions")
        return False

    await eventually(booked, timeout=60, what="the veiledning booked for Bergen")
    await programme.check()
    assert supervision in await p.locator("#gatherings").inner_text()
    # The same supervisor an hour later overlaps: refused beside the day, the input kept.
    await book("11:00", "13:00")
    await p.locator("#day-error").wait_for()
    assert "Veilederen er allerede booket" in await p.locator("#day-error").inner_text()
    assert await p.get_by_label("Veileder (id)").input_value() == supervisor
    assert await p.get_by_label("Starter kl.").input_value() == "11:00"
    await programme.check()
    await programme.shot("programme-supervision")

    # ... and answers the board's request with a dialogmøte, Askøy invited as well.
    await programme.goto(f"/programme/rounds/{ROUND}")
    await p.get_by_role("link", name="Forespørsler om dialogmøte").click()
    await p.wait_for_load_state()
    await programme.check()
    assert "Styret i Vestland" in await p.locator("#open-requests").inner_text()
    await p.get_by_role("link", name="Oppstart i Askøy \u2013 Sett opp møtet").click()
    await p.wait_for_load_state()
    await programme.check()
    await p.get_by_label("Dag", exact=True).fill(f"{ROUND}-02-10")
    await p.get_by_label("Starter kl.").fill("13:00")
    await p.get_by_label("Slutter kl.").fill("14:30")
    await p.get_by_label("Sted", exact=True).fill("Fylkeshuset")
    await p.get_by_label("Adresse", exact=True).fill("Agnes Mowinckels gate 5, Bergen")
    await p.get_by_label("Askøy", exact=True).check()
    await programme.shot("programme-dialogue-meeting")
    await programme.submit("Sett opp dialogmøtet")
    await shows(programme, "Dialogmøtet er satt opp.")
    assert "Oppstart i Askøy" in await p.locator("#answered-requests").inner_text()
    await programme.check()

    # The board sees both in its region's calendar.
    await board.goto(f"/board/rounds/{ROUND}/calendar")
    shown = await board.page.locator("#gatherings").inner_text()
    assert supervision in shown and "Dialogmøte: Oppstart i Askøy" in shown
    assert f"10. februar {ROUND} kl. 13.00" in shown
    await board.shot("board-calendar")

    # The samling's invitations (Bergen's kommunegruppe, once scheduling has the admission),
    # and an answer recorded for one of them.
    await board.page.get_by_role("link", name=title).click()
    await board.page.wait_for_load_state()
    gathering_url = board.page.url

    async def invited() -> int:
        await board.page.goto(gathering_url)
        return await board.page.locator("#invitations tbody tr").count()

    await eventually(invited, timeout=60, what="the samling's invitations")
    await board.check()
    first = board.page.locator("#invitations tbody tr").first
    await first.get_by_label("Svar").select_option("yes")
    await first.get_by_role("button", name="Lagre svaret").click()
    await board.page.wait_for_load_state()
    await shows(board, "Svaret er lagret.")
    assert "kommer" in await board.page.locator("#invitations tbody tr").first.inner_text()
    await board.shot("board-gathering")

    # The decision reached the kommunegruppe's kulturskole representative by mail.
    async def decision_mail() -> list[dict[str, Any]]:
        return await sink.messages(containing=people.member(f"kulturskole-{BERGEN}"))

    assert await eventually(decision_mail, timeout=60, what="a mail to Bergen's group")

    # Nynorsk, chosen once and kept from page to page.
    await board.page.get_by_label("Språk").select_option("nn")
    await board.submit("Velg")
    assert await board.page.locator("html").get_attribute("lang") == "nn"
    assert board.page.url == gathering_url  # back where the choice was made
    await board.goto("/board")
    assert "Fylkesavdelinga si side" in await board.page.locator("main h1").inner_text()

    # Another county's board is refused Vestland's pages and actions.
    other = await visitor(browser, web, javascript)
    await other.sign_in(sink, people.other_board)
    refused = await other.page.goto(f"{web}/board/rounds/{ROUND}/applications/{BERGEN}")
    assert refused is not None and refused.status == 403
    csrf = await other.page.locator("input[name=csrf]").first.get_attribute("value")
    posted = await other.page.request.post(
        f"{web}/board/rounds/{ROUND}/applications/{BERGEN}/withdrawal",
        form={"csrf": csrf or "", "withdraw-reason": "x"},
    )
    assert posted.status == 403
    await board.goto(f"/board/rounds/{ROUND}/applications/{BERGEN}")
    assert "teken opp" in await board.page.locator("#application-status").inner_text()


async def test_board_and_programme_journey_with_javascript(
    browser: Browser, web: str, sink: SinkClient, people: People, services: ServiceProcesses
) -> None:
    await journey(browser, web, sink, people, True, services)


async def test_board_and_programme_journey_without_javascript(
    browser: Browser, web: str, sink: SinkClient, people: People, services: ServiceProcesses
) -> None:
    await journey(browser, web, sink, people, False, services)
