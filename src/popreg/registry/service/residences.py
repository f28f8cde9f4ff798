"""Residence registrations (Law on Residence 2020): permanent and temporary, moves, ends."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy.orm import Session

from popreg.kit.clock import today_in_vietnam, utc_now
from popreg.kit.errors import Conflict, InvalidInput, NotFound
from popreg.kit.text import canonical
from popreg.officials.rules import (
    OfficialPrincipal,
    Place,
    require_jurisdiction,
    require_write,
)
from popreg.registry import repository
from popreg.registry.models import Household, Person, Residence
from popreg.registry.rules import (
    LifeStatus,
    PartialDate,
    ResidenceKind,
    check_event_date,
    require_alive,
    require_legal_basis,
)
from popreg.registry.schemas import (
    ResidenceEnd,
    ResidenceIn,
)
from popreg.registry.service.common import (
    load_person,
    precision,
    record_event,
    refresh_home,
    residence_record,
    resolve_place,
    touch,
)


def register_residence(session: Session, *, principal: OfficialPrincipal, pin: str, data: ResidenceIn) -> Residence:
    """Register a permanent or temporary residence (Law on Residence 2020, Art. 20 and 27).

    The official of the receiving commune registers it, so jurisdiction is checked on the new
    address. A person has at most one permanent residence: registering another needs
    ``end_current`` (a move), which ends the current one the day before.
    """
    require_write(principal)
    require_legal_basis(data.legal_basis)
    person = load_person(session, pin, for_update=True)
    require_alive(LifeStatus(person.life_status), action="register a residence")
    residence = add_residence(session, person, data, principal=principal, today=today_in_vietnam())
    refresh_home(session, person)
    touch(person)
    session.flush()
    return residence


def add_residence(
    session: Session, person: Person, data: ResidenceIn, *, principal: OfficialPrincipal, today: date
) -> Residence:
    legal_basis = require_legal_basis(data.legal_basis)
    place = resolve_place(data.unit_code, data.unit_generation)
    require_jurisdiction(principal, [place])
    valid_from = data.valid_from or today
    check_event_date(
        valid_from, birth=PartialDate(person.birth_date, precision(person)), today=today, field="valid_from"
    )
    household: Household | None = None
    if data.household_number:
        household = repository.get_household_by_number(session, data.household_number)
        if household is None:
            raise NotFound(f"No household numbered {data.household_number}.", code="HOUSEHOLD_NOT_FOUND")
    if data.kind is ResidenceKind.PERMANENT:
        current = repository.current_permanent_residence(session, person.id)
        if current is not None:
            if not data.end_current:
                raise Conflict(
                    "The person already has a permanent residence; a person has one at a time. "
                    "End it, or register the move with end_current.",
                    code="RESIDENCE_PERMANENT_EXISTS",
                    details={"current_residence_id": current.id},
                )
            _end_residence(
                session,
                person,
                current,
                valid_to=valid_from - timedelta(days=1),
                principal=principal,
                legal_basis=legal_basis,
            )
    residence = Residence(
        person_id=person.id,
        kind=data.kind.value,
        address_line=canonical(data.address_line),
        unit_code=data.unit_code,
        unit_generation=data.unit_generation.value,
        commune_code=place.commune_code,
        province_code=place.province_code,
        household_id=household.id if household else None,
        valid_from=valid_from,
        valid_to=None,
        created_at=utc_now(),
    )
    session.add(residence)
    session.flush()
    record_event(
        session,
        person,
        event_type=f"residence.{data.kind.value}_registered",
        changes={f"residences.{residence.id}": [None, residence_record(residence, data.household_number)]},
        principal=principal,
        legal_basis=legal_basis,
        effective_date=valid_from,
    )
    return residence


def end_residence(
    session: Session, *, principal: OfficialPrincipal, pin: str, residence_id: int, data: ResidenceEnd
) -> Residence:
    """End (deregister) a residence from a date; jurisdiction is that of the residence's commune."""
    require_write(principal)
    legal_basis = require_legal_basis(data.legal_basis)
    person = load_person(session, pin, for_update=True)
    residence = repository.get_residence(session, residence_id)
    if residence is None or residence.person_id != person.id:
        raise NotFound(f"Person {person.pin} has no residence {residence_id}.", code="RESIDENCE_NOT_FOUND")
    require_jurisdiction(principal, [Place(residence.commune_code, residence.province_code)])
    if residence.valid_to is not None:
        raise Conflict("This residence has already ended.", code="RESIDENCE_ALREADY_ENDED")
    valid_to = data.valid_to or today_in_vietnam()
    if valid_to < residence.valid_from or valid_to > today_in_vietnam():
        raise InvalidInput(
            "The end date must be between the start of the residence and today.",
            code="DATE_INVALID",
            details={"field": "valid_to"},
        )
    _end_residence(session, person, residence, valid_to=valid_to, principal=principal, legal_basis=legal_basis)
    refresh_home(session, person)
    touch(person)
    session.flush()
    return residence


def _end_residence(
    session: Session,
    person: Person,
    residence: Residence,
    *,
    valid_to: date,
    principal: OfficialPrincipal,
    legal_basis: str,
) -> None:
    household = session.get(Household, residence.household_id) if residence.household_id else None
    before = residence_record(residence, household.number if household else None)
    residence.valid_to = max(valid_to, residence.valid_from)
    session.flush()
    after = residence_record(residence, household.number if household else None)
    record_event(
        session,
        person,
        event_type=f"residence.{residence.kind}_ended",
        changes={f"residences.{residence.id}": [before, after]},
        principal=principal,
        legal_basis=legal_basis,
        effective_date=residence.valid_to,
    )
