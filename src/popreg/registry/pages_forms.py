"""Console forms that change the register: register a person, change personal data, record a death,
register and end a residence, add a family relation (households are in
:mod:`popreg.registry.pages_households`).

Each form posts to its own URL. The change runs in a savepoint: when the register refuses it (a rule
of the register, or a malformed value), the savepoint is rolled back, so nothing is stored, and the
form comes back with the values as entered, each problem next to its field and all of them in a
summary at the top. On success the browser is sent (303) to the person's page with a notice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from popreg.kit.clock import today_in_vietnam
from popreg.kit.errors import Conflict, DomainError, NotFound
from popreg.kit.http import SessionDep
from popreg.officials.rules import OfficialPrincipal, require_write
from popreg.registry import service
from popreg.registry.api import PermutationDep
from popreg.registry.presentation import Presenter
from popreg.registry.reference import ethnic_groups, religions
from popreg.registry.rules import LifeStatus, RelationKind, ResidenceKind
from popreg.registry.schemas import (
    LifeStatusIn,
    PersonCreate,
    PersonRead,
    PersonUpdate,
    RelationIn,
    ResidenceEnd,
    ResidenceIn,
    ResidenceRead,
)
from popreg.units.catalogue import UnitGeneration, communes
from popreg.web.forms import ConsoleForm, FormErrors, Refused, raise_page_refusal, status_of, submit
from popreg.web.i18n import translator_for
from popreg.web.session import ConsoleOfficial
from popreg.web.templating import province_of, render

router = APIRouter(prefix="/console", include_in_schema=False)
# Refusals that are about the page, not about a value in the form: shown as an error page.
PAGE_REFUSALS = frozenset({"ROLE_READ_ONLY", "PERSON_NOT_FOUND", "PIN_INVALID_STRUCTURE"})
END_RESIDENCE_REFUSALS = PAGE_REFUSALS | {"RESIDENCE_NOT_FOUND", "RESIDENCE_ALREADY_ENDED"}
ResidenceId = Annotated[int, Path(ge=1, le=2_147_483_647)]
BIRTH_ABROAD = "abroad"


class RegisterPersonForm(ConsoleForm):
    full_name: str = ""
    birth_date: str = ""
    sex: str = ""
    ethnicity_code: str = "01"
    religion_code: str = "none"
    nationality: str = "VNM"
    birth_registration_place: str = "commune"
    birth_registration_unit_code: str = ""
    birth_registration_country_code: str = ""
    origin_unit_code: str = ""
    origin_unit_generation: str = UnitGeneration.Y2025.value
    father_pin: str = ""
    mother_pin: str = ""
    residence_address: str = ""
    residence_unit_code: str = ""
    legal_basis: str = ""

    def to_input(self) -> PersonCreate:
        data: dict[str, Any] = self.given(
            "full_name",
            "birth_date",
            "sex",
            "ethnicity_code",
            "religion_code",
            "nationality",
            "origin_unit_code",
            "father_pin",
            "mother_pin",
            "legal_basis",
        )
        if self.birth_registration_place == BIRTH_ABROAD:
            # Given even when empty, so that a missing country is refused next to its own field.
            data["birth_registration_country_code"] = self.birth_registration_country_code
        elif self.birth_registration_unit_code:
            data["birth_registration_unit_code"] = self.birth_registration_unit_code
        if self.origin_unit_code:
            data["origin_unit_generation"] = self.origin_unit_generation
        if self.residence_address or self.residence_unit_code:
            residence = {"address_line": self.residence_address, "unit_code": self.residence_unit_code}
            data["permanent_residence"] = {key: value for key, value in residence.items() if value}
        return PersonCreate.model_validate(data)


REGISTER_ALIASES = {
    "permanent_residence": "residence_address",
    "permanent_residence.address_line": "residence_address",
    "permanent_residence.unit_code": "residence_unit_code",
    "unit_code": "residence_unit_code",
}


class ChangePersonForm(ConsoleForm):
    full_name: str = ""
    birth_date: str = ""
    sex: str = ""
    ethnicity_code: str = ""
    religion_code: str = ""
    nationality: str = ""
    origin_unit_code: str = ""
    origin_unit_generation: str = UnitGeneration.Y2025.value
    effective_date: str = ""
    legal_basis: str = ""
    expected_version: str = ""

    @classmethod
    def of(cls, person: PersonRead) -> ChangePersonForm:
        return cls(
            full_name=person.full_name,
            birth_date=person.birth_date,
            sex=person.sex.value,
            ethnicity_code=person.ethnicity_code,
            religion_code=person.religion_code,
            nationality=person.nationality,
            origin_unit_code=person.origin_unit_code or "",
            origin_unit_generation=person.origin_unit_generation or UnitGeneration.Y2025.value,
            expected_version=str(person.version),
        )

    def to_input(self) -> PersonUpdate:
        data: dict[str, Any] = self.given(
            "full_name",
            "birth_date",
            "sex",
            "ethnicity_code",
            "religion_code",
            "nationality",
            "origin_unit_code",
            "effective_date",
            "legal_basis",
            "expected_version",
        )
        if self.origin_unit_code:
            data["origin_unit_generation"] = self.origin_unit_generation
        return PersonUpdate.model_validate(data)


class RecordDeathForm(ConsoleForm):
    death_date: str = ""
    legal_basis: str = ""

    def to_input(self) -> LifeStatusIn:
        data: dict[str, Any] = {"status": LifeStatus.DECEASED.value, "legal_basis": self.legal_basis}
        if self.death_date:
            data["date"] = self.death_date
        return LifeStatusIn.model_validate(data)


DEATH_ALIASES = {"date": "death_date"}


class RegisterResidenceForm(ConsoleForm):
    kind: str = ResidenceKind.PERMANENT.value
    address_line: str = ""
    unit_code: str = ""
    unit_generation: str = UnitGeneration.Y2025.value
    valid_from: str = ""
    end_current: str = ""
    legal_basis: str = ""

    def to_input(self) -> ResidenceIn:
        data: dict[str, Any] = self.given(
            "kind", "address_line", "unit_code", "unit_generation", "valid_from", "legal_basis"
        )
        data["end_current"] = bool(self.end_current)
        return ResidenceIn.model_validate(data)


class EndResidenceForm(ConsoleForm):
    valid_to: str = ""
    legal_basis: str = ""

    def to_input(self) -> ResidenceEnd:
        return ResidenceEnd.model_validate(self.given("valid_to", "legal_basis"))


class AddRelationForm(ConsoleForm):
    relation_kind: str = ""
    relative_pin: str = ""
    valid_from: str = ""
    legal_basis: str = ""

    def to_input(self) -> RelationIn:
        data: dict[str, Any] = self.given("relative_pin", "valid_from", "legal_basis")
        # An empty choice is read as "not one of the options", which asks the official to choose.
        data["kind"] = self.relation_kind
        return RelationIn.model_validate(data)


RELATION_ALIASES = {"kind": "relation_kind"}
# The relative's PIN is the only PIN typed in the form: an unknown or malformed one is refused beside it
# (the person of the page is read again afterwards, so their own unknown PIN still gets an error page).
RELATIVE_REFUSALS = {
    "PERSON_NOT_FOUND": "relative_pin",
    "PIN_INVALID_STRUCTURE": "relative_pin",
    "RELATION_SELF": "relative_pin",
    "RELATION_EXISTS": "relation_kind",
}


# ---------------------------------------------------------------------------------------------
# Register a person


@router.get("/persons/new")
def register_person_form(request: Request, console: ConsoleOfficial) -> Response:
    """The form that registers a person and issues their PIN."""
    require_write(console.principal)
    form = RegisterPersonForm(birth_registration_unit_code=home_commune(console.principal))
    return _register_page(request, console.principal, form, FormErrors())


@router.post("/persons/new")
def register_person(
    request: Request,
    console: ConsoleOfficial,
    session: SessionDep,
    permutation: PermutationDep,
    form: Annotated[RegisterPersonForm, Form()],
) -> Response:
    require_write(console.principal)
    outcome = submit(
        session,
        lambda: service.register_person(
            session, principal=console.principal, data=form.to_input(), permutation=permutation
        ),
    )
    if isinstance(outcome, Refused):
        errors = form_errors(request, outcome.error, form, REGISTER_ALIASES)
        return _register_page(request, console.principal, form, errors, status_code=status_of(outcome.error))
    return _to_person_page(outcome.pin, "registered")


def _register_page(
    request: Request,
    principal: OfficialPrincipal,
    form: RegisterPersonForm,
    errors: FormErrors,
    *,
    status_code: int = 200,
) -> Response:
    context = form_choices(request, principal)
    return _form_page(request, "person_register.html", form, errors, context, status_code=status_code)


# ---------------------------------------------------------------------------------------------
# Change personal data


@router.get("/persons/{pin}/edit")
def change_person_form(request: Request, pin: str, console: ConsoleOfficial, session: SessionDep) -> Response:
    """The form that changes or corrects personal data, prefilled with the current record."""
    require_write(console.principal)
    person = service.get_person(session, principal=console.principal, pin=pin)
    return _change_page(request, console.principal, person, ChangePersonForm.of(person), FormErrors())


@router.post("/persons/{pin}/edit")
def change_person(
    request: Request, pin: str, console: ConsoleOfficial, session: SessionDep, form: Annotated[ChangePersonForm, Form()]
) -> Response:
    require_write(console.principal)
    outcome = submit(
        session, lambda: service.update_person(session, principal=console.principal, pin=pin, data=form.to_input())
    )
    if isinstance(outcome, Refused):
        person, errors = _refused_person_form(request, session, console.principal, pin, outcome.error, form)
        return _change_page(request, console.principal, person, form, errors, status_code=status_of(outcome.error))
    return _to_person_page(pin, "changed")


def _change_page(
    request: Request,
    principal: OfficialPrincipal,
    person: PersonRead,
    form: ChangePersonForm,
    errors: FormErrors,
    *,
    status_code: int = 200,
) -> Response:
    context = {**form_choices(request, principal), "person": person}
    return _form_page(request, "person_change.html", form, errors, context, status_code=status_code)


# ---------------------------------------------------------------------------------------------
# Record a death


@router.get("/persons/{pin}/death")
def record_death_form(request: Request, pin: str, console: ConsoleOfficial, session: SessionDep) -> Response:
    """The form that records a death from its death extract."""
    require_write(console.principal)
    person = service.get_person(session, principal=console.principal, pin=pin)
    return _death_page(request, person, RecordDeathForm(), FormErrors())


@router.post("/persons/{pin}/death")
def record_death(
    request: Request, pin: str, console: ConsoleOfficial, session: SessionDep, form: Annotated[RecordDeathForm, Form()]
) -> Response:
    require_write(console.principal)
    outcome = submit(
        session, lambda: service.set_life_status(session, principal=console.principal, pin=pin, data=form.to_input())
    )
    if isinstance(outcome, Refused):
        person, errors = _refused_person_form(
            request, session, console.principal, pin, outcome.error, form, DEATH_ALIASES
        )
        return _death_page(request, person, form, errors, status_code=status_of(outcome.error))
    return _to_person_page(pin, "death_recorded")


def _death_page(
    request: Request, person: PersonRead, form: RecordDeathForm, errors: FormErrors, *, status_code: int = 200
) -> Response:
    context = {"person": person, "show": Presenter(translator_for(request))}
    return _form_page(request, "person_death.html", form, errors, context, status_code=status_code)


# ---------------------------------------------------------------------------------------------
# Register a residence


@router.get("/persons/{pin}/residences/new")
def register_residence_form(request: Request, pin: str, console: ConsoleOfficial, session: SessionDep) -> Response:
    """The form that registers a permanent or temporary residence (or a move)."""
    require_write(console.principal)
    person = service.get_person(session, principal=console.principal, pin=pin)
    has_permanent = any(r.kind is ResidenceKind.PERMANENT and r.valid_to is None for r in person.residences)
    form = RegisterResidenceForm(
        kind=(ResidenceKind.TEMPORARY if has_permanent else ResidenceKind.PERMANENT).value,
        unit_code=home_commune(console.principal),
    )
    return _residence_page(request, console.principal, person, form, FormErrors())


@router.post("/persons/{pin}/residences/new")
def register_residence(
    request: Request,
    pin: str,
    console: ConsoleOfficial,
    session: SessionDep,
    form: Annotated[RegisterResidenceForm, Form()],
) -> Response:
    require_write(console.principal)
    outcome = submit(
        session, lambda: service.register_residence(session, principal=console.principal, pin=pin, data=form.to_input())
    )
    if isinstance(outcome, Refused):
        person, errors = _refused_person_form(request, session, console.principal, pin, outcome.error, form)
        return _residence_page(request, console.principal, person, form, errors, status_code=status_of(outcome.error))
    return _to_person_page(pin, "residence_registered")


def _residence_page(
    request: Request,
    principal: OfficialPrincipal,
    person: PersonRead,
    form: RegisterResidenceForm,
    errors: FormErrors,
    *,
    status_code: int = 200,
) -> Response:
    context = {**form_choices(request, principal), "person": person}
    return _form_page(request, "residence_register.html", form, errors, context, status_code=status_code)


# ---------------------------------------------------------------------------------------------
# End a residence (deregistration)


@router.get("/persons/{pin}/residences/{residence_id}/end")
def end_residence_form(
    request: Request, pin: str, residence_id: ResidenceId, console: ConsoleOfficial, session: SessionDep
) -> Response:
    """The form that ends (deregisters) one of a person's current residences, from today by default."""
    require_write(console.principal)
    person = service.get_person(session, principal=console.principal, pin=pin)
    residence = _current_residence(person, residence_id)
    form = EndResidenceForm(valid_to=today_in_vietnam().isoformat())
    return _end_residence_page(request, person, residence, form, FormErrors())


