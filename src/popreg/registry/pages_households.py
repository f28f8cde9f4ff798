"""Console pages of households (Law on Residence 2020): a household's page, opening a household with a
person as its head, a member joining and a member leaving.

The forms work as those of :mod:`popreg.registry.pages_forms`: each change runs in a savepoint, a
refusal brings the form back with each problem next to its field and nothing stored, and a success
sends the browser (303) to the household's page with a notice.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from popreg.kit.clock import today_in_vietnam
from popreg.kit.errors import DomainError, NotFound
from popreg.kit.http import SessionDep
from popreg.officials.rules import OfficialPrincipal, require_write
from popreg.registry import service
from popreg.registry.pages_forms import PAGE_REFUSALS, form_choices, form_errors, home_commune
from popreg.registry.presentation import Presenter
from popreg.registry.rules import HouseholdRelationship, ResidenceKind
from popreg.registry.schemas import (
    HouseholdCreate,
    HouseholdLeave,
    HouseholdMemberIn,
    HouseholdMemberRead,
    HouseholdRead,
    PersonRead,
)
from popreg.units.catalogue import UnitGeneration
from popreg.web.forms import ConsoleForm, FormErrors, raise_page_refusal, status_of
from popreg.web.i18n import translator_for
from popreg.web.session import ConsoleOfficial, ConsoleSession
from popreg.web.templating import render

router = APIRouter(prefix="/console", include_in_schema=False)
NOTICES = ("household_opened", "member_added", "member_left")
# On a household's forms the page is the household; a person's PIN is a value typed in the form.
HOUSEHOLD_REFUSALS = frozenset({"ROLE_READ_ONLY", "HOUSEHOLD_NOT_FOUND"})
LEAVE_REFUSALS = HOUSEHOLD_REFUSALS | PAGE_REFUSALS | {"HOUSEHOLD_MEMBER_NOT_FOUND"}
MEMBER_ALIASES = {"pin": "member_pin"}
MEMBER_REFUSALS = {
    "PERSON_NOT_FOUND": "member_pin",
    "PIN_INVALID_STRUCTURE": "member_pin",
    "PERSON_DECEASED": "member_pin",
    "HOUSEHOLD_MEMBER_ELSEWHERE": "member_pin",
    "HOUSEHOLD_HEAD_EXISTS": "relationship_to_head",
}


class OpenHouseholdForm(ConsoleForm):
    address_line: str = ""
    unit_code: str = ""
    unit_generation: str = UnitGeneration.Y2025.value
    legal_basis: str = ""

    @classmethod
    def at_home_of(cls, person: PersonRead, principal: OfficialPrincipal) -> OpenHouseholdForm:
        """A household is mostly opened at the head's permanent address: the form starts with it."""
        current = [r for r in person.residences if r.valid_to is None]
        residence = next((r for r in current if r.kind is ResidenceKind.PERMANENT), current[0] if current else None)
        if residence is None:
            return cls(unit_code=home_commune(principal))
        return cls(
            address_line=residence.address_line,
            unit_code=residence.unit_code,
            unit_generation=residence.unit_generation,
        )

    def to_input(self, head_pin: str) -> HouseholdCreate:
        data: dict[str, Any] = self.given("address_line", "unit_code", "unit_generation", "legal_basis")
        data["head_pin"] = head_pin
        return HouseholdCreate.model_validate(data)


class AddMemberForm(ConsoleForm):
    member_pin: str = ""
    relationship_to_head: str = ""
    joined_on: str = ""
    legal_basis: str = ""

    def to_input(self) -> HouseholdMemberIn:
        data: dict[str, Any] = self.given("joined_on", "legal_basis")
        if self.member_pin:
            data["pin"] = self.member_pin
        # An empty choice is read as "not one of the options", which asks the official to choose.
        data["relationship_to_head"] = self.relationship_to_head
        return HouseholdMemberIn.model_validate(data)


class LeaveHouseholdForm(ConsoleForm):
    left_on: str = ""
    legal_basis: str = ""

    def to_input(self) -> HouseholdLeave:
        return HouseholdLeave.model_validate(self.given("left_on", "legal_basis"))


# ---------------------------------------------------------------------------------------------
# A household's page, and a member joining it


@router.get("/households/{number}")
def household(
    request: Request, number: str, console: ConsoleOfficial, session: SessionDep, notice: str | None = None
) -> Response:
    """A household: its address, its head and its members, past and present, and who may join it."""
    return _household_page(request, session, console, number, AddMemberForm(), FormErrors(), notice=notice)


@router.post("/households/{number}/members")
def add_member(
    request: Request, number: str, console: ConsoleOfficial, session: SessionDep, form: Annotated[AddMemberForm, Form()]
) -> Response:
    require_write(console.principal)
    try:
        data = form.to_input()
        with session.begin_nested():
            number = service.add_household_member(session, principal=console.principal, number=number, data=data).number
    except (DomainError, ValidationError) as error:
        raise_page_refusal(error, HOUSEHOLD_REFUSALS)
        errors = form_errors(request, error, form, MEMBER_ALIASES, code_fields=MEMBER_REFUSALS)
        return _household_page(request, session, console, number, form, errors, status_code=status_of(error))
    return RedirectResponse(f"/console/households/{number}?notice=member_added", status_code=303)


