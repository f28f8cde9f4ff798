"""Rendering the console's pages: one autoescaped Jinja2 environment, the request's language, dates
shown in Vietnam's time zone, and the response headers every page of personal data carries."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from functools import cache
from typing import Any
from urllib.parse import urlencode

from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.runtime import Context
from starlette.requests import Request

from popreg import __version__
from popreg.kit.clock import in_vietnam
from popreg.kit.settings import Settings
from popreg.units.catalogue import UnitGeneration, UnitLevel, get_unit
from popreg.web.i18n import LANGUAGE_COOKIE, LANGUAGE_PARAMETER, LANGUAGES, Translator, choose_language

ENGLISH_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
LANGUAGE_COOKIE_SECONDS = 365 * 24 * 3600
# Pages hold personal data: never cached, never framed, scripts and styles only from this server.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}


def format_date(value: date | str | None, language: str) -> str:
    """A calendar date as officials write it: ``12/05/1990`` in Vietnamese, ``12 May 1990`` in English."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            return str(value)
    if language == "en":
        return f"{value.day} {ENGLISH_MONTHS[value.month - 1]} {value.year}"
    return f"{value.day:02d}/{value.month:02d}/{value.year}"


def format_partial_date(text: str, language: str) -> str:
    """A date of birth as precise as it is known: ``1990``, ``05/1990`` or ``12/05/1990``."""
    parts = text.split("-")
    if len(parts) == 1:
        return text
    if len(parts) == 2:
        year, month = parts
        if language == "en" and month.isdigit() and 1 <= int(month) <= 12:
            return f"{ENGLISH_MONTHS[int(month) - 1]} {year}"
        return f"{month}/{year}"
    return format_date(text, language)


def format_moment(moment: datetime | None, language: str) -> str:
    """A stored instant in Vietnam time, to the minute: ``02/01/2026 14:05``."""
    if moment is None:
        return ""
    local = in_vietnam(moment)
    return f"{format_date(local.date(), language)} {local:%H:%M}"


def unit_label(code: str | None, generation: str = UnitGeneration.Y2025.value) -> str:
    """An administrative unit with the units above it ("Phường Ba Đình, Thành phố Hà Nội"); the code
    itself when the catalogue does not know it."""
    if not code:
        return ""
    try:
        generation_of_code = UnitGeneration(generation)
    except ValueError:
        return code
    unit = get_unit(code, generation_of_code)
    if unit is None:
        return code
    names = [unit.name]
    parent = get_unit(unit.parent_code, generation_of_code) if unit.parent_code else None
    while parent is not None:
        names.append(parent.name)
        parent = get_unit(parent.parent_code, generation_of_code) if parent.parent_code else None
    return ", ".join(names)


def province_of(code: str | None) -> str | None:
    """The current province of a jurisdiction code (a province itself, or a commune's province)."""
    if not code:
        return None
    unit = get_unit(code, UnitGeneration.Y2025)
    if unit is None:
        return None
    return unit.code if unit.level is UnitLevel.PROVINCE else unit.province_code


@pass_context
def _date_filter(context: Context, value: date | str | None) -> str:
    return format_date(value, context["lang"])


@pass_context
def _partial_date_filter(context: Context, value: str) -> str:
    return format_partial_date(value, context["lang"])


@pass_context
def _moment_filter(context: Context, value: datetime | None) -> str:
    return format_moment(value, context["lang"])


def static_url(path: str) -> str:
    """The URL of a static file, versioned so that a release never serves yesterday's stylesheet."""
    return f"/static/{path}?v={__version__}"


@cache
def environment() -> Environment:
    """The console's template environment (autoescaped; an undefined name is an error, not blank)."""
    env = Environment(
        loader=PackageLoader("popreg.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.do"],
    )
    env.filters.update(as_date=_date_filter, as_partial_date=_partial_date_filter, as_moment=_moment_filter)
    env.globals.update(static_url=static_url, unit_label=unit_label, version=__version__)
    return env


def language_links(request: Request) -> list[dict[str, str]]:
    """Links that show the current page in each language (the choice is then remembered)."""
    links = []
    for language in LANGUAGES:
        query = {key: value for key, value in request.query_params.items() if key != LANGUAGE_PARAMETER}
        query[LANGUAGE_PARAMETER] = language
        links.append({"code": language, "href": f"{request.url.path}?{urlencode(query)}"})
    return links


def render(
    request: Request, template: str, context: Mapping[str, Any] | None = None, *, status_code: int = 200
) -> HTMLResponse:
    """Render a console page in the request's language, for the signed-in official if there is one."""
    settings: Settings = request.app.state.settings
    language, chosen = choose_language(request, default=settings.default_language)
    values: dict[str, Any] = {
        "request": request,
        "lang": language,
        "t": Translator(language),
        "console": getattr(request.state, "console", None),
        "language_links": language_links(request),
        "notice": None,
    }
    values.update(context or {})
    html = environment().get_template(template).render(values)
    response = HTMLResponse(html, status_code=status_code, headers=PAGE_HEADERS)
    if chosen:
        response.set_cookie(
            LANGUAGE_COOKIE,
            language,
            max_age=LANGUAGE_COOKIE_SECONDS,
            path="/",
            httponly=True,
            samesite="lax",
            secure=settings.cookie_secure,
        )
    return response