@router.post("/persons/{pin}/residences/{residence_id}/end")
def end_residence(
    request: Request,
    pin: str,
    residence_id: ResidenceId,
    console: ConsoleOfficial,
    session: SessionDep,
    form: Annotated[EndResidenceForm, Form()],
) -> Response:
    require_write(console.principal)
    outcome = submit(
        session,
        lambda: service.end_residence(
            session, principal=console.principal, pin=pin, residence_id=residence_id, data=form.to_input()
        ),
    )
    if isinstance(outcome, Refused):
        error = outcome.error
        person, errors = _refused_person_form(
            request, session, console.principal, pin, error, form, page_refusals=END_RESIDENCE_REFUSALS
        )
        if isinstance(error, DomainError) and error.code == "DATE_INVALID":
            # The service's DATE_INVALID here is about the range, not the way the date is written.
            errors = FormErrors.single("valid_to", translator_for(request)("residence_end.date_out_of_range"))
        residence = _current_residence(person, residence_id)
        return _end_residence_page(request, person, residence, form, errors, status_code=status_of(error))
    return _to_person_page(pin, "residence_ended")


def _current_residence(person: PersonRead, residence_id: int) -> ResidenceRead:
    residence = next((r for r in person.residences if r.id == residence_id), None)
    if residence is None:
        raise NotFound(f"Person {person.pin} has no residence {residence_id}.", code="RESIDENCE_NOT_FOUND")
    if residence.valid_to is not None:
        raise Conflict("This residence has already ended.", code="RESIDENCE_ALREADY_ENDED")
    return residence


