"""The web front: pages for county boards, programme management and observers.

Server-rendered HTML forms (FastAPI + Jinja2, Designsystemet's CSS) that work without
JavaScript. It holds no programme data: every page reads the services' HTTP APIs as the
signed-in person, and every form sends their commands; a refusal (a problem document) is
shown beside the field it concerns, with what the person entered kept.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiosmtplib
import httpx
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import FormData

from services.web import i18n
from services.web.security import (
    LANGUAGE_COOKIE,
    SECURITY_HEADERS,
    SESSION_COOKIE,
    Person,
    RateLimit,
    Sessions,
    SignInLinks,
    csrf_ok,
    new_csrf,
    person_of,
)
from services.web.services_client import CALLS, Refusal, Reply, Services, Unavailable
from services.web.settings import WebSettings
from shared.reference import ReferenceData

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
ASSETS = HERE / "node_modules" / "@digdir"
GROUP_ROLES = ("kulturskole", "barnehage", "sfo", "grunnskole", "annen")
THEMES = ("medvirkning", "bærekraft", "innovasjon", "samskaping")
KINDS = ("presamling", "samling", "delingsarena")
STATUSES = ("draft", "submitted", "admitted", "waitlisted", "declined", "withdrawn", "revoked")

Mailer = Callable[[EmailMessage], Awaitable[None]]


class PageError(Exception):
    """Ends a request with a page saying why (403, 404, 503, ...)."""

    def __init__(self, status: int, key: str, detail: str = "") -> None:
        super().__init__(key)
        self.status, self.key, self.detail = status, key, detail


def smtp_mailer(settings: WebSettings) -> Mailer:
    async def send(message: EmailMessage) -> None:
        await aiosmtplib.send(
            message,
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            start_tls=settings.smtp_starttls,
            use_tls=settings.smtp_tls,
            username=settings.smtp_username or None,
            password=settings.smtp_password or None,
            timeout=30,
        )

    return send


def create_app(
    settings: WebSettings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    mailer: Mailer | None = None,
) -> FastAPI:
    services = Services(settings, transport)
    sessions = Sessions(settings.secret_key, settings.session_max_age_s)
    links = SignInLinks(settings.secret_key, settings.sign_in_link_ttl_s)
    per_address = RateLimit(settings.sign_in_per_address_per_hour)
    per_client = RateLimit(settings.sign_in_per_client_per_hour)
    send_mail = mailer or smtp_mailer(settings)
    reference = ReferenceData.load()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> Any:
        yield
        await services.close()

    app = FastAPI(
        title="Fremtidens kulturskole: web",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.services = services
    app.state.links = links
    jinja = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )

    app.mount("/static/app", StaticFiles(directory=HERE / "static"), name="static")
    # Designsystemet, installed by npm at set-up (package.json beside this file); served from
    # here, never from a CDN.
    app.mount(
        "/static/ds/css",
        StaticFiles(directory=ASSETS / "designsystemet-css" / "dist" / "src", check_dir=False),
        name="ds-css",
    )
    app.mount(
        "/static/ds/theme",
        StaticFiles(directory=ASSETS / "designsystemet-theme" / "brand", check_dir=False),
        name="ds-theme",
    )

    # --- session, language, headers ---------------------------------------------------------

    @app.middleware("http")
    async def session_middleware(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        calls = [0]
        CALLS.set(calls)
        session = sessions.load(request.cookies.get(SESSION_COOKIE))
        before = dict(session)
        if "csrf" not in session:
            session["csrf"] = new_csrf()
        request.state.session = session
        request.state.lang = i18n.pick_language(
            request.cookies.get(LANGUAGE_COOKIE), request.headers.get("accept-language")
        )
        try:
            response = await call_next(request)
        except PageError as error:  # raised in a dependency before the route's handler
            response = error_page(request, error)
        if session != before:
            response.set_cookie(
                SESSION_COOKIE,
                sessions.dump(session),
                max_age=settings.session_max_age_s,
                httponly=True,
                secure=settings.cookie_secure,
                samesite="lax",
            )
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        # What the page cost: calls to the services and time (bench/web_pages.py reads them).
        response.headers["X-Service-Calls"] = str(calls[0])
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
        if response.headers.get("content-type", "").startswith("text/html"):
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.exception_handler(PageError)
    async def page_error(request: Request, error: PageError) -> Response:
        return error_page(request, error)

    @app.exception_handler(Unavailable)
    async def unavailable(request: Request, error: Unavailable) -> Response:
        log.warning("service unavailable", extra={"reason": str(error)})
        return error_page(request, PageError(503, "service_down"))

    def error_page(request: Request, error: PageError) -> Response:
        return render(
            request,
            "error.html.j2",
            {"message_key": error.key, "detail": error.detail},
            status=error.status,
        )

    def render(
        request: Request, template: str, context: dict[str, Any], status: int = 200
    ) -> HTMLResponse:
        lang = request.state.lang
        session = request.state.session
        page = jinja.get_template(template).render(
            lang=lang,
            label=lambda field: field_label(field, lang),
            t=lambda key: i18n.t(key, lang),
            fdate=lambda value: i18n.format_date(value, lang),
            fdatetime=lambda value: i18n.format_datetime(value, lang),
            person=person_of(session),
            csrf=session["csrf"],
            path=request.url.path,
            query=str(request.url.query),
            flash=session.pop("flash", None),
            **context,
        )
        return HTMLResponse(page, status_code=status)

    def redirect(url: str, flash: str | None = None, request: Request | None = None) -> Response:
        if flash and request is not None:
            request.state.session["flash"] = flash
        return RedirectResponse(url, status_code=303)

    async def form_of(request: Request) -> FormData:
        """The posted form, once its CSRF token matches the session's."""
        form = await request.form()
        given = form.get("csrf")
        if not csrf_ok(request.state.session, given if isinstance(given, str) else None):
            raise PageError(403, "forbidden", "CSRF")
        return form

    def signed_in(request: Request, *roles: str) -> Person:
        person = person_of(request.state.session)
        if person is not None and who_is(person.email) != person:
            # No longer on the staff list or a board's contact (or moved): signed out now,
            # not when the session would have run out.
            request.state.session.clear()
            request.state.session["csrf"] = new_csrf()
            person = None
        if person is None:
            raise PageError(401, "sign_in_needed")
        if roles and person.role not in roles:
            raise PageError(403, "forbidden")
        return person

    def own_municipality(person: Person, number: str) -> str:
        """A municipality of the board's own branch, or 403: a board acts for its own only."""
        municipality = reference.municipalities.get(number)
        branch = reference.branches.get(person.branch or "")
        if municipality is None:
            raise PageError(404, "not_found")
        if branch is None or municipality.county_number not in branch.county_numbers:
            raise PageError(403, "forbidden")
        return municipality.name

    def branch_municipalities(branch_id: str | None) -> list[tuple[str, str]]:
        branch = reference.branches.get(branch_id or "")
        if branch is None:
            return []
        found = [
            (m.number, m.name)
            for m in reference.municipalities.values()
            if m.county_number in branch.county_numbers
        ]
        return sorted(found, key=lambda m: m[1])

    def lang_of(request: Request) -> str:
        lang: str = request.state.lang
        return lang

    async def read(service: str, path: str, person: Person, request: Request, **params: Any) -> Any:
        reply = await services.get(service, path, person, lang_of(request), **params)
        if reply.status == 404:
            raise PageError(404, "not_found", Refusal.of(reply).detail)
        if reply.status in (401, 403):
            raise PageError(403, "forbidden", Refusal.of(reply).detail)
        if not reply.ok:
            raise PageError(reply.status, "not_found", Refusal.of(reply).detail)
        return reply.body

    # --- plumbing routes ----------------------------------------------------------------------

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        # Without Designsystemet's files the pages would be unstyled: not ready.
        assets = (ASSETS / "designsystemet-css" / "dist" / "src" / "index.css").is_file()
        return JSONResponse(
            {"status": "ok" if assets else "assets missing", "assets": assets},
            status_code=200 if assets else 503,
        )

    @app.post("/language")
    async def choose_language(request: Request) -> Response:
        form = await form_of(request)
        lang = str(form.get("lang", ""))
        target = str(form.get("next", "/"))
        if not target.startswith("/") or target.startswith("//"):
            target = "/"  # only back to a page of this site
        response = redirect(target)
        if lang in i18n.LANGUAGES:
            response.set_cookie(
                LANGUAGE_COOKIE,
                lang,
                max_age=365 * 24 * 3600,
                httponly=True,
                secure=settings.cookie_secure,
                samesite="lax",
            )
        return response

    @app.get("/")
    async def home(request: Request) -> Response:
        person = person_of(request.state.session)
        if person is None:
            return redirect("/sign-in")
        return redirect(
            {"programme": "/programme", "county_board": "/board", "observer": "/observer"}.get(
                person.role, "/sign-in"
            )
        )

    # --- sign-in -----------------------------------------------------------------------------

    @app.get("/sign-in")
    async def sign_in_form(request: Request) -> Response:
        return render(request, "sign_in.html.j2", {"values": {}, "errors": {}})

    def who_is(email: str) -> Person | None:
        staff = settings.staff.get(email)
        if staff and staff.get("role") in ("programme", "observer"):
            return Person(staff["role"], staff.get("name", email), email)
        board = settings.board_contacts.get(email)
        if board:
            branch = reference.branch(board.get("branch", ""))
            if branch is not None:
                return Person("county_board", board.get("name", email), email, branch.id)
        return None

    @app.post("/sign-in")
    async def request_link(request: Request) -> Response:
        form = await form_of(request)
        email = str(form.get("email", "")).strip().lower()
        lang = lang_of(request)
        if "@" not in email or len(email) > 320:
            return render(
                request,
                "sign_in.html.j2",
                {"values": {"email": email}, "errors": {"email": i18n.t("email_invalid", lang)}},
                status=422,
            )
        client = request.client.host if request.client else "?"
        # Counted for every address alike, so a refusal says nothing of who is known.
        if not (per_client.allow(client) and per_address.allow(email)):
            return render(request, "sign_in_sent.html.j2", {"key": "too_many"}, status=429)
        person = who_is(email)
        if person is not None:
            link = (
                f"{settings.public_url.rstrip('/')}/sign-in/link?token={quote(links.make(email))}"
            )
            message = EmailMessage()
            message["From"] = settings.mail_from
            message["To"] = email
            message["Subject"] = i18n.t("mail_subject", lang)
            message.set_content(
                i18n.t("mail_body", lang).format(
                    name=person.name, link=link, minutes=settings.sign_in_link_ttl_s // 60
                )
            )
            try:
                await send_mail(message)
            except (aiosmtplib.SMTPException, OSError) as error:
                # The same answer as for an unknown address; the log says what went wrong.
                log.warning("sign-in mail not sent", extra={"reason": type(error).__name__})
        return render(request, "sign_in_sent.html.j2", {"key": "link_sent"})

    @app.get("/sign-in/link")
    async def confirm_link(request: Request, token: str = "") -> Response:
        # A GET only shows a button: mail scanners that open links must not spend them.
        email = links.peek(token)
        person = who_is(email) if email else None
        if person is None:
            return render(request, "sign_in_sent.html.j2", {"key": "link_invalid"}, status=400)
        return render(request, "sign_in_confirm.html.j2", {"token": token, "who": person})

    @app.post("/sign-in/link")
    async def use_link(request: Request) -> Response:
        form = await form_of(request)
        email = links.spend(str(form.get("token", "")))
        person = who_is(email) if email else None
        if person is None:
            return render(request, "sign_in_sent.html.j2", {"key": "link_invalid"}, status=400)
        session = request.state.session
        session.clear()
        # A fresh CSRF token with the new identity.
        session.update(csrf=new_csrf(), person=person.__dict__)
        return redirect("/")

    @app.post("/sign-out")
    async def sign_out(request: Request) -> Response:
        await form_of(request)
        request.state.session.clear()
        request.state.session["csrf"] = new_csrf()
        return redirect("/sign-in")

    # --- county board ------------------------------------------------------------------------

    @app.get("/board")
    async def board_home(request: Request) -> Response:
        person = signed_in(request, "county_board")
        rounds = await read("registration", "/rounds", person, request)
        branch = reference.branches.get(person.branch or "")
        counties = set(branch.county_numbers) if branch else set()
        for found in rounds:
            found["own_windows"] = [w for w in found["windows"] if w["county_number"] in counties]
        return render(
            request,
            "board_home.html.j2",
            {"rounds": rounds, "branch": branch},
        )

    async def interest_of(person: Person, request: Request, round_id: str) -> dict[str, Any]:
        found = await read(
            "registration",
            f"/rounds/{round_id}/interest-registrations",
            person,
            request,
            branch=person.branch,
        )
        if not found:
            return {"municipality_numbers": [], "contact-language": lang_of(request)}
        mine = found[0]
        return {
            "municipality_numbers": [m["number"] for m in mine["municipalities"]],
            "contact-name": mine["contact"]["name"] or "",
            "contact-email": mine["contact"]["email"] or "",
            "contact-phone": mine["contact"]["phone"] or "",
            "contact-language": mine["contact"]["language"],
            "message": mine["message"],
            "registered": True,
        }

    @app.get("/board/rounds/{round_id}/interest")
    async def interest_form(request: Request, round_id: str) -> Response:
        person = signed_in(request, "county_board")
        values = await interest_of(person, request, round_id)
        return render(request, "board_interest.html.j2", interest_context(person, round_id, values))

    def interest_context(
        person: Person,
        round_id: str,
        values: dict[str, Any],
        errors: dict[str, str] | None = None,
        general: str = "",
    ) -> dict[str, Any]:
        return {
            "round_id": round_id,
            "values": values,
            "errors": errors or {},
            "general": general,
            "municipalities": branch_municipalities(person.branch),
            "branch": reference.branches.get(person.branch or ""),
        }

    @app.post("/board/rounds/{round_id}/interest")
    async def register_interest(request: Request, round_id: str) -> Response:
        person = signed_in(request, "county_board")
        form = await form_of(request)
        values: dict[str, Any] = {
            "municipality_numbers": [str(n) for n in form.getlist("municipality_numbers")],
            **{
                k: str(form.get(k, "")).strip()
                for k in (
                    "contact-name",
                    "contact-email",
                    "contact-phone",
                    "contact-language",
                    "message",
                )
            },
        }
        for number in values["municipality_numbers"]:
            own_municipality(person, number)
        branch = reference.branches[person.branch or ""]
        contact: dict[str, Any] = {
            "name": values["contact-name"],
            "email": values["contact-email"],
            "language": values["contact-language"] or "nb",
        }
        if values["contact-phone"]:
            contact["phone"] = values["contact-phone"]
        reply = await services.post(
            "registration",
            "/interest-registrations",
            person,
            lang_of(request),
            {
                "round_id": round_id,
                "branch": branch.name,
                "municipality_numbers": values["municipality_numbers"],
                "contact": contact,
                "message": values["message"],
            },
        )
        if not reply.ok:
            return refused(
                request,
                "board_interest.html.j2",
                reply,
                lambda e, g: interest_context(person, round_id, values, e, g),
            )
        return redirect(f"/board?round={round_id}", "interest_saved", request)

    def refused(
        request: Request,
        template: str,
        reply: Reply,
        context: Callable[[dict[str, str], str], dict[str, Any]],
    ) -> Response:
        """The form again, as it was sent, with the service's reasons beside the fields."""
        if reply.status in (401, 403) and not isinstance(reply.body, dict):
            raise PageError(403, "forbidden")
        refusal = Refusal.of(reply)
        errors = {field_id(k): v for k, v in refusal.fields.items()}
        return render(request, template, context(errors, refusal.detail), status=reply.status)

    @app.get("/board/rounds/{round_id}/applications")
    async def board_applications(request: Request, round_id: str) -> Response:
        person = signed_in(request, "county_board")
        found = await read(
            "registration",
            f"/rounds/{round_id}/applications",
            person,
            request,
            branch=person.branch,
        )
        by_number = {a["municipality_number"]: a for a in found}
        interest = await interest_of(person, request, round_id)
        rows = [
            {
                "number": n,
                "name": name,
                "application": by_number.get(n),
                "interested": n in interest["municipality_numbers"],
            }
            for n, name in branch_municipalities(person.branch)
            if n in by_number or n in interest["municipality_numbers"]
        ]
        return render(request, "board_applications.html.j2", {"round_id": round_id, "rows": rows})

    def application_values(found: dict[str, Any] | None) -> dict[str, Any]:
        if not found:
            return {"themes": [], "development_areas": [], "group": [{} for _ in range(2)]}
        group = [
            {
                "name": m.get("name") or "",
                "email": m.get("email") or "",
                "phone": m.get("phone") or "",
                "role": m["role"],
                "organisation": m["organisation"],
                "commits": m["commits_to_gatherings"],
            }
            for m in found["group"]
        ]
        return {
            "motivation": found["motivation"],
            "co_creation_plan": found["co_creation_plan"],
            "themes": found["themes"],
            "development_areas": found["development_areas"],
            "own_development_areas": "\n".join(found["own_development_areas"]),
            # A free row to add one more; a kulturskole and a partner at least.
            "group": [*group, {}] + [{}] * max(0, 1 - len(group)),
        }

    async def application_of(
        person: Person, request: Request, round_id: str, number: str
    ) -> dict[str, Any] | None:
        reply = await services.get(
            "registration", f"/rounds/{round_id}/applications/{number}", person, lang_of(request)
        )
        if reply.status == 404:
            return None
        if reply.status == 403:
            raise PageError(403, "forbidden")
        if not reply.ok:
            raise PageError(reply.status, "not_found", Refusal.of(reply).detail)
        found: dict[str, Any] = reply.body
        return found

    def application_context(
        round_id: str,
        number: str,
        name: str,
        found: dict[str, Any] | None,
        values: dict[str, Any],
        errors: dict[str, str] | None = None,
        general: str = "",
        adopted: list[str] | None = None,
    ) -> dict[str, Any]:
        return {
            "round_id": round_id,
            "number": number,
            "name": name,
            "adopted": adopted or [],
            "application": found,
            "values": values,
            "errors": errors or {},
            "general": general,
            "roles": GROUP_ROLES,
            "themes": THEMES,
        }

    async def adopted_areas(person: Person, request: Request, round_id: str) -> list[str]:
        """The development areas the board's branch has adopted for the round."""
        found = await read("registration", f"/rounds/{round_id}/development-areas", person, request)
        for branch in found:
            if branch["branch_id"] == person.branch:
                return [str(a) for a in branch["areas"]]
        return []

    @app.get("/board/rounds/{round_id}/applications/{number}")
    async def application_form(request: Request, round_id: str, number: str) -> Response:
        person = signed_in(request, "county_board")
        name = own_municipality(person, number)
        found = await application_of(person, request, round_id, number)
        return render(
            request,
            "board_application.html.j2",
            application_context(
                round_id,
                number,
                name,
                found,
                application_values(found),
                adopted=await adopted_areas(person, request, round_id),
            ),
        )

    def posted_application(form: FormData) -> dict[str, Any]:
        rows = int(str(form.get("rows", "2")) or 2)
        group: list[dict[str, Any]] = []
        for i in range(min(rows, 30)):
            member: dict[str, Any] = {
                k: str(form.get(f"group-{i}-{k}", "")).strip()
                for k in ("name", "email", "phone", "role", "organisation")
            }
            member["commits"] = form.get(f"group-{i}-commits") == "on"
            group.append(member)
        return {
            "motivation": str(form.get("motivation", "")),
            "co_creation_plan": str(form.get("co_creation_plan", "")),
            "themes": [str(v) for v in form.getlist("themes")],
            "development_areas": [str(v) for v in form.getlist("development_areas")],
            "own_development_areas": str(form.get("own_development_areas", "")),
            "group": group,
        }

    def draft_body(
        round_id: str, number: str, values: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[int, int]]:
        """The draft command from the form's values, and each member's row on the form.

        Rows left empty are not members; the row index is kept so that a reason the service
        gives for `group.0` lands beside the right row."""
        group: list[dict[str, Any]] = []
        index_of: dict[int, int] = {}
        for i, m in enumerate(values["group"]):
            if not any(m.get(k) for k in ("name", "email", "phone", "organisation")):
                continue
            index_of[len(group)] = i
            member: dict[str, Any] = {
                "name": m["name"],
                "email": m["email"],
                "role": m["role"] or "annen",
                "organisation": m["organisation"],
                "commits_to_gatherings": m["commits"],
                "language": "nb",
            }
            if m.get("phone"):
                member["phone"] = m["phone"]
            group.append(member)
        body = {
            "round_id": round_id,
            "municipality_number": number,
            "motivation": values.get("motivation", ""),
            "co_creation_plan": values.get("co_creation_plan", ""),
            "themes": values.get("themes", []),
            "development_areas": values.get("development_areas", []),
            # One a line, as the form asks.
            "own_development_areas": [
                line.strip()
                for line in values.get("own_development_areas", "").splitlines()
                if line.strip()
            ],
            "group": group,
        }
        return body, index_of

    def mapped_errors(
        errors: dict[str, str], index_of: dict[int, int], adopted: list[str]
    ) -> dict[str, str]:
        """The service's field names as the form's: `group-0-email` is row index_of[0]."""
        mapped = {}
        for key, reason in errors.items():
            parts = key.split("-")
            if len(parts) >= 3 and parts[0] == "group" and parts[1].isdigit():
                parts[1] = str(index_of.get(int(parts[1]), int(parts[1])))
            field = "-".join(parts)
            if field == "development_areas" and not adopted:
                field = "own_development_areas"  # the only areas field the form shows
            mapped[field] = reason
        return mapped

    # One question per page, as Designsystemet advises for a long form: the same
    # application in four steps, each saved as a draft before the next.
    STEPS: dict[int, tuple[str, ...]] = {
        1: ("motivation",),
        2: ("themes", "development_areas", "own_development_areas"),
        3: ("co_creation_plan",),
        4: ("group",),
    }

    @app.get("/board/rounds/{round_id}/applications/{number}/steps/{step}")
    async def application_step(request: Request, round_id: str, number: str, step: int) -> Response:
        person = signed_in(request, "county_board")
        name = own_municipality(person, number)
        if step not in STEPS:
            raise PageError(404, "not_found")
        found = await application_of(person, request, round_id, number)
        context = application_context(
            round_id,
            number,
            name,
            found,
            application_values(found),
            adopted=await adopted_areas(person, request, round_id),
        )
        return render(request, "board_application.html.j2", {**context, "step": step})

    @app.post("/board/rounds/{round_id}/applications/{number}/steps/{step}")
    async def save_step(request: Request, round_id: str, number: str, step: int) -> Response:
        person = signed_in(request, "county_board")
        name = own_municipality(person, number)
        if step not in STEPS:
            raise PageError(404, "not_found")
        form = await form_of(request)
        found = await application_of(person, request, round_id, number)
        adopted = await adopted_areas(person, request, round_id)
        # This step's answers over what the draft already holds: nothing else is lost.
        posted = posted_application(form)
        values = {**application_values(found), **{k: posted[k] for k in STEPS[step]}}
        if form.get("action") == "add_member":
            values["group"].append({})
            context = application_context(round_id, number, name, found, values, adopted=adopted)
            return render(request, "board_application.html.j2", {**context, "step": step})
        body, index_of = draft_body(round_id, number, values)
        reply = await services.post(
            "registration", "/application-drafts", person, lang_of(request), body
        )
        if not reply.ok:
            return refused(
                request,
                "board_application.html.j2",
                reply,
                lambda e, g: {
                    **application_context(
                        round_id,
                        number,
                        name,
                        found,
                        values,
                        mapped_errors(e, index_of, adopted),
                        g,
                        adopted,
                    ),
                    "step": step,
                },
            )
        base = f"/board/rounds/{round_id}/applications/{number}"
        if step < max(STEPS):
            return redirect(f"{base}/steps/{step + 1}", "saved", request)
        return redirect(base, "saved", request)

    @app.post("/board/rounds/{round_id}/applications/{number}")
    async def save_application(request: Request, round_id: str, number: str) -> Response:
        person = signed_in(request, "county_board")
        name = own_municipality(person, number)
        form = await form_of(request)
        values = posted_application(form)
        action = str(form.get("action", "save"))
        adopted = await adopted_areas(person, request, round_id)
        if action == "add_member":
            values["group"].append({})
            found = await application_of(person, request, round_id, number)
            return render(
                request,
                "board_application.html.j2",
                application_context(round_id, number, name, found, values, adopted=adopted),
            )
        body, index_of = draft_body(round_id, number, values)
        lang = lang_of(request)

        def context(errors: dict[str, str], general: str) -> dict[str, Any]:
            return application_context(
                round_id,
                number,
                name,
                None,
                values,
                mapped_errors(errors, index_of, adopted),
                general,
                adopted,
            )

        reply = await services.post("registration", "/application-drafts", person, lang, body)
        if not reply.ok:
            return refused(request, "board_application.html.j2", reply, context)
        if action == "submit":
            reply = await services.post(
                "registration",
                "/application-submissions",
                person,
                lang,
                {"round_id": round_id, "municipality_number": number},
            )
            if not reply.ok:
                return refused(request, "board_application.html.j2", reply, context)
            return redirect(f"/board/rounds/{round_id}/applications/{number}", "submitted", request)
        return redirect(f"/board/rounds/{round_id}/applications/{number}", "saved", request)

    @app.post("/board/rounds/{round_id}/applications/{number}/withdrawal")
    async def withdraw(request: Request, round_id: str, number: str) -> Response:
        person = signed_in(request, "county_board")
        name = own_municipality(person, number)
        form = await form_of(request)
        reason = str(form.get("withdraw-reason", "")).strip()
        reply = await services.post(
            "registration",
            "/withdrawals",
            person,
            lang_of(request),
            {"round_id": round_id, "municipality_number": number, "reason": reason},
        )
        if not reply.ok:
            found = await application_of(person, request, round_id, number)

            def context(errors: dict[str, str], general: str) -> dict[str, Any]:
                return application_context(
                    round_id,
                    number,
                    name,
                    found,
                    application_values(found),
                    {f"withdraw-{k}": v for k, v in errors.items()},
                    general,
                )

            return refused(request, "board_application.html.j2", reply, context)
        return redirect(f"/board/rounds/{round_id}/applications/{number}", "withdrawn_ok", request)

    async def calendar_page(
        request: Request,
        person: Person,
        round_id: str,
        values: dict[str, Any] | None = None,
        errors: dict[str, str] | None = None,
        general: str = "",
        status: int = 200,
    ) -> Response:
        calendar = await read(
            "scheduling", f"/rounds/{round_id}/regions/{person.branch}/calendar", person, request
        )
        return render(
            request,
            "calendar.html.j2",
            {
                "round_id": round_id,
                "calendar": calendar,
                "detail_base": f"/board/rounds/{round_id}/gatherings",
                "values": values or {},
                "errors": errors or {},
                "general": general,
            },
            status=status,
        )

    @app.get("/board/rounds/{round_id}/calendar")
    async def board_calendar(request: Request, round_id: str) -> Response:
        person = signed_in(request, "county_board")
        return await calendar_page(request, person, round_id)

    @app.post("/board/rounds/{round_id}/dialogue-requests")
    async def request_dialogue(request: Request, round_id: str) -> Response:
        person = signed_in(request, "county_board")
        form = await form_of(request)
        values = {k: str(form.get(k, "")).strip() for k in ("topic", "wished_dates")}
        wished = [d for d in re.split(r"[\s,;]+", values["wished_dates"]) if d]
        reply = await services.post(
            "scheduling",
            "/dialogue-requests",
            person,
            lang_of(request),
            {
                "round_id": round_id,
                "region": person.branch,
                "topic": values["topic"],
                "wished_dates": wished,
            },
        )
        if not reply.ok:
            refusal = Refusal.of(reply)
            errors = {
                ("wished_dates" if k.startswith("wished_dates") else field_id(k)): v
                for k, v in refusal.fields.items()
            }
            return await calendar_page(
                request, person, round_id, values, errors, refusal.detail, reply.status
            )
        return redirect(f"/board/rounds/{round_id}/calendar", "dialogue_requested", request)

    async def gathering_page(
        request: Request,
        person: Person,
        round_id: str,
        gathering_id: uuid.UUID,
        general: str = "",
        status: int = 200,
    ) -> Response:
        gathering = await read("scheduling", f"/gatherings/{gathering_id}", person, request)
        if gathering["region"] != person.branch:
            raise PageError(403, "forbidden")
        for invitation in gathering.get("invitations", []):
            municipality = reference.municipalities.get(invitation["municipality_number"] or "")
            invitation["municipality_name"] = municipality.name if municipality else ""
        begun = dt.datetime.fromisoformat(gathering["starts_at"]) <= dt.datetime.now(dt.UTC)
        return render(
            request,
            "board_gathering.html.j2",
            {
                "round_id": round_id,
                "gathering": gathering,
                "general": general,
                "errors": {},
                "begun": begun,
            },
            status=status,
        )

    @app.get("/board/rounds/{round_id}/gatherings/{gathering_id}")
    async def board_gathering(request: Request, round_id: str, gathering_id: uuid.UUID) -> Response:
        person = signed_in(request, "county_board")
        return await gathering_page(request, person, round_id, gathering_id)

    @app.post("/board/rounds/{round_id}/gatherings/{gathering_id}/attendance")
    async def record_attendance(
        request: Request, round_id: str, gathering_id: uuid.UUID
    ) -> Response:
        person = signed_in(request, "county_board")
        form = await form_of(request)
        present = [str(v) for v in form.getlist("present")]
        reply = await services.post(
            "scheduling",
            "/attendance",
            person,
            lang_of(request),
            {
                "gathering_id": str(gathering_id),
                "region": person.branch,
                # A person by id, a municipality invited as such by its number.
                "present_persons": [v[2:] for v in present if v.startswith("p:")],
                "present_municipalities": [v[2:] for v in present if v.startswith("m:")],
            },
        )
        if not reply.ok:
            if reply.status in (401, 403):
                raise PageError(403, "forbidden", Refusal.of(reply).detail)
            return await gathering_page(
                request, person, round_id, gathering_id, Refusal.of(reply).detail, reply.status
            )
        return redirect(
            f"/board/rounds/{round_id}/gatherings/{gathering_id}", "attendance_saved", request
        )

    @app.post("/board/rounds/{round_id}/gatherings/{gathering_id}/rsvps")
    async def record_rsvp(request: Request, round_id: str, gathering_id: uuid.UUID) -> Response:
        person = signed_in(request, "county_board")
        form = await form_of(request)
        body: dict[str, Any] = {
            "gathering_id": str(gathering_id),
            "region": person.branch,
            "response": str(form.get("response", "")),
        }
        if form.get("person_id"):
            body["person_id"] = str(form.get("person_id"))
        else:
            body["municipality_number"] = str(form.get("municipality_number", ""))
        reply = await services.post("scheduling", "/rsvps", person, lang_of(request), body)
        if not reply.ok:
            if reply.status in (401, 403):
                raise PageError(403, "forbidden", Refusal.of(reply).detail)
            return await gathering_page(
                request, person, round_id, gathering_id, Refusal.of(reply).detail, reply.status
            )
        return redirect(
            f"/board/rounds/{round_id}/gatherings/{gathering_id}", "answer_saved", request
        )

    # --- programme management ----------------------------------------------------------------

    @app.get("/programme")
    async def programme_home(request: Request) -> Response:
        person = signed_in(request, "programme")
        rounds = await read("registration", "/rounds", person, request)
        return render(
            request,
            "programme_home.html.j2",
            {"rounds": rounds, "values": {}, "errors": {}, "general": ""},
        )

    @app.post("/programme/rounds")
    async def open_round(request: Request) -> Response:
        person = signed_in(request, "programme")
        form = await form_of(request)
        values = {
            k: str(form.get(k, "")).strip() for k in ("round_id", "interest_deadline", "capacity")
        }
        capacity: dict[str, int] = {}
        errors: dict[str, str] = {}
        for part in filter(None, (p.strip() for p in values["capacity"].split(","))):
            region, _, places = part.partition("=")
            if not places.strip().isdigit():
                errors["capacity"] = i18n.t("capacity_hint", lang_of(request))
                break
            capacity[region.strip()] = int(places)
        body: dict[str, Any] = {"round_id": values["round_id"], "capacity_per_branch": capacity}
        if values["interest_deadline"]:
            body["interest_deadline"] = values["interest_deadline"]
        if errors:
            rounds = await read("registration", "/rounds", person, request)
            return render(
                request,
                "programme_home.html.j2",
                {"rounds": rounds, "values": values, "errors": errors, "general": ""},
                status=422,
            )
        reply = await services.post("registration", "/rounds", person, lang_of(request), body)
        if not reply.ok:
            rounds = await read("registration", "/rounds", person, request)
            return refused(
                request,
                "programme_home.html.j2",
                reply,
                lambda e, g: {
                    "rounds": rounds,
                    "values": values,
                    "errors": {
                        ("capacity" if k.startswith("capacity") else k): v for k, v in e.items()
                    },
                    "general": g,
                },
            )
        return redirect(f"/programme/rounds/{values['round_id']}", "round_opened", request)

    async def round_page(
        request: Request,
        person: Person,
        round_id: str,
        values: dict[str, Any] | None = None,
        errors: dict[str, str] | None = None,
        general: str = "",
        status: int = 200,
    ) -> Response:
        found = await read("registration", f"/rounds/{round_id}", person, request)
        counts = await read("registration", f"/rounds/{round_id}/status", person, request)
        applications = await read(
            "registration", f"/rounds/{round_id}/applications", person, request
        )
        return render(
            request,
            "programme_round.html.j2",
            {
                "round_id": round_id,
                "round": found,
                "counts": counts,
                "applications": [a for a in applications if a["status"] != "draft"],
                "drafts": [a for a in applications if a["status"] == "draft"],
                # Per region, in the order they were wait-listed (the API gives no place
                # number; registration promotes in that order).
                "waiting": sorted(
                    (a for a in applications if a["status"] == "waitlisted"),
                    key=lambda a: (a["branch_name"], a["decided_at"] or ""),
                ),
                "counties": sorted(reference.counties.items(), key=lambda c: c[1]),
                "branches": sorted(reference.branches.values(), key=lambda b: b.name),
                "regions": [
                    (b.id, b.name)
                    for b in sorted(reference.branches.values(), key=lambda b: b.name)
                ],
                "values": values or {},
                "errors": errors or {},
                "general": general,
            },
            status=status,
        )

    @app.get("/programme/rounds/{round_id}")
    async def programme_round(request: Request, round_id: str) -> Response:
        person = signed_in(request, "programme")
        return await round_page(request, person, round_id)

    @app.post("/programme/rounds/{round_id}/windows")
    async def open_window(request: Request, round_id: str) -> Response:
        person = signed_in(request, "programme")
        form = await form_of(request)
        values = {
            k: str(form.get(k, "")).strip() for k in ("county_number", "opens_on", "deadline")
        }
        reply = await services.post(
            "registration",
            "/application-windows",
            person,
            lang_of(request),
            {"round_id": round_id, **values},
        )
        if not reply.ok:
            refusal = Refusal.of(reply)
            return await round_page(
                request,
                person,
                round_id,
                values,
                {field_id(k): v for k, v in refusal.fields.items()},
                refusal.detail,
                status=reply.status,
            )
        return redirect(f"/programme/rounds/{round_id}", "window_opened", request)

    async def round_command(
        request: Request,
        round_id: str,
        path: str,
        fields: tuple[str, ...],
        body_of: Callable[[dict[str, str]], dict[str, Any]],
        done: str,
    ) -> Response:
        """A form of the round page that sends one command; refused: the page again."""
        person = signed_in(request, "programme")
        form = await form_of(request)
        values = {k: str(form.get(k, "")).strip() for k in fields}
        prefix = fields[0].split("-")[0]
        reply = await services.post(
            "registration",
            path,
            person,
            lang_of(request),
            {"round_id": round_id, **body_of(values)},
        )
        if not reply.ok:
            refusal = Refusal.of(reply)
            errors = {}
            for key, reason in refusal.fields.items():
                own = f"{prefix}-{field_id(key).split('-')[0]}"
                errors[own if own in fields else fields[-1]] = reason
            return await round_page(
                request, person, round_id, values, errors, refusal.detail, status=reply.status
            )
        return redirect(f"/programme/rounds/{round_id}", done, request)

    @app.post("/programme/rounds/{round_id}/capacity")
    async def change_capacity(request: Request, round_id: str) -> Response:
        def body(v: dict[str, str]) -> dict[str, Any]:
            places = (
                int(v["capacity-places"])
                if v["capacity-places"].isdigit()
                else v["capacity-places"]
            )
            return {"capacity_per_branch": {v["capacity-region"]: places}}

        return await round_command(
            request,
            round_id,
            "/capacity-changes",
            ("capacity-region", "capacity-places"),
            body,
            "capacity_changed",
        )

    @app.post("/programme/rounds/{round_id}/deadline")
    async def extend_deadline(request: Request, round_id: str) -> Response:
        def body(v: dict[str, str]) -> dict[str, Any]:
            found: dict[str, Any] = {
                "kind": v["extend-kind"],
                "new_deadline": v["extend-new_deadline"],
            }
            if v["extend-kind"] == "application":
                found["county_number"] = v["extend-county_number"]
            return found

        return await round_command(
            request,
            round_id,
            "/deadline-extensions",
            ("extend-kind", "extend-county_number", "extend-new_deadline"),
            body,
            "deadline_extended",
        )

    @app.get("/programme/rounds/{round_id}/participants.csv")
    async def participants(request: Request, round_id: str) -> Response:
        person = signed_in(request, "programme")
        found = await services.download(
            "registration",
            f"/rounds/{round_id}/participants.csv",
            person,
            lang_of(request),
            delimiter="semicolon",
        )
        if found.status_code != 200:
            raise PageError(found.status_code if found.status_code < 500 else 503, "not_found")
        return Response(
            found.content,
            media_type=found.headers.get("content-type", "text/csv"),
            headers={"Content-Disposition": f'attachment; filename="deltakere-{round_id}.csv"'},
        )

    @app.get("/programme/rounds/{round_id}/attendance")
    async def attendance(request: Request, round_id: str) -> Response:
        person = signed_in(request, "programme")
        found = await read("scheduling", f"/rounds/{round_id}/attendance", person, request)
        for row in found["municipalities"]:
            municipality = reference.municipalities.get(row["municipality_number"])
            row["name"] = municipality.name if municipality else row["municipality_number"]
        return render(
            request,
            "programme_attendance.html.j2",
            {"round_id": round_id, "rates": found["municipalities"]},
        )

    @app.post("/programme/rounds/{round_id}/closure")
    async def close_round(request: Request, round_id: str) -> Response:
        return await end_round(request, round_id, "/round-closures", "round_closed")

    @app.post("/programme/rounds/{round_id}/cancellation")
    async def cancel_round(request: Request, round_id: str) -> Response:
        return await end_round(request, round_id, "/round-cancellations", "round_cancelled")

    async def end_round(request: Request, round_id: str, path: str, done: str) -> Response:
        person = signed_in(request, "programme")
        form = await form_of(request)
        values = {"end-reason": str(form.get("end-reason", "")).strip()}
        reply = await services.post(
            "registration",
            path,
            person,
            lang_of(request),
            {"round_id": round_id, "reason": values["end-reason"]},
        )
        if not reply.ok:
            refusal = Refusal.of(reply)
            errors = {
                ("end-reason" if k == "reason" else field_id(k)): v
                for k, v in refusal.fields.items()
            }
            return await round_page(
                request, person, round_id, values, errors, refusal.detail, status=reply.status
            )
        return redirect(f"/programme/rounds/{round_id}", done, request)

    @app.post("/programme/rounds/{round_id}/applications/{number}/revocation")
    async def revoke(request: Request, round_id: str, number: str) -> Response:
        person = signed_in(request, "programme")
        form = await form_of(request)
        values = {"revoke-reason": str(form.get("revoke-reason", "")).strip()}
        reply = await services.post(
            "registration",
            "/revocations",
            person,
            lang_of(request),
            {
                "round_id": round_id,
                "municipality_number": number,
                "reason": values["revoke-reason"],
            },
        )
        if not reply.ok:
            found = await read(
                "registration", f"/rounds/{round_id}/applications/{number}", person, request
            )
            return refused(
                request,
                "programme_application.html.j2",
                reply,
                lambda e, g: decision_context(
                    round_id,
                    found,
                    values,
                    {("revoke-reason" if k == "reason" else k): v for k, v in e.items()},
                    g,
                ),
            )
        return redirect(f"/programme/rounds/{round_id}/applications/{number}", "revoked", request)

    def decision_context(
        round_id: str,
        found: dict[str, Any],
        values: dict[str, Any],
        errors: dict[str, str] | None = None,
        general: str = "",
    ) -> dict[str, Any]:
        return {
            "round_id": round_id,
            "application": found,
            "values": values,
            "errors": errors or {},
            "general": general,
        }

    @app.get("/programme/rounds/{round_id}/applications/{number}")
    async def programme_application(request: Request, round_id: str, number: str) -> Response:
        person = signed_in(request, "programme")
        found = await read(
            "registration", f"/rounds/{round_id}/applications/{number}", person, request
        )
        return render(
            request, "programme_application.html.j2", decision_context(round_id, found, {})
        )

    @app.post("/programme/rounds/{round_id}/applications/{number}/decision")
    async def decide(request: Request, round_id: str, number: str) -> Response:
        person = signed_in(request, "programme")
        form = await form_of(request)
        values = {k: str(form.get(k, "")).strip() for k in ("decision", "reason", "early_reason")}
        reply = await services.post(
            "registration",
            "/decisions",
            person,
            lang_of(request),
            {"round_id": round_id, "municipality_number": number, **values},
        )
        if not reply.ok:
            found = await read(
                "registration", f"/rounds/{round_id}/applications/{number}", person, request
            )
            return refused(
                request,
                "programme_application.html.j2",
                reply,
                lambda e, g: decision_context(round_id, found, values, e, g),
            )
        return redirect(f"/programme/rounds/{round_id}/applications/{number}", "decided", request)

    async def plan_page(
        request: Request,
        person: Person,
        round_id: str,
        region: str,
        values: dict[str, Any] | None = None,
        errors: dict[str, str] | None = None,
        general: str = "",
        status: int = 200,
    ) -> Response:
        branch = reference.branches.get(region)
        if branch is None:
            raise PageError(404, "not_found")
        calendar = await read(
            "scheduling", f"/rounds/{round_id}/regions/{region}/calendar", person, request
        )
        semester = request.query_params.get("semester") or (values or {}).get("semester")
        suggestions = None
        if semester not in (None, ""):
            reply = await services.get(
                "scheduling",
                f"/rounds/{round_id}/regions/{region}/date-suggestions",
                person,
                lang_of(request),
                semester=semester,
                count=4,
            )
            suggestions = reply.body if reply.ok else None
            if not reply.ok:
                general = general or Refusal.of(reply).detail
        return render(
            request,
            "programme_plan.html.j2",
            {
                "round_id": round_id,
                "region": branch,
                "calendar": calendar,
                "detail_base": f"/programme/rounds/{round_id}/gatherings",
                "semester": semester,
                "suggestions": suggestions,
                "kinds": KINDS,
                "values": values or {},
                "errors": errors or {},
                "general": general,
            },
            status=status,
        )

    @app.get("/programme/rounds/{round_id}/regions/{region}/plan")
    async def plan(request: Request, round_id: str, region: str) -> Response:
        person = signed_in(request, "programme")
        return await plan_page(request, person, round_id, region)

    @app.post("/programme/rounds/{round_id}/regions/{region}/semesters")
    async def plan_semester(request: Request, round_id: str, region: str) -> Response:
        person = signed_in(request, "programme")
        form = await form_of(request)
        values = {
            k: str(form.get(f"semester-{k}", "")).strip()
            for k in ("number", "starts_on", "ends_on")
        }
        reply = await services.post(
            "scheduling",
            "/semesters",
            person,
            lang_of(request),
            {"round_id": round_id, "region": region, **values},
        )
        if not reply.ok:
            refusal = Refusal.of(reply)
            return await plan_page(
                request,
                person,
                round_id,
                region,
                values,
                {f"semester-{field_id(k)}": v for k, v in refusal.fields.items()},
                refusal.detail,
                reply.status,
            )
        return redirect(
            f"/programme/rounds/{round_id}/regions/{region}/plan?semester={values['number']}",
            "semester_planned",
            request,
        )

    @app.post("/programme/rounds/{round_id}/regions/{region}/gatherings")
    async def schedule(request: Request, round_id: str, region: str) -> Response:
        person = signed_in(request, "programme")
        form = await form_of(request)
        values = {
            k: str(form.get(k, "")).strip()
            for k in (
                "semester",
                "kind",
                "title",
                "venue-name",
                "venue-address",
                "day",
                "start",
                "end",
            )
        }
        errors: dict[str, str] = {}
        lang = lang_of(request)
        starts = ends = None
        try:
            day = dt.date.fromisoformat(values["day"])
            starts = dt.datetime.combine(day, dt.time.fromisoformat(values["start"]), i18n.OSLO)
            ends = dt.datetime.combine(day, dt.time.fromisoformat(values["end"]), i18n.OSLO)
        except ValueError:
            errors["day"] = i18n.t("day", lang)
        body: dict[str, Any] = {
            "round_id": round_id,
            "region": region,
            "kind": values["kind"],
            "title": values["title"],
            "venue": {"name": values["venue-name"], "address": values["venue-address"] or None},
            "starts_at": starts.isoformat() if starts else None,
            "ends_at": ends.isoformat() if ends else None,
        }
        if values["semester"]:
            body["semester"] = values["semester"]
        if errors:
            return await plan_page(request, person, round_id, region, values, errors, "", 422)
        reply = await services.post("scheduling", "/gatherings", person, lang, body)
        if not reply.ok:
            refusal = Refusal.of(reply)
            return await plan_page(
                request,
                person,
                round_id,
                region,
                values,
                {field_id(k): v for k, v in refusal.fields.items()},
                refusal.detail,
                reply.status,
            )
        return redirect(f"/programme/rounds/{round_id}/regions/{region}/plan", "scheduled", request)

    async def programme_gathering_page(
        request: Request,
        person: Person,
        round_id: str,
        gathering_id: uuid.UUID,
        values: dict[str, Any] | None = None,
        errors: dict[str, str] | None = None,
        general: str = "",
        status: int = 200,
    ) -> Response:
        gathering = await read("scheduling", f"/gatherings/{gathering_id}", person, request)
        for invitation in gathering.get("invitations", []):
            municipality = reference.municipalities.get(invitation["municipality_number"] or "")
            invitation["municipality_name"] = municipality.name if municipality else ""
        starts = dt.datetime.fromisoformat(gathering["starts_at"]).astimezone(i18n.OSLO)
        ends = dt.datetime.fromisoformat(gathering["ends_at"]).astimezone(i18n.OSLO)
        shown = {
            "day": starts.date().isoformat(),
            "start": f"{starts:%H:%M}",
            "end": f"{ends:%H:%M}",
            **(values or {}),
        }
        return render(
            request,
            "programme_gathering.html.j2",
            {
                "round_id": round_id,
                "gathering": gathering,
                "values": shown,
                "errors": errors or {},
                "general": general,
            },
            status=status,
        )

    @app.get("/programme/rounds/{round_id}/gatherings/{gathering_id}")
    async def programme_gathering(
        request: Request, round_id: str, gathering_id: uuid.UUID
    ) -> Response:
        person = signed_in(request, "programme")
        return await programme_gathering_page(request, person, round_id, gathering_id)

    @app.post("/programme/rounds/{round_id}/gatherings/{gathering_id}/rescheduling")
    async def reschedule(request: Request, round_id: str, gathering_id: uuid.UUID) -> Response:
        person = signed_in(request, "programme")
        form = await form_of(request)
        values = {k: str(form.get(k, "")).strip() for k in ("day", "start", "end", "move-reason")}
        try:
            day = dt.date.fromisoformat(values["day"])
            starts = dt.datetime.combine(day, dt.time.fromisoformat(values["start"]), i18n.OSLO)
            ends = dt.datetime.combine(day, dt.time.fromisoformat(values["end"]), i18n.OSLO)
        except ValueError:
            return await programme_gathering_page(
                request,
                person,
                round_id,
                gathering_id,
                values,
                {"day": i18n.t("day", lang_of(request))},
                "",
                422,
            )
        reply = await services.post(
            "scheduling",
            "/reschedulings",
            person,
            lang_of(request),
            {
                "gathering_id": str(gathering_id),
                "starts_at": starts.isoformat(),
                "ends_at": ends.isoformat(),
                "reason": values["move-reason"],
            },
        )
        if not reply.ok:
            refusal = Refusal.of(reply)
            errors = {
                {"reason": "move-reason", "starts_at": "day", "ends_at": "end"}.get(k, k): v
                for k, v in refusal.fields.items()
            }
            return await programme_gathering_page(
                request,
                person,
                round_id,
                gathering_id,
                values,
                errors,
                refusal.detail,
                reply.status,
            )
        return redirect(
            f"/programme/rounds/{round_id}/gatherings/{gathering_id}", "rescheduled", request
        )

    @app.post("/programme/rounds/{round_id}/gatherings/{gathering_id}/cancellation")
    async def cancel_gathering(
        request: Request, round_id: str, gathering_id: uuid.UUID
    ) -> Response:
        person = signed_in(request, "programme")
        form = await form_of(request)
        values = {"cancel-reason": str(form.get("cancel-reason", "")).strip()}
        reply = await services.post(
            "scheduling",
            "/cancellations",
            person,
            lang_of(request),
            {"gathering_id": str(gathering_id), "reason": values["cancel-reason"]},
        )
        if not reply.ok:
            refusal = Refusal.of(reply)
            return await programme_gathering_page(
                request,
                person,
                round_id,
                gathering_id,
                values,
                {("cancel-reason" if k == "reason" else k): v for k, v in refusal.fields.items()},
                refusal.detail,
                reply.status,
            )
        return redirect(
            f"/programme/rounds/{round_id}/gatherings/{gathering_id}",
            "gathering_cancelled",
            request,
        )

    # --- veiledning and dialogmøter ----------------------------------------------------------

    def posted_times(values: dict[str, str], lang: str) -> tuple[dict[str, str], dict[str, str]]:
        """The day and times (Europe/Oslo) as the services take them, or the fields wrong."""
        try:
            day = dt.date.fromisoformat(values["day"])
            starts = dt.datetime.combine(day, dt.time.fromisoformat(values["start"]), i18n.OSLO)
            ends = dt.datetime.combine(day, dt.time.fromisoformat(values["end"]), i18n.OSLO)
        except ValueError:
            return {}, {"day": i18n.t("day_and_times", lang)}
        if ends <= starts:
            return {}, {"end": i18n.t("end_after_start", lang)}
        return {"starts_at": starts.isoformat(), "ends_at": ends.isoformat()}, {}

    def posted_venue(values: dict[str, str]) -> dict[str, Any]:
        return {
            "name": values["venue-name"],
            "address": values["venue-address"] or None,
            "digital_link": values["venue-digital_link"] or None,
        }

    # A meeting's refusal by the service's field, as the form's input; the rest is the
    # form's general message (the request itself, the body as a whole).
    MEETING_FIELDS = {
        "starts_at": "day",
        "ends_at": "end",
        "venue": "venue-address",
        "venue-name": "venue-name",
        "venue-address": "venue-address",
        "venue-digital_link": "venue-digital_link",
        "municipality_number": "municipality_number",
        "supervisor_id": "supervisor_id",
        "title": "title",
        "also_invite": "also_invite",
    }

    def meeting_errors(refusal: Refusal) -> dict[str, str]:
        errors: dict[str, str] = {}
        for key, reason in refusal.fields.items():
            own = field_id(key)
            own = MEETING_FIELDS.get(own) or MEETING_FIELDS.get(own.split("-")[0], "")
            if own:
                errors.setdefault(own, reason)
        return errors

    MEETING_INPUTS = ("day", "start", "end", "title", "venue-name", "venue-address")

    async def supervision_page(
        request: Request,
        person: Person,
        round_id: str,
        region: str,
        values: dict[str, Any] | None = None,
        errors: dict[str, str] | None = None,
        general: str = "",
        status: int = 200,
    ) -> Response:
        branch = reference.branches.get(region)
        if branch is None:
            raise PageError(404, "not_found")
        calendar = await read(
            "scheduling", f"/rounds/{round_id}/regions/{region}/calendar", person, request
        )
        admitted = await read(
            "registration",
            f"/rounds/{round_id}/applications",
            person,
            request,
            branch=region,
            status="admitted",
        )
        return render(
            request,
            "programme_supervision.html.j2",
            {
                "round_id": round_id,
                "region": branch,
                "calendar": calendar,
                "detail_base": f"/programme/rounds/{round_id}/gatherings",
                # Picked by name; the service takes the number.
                "municipalities": sorted(
                    (a["municipality_number"], a["municipality_name"]) for a in admitted
                ),
                "values": values or {},
                "errors": errors or {},
                "general": general,
            },
            status=status,
        )

    @app.get("/programme/rounds/{round_id}/regions/{region}/supervisions")
    async def supervisions(request: Request, round_id: str, region: str) -> Response:
        person = signed_in(request, "programme")
        return await supervision_page(request, person, round_id, region)

    @app.post("/programme/rounds/{round_id}/regions/{region}/supervisions")
    async def book_supervision(request: Request, round_id: str, region: str) -> Response:
        person = signed_in(request, "programme")
        form = await form_of(request)
        values = {
            k: str(form.get(k, "")).strip()
            for k in (*MEETING_INPUTS, "venue-digital_link", "municipality_number", "supervisor_id")
        }
        lang = lang_of(request)
        times, errors = posted_times(values, lang)
        if errors:
            return await supervision_page(
                request, person, round_id, region, values, errors, "", 422
            )
        reply = await services.post(
            "scheduling",
            "/supervisions",
            person,
            lang,
            {
                "round_id": round_id,
                "municipality_number": values["municipality_number"],
                "supervisor_id": values["supervisor_id"],
                # Left empty: the service's own title, «Veiledning».
                **({"title": values["title"]} if values["title"] else {}),
                "venue": posted_venue(values),
                **times,
            },
        )
        if not reply.ok:
            if reply.status in (401, 403):
                raise PageError(403, "forbidden", Refusal.of(reply).detail)
            refusal = Refusal.of(reply)
            return await supervision_page(
                request,
                person,
                round_id,
                region,
                values,
                meeting_errors(refusal),
                refusal.detail,
                reply.status,
            )
        return redirect(
            f"/programme/rounds/{round_id}/regions/{region}/supervisions",
            "supervision_booked",
            request,
        )

    def dialogue_rows(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for row in found:
            branch = reference.branches.get(row["region"])
            row["region_name"] = branch.name if branch else row["region"]
        return found

    @app.get("/programme/rounds/{round_id}/dialogue-requests")
    async def dialogue_requests(request: Request, round_id: str) -> Response:
        person = signed_in(request, "programme")
        found = await read("scheduling", f"/rounds/{round_id}/dialogue-requests", person, request)
        rows = dialogue_rows(found)
        return render(
            request,
            "programme_dialogue_requests.html.j2",
            {
                "round_id": round_id,
                "open": [r for r in rows if not r.get("gathering_id")],
                "answered": [r for r in rows if r.get("gathering_id")],
            },
        )

    async def dialogue_page(
        request: Request,
        person: Person,
        round_id: str,
        request_id: uuid.UUID,
        values: dict[str, Any] | None = None,
        errors: dict[str, str] | None = None,
        general: str = "",
        status: int = 200,
    ) -> Response:
        found = await read("scheduling", f"/rounds/{round_id}/dialogue-requests", person, request)
        wanted = [r for r in dialogue_rows(found) if r["id"] == str(request_id)]
        if not wanted:
            raise PageError(404, "not_found")
        asked = wanted[0]
        shown = {
            "day": (asked["wished_dates"] or [""])[0],
            "start": "10:00",
            "end": "12:00",
            "also_invite": [],
            **(values or {}),
        }
        return render(
            request,
            "programme_dialogue_meeting.html.j2",
            {
                "round_id": round_id,
                "asked": asked,
                "municipalities": branch_municipalities(asked["region"]),
                "values": shown,
                "errors": errors or {},
                "general": general,
            },
            status=status,
        )

    @app.get("/programme/rounds/{round_id}/dialogue-requests/{request_id}")
    async def dialogue_request(request: Request, round_id: str, request_id: uuid.UUID) -> Response:
        person = signed_in(request, "programme")
        return await dialogue_page(request, person, round_id, request_id)

    @app.post("/programme/rounds/{round_id}/dialogue-requests/{request_id}/meeting")
    async def schedule_dialogue(request: Request, round_id: str, request_id: uuid.UUID) -> Response:
        person = signed_in(request, "programme")
        form = await form_of(request)
        values: dict[str, Any] = {
            k: str(form.get(k, "")).strip() for k in (*MEETING_INPUTS, "venue-digital_link")
        }
        values["also_invite"] = [str(n) for n in form.getlist("also_invite")]
        lang = lang_of(request)
        times, errors = posted_times(values, lang)
        if errors:
            return await dialogue_page(
                request, person, round_id, request_id, values, errors, "", 422
            )
        body: dict[str, Any] = {
            "request_id": str(request_id),
            "venue": posted_venue(values),
            "also_invite": values["also_invite"],
            **times,
        }
        if values["title"]:
            body["title"] = values["title"]
        reply = await services.post("scheduling", "/dialogue-meetings", person, lang, body)
        if not reply.ok:
            if reply.status in (401, 403):
                raise PageError(403, "forbidden", Refusal.of(reply).detail)
            refusal = Refusal.of(reply)
            return await dialogue_page(
                request,
                person,
                round_id,
                request_id,
                values,
                meeting_errors(refusal),
                refusal.detail,
                reply.status,
            )
        return redirect(
            f"/programme/rounds/{round_id}/dialogue-requests", "dialogue_scheduled", request
        )

    @app.get("/programme/deliveries")
    async def deliveries(request: Request) -> Response:
        person = signed_in(request, "programme")
        found = await read("notification", "/deliveries", person, request, limit=100)
        return render(request, "programme_deliveries.html.j2", {"deliveries": found})

    # --- observer ----------------------------------------------------------------------------

    @app.get("/observer")
    async def observer_home(request: Request) -> Response:
        person = signed_in(request, "observer", "programme")
        rounds = await read("registration", "/rounds", person, request)
        chosen = request.query_params.get("round") or (rounds[-1]["round_id"] if rounds else None)
        counts = (
            await read("registration", f"/rounds/{chosen}/status", person, request)
            if chosen
            else None
        )
        return render(
            request, "observer.html.j2", {"rounds": rounds, "chosen": chosen, "counts": counts}
        )

    return app


# What the error summary calls a form's field (its label), by the input's id.
LABELS = {
    "email": "email",
    "contact-name": "name",
    "contact-email": "email",
    "contact-phone": "phone",
    "contact-language": "contact_language",
    "municipality_numbers": "municipalities",
    "message": "message",
    "motivation": "motivation",
    "themes": "themes",
    "development_areas": "development_areas",
    "own_development_areas": "own_development_areas",
    "co_creation_plan": "co_creation_plan",
    "group": "group",
    "round_id": "round_id",
    "interest_deadline": "interest_deadline",
    "capacity": "capacity",
    "county_number": "county",
    "opens_on": "opens_on",
    "deadline": "deadline",
    "decision": "decision",
    "reason": "reason",
    "early_reason": "early_reason",
    "withdraw-reason": "reason",
    "revoke-reason": "reason",
    "move-reason": "move_reason",
    "cancel-reason": "cancel_reason",
    "start": "start_time",
    "end": "end_time",
    "end-reason": "reason",
    "capacity-region": "region",
    "capacity-places": "capacity",
    "extend-kind": "kind",
    "extend-county_number": "county",
    "extend-new_deadline": "new_deadline",
    "topic": "topic",
    "wished_dates": "wished_dates",
    "semester-number": "semester",
    "semester-starts_on": "starts_on",
    "semester-ends_on": "ends_on",
    "semester": "semester",
    "kind": "kind",
    "title": "title",
    "venue-name": "venue",
    "venue-address": "address",
    "day": "day",
    "starts_at": "day",
    "ends_at": "end_time",
    "municipality_number": "municipality",
    "supervisor_id": "supervisor",
    "venue-digital_link": "digital_link",
    "also_invite": "also_invite",
}


def field_label(field: str, lang: str) -> str:
    """`Medlem 2, E-postadresse` for `group-1-email`; the label a form shows for the rest."""
    parts = field.split("-")
    if len(parts) == 3 and parts[0] == "group" and parts[1].isdigit():
        inner = LABELS.get(parts[2], parts[2])
        inner_text = i18n.t(inner, lang) if inner in i18n.T else parts[2]
        return f"{i18n.t('member', lang)} {int(parts[1]) + 1}, {inner_text}"
    key = LABELS.get(field)
    return i18n.t(key, lang) if key else field


def field_id(service_field: str) -> str:
    """A service's field path (`contact.email`, `group.0.role`) as the form's input id."""
    return service_field.replace(".", "-").replace("[", "-").replace("]", "")
