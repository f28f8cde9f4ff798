"""Every query of the register. Services call these; nothing else touches the tables."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, func, select, union
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from popreg.registry.merge_models import PersonMerge
from popreg.registry.models import (
    Household,
    HouseholdMember,
    Person,
    PersonEvent,
    PersonRelation,
    PinCounter,
    Residence,
)


def get_person_by_pin(session: Session, pin: str, *, for_update: bool = False) -> Person | None:
    query = select(Person).where(Person.pin == pin)
    if for_update:
        query = query.with_for_update()
    return session.execute(query).scalar_one_or_none()


def pin_exists(session: Session, pin: str) -> bool:
    return session.execute(select(Person.id).where(Person.pin == pin)).first() is not None


def take_pin_counter(session: Session, prefix: str) -> int:
    """Atomically take the next counter value of a PIN prefix (row-locked until commit)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        insert(PinCounter)
        .values(prefix=prefix, next_counter=1)
        .on_conflict_do_update(index_elements=["prefix"], set_={"next_counter": PinCounter.next_counter + 1})
        .returning(PinCounter.next_counter)
    )
    return int(session.execute(statement).scalar_one()) - 1


def add_event(session: Session, event: PersonEvent) -> None:
    session.add(event)


def events_of(
    session: Session, person_id: int, *, recorded_until: datetime | None = None, effective_until: date | None = None
) -> Sequence[PersonEvent]:
    """A person's history, oldest first, optionally cut at a recorded time or an effective date."""
    query = select(PersonEvent).where(PersonEvent.person_id == person_id)
    if recorded_until is not None:
        query = query.where(PersonEvent.recorded_at <= recorded_until)
    if effective_until is not None:
        query = query.where(PersonEvent.effective_date <= effective_until)
    return session.execute(query.order_by(PersonEvent.id)).scalars().all()


def residences_of(session: Session, person_id: int, *, current_only: bool = False) -> Sequence[Residence]:
    query = select(Residence).where(Residence.person_id == person_id)
    if current_only:
        query = query.where(Residence.valid_to.is_(None))
    return session.execute(query.order_by(Residence.valid_from, Residence.id)).scalars().all()


def get_residence(session: Session, residence_id: int) -> Residence | None:
    return session.get(Residence, residence_id)


def current_permanent_residence(session: Session, person_id: int) -> Residence | None:
    return session.execute(
        select(Residence).where(
            Residence.person_id == person_id,
            Residence.kind == "permanent",
            Residence.valid_to.is_(None),
        )
    ).scalar_one_or_none()


def relations_of(session: Session, person_id: int) -> Sequence[tuple[PersonRelation, str, str]]:
    """A person's relations with each relative's PIN and name."""
    rows = session.execute(
        select(PersonRelation, Person.pin, Person.full_name)
        .join(Person, Person.id == PersonRelation.relative_id)
        .where(PersonRelation.person_id == person_id)
        .order_by(PersonRelation.id)
    ).all()
    return [(row[0], row[1], row[2]) for row in rows]


def current_relation(session: Session, person_id: int, kind: str) -> PersonRelation | None:
    return (
        session.execute(
            select(PersonRelation).where(
                PersonRelation.person_id == person_id,
                PersonRelation.kind == kind,
                PersonRelation.valid_to.is_(None),
            )
        )
        .scalars()
        .first()
    )


def get_household_by_number(session: Session, number: str, *, for_update: bool = False) -> Household | None:
    query = select(Household).where(Household.number == number)
    if for_update:
        query = query.with_for_update()
    return session.execute(query).scalar_one_or_none()


def current_membership(session: Session, person_id: int) -> tuple[HouseholdMember, Household] | None:
    row = session.execute(
        select(HouseholdMember, Household)
        .join(Household, Household.id == HouseholdMember.household_id)
        .where(HouseholdMember.person_id == person_id, HouseholdMember.left_on.is_(None))
    ).first()
    return (row[0], row[1]) if row else None


def members_of(session: Session, household_id: int) -> Sequence[tuple[HouseholdMember, str, str]]:
    rows = session.execute(
        select(HouseholdMember, Person.pin, Person.full_name)
        .join(Person, Person.id == HouseholdMember.person_id)
        .where(HouseholdMember.household_id == household_id)
        .order_by(HouseholdMember.left_on.is_not(None), HouseholdMember.id)
    ).all()
    return [(row[0], row[1], row[2]) for row in rows]


def pin_of(session: Session, person_id: int) -> str:
    return str(session.execute(select(Person.pin).where(Person.id == person_id)).scalar_one())


def next_household_number(session: Session, unit_code: str) -> str:
    """Household numbers: the commune code and a running number within it ("00004-000123")."""
    count = session.execute(
        select(func.count()).select_from(Household).where(Household.unit_code == unit_code)
    ).scalar_one()
    return f"{unit_code}-{int(count) + 1:06d}"