def _end_residence_page(
    request: Request,
    person: PersonRead,
    residence: ResidenceRead,
    form: EndResidenceForm,
    errors: FormErrors,
    *,
    status_code: int = 200,
) -> Response:
    context = {"person": person, "residence": residence, "show": Presenter(translator_for(request))}
    return _form_page(request, "residence_end.html", form, errors, context, status_code=status_code)


# ---------------------------------------------------------------------------------------------
# Add a family relation


@router.get("/persons/{pin}/relations/new")
def add_relation_form(request: Request, pin: str, console: ConsoleOfficial, session: SessionDep) -> Response:
    """The form that links a person to their father, mother, spouse or guardian by the relative's PIN."""
    require_write(console.principal)
    person = service.get_person(session, principal=console.principal, pin=pin)
    return _relation_page(request, person, AddRelationForm(), FormErrors())


@router.post("/persons/{pin}/relations/new")
def add_relation(
    request: Request, pin: str, console: ConsoleOfficial, session: SessionDep, form: Annotated[AddRelationForm, Form()]
) -> Response:
    require_write(console.principal)
    outcome = submit(
        session, lambda: service.add_relation(session, principal=console.principal, pin=pin, data=form.to_input())
    )
    if isinstance(outcome, Refused):
        person, errors = _refused_person_form(
            request,
            session,
            console.principal,
            pin,
            outcome.error,
            form,
            RELATION_ALIASES,
            page_refusals=frozenset(),
            code_fields=RELATIVE_REFUSALS,
        )
        return _relation_page(request, person, form, errors, status_code=status_of(outcome.error))
    return _to_person_page(pin, "relation_added")


