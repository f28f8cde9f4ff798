"""Console pages of the register: home, search, a person's page, unit codes.

Every page reads through :mod:`popreg.registry.service`, so the official's jurisdiction is checked
and every read of a person is written to the access log exactly as through the API. The forms that
change the register are in :mod:`popreg.registry.pages_forms`; a household's page and its forms are
in :mod:`popreg.registry.pages_households`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from popreg.kit.errors import DomainError
from popreg.kit.http import SessionDep
from popreg.officials.rules import OfficialPrincipal, Place
from popreg.registry import pages_forms, pages_households, service
from popreg.registry.merge_rules import PersonMerged
from popreg.registry.presentation import Presenter
from popreg.registry.rules import LifeStatus
from popreg.registry.schemas import PersonPage, PersonRead
from popreg.units.catalogue import UnitGeneration, UnitLevel, search_units, to_current
from popreg.web.forms import FormErrors
from popreg.web.i18n import translator_for
from popreg.web.session import ConsoleOfficial, ConsoleSession
from popreg.web.templating import render, unit_label

router = APIRouter(include_in_schema=False)
# The forms first: "/console/persons/new" must not be read as the person with PIN "new".
router.include_router(pages_forms.router)
router.include_router(pages_households.router)

PAGE_SIZE = 20
NOTICES = ("registered", "changed", "death_recorded", "residence_registered", "residence_ended", "relation_added")
SEARCH_FIELDS = ("name", "birth_date", "unit_code")
SearchText = Annotated[str, Query(max_length=200)]

PersonSection = Callable[[Request, Session, ConsoleSession, PersonRead], tuple[str, Mapping[str, Any]] | None]
"""A section another package adds to the person page: the template to include and its values
(available to it as ``section``), or ``None`` to show nothing. The cards package adds the identity card."""
_person_sections: list[PersonSection] = []


def add_person_section(section: PersonSection) -> None:
    """Show a section of another package on the person page (once, however often it is added)."""
    if section not in _person_sections:
        _person_sections.append(section)


@router.get("/console")
def home(request: Request, console: ConsoleOfficial) -> Response:
    """The start page: search, and the tasks the official's role allows."""
    return render(
        request, "home.html", {"values": {"name": "", "birth_date": "", "unit_code": ""}, "errors": FormErrors()}
    )


@router.get("/console/persons")
def search(
    request: Request,
    console: ConsoleOfficial,
    session: SessionDep,
    name: SearchText = "",
    birth_date: SearchText = "",
    unit_code: SearchText = "",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    """Search within the jurisdiction, ignoring accents and case; a 12-digit PIN opens the person."""
    name, birth_date, unit_code = name.strip(), birth_date.strip(), unit_code.strip()
    if name.isascii() and name.isdigit() and len(name) == 12 and not birth_date and not unit_code:
        return RedirectResponse(f"/console/persons/{name}", status_code=303)
    values = {"name": name, "birth_date": birth_date, "unit_code": unit_code}
    results: PersonPage | None = None
    errors = FormErrors()
    if any(values.values()):
        try:
            with session.begin_nested():
                results = service.search_persons(
                    session,
                    principal=console.principal,
                    name=name or None,
                    birth_date=birth_date or None,
                    unit_code=unit_code or None,
                    page=page,
                    page_size=PAGE_SIZE,
                )
        except DomainError as error:
            errors = FormErrors.from_error(error, translator_for(request), fields=SEARCH_FIELDS)
    return render(
        request,
        "search.html",
        {
            "values": values,
            "errors": errors,
            "results": results,
            "page": page,
            "page_links": _page_links(values, page, results),
            "show": Presenter(translator_for(request)),
            "scope": _scope(request, console.principal.jurisdiction_code),
        },
        status_code=422 if errors else 200,
    )


def _page_links(values: dict[str, str], page: int, results: PersonPage | None) -> dict[str, str | None]:
    def link(number: int) -> str:
        return "/console/persons?" + urlencode({**{k: v for k, v in values.items() if v}, "page": number})

    return {
        "previous": link(page - 1) if page > 1 else None,
        "next": link(page + 1) if results is not None and results.has_next else None,
    }


def _scope(request: Request, jurisdiction_code: str | None) -> str:
    return unit_label(jurisdiction_code) if jurisdiction_code else translator_for(request)("jurisdiction.nation")


@router.get("/console/persons/{pin}")
def person(
    request: Request, pin: str, console: ConsoleOfficial, session: SessionDep, notice: str | None = None
) -> Response:
    """A person's record: current data, residences, household, family and the history timeline.
    A retired PIN (a duplicate merged into another record) shows its history and the record kept."""
    try:
        record = service.get_person(session, principal=console.principal, pin=pin)
    except PersonMerged as merged:
        retired_history = service.history(session, principal=console.principal, pin=pin)
        return render(
            request,
            "matching/person_merged.html",
            {
                "retired_pin": merged.retired_pin,
                "surviving_pin": merged.surviving_pin,
                "timeline": Presenter(translator_for(request)).timeline(retired_history),
            },
        )
    history = service.history(session, principal=console.principal, pin=pin)
    t = translator_for(request)
    show = Presenter(t)
    alive = record.life_status is LifeStatus.ALIVE
    return render(
        request,
        "person.html",
        {
            "person": record,
            "show": show,
            "timeline": show.timeline(history),
            "can_change": console.principal.can_write,
            "can_record_life_events": console.principal.can_write and alive,
            "can_open_household": console.principal.can_write and alive and record.household is None,
            "endable_residences": _endable_residences(console.principal, record),
            "household_head_name": _household_head_name(session, console.principal, record),
            "current_residences": [r for r in record.residences if r.valid_to is None],
            "past_residences": [r for r in record.residences if r.valid_to is not None],
            "notice": t(f"notice.{notice}", pin=record.pin) if notice in NOTICES else None,
            "sections": [
                shown for build in _person_sections if (shown := build(request, session, console, record)) is not None
            ],
        },
    )


def _household_head_name(session: Session, principal: OfficialPrincipal, person: PersonRead) -> str | None:
    """The name of the head of the person's household, read (and logged) as the household's page reads it."""
    membership = person.household
    if membership is None:
        return None
    if membership.head_pin == person.pin:
        return person.full_name
    try:
        household = service.get_household(session, principal=principal, number=membership.number)
    except DomainError:
        return None  # a household outside the jurisdiction: its head is shown by PIN only
    head = pages_households.head_of(household)
    return head.full_name if head else None


def _endable_residences(principal: OfficialPrincipal, person: PersonRead) -> set[int]:
    """The current residences this official may end: those of a commune in their jurisdiction."""
    if not principal.can_write:
        return set()
    return {
        r.id
        for r in person.residences
        if r.valid_to is None and principal.covers(Place(r.commune_code, r.province_code))
    }


@router.get("/console/units")
def units(request: Request, console: ConsoleOfficial, q: SearchText = "") -> Response:
    """Find a commune or province code by name, in the units of 2025 and of before the reform."""
    found = search_units(q, limit=50) if q.strip() else []
    rows = []
    for unit in found:
        current = []
        if unit.generation is UnitGeneration.PRE_2025 and unit.level is not UnitLevel.DISTRICT:
            current = [unit_label(u.code) for u in to_current(unit.code, unit.level)]
        rows.append({"unit": unit, "label": unit_label(unit.code, unit.generation.value), "current": current})
    return render(request, "units.html", {"query": q.strip(), "rows": rows})
