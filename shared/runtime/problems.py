"""Errors as RFC 9457 problem details (`application/problem+json`), in the caller's language.

Every refusal a service gives over HTTP has a stable `type` per rule (a URN a client may
branch on), a short `title`, a `detail` a Norwegian office worker understands (bokmål by
default; nynorsk or English when `Accept-Language` asks), the `status`, and the offending
`field` when one is to blame. The input is never echoed back whole: validation errors name the
field and what is wrong with it, not the value.

A service raises `Problem` (or the plain `Rejected` of `shared.messaging.bus`, whose reason is then
the detail in every language); `install(app)` turns those, FastAPI's own HTTP errors, request
validation errors and anything unexpected into problem documents.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from shared.contracts.errors import DomainError
from shared.messaging.bus import Rejected

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
STATUSES = {s.value for s in HTTPStatus}
TYPE_PREFIX = "urn:kulturskole:problem:"
LANGUAGES = ("nb", "nn", "en")
DEFAULT_LANGUAGE = "nb"
# A text in each language; a missing language falls back to bokmål, then to English.
Texts = Mapping[str, str]


def texts(nb: str, nn: str | None = None, en: str | None = None) -> dict[str, str]:
    return {"nb": nb, "nn": nn or nb, "en": en or nb}


# Titles and details of the problems every service shares, by status.
GENERIC: dict[int, tuple[str, dict[str, str], dict[str, str]]] = {
    400: (
        "bad-request",
        texts("Ugyldig forespørsel", "Ugyldig førespurnad", "Bad request"),
        texts(
            "Forespørselen kunne ikke leses.",
            "Førespurnaden kunne ikkje lesast.",
            "The request could not be read.",
        ),
    ),
    401: (
        "unauthenticated",
        texts("Ikke innlogget", "Ikkje innlogga", "Not authenticated"),
        texts(
            "Send en gyldig tilgangsnøkkel (bearer token) i Authorization-feltet.",
            "Send ein gyldig tilgangsnøkkel (bearer token) i Authorization-feltet.",
            "Send a valid bearer token in the Authorization header.",
        ),
    ),
    403: (
        "forbidden",
        texts("Ikke tillatt", "Ikkje tillate", "Forbidden"),
        texts(
            "Du har ikke tilgang til dette.",
            "Du har ikkje tilgang til dette.",
            "You may not do this.",
        ),
    ),
    404: (
        "not-found",
        texts("Finnes ikke", "Finst ikkje", "Not found"),
        texts(
            "Det du spør etter, finnes ikke.",
            "Det du spør etter, finst ikkje.",
            "What you asked for does not exist.",
        ),
    ),
    405: (
        "method-not-allowed",
        texts("Metoden er ikke tillatt", "Metoden er ikkje tillaten", "Method not allowed"),
        texts(
            "Denne adressen tar ikke imot denne metoden; se Allow-feltet.",
            "Denne adressa tek ikkje imot denne metoden; sjå Allow-feltet.",
            "This address does not take this method; see the Allow header.",
        ),
    ),
    409: (
        "conflict",
        texts("Konflikt", "Konflikt", "Conflict"),
        texts(
            "Dette passer ikke med det som allerede er registrert.",
            "Dette passar ikkje med det som alt er registrert.",
            "This conflicts with what is already recorded.",
        ),
    ),
    413: (
        "too-large",
        texts("For stor forespørsel", "For stor førespurnad", "Request too large"),
        texts(
            "Forespørselen er for stor.", "Førespurnaden er for stor.", "The request is too large."
        ),
    ),
    415: (
        "unsupported-media-type",
        texts("Feil innholdstype", "Feil innhaldstype", "Unsupported media type"),
        texts(
            "Send innholdet som application/json.",
            "Send innhaldet som application/json.",
            "Send the body as application/json.",
        ),
    ),
    422: (
        "refused",
        texts("Avvist", "Avvist", "Refused"),
        texts(
            "Forespørselen ble avvist.", "Førespurnaden vart avvist.", "The request was refused."
        ),
    ),
    500: (
        "internal",
        texts("Intern feil", "Intern feil", "Internal error"),
        texts(
            "Noe gikk galt hos oss. Prøv igjen senere.",
            "Noko gjekk gale hos oss. Prøv igjen seinare.",
            "Something went wrong on our side. Try again later.",
        ),
    ),
}


class Problem(Rejected):
    """A refusal with a stable type, a title, a detail per language and the field to blame.

    Over Kafka it is a `Rejected` like any other: the dead letter's reason is the English
    detail.
    """

    def __init__(
        self,
        slug: str,
        detail: Texts,
        *,
        status: int = 422,
        title: Texts | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(detail.get("en") or detail.get(DEFAULT_LANGUAGE, slug), status=status)
        self.slug = slug
        self.detail = dict(detail)
        self.title = dict(title) if title is not None else None
        self.field = field


def refused(error: DomainError, status: int | None = None) -> Problem:
    """A domain refusal as its problem document: the one mapping every service uses."""
    nb = error.nb or error.en
    return Problem(
        error.slug,
        texts(nb, error.nn or nb, error.en),
        status=status or error.status,
        field=error.field,
    )


def refusal(error: Exception) -> Rejected | None:
    """Domain errors, once, at the edge: a problem over HTTP (in the caller's language), a
    dead letter from Kafka (its English text as the reason); None for anything else."""
    return refused(error) if isinstance(error, DomainError) else None


def language(accept_language: str | None) -> str:
    """The best of nb, nn, en for an `Accept-Language` header; bokmål when none fits.

    `no` (Norwegian) is bokmål; `*` takes the default."""
    best, best_q = DEFAULT_LANGUAGE, -1.0
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        primary = {"no": "nb", "nob": "nb", "nno": "nn", "*": DEFAULT_LANGUAGE}.get(
            primary, primary
        )
        if primary not in LANGUAGES:
            continue
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        # Earlier entries win ties, as the header lists preferences in order.
        if q > best_q and q > 0:
            best, best_q = primary, q - position * 1e-6
    return best


def _pick(found: Texts, lang: str) -> str:
    return found.get(lang) or found.get(DEFAULT_LANGUAGE) or found.get("en") or ""


def problem_response(
    request: Request,
    *,
    status: int,
    slug: str | None = None,
    detail: Texts | None = None,
    title: Texts | None = None,
    field: str | None = None,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> JSONResponse:
    lang = language(request.headers.get("accept-language"))
    generic_slug, generic_title, generic_detail = GENERIC.get(
        status, GENERIC[500 if status >= 500 else 422]
    )
    body: dict[str, Any] = {
        "type": TYPE_PREFIX + (slug or generic_slug),
        "title": _pick(title or generic_title, lang),
        "status": status,
        "detail": _pick(detail or generic_detail, lang),
        "instance": request.url.path,
    }
    if field:
        body["field"] = field
    body.update(extra or {})
    return JSONResponse(
        body,
        status_code=status,
        media_type=PROBLEM_JSON,
        headers={**(headers or {}), "Content-Language": lang},
    )


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    # ("body", "contact", "email") -> "contact.email"; a header or the path names itself.
    parts = [str(p) for p in loc]
    if parts and parts[0] == "body":
        parts = parts[1:]
    return ".".join(parts) or "body"


# What pydantic finds wrong, by its error `type`, in each language; `{name}` takes the
# error's context (max_length, ge, expected, ...). Kinds not named here fall back to a
# general "not a valid value" (English keeps pydantic's own words).
INPUT_REASONS: dict[str, dict[str, str]] = {
    "missing": texts("mangler", "manglar", "missing"),
    "extra_forbidden": texts("ukjent felt", "ukjent felt", "unknown field"),
    "string_type": texts("må være tekst", "må vere tekst", "must be text"),
    "int_type": texts("må være et heltall", "må vere eit heiltal", "must be a whole number"),
    "int_parsing": texts("må være et heltall", "må vere eit heiltal", "must be a whole number"),
    "int_from_float": texts("må være et heltall", "må vere eit heiltal", "must be a whole number"),
    "float_type": texts("må være et tall", "må vere eit tal", "must be a number"),
    "float_parsing": texts("må være et tall", "må vere eit tal", "must be a number"),
    "bool_type": texts(
        "må være true eller false", "må vere true eller false", "must be true or false"
    ),
    "bool_parsing": texts(
        "må være true eller false", "må vere true eller false", "must be true or false"
    ),
    "string_too_short": texts(
        "må ha minst {min_length} tegn",
        "må ha minst {min_length} teikn",
        "must have at least {min_length} characters",
    ),
    "string_too_long": texts(
        "kan ha høyst {max_length} tegn",
        "kan ha høgst {max_length} teikn",
        "may have at most {max_length} characters",
    ),
    "too_short": texts(
        "må ha minst {min_length} element",
        "må ha minst {min_length} element",
        "must have at least {min_length} items",
    ),
    "too_long": texts(
        "kan ha høyst {max_length} element",
        "kan ha høgst {max_length} element",
        "may have at most {max_length} items",
    ),
    "string_pattern_mismatch": texts(
        "har feil form", "har feil form", "does not have the expected form"
    ),
    "greater_than": texts("må være over {gt}", "må vere over {gt}", "must be greater than {gt}"),
    "greater_than_equal": texts(
        "må være minst {ge}", "må vere minst {ge}", "must be at least {ge}"
    ),
    "less_than": texts("må være under {lt}", "må vere under {lt}", "must be less than {lt}"),
    "less_than_equal": texts("kan være høyst {le}", "kan vere høgst {le}", "may be at most {le}"),
    "date_type": texts(
        "må være en dato (ÅÅÅÅ-MM-DD)",
        "må vere ein dato (ÅÅÅÅ-MM-DD)",
        "must be a date (YYYY-MM-DD)",
    ),
    "date_parsing": texts(
        "er ikke en gyldig dato (ÅÅÅÅ-MM-DD)",
        "er ikkje ein gyldig dato (ÅÅÅÅ-MM-DD)",
        "is not a valid date (YYYY-MM-DD)",
    ),
    "date_from_datetime_parsing": texts(
        "er ikke en gyldig dato (ÅÅÅÅ-MM-DD)",
        "er ikkje ein gyldig dato (ÅÅÅÅ-MM-DD)",
        "is not a valid date (YYYY-MM-DD)",
    ),
    "date_from_datetime_inexact": texts(
        "må være en dato uten klokkeslett",
        "må vere ein dato utan klokkeslett",
        "must be a date without a time of day",
    ),
    "datetime_type": texts(
        "må være et tidspunkt", "må vere eit tidspunkt", "must be a date and time"
    ),
    "datetime_parsing": texts(
        "er ikke et gyldig tidspunkt (ÅÅÅÅ-MM-DDTtt:mm+01:00)",
        "er ikkje eit gyldig tidspunkt (ÅÅÅÅ-MM-DDTtt:mm+01:00)",
        "is not a valid date and time (YYYY-MM-DDThh:mm+01:00)",
    ),
    "datetime_from_date_parsing": texts(
        "er ikke et gyldig tidspunkt (ÅÅÅÅ-MM-DDTtt:mm+01:00)",
        "er ikkje eit gyldig tidspunkt (ÅÅÅÅ-MM-DDTtt:mm+01:00)",
        "is not a valid date and time (YYYY-MM-DDThh:mm+01:00)",
    ),
    "timezone_aware": texts(
        "mangler tidssone: oppgi tiden med forskyvning, f.eks. +01:00",
        "manglar tidssone: oppgi tida med forskyving, t.d. +01:00",
        "has no time zone: give the time with an offset, e.g. +01:00",
    ),
    "time_parsing": texts(
        "er ikke et gyldig klokkeslett (tt:mm)",
        "er ikkje eit gyldig klokkeslett (tt:mm)",
        "is not a valid time of day (hh:mm)",
    ),
    "uuid_type": texts("må være en UUID", "må vere ein UUID", "must be a UUID"),
    "uuid_parsing": texts(
        "er ikke en gyldig UUID", "er ikkje ein gyldig UUID", "is not a valid UUID"
    ),
    "url_parsing": texts(
        "er ikke en gyldig nettadresse", "er ikkje ei gyldig nettadresse", "is not a valid URL"
    ),
    "url_scheme": texts(
        "må begynne med http:// eller https://",
        "må byrje med http:// eller https://",
        "must start with http:// or https://",
    ),
    "enum": texts(
        "må være en av {expected}", "må vere ein av {expected}", "must be one of {expected}"
    ),
    "literal_error": texts(
        "må være en av {expected}", "må vere ein av {expected}", "must be one of {expected}"
    ),
    "list_type": texts("må være en liste", "må vere ei liste", "must be a list"),
    "dict_type": texts("må være et objekt", "må vere eit objekt", "must be an object"),
    "model_type": texts("må være et objekt", "må vere eit objekt", "must be an object"),
    "model_attributes_type": texts("må være et objekt", "må vere eit objekt", "must be an object"),
}
# Rules a contract's validators state (the text after pydantic's "Value error, "), by their
# English words (those of `shared/contracts/events`); a service adds its own with `value_reason`.
VALUE_REASONS: dict[str, dict[str, str]] = {
    "a venue needs an address or a digital link": texts(
        "et sted trenger en adresse eller en digital lenke",
        "ein stad treng ei adresse eller ei digital lenkje",
        "a venue needs an address or a digital link",
    ),
    "a gathering must end after it starts": texts(
        "en samling må slutte etter at den begynner",
        "ei samling må slutte etter at ho byrjar",
        "a gathering must end after it starts",
    ),
    "a semester must end on or after the day it starts": texts(
        "et semester kan ikke slutte før det begynner",
        "eit semester kan ikkje slutte før det byrjar",
        "a semester must end on or after the day it starts",
    ),
    "name either person_id or municipality_number": texts(
        "oppgi enten person_id eller municipality_number",
        "oppgi anten person_id eller municipality_number",
        "name either person_id or municipality_number",
    ),
}
_INVALID = texts("er ikke en gyldig verdi", "er ikkje ein gyldig verdi", "is not a valid value")


def value_reason(en: str, nb: str, nn: str) -> None:
    """Translate a validator's own message (the English it raises ValueError with)."""
    VALUE_REASONS[en] = texts(nb, nn, en)


def input_reason(item: Mapping[str, Any], lang: str) -> str:
    """What is wrong with one field, in `lang`; never the value sent."""
    kind = str(item.get("type", ""))
    context = item.get("ctx") or {}
    if kind in ("value_error", "assertion_error"):
        message = str(context.get("error", "")) or str(item.get("msg", ""))
        found = VALUE_REASONS.get(message)
        if found is not None:
            return _pick(found, lang)
        if "email address" in message:
            return _pick(
                texts(
                    "er ikke en gyldig e-postadresse",
                    "er ikkje ei gyldig e-postadresse",
                    "is not a valid e-mail address",
                ),
                lang,
            )
        return message[:300] if lang == "en" else _pick(_INVALID, lang)
    template = INPUT_REASONS.get(kind)
    if template is None:
        return str(item.get("msg", ""))[:300] if lang == "en" else _pick(_INVALID, lang)
    values = {k: str(v) for k, v in context.items()}
    if lang != "en" and "expected" in values:  # pydantic lists the choices in English
        values["expected"] = values["expected"].replace(" or ", " eller ")
    try:
        return _pick(template, lang).format(**values)
    except (KeyError, IndexError):
        return _pick(_INVALID, lang)


def validation_problem(request: Request, error: RequestValidationError) -> JSONResponse:
    """422 naming each offending field and what is wrong, never the value sent."""
    found = list(error.errors())
    lang = language(request.headers.get("accept-language"))
    errors = [
        {"field": _field(item.get("loc", ())), "reason": input_reason(item, lang)}
        for item in found[:20]
    ]
    if any(item.get("type") == "json_invalid" for item in found):
        return problem_response(
            request,
            status=400,
            slug="malformed-json",
            detail=texts(
                "Innholdet er ikke gyldig JSON.",
                "Innhaldet er ikkje gyldig JSON.",
                "The body is not valid JSON.",
            ),
            title=texts("Ugyldig JSON", "Ugyldig JSON", "Malformed JSON"),
        )
    first = errors[0]["field"] if errors else None
    # Each field with what is wrong with it, in the caller's language, never the value sent.
    reasons = "; ".join(f"{e['field']}: {e['reason']}" for e in errors)
    return problem_response(
        request,
        status=422,
        slug="invalid-input",
        title=texts("Ugyldige opplysninger", "Ugyldige opplysningar", "Invalid input"),
        detail={
            "nb": f"Kontroller disse feltene: {reasons}",
            "nn": f"Kontroller desse felta: {reasons}",
            "en": f"Check these fields: {reasons}",
        },
        field=first,
        extra={"errors": errors},
    )


async def require_json(request: Request) -> None:
    """A dependency for routes that take a JSON body: anything else is 415."""
    content_type = request.headers.get("content-type")
    if content_type is None:
        return  # FastAPI reads a body without a content type as JSON
    media = content_type.split(";")[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise Problem(
            "unsupported-media-type",
            texts(
                "Send innholdet som application/json.",
                "Send innhaldet som application/json.",
                "Send the body as application/json.",
            ),
            status=415,
            title=GENERIC[415][1],
            field="Content-Type",
        )


UNSUPPORTED_MEDIA_TYPE = {415: {"description": "The body is not JSON", "content": {}}}


METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

UNSTORABLE_ERRORS: tuple[type[Exception], ...] = (
    asyncpg.CharacterNotInRepertoireError,  # NUL in text
    asyncpg.UntranslatableCharacterError,  # \u0000 in JSON
)
UNSTORABLE = texts(
    "Forespørselen har tegn som ikke kan lagres (som NUL).",
    "Førespurnaden har teikn som ikkje kan lagrast (som NUL).",
    "The request holds characters that cannot be stored (such as NUL).",
)


def _allowed(request: Request) -> str:
    """Every method some route takes at this path. Starlette names only the first route's,
    though two routes may share a path (GET and POST /rounds); asking the routes themselves
    also finds those of included routers."""
    allowed = []
    for method in METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] is Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return ", ".join(allowed)


def install(app: FastAPI) -> None:
    """Answer every error of `app` as a problem document."""

    @app.exception_handler(Problem)
    async def on_problem(request: Request, error: Problem) -> JSONResponse:
        return problem_response(
            request,
            status=error.status,
            slug=error.slug,
            detail=error.detail,
            title=error.title,
            field=error.field,
        )

    @app.exception_handler(Rejected)
    async def on_rejected(request: Request, error: Rejected) -> JSONResponse:
        # A reason without translations is the detail in every language.
        slug = GENERIC.get(error.status, GENERIC[422])[0]
        return problem_response(request, status=error.status, slug=slug, detail=texts(error.reason))

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        detail = None
        phrase = HTTPStatus(error.status_code).phrase if error.status_code in STATUSES else ""
        if isinstance(error.detail, Mapping):
            detail = {k: str(v) for k, v in error.detail.items() if k in LANGUAGES} or None
        elif (
            isinstance(error.detail, str)
            and error.detail
            and error.detail != phrase
            and error.status_code not in (401, 405)
        ):
            # A service's own reason says what is missing or wrong; the framework's bare
            # phrases ("Not Found") and the token messages take the translated text.
            detail = texts(error.detail)
        headers = dict(error.headers or {})
        if error.status_code == 405:
            headers["Allow"] = _allowed(request)
        return problem_response(request, status=error.status_code, detail=detail, headers=headers)

    async def on_unstorable(request: Request, error: Exception) -> JSONResponse:
        # Text PostgreSQL cannot hold (NUL), in a query, a path or a body: the request's
        # fault, not the server's. (pydantic already refuses a lone surrogate.)
        log.info("unstorable text refused", extra={"path": request.url.path, "error": repr(error)})
        return problem_response(request, status=400, detail=UNSTORABLE)

    for unstorable in UNSTORABLE_ERRORS:
        app.add_exception_handler(unstorable, on_unstorable)

    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, error: RequestValidationError) -> JSONResponse:
        return validation_problem(request, error)

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error", extra={"path": request.url.path})
        return problem_response(request, status=500)