def _relation_page(
    request: Request, person: PersonRead, form: AddRelationForm, errors: FormErrors, *, status_code: int = 200
) -> Response:
    show = Presenter(translator_for(request))
    context = {"person": person, "kinds": [(kind.value, show.relation(kind)) for kind in RelationKind], "show": show}
    return _form_page(request, "relation_add.html", form, errors, context, status_code=status_code)


# ---------------------------------------------------------------------------------------------
# Shared by the forms


def home_commune(principal: OfficialPrincipal) -> str:
    """A commune officer mostly registers in their own commune: the forms start with it."""
    code = principal.jurisdiction_code
    return code if code is not None and len(code) == 5 else ""


def form_choices(request: Request, principal: OfficialPrincipal) -> dict[str, Any]:
    """The lists the forms choose from, in the official's language."""
    english = translator_for(request).language == "en"
    province = province_of(principal.jurisdiction_code)
    return {
        "ethnic_groups": [(group.code, group.name_en if english else group.name) for group in ethnic_groups()],
        "religions": [(religion.code, religion.name_en if english else religion.name) for religion in religions()],
        # Suggestions for the commune code: the communes of the official's province (none nationwide).
        "communes": [(unit.code, unit.name) for unit in communes(province_code=province)] if province else [],
        "show": Presenter(translator_for(request)),
    }