def _household_page(
    request: Request,
    session: Session,
    console: ConsoleSession,
    number: str,
    form: AddMemberForm,
    errors: FormErrors,
    *,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    record = service.get_household(session, principal=console.principal, number=number)
    t = translator_for(request)
    show = Presenter(t)
    return render(
        request,
        "household.html",
        {
            "household": record,
            "head": head_of(record),
            "show": show,
            "can_change": console.principal.can_write,
            "relationships": [
                (kind.value, show.household_relationship(kind))
                for kind in HouseholdRelationship
                if kind is not HouseholdRelationship.HEAD
            ],
            "values": form.model_dump(),
            "errors": errors,
            "notice": t(f"notice.{notice}", number=record.number) if notice in NOTICES else None,
        },
        status_code=status_code,
    )


def head_of(household: HouseholdRead) -> HouseholdMemberRead | None:
    """The current head: the member whose relationship to the head is "head" and who has not left."""
    return next(
        (m for m in household.members if m.relationship_to_head is HouseholdRelationship.HEAD and m.left_on is None),
        None,
    )


# ---------------------------------------------------------------------------------------------
# Open a household, with the person as its head


@router.get("/persons/{pin}/households/new")
def open_household_form(request: Request, pin: str, console: ConsoleOfficial, session: SessionDep) -> Response:
    """The form that opens a household at an address, with this person as its head."""
    require_write(console.principal)
    person = service.get_person(session, principal=console.principal, pin=pin)
    form = OpenHouseholdForm.at_home_of(person, console.principal)
    return _open_page(request, console.principal, person, form, FormErrors())


@router.post("/persons/{pin}/households/new")
def open_household(
    request: Request,
    pin: str,
    console: ConsoleOfficial,
    session: SessionDep,
    form: Annotated[OpenHouseholdForm, Form()],
) -> Response:
    require_write(console.principal)
    try:
        data = form.to_input(pin)
        with session.begin_nested():
            number = service.create_household(session, principal=console.principal, data=data).number
    except (DomainError, ValidationError) as error:
        raise_page_refusal(error, PAGE_REFUSALS)
        errors = form_errors(request, error, form, {})
        current = service.get_person(session, principal=console.principal, pin=pin)
        return _open_page(request, console.principal, current, form, errors, status_code=status_of(error))
    return RedirectResponse(f"/console/households/{number}?notice=household_opened", status_code=303)


def _open_page(
    request: Request,
    principal: OfficialPrincipal,
    person: PersonRead,
    form: OpenHouseholdForm,
    errors: FormErrors,
    *,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "household_open.html",
        {**form_choices(request, principal), "person": person, "values": form.model_dump(), "errors": errors},
        status_code=status_code,
    )


# ---------------------------------------------------------------------------------------------
# A member leaves


@router.get("/households/{number}/members/{pin}/leave")
def leave_form(request: Request, number: str, pin: str, console: ConsoleOfficial, session: SessionDep) -> Response:
    """The form that records that a member left the household, from today by default."""
    require_write(console.principal)
    record = service.get_household(session, principal=console.principal, number=number)
    form = LeaveHouseholdForm(left_on=today_in_vietnam().isoformat())
    return _leave_page(request, record, _current_member(record, pin), form, FormErrors())


@router.post("/households/{number}/members/{pin}/leave")
def leave(
    request: Request,
    number: str,
    pin: str,
    console: ConsoleOfficial,
    session: SessionDep,
    form: Annotated[LeaveHouseholdForm, Form()],
) -> Response:
    require_write(console.principal)
    try:
        data = form.to_input()
        with session.begin_nested():
            household = service.leave_household(session, principal=console.principal, number=number, pin=pin, data=data)
            number = household.number
    except (DomainError, ValidationError) as error:
        raise_page_refusal(error, LEAVE_REFUSALS)
        errors = form_errors(request, error, form, {})
        record = service.get_household(session, principal=console.principal, number=number)
        member = _current_member(record, pin)
        return _leave_page(request, record, member, form, errors, status_code=status_of(error))
    return RedirectResponse(f"/console/households/{number}?notice=member_left", status_code=303)


def _current_member(household: HouseholdRead, pin: str) -> HouseholdMemberRead:
    member = next((m for m in household.members if m.pin == pin.strip() and m.left_on is None), None)
    if member is None:
        raise NotFound(
            f"Person {pin} is not a current member of household {household.number}.",
            code="HOUSEHOLD_MEMBER_NOT_FOUND",
        )
    return member


def _leave_page(
    request: Request,
    household: HouseholdRead,
    member: HouseholdMemberRead,
    form: LeaveHouseholdForm,
    errors: FormErrors,
    *,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "household_leave.html",
        {
            "household": household,
            "member": member,
            "values": form.model_dump(),
            "errors": errors,
            "show": Presenter(translator_for(request)),
        },
        status_code=status_code,
    )
