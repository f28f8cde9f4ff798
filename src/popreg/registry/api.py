"""HTTP API of the national population register, for officials (``/api/v1``).

Every call needs an official's session token. Reads are written to the access log with the
purpose given in the ``purpose`` query parameter; changes need a ``legal_basis``.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from popreg.kit.http import SessionDep, error_body
from popreg.officials.dependencies import CurrentOfficial
from popreg.registry import service
from popreg.registry.merge_rules import PersonMerged
from popreg.registry.pin import SerialPermutation, Sex, check_pin
from popreg.registry.reference import EthnicGroup, Religion, ethnic_groups, religions
from popreg.registry.rules import LifeStatus
from popreg.registry.schemas import (
    AsOfRead,
    HistoryRead,
    HouseholdCreate,
    HouseholdLeave,
    HouseholdMemberIn,
    HouseholdRead,
    LifeStatusIn,
    PersonCreate,
    PersonPage,
    PersonRead,
    PersonUpdate,
    RelationIn,
    ResidenceEnd,
    ResidenceIn,
    ResidenceRead,
)

router = APIRouter(prefix="/api/v1", tags=["register"])
Purpose = Annotated[str, Query(max_length=120, description="Why the data is read; written to the access log.")]


def pin_permutation(request: Request) -> SerialPermutation:
    permutation: SerialPermutation = request.app.state.pin_permutation
    return permutation


PermutationDep = Annotated[SerialPermutation, Depends(pin_permutation)]


@router.post("/persons", operation_id="register_person", response_model=PersonRead, status_code=201)
def register_person(
    data: PersonCreate, session: SessionDep, official: CurrentOfficial, permutation: PermutationDep
) -> PersonRead:
    """Register a person and issue their 12-digit personal identification number (PIN).

    The PIN encodes the province (or country) of birth registration, the century and sex, and the
    year of birth; its serial is unique and unpredictable. Parents are linked by their PINs; a
    permanent residence may be registered in the same call. Refusals: `BIRTH_DATE_IN_FUTURE`,
    `UNIT_UNKNOWN`, `RELATION_PARENT_NOT_OLDER`, `LEGAL_BASIS_REQUIRED`, `JURISDICTION_DENIED`, ...
    """
    person = service.register_person(session, principal=official, data=data, permutation=permutation)
    return service.person_view(session, person)


@router.get("/persons", operation_id="search_persons", response_model=PersonPage)
def search_persons(
    session: SessionDep,
    official: CurrentOfficial,
    name: Annotated[
        str | None,
        Query(max_length=200, description="Start of the full name; accents and case are ignored ('nguyen van a')."),
    ] = None,
    birth_date: Annotated[str | None, Query(description="YYYY, YYYY-MM or YYYY-MM-DD.")] = None,
    sex: Sex | None = None,
    life_status: LifeStatus | None = None,
    unit_code: Annotated[str | None, Query(description="A 2-digit province or 5-digit commune code.")] = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
    purpose: Purpose = service.DEFAULT_PURPOSE,
) -> PersonPage:
    """Search the register within your jurisdiction by name, date of birth and unit."""
    return service.search_persons(
        session,
        principal=official,
        name=name,
        birth_date=birth_date,
        sex=sex,
        life_status=life_status,
        unit_code=unit_code,
        page=page,
        page_size=page_size,
        purpose=purpose,
    )


@router.get(
    "/persons/{pin}",
    operation_id="get_person",
    response_model=PersonRead,
    responses={
        308: {
            "description": "The PIN belongs to a duplicate record merged into another: `Location` gives the "
            "surviving record, the body the error `PERSON_MERGED` with `details.merged_into`."
        }
    },
)
def get_person(
    pin: str,
    request: Request,
    session: SessionDep,
    official: CurrentOfficial,
    purpose: Purpose = service.DEFAULT_PURPOSE,
) -> PersonRead | Response:
    """A person's current record: personal data, residences, household and family.

    A retired PIN (a duplicate record merged into another) answers `308 Permanent Redirect` to the
    surviving record's URL, with the same query; its history stays readable at `/history`.
    """
    try:
        return service.get_person(session, principal=official, pin=pin, purpose=purpose)
    except PersonMerged as merged:
        query = f"?{request.url.query}" if request.url.query else ""
        return JSONResponse(
            error_body(merged.code, merged.message, merged.details),
            status_code=308,
            headers={"Location": f"/api/v1/persons/{merged.surviving_pin}{query}"},
        )


@router.patch("/persons/{pin}", operation_id="change_person", response_model=PersonRead)
def change_person(pin: str, data: PersonUpdate, session: SessionDep, official: CurrentOfficial) -> PersonRead:
    """Change or correct personal data, citing the authorising document in `legal_basis`.

    Send `expected_version` (from the record you read) to refuse the change if someone else
    changed the record meanwhile (`VERSION_CONFLICT`).
    """
    person = service.update_person(session, principal=official, pin=pin, data=data)
    return service.person_view(session, person)


@router.post("/persons/{pin}/life-status", operation_id="record_life_status", response_model=PersonRead)
def record_life_status(pin: str, data: LifeStatusIn, session: SessionDep, official: CurrentOfficial) -> PersonRead:
    """Record a death from its death extract, or a court's declaration of missing or dead."""
    person = service.set_life_status(session, principal=official, pin=pin, data=data)
    return service.person_view(session, person)