def form_errors(
    request: Request,
    error: DomainError | ValidationError,
    form: ConsoleForm,
    aliases: Mapping[str, str] | None = None,
    *,
    code_fields: Mapping[str, str] | None = None,
) -> FormErrors:
    """The problems of a refused form; ``code_fields`` places refusals whose field only the form knows
    (the service says "no such person", the form knows it was the PIN typed in one of its fields)."""
    t = translator_for(request)
    if isinstance(error, DomainError) and code_fields and error.code in code_fields:
        return FormErrors.single(code_fields[error.code], t.error(error))
    return FormErrors.from_error(error, t, fields=type(form).model_fields, aliases=aliases)


def _refused_person_form(
    request: Request,
    session: Session,
    principal: OfficialPrincipal,
    pin: str,
    error: DomainError | ValidationError,
    form: ConsoleForm,
    aliases: Mapping[str, str] | None = None,
    *,
    page_refusals: frozenset[str] = PAGE_REFUSALS,
    code_fields: Mapping[str, str] | None = None,
) -> tuple[PersonRead, FormErrors]:
    """A refused form of a person's page: a refusal about the page itself is raised (an error page);
    any other comes back as the form's problems, with the person as stored (nothing of the form is)."""
    raise_page_refusal(error, page_refusals)
    errors = form_errors(request, error, form, aliases, code_fields=code_fields)
    return service.get_person(session, principal=principal, pin=pin), errors


def _form_page(
    request: Request,
    template: str,
    form: ConsoleForm,
    errors: FormErrors,
    context: Mapping[str, Any],
    *,
    status_code: int,
) -> Response:
    """A form with its values as entered (or as prefilled) and its problems, beside what the page shows."""
    return render(
        request, template, {**context, "values": form.model_dump(), "errors": errors}, status_code=status_code
    )


def _to_person_page(pin: str, notice: str) -> Response:
    """After a change the browser is sent (303) to the person's page, which says what was done."""
    return RedirectResponse(f"/console/persons/{pin.strip()}?notice={notice}", status_code=303)
