"""Households: opening one with its head, members joining and leaving."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

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
from popreg.registry.models import Household, HouseholdMember, Person
from popreg.registry.rules import (
    HouseholdRelationship,
    LifeStatus,
    require_alive,
    require_legal_basis,
)
from popreg.registry.schemas import (
    HouseholdCreate,
    HouseholdLeave,
    HouseholdMemberIn,
    HouseholdMemberRead,
    HouseholdRead,
)
from popreg.registry.service.common import (
    DEFAULT_PURPOSE,
    load_person,
    log_read,
    record_event,
    resolve_place,
    touch,
)


def create_household(session: Session, *, principal: OfficialPrincipal, data: HouseholdCreate) -> Household:
    """Open a household at an address, with its head as the first member."""
    require_write(principal)
    legal_basis = require_legal_basis(data.legal_basis)
    place = resolve_place(data.unit_code, data.unit_generation)
    require_jurisdiction(principal, [place])
    head = load_person(session, data.head_pin, for_update=True)
    require_alive(LifeStatus(head.life_status), action="make this person head of a household")
    household = Household(
        number=repository.next_household_number(session, data.unit_code),
        head_person_id=head.id,
        address_line=canonical(data.address_line),
        unit_code=data.unit_code,
        unit_generation=data.unit_generation.value,
        commune_code=place.commune_code,
        province_code=place.province_code,
        created_at=utc_now(),
        dissolved_on=None,
    )
    session.add(household)
    session.flush()
    _join(
        session,
        household,
        head,
        HouseholdRelationship.HEAD,
        joined_on=today_in_vietnam(),
        principal=principal,
        legal_basis=legal_basis,
    )
    return household


def add_household_member(
    session: Session, *, principal: OfficialPrincipal, number: str, data: HouseholdMemberIn
) -> Household:
    require_write(principal)
    legal_basis = require_legal_basis(data.legal_basis)
    household = _load_household(session, principal, number)
    if data.relationship_to_head is HouseholdRelationship.HEAD:
        raise InvalidInput("A household has one head, recorded when it is opened.", code="HOUSEHOLD_HEAD_EXISTS")
    person = load_person(session, data.pin, for_update=True)
    require_alive(LifeStatus(person.life_status), action="add this person to a household")
    _join(
        session,
        household,
        person,
        data.relationship_to_head,
        joined_on=data.joined_on or today_in_vietnam(),
        principal=principal,
        legal_basis=legal_basis,
    )
    return household


def leave_household(
    session: Session, *, principal: OfficialPrincipal, number: str, pin: str, data: HouseholdLeave
) -> Household:
    require_write(principal)
    legal_basis = require_legal_basis(data.legal_basis)
    household = _load_household(session, principal, number)
    person = load_person(session, pin, for_update=True)
    membership = repository.current_membership(session, person.id)
    if membership is None or membership[1].id != household.id:
        raise NotFound(
            f"Person {pin} is not a current member of household {number}.", code="HOUSEHOLD_MEMBER_NOT_FOUND"
        )
    member = membership[0]
    if member.relationship_to_head == HouseholdRelationship.HEAD:
        raise Conflict(
            "The head cannot leave while the household exists; name a new head first.",
            code="HOUSEHOLD_HEAD_CANNOT_LEAVE",
        )
    left_on = data.left_on or today_in_vietnam()
    if left_on < member.joined_on or left_on > today_in_vietnam():
        raise InvalidInput(
            "The leaving date must be between the day the person joined the household and today.",
            code="DATE_INVALID",
            details={"field": "left_on"},
        )
    before = _membership_record(household, member)
    member.left_on = left_on
    touch(person)
    record_event(
        session,
        person,
        event_type="household.left",
        changes={f"households.{member.id}": [before, _membership_record(household, member)]},
        principal=principal,
        legal_basis=legal_basis,
        effective_date=member.left_on,
    )
    session.flush()
    return household


def _load_household(session: Session, principal: OfficialPrincipal, number: str) -> Household:
    household = repository.get_household_by_number(session, number, for_update=True)
    if household is None:
        raise NotFound(f"No household numbered {number}.", code="HOUSEHOLD_NOT_FOUND")
    require_jurisdiction(principal, [Place(household.commune_code, household.province_code)])
    return household


def _membership_record(household: Household, member: HouseholdMember) -> dict[str, Any]:
    return {
        "number": household.number,
        "relationship_to_head": member.relationship_to_head,
        "joined_on": member.joined_on.isoformat(),
        "left_on": member.left_on.isoformat() if member.left_on else None,
    }


def _join(
    session: Session,
    household: Household,
    person: Person,
    relationship: HouseholdRelationship,
    *,
    joined_on: date,
    principal: OfficialPrincipal,
    legal_basis: str,
) -> None:
    if repository.current_membership(session, person.id) is not None:
        raise Conflict(
            f"Person {person.pin} already belongs to a household; they must leave it first.",
            code="HOUSEHOLD_MEMBER_ELSEWHERE",
        )
    member = HouseholdMember(
        household_id=household.id,
        person_id=person.id,
        relationship_to_head=relationship.value,
        joined_on=joined_on,
        left_on=None,
    )
    session.add(member)
    session.flush()
    touch(person)
    record_event(
        session,
        person,
        event_type="household.joined",
        changes={f"households.{member.id}": [None, _membership_record(household, member)]},
        principal=principal,
        legal_basis=legal_basis,
        effective_date=joined_on,
    )


def get_household(session: Session, *, principal: OfficialPrincipal, number: str) -> HouseholdRead:
    household = repository.get_household_by_number(session, number)
    if household is None:
        raise NotFound(f"No household numbered {number}.", code="HOUSEHOLD_NOT_FOUND")
    require_jurisdiction(principal, [Place(household.commune_code, household.province_code)])
    members: Sequence[tuple[HouseholdMember, str, str]] = repository.members_of(session, household.id)
    log_read(session, principal, action="household.read", pin=None, fields=(household.number,), purpose=DEFAULT_PURPOSE)
    return HouseholdRead(
        number=household.number,
        head_pin=repository.pin_of(session, household.head_person_id),
        address_line=household.address_line,
        unit_code=household.unit_code,
        unit_generation=household.unit_generation,
        commune_code=household.commune_code,
        province_code=household.province_code,
        members=[
            HouseholdMemberRead(
                pin=pin,
                full_name=name,
                relationship_to_head=HouseholdRelationship(m.relationship_to_head),
                joined_on=m.joined_on,
                left_on=m.left_on,
            )
            for m, pin, name in members
        ],
    )