@router.post("/persons/{pin}/relations", operation_id="add_relation", response_model=PersonRead, status_code=201)
def add_relation(pin: str, data: RelationIn, session: SessionDep, official: CurrentOfficial) -> PersonRead:
    """Link a person to their father, mother, spouse or guardian."""
    person = service.add_relation(session, principal=official, pin=pin, data=data)
    return service.person_view(session, person)


@router.post("/persons/{pin}/residences", operation_id="register_residence", response_model=PersonRead, status_code=201)
def register_residence(pin: str, data: ResidenceIn, session: SessionDep, official: CurrentOfficial) -> PersonRead:
    """Register a permanent or temporary residence; `end_current` records a move."""
    residence = service.register_residence(session, principal=official, pin=pin, data=data)
    return service.person_view_by_id(session, residence.person_id)


@router.post("/persons/{pin}/residences/{residence_id}/end", operation_id="end_residence", response_model=ResidenceRead)
def end_residence(
    pin: str, residence_id: int, data: ResidenceEnd, session: SessionDep, official: CurrentOfficial
) -> ResidenceRead:
    """End (deregister) a residence."""
    residence = service.end_residence(session, principal=official, pin=pin, residence_id=residence_id, data=data)
    view = service.person_view_by_id(session, residence.person_id)
    return next(r for r in view.residences if r.id == residence.id)


@router.get("/persons/{pin}/history", operation_id="person_history", response_model=HistoryRead)
def person_history(
    pin: str, session: SessionDep, official: CurrentOfficial, purpose: Purpose = service.DEFAULT_PURPOSE
) -> HistoryRead:
    """Every recorded change of the person, oldest first, with its legal basis and actor."""
    return service.history(session, principal=official, pin=pin, purpose=purpose)


@router.get("/persons/{pin}/as-of", operation_id="person_as_of", response_model=AsOfRead)
def person_as_of(
    pin: str,
    session: SessionDep,
    official: CurrentOfficial,
    on: Annotated[date, Query(alias="date", description="The day, YYYY-MM-DD (Vietnam time).")],
    axis: Annotated[str, Query(pattern="^(recorded|effective)$")] = "recorded",
    purpose: Purpose = service.DEFAULT_PURPOSE,
) -> AsOfRead:
    """What the register said about the person on a given day.

    `axis=recorded` (default): the record as it stood in the register at the end of that day.
    `axis=effective`: what was in force on that day, including corrections recorded later.
    """
    return service.as_of(session, principal=official, pin=pin, on=on, axis=axis, purpose=purpose)


@router.post("/households", operation_id="create_household", response_model=HouseholdRead, status_code=201)
def create_household(data: HouseholdCreate, session: SessionDep, official: CurrentOfficial) -> HouseholdRead:
    """Open a household at an address, with its head as first member."""
    household = service.create_household(session, principal=official, data=data)
    return service.get_household(session, principal=official, number=household.number)


@router.get("/households/{number}", operation_id="get_household", response_model=HouseholdRead)
def get_household(number: str, session: SessionDep, official: CurrentOfficial) -> HouseholdRead:
    """A household and its members, past and present."""
    return service.get_household(session, principal=official, number=number)


@router.post(
    "/households/{number}/members", operation_id="add_household_member", response_model=HouseholdRead, status_code=201
)
def add_household_member(
    number: str, data: HouseholdMemberIn, session: SessionDep, official: CurrentOfficial
) -> HouseholdRead:
    """Add a person to a household with their relationship to the head."""
    service.add_household_member(session, principal=official, number=number, data=data)
    return service.get_household(session, principal=official, number=number)


@router.post("/households/{number}/members/{pin}/leave", operation_id="leave_household", response_model=HouseholdRead)
def leave_household(
    number: str, pin: str, data: HouseholdLeave, session: SessionDep, official: CurrentOfficial
) -> HouseholdRead:
    """Record that a member left the household."""
    service.leave_household(session, principal=official, number=number, pin=pin, data=data)
    return service.get_household(session, principal=official, number=number)


@router.get("/pins/{pin}/check", operation_id="check_pin", tags=["reference"])
def check_pin_structure(
    pin: str,
    birth_date: Annotated[date | None, Query(alias="dob")] = None,
    sex: Sex | None = None,
) -> dict[str, object]:
    """Check a PIN's structure and its consistency with a date of birth and sex (no register lookup)."""
    return dict(check_pin(pin, birth_date=birth_date, sex=sex).to_json_dict())


@router.get("/reference/ethnic-groups", operation_id="list_ethnic_groups", tags=["reference"])
def list_ethnic_groups() -> list[EthnicGroup]:
    """The 54 officially recognised ethnic groups with their official codes."""
    return ethnic_groups()


@router.get("/reference/religions", operation_id="list_religions", tags=["reference"])
def list_religions() -> list[Religion]:
    """The religions recognised by the Government Committee for Religious Affairs, and 'none'."""
    return religions()