def search_persons(
    session: Session,
    *,
    name_folded: str | None,
    birth_from: date | None,
    birth_to: date | None,
    sex: str | None,
    life_status: str | None,
    unit_code: str | None,
    jurisdiction_code: str | None,
    limit: int,
    offset: int,
) -> Sequence[Person]:
    """Persons whose accent-free name starts with ``name_folded``, filtered.

    ``jurisdiction_code`` and ``unit_code`` each restrict to persons who belong to that commune
    (5 digits) or province (2 digits): their home unit is there (an index range scan on unit and
    name), or they hold a current temporary residence there.
    """
    conditions = _person_conditions(
        name_folded=name_folded, birth_from=birth_from, birth_to=birth_to, sex=sex, life_status=life_status
    )
    query: Select[Any] = select(Person).where(*conditions)
    for code in (jurisdiction_code, unit_code):
        if code:
            query = query.where(Person.id.in_(_members_of_unit(code, conditions)))
    query = query.order_by(Person.name_folded, Person.birth_date, Person.id).limit(limit).offset(offset)
    return session.execute(query).scalars().all()


def _person_conditions(
    *, name_folded: str | None, birth_from: date | None, birth_to: date | None, sex: str | None, life_status: str | None
) -> list[Any]:
    conditions: list[Any] = []
    if name_folded:
        conditions += [Person.name_folded >= name_folded, Person.name_folded < name_folded + "\uffff"]
    if birth_from is not None:
        conditions.append(Person.birth_date >= birth_from)
    if birth_to is not None:
        conditions.append(Person.birth_date <= birth_to)
    if sex:
        conditions.append(Person.sex == sex)
    if life_status:
        conditions.append(Person.life_status == life_status)
    return conditions


def _members_of_unit(code: str, conditions: list[Any]) -> Any:
    """Ids of persons who belong to a unit: by home (indexed with the name) or by a current
    temporary residence there (few per unit)."""
    if len(code) == 2:
        home, residence_column = Person.home_province_code == code, Residence.province_code
    else:
        home, residence_column = Person.home_commune_code == code, Residence.commune_code
    by_home = select(Person.id).where(home, *conditions)
    by_temporary_residence = (
        select(Residence.person_id)
        .join(Person, Person.id == Residence.person_id)
        .where(residence_column == code, Residence.kind == "temporary", Residence.valid_to.is_(None), *conditions)
    )
    return union(by_home, by_temporary_residence)


def merge_of_retired(session: Session, pin: str) -> PersonMerge | None:
    """The merge that retired the record of ``pin``, if it was retired."""
    return session.execute(select(PersonMerge).where(PersonMerge.retired_pin == pin)).scalar_one_or_none()


def pins_of_same_person(pin: str) -> Select[tuple[str]]:
    """A query of ``pin`` and of every PIN retired into its record, directly or through a chain of
    merges (A into B, then B into C: C's are C, B and A), for use inside another query.

    One recursive statement: the person by its unique PIN, then the merges into it by the index on
    ``surviving_person_id``. An unknown PIN gives no row.
    """
    same_person = (
        select(Person.id.label("person_id"), Person.pin.label("pin"))
        .where(Person.pin == pin)
        .cte("same_person", recursive=True)
    )
    merged_into = select(PersonMerge.retired_person_id, PersonMerge.retired_pin).join(
        same_person, PersonMerge.surviving_person_id == same_person.c.person_id
    )
    # UNION (not UNION ALL) ends the recursion even if the data ever held a cycle.
    same_person = same_person.union(merged_into)
    return select(same_person.c.pin)


def retired_pins_of(session: Session, surviving_person_id: int) -> list[str]:
    """The PINs merged directly into a person, oldest merge first."""
    return list(
        session.execute(
            select(PersonMerge.retired_pin)
            .where(PersonMerge.surviving_person_id == surviving_person_id)
            .order_by(PersonMerge.id)
        ).scalars()
    )


def current_relations_of(session: Session, person_id: int) -> Sequence[PersonRelation]:
    """A person's current ties to relatives (not ended)."""
    return (
        session.execute(
            select(PersonRelation)
            .where(PersonRelation.person_id == person_id, PersonRelation.valid_to.is_(None))
            .order_by(PersonRelation.id)
        )
        .scalars()
        .all()
    )


def current_relations_to(session: Session, relative_id: int) -> Sequence[PersonRelation]:
    """Other persons' current ties that name this person as the relative (a child's father, a spouse)."""
    return (
        session.execute(
            select(PersonRelation)
            .where(PersonRelation.relative_id == relative_id, PersonRelation.valid_to.is_(None))
            .order_by(PersonRelation.id)
        )
        .scalars()
        .all()
    )
