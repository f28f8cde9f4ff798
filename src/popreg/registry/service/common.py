"""What the register's use cases share: places and jurisdiction, loading a person, and writing
history events."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol, cast

from sqlalchemy import Table
from sqlalchemy.orm import Session

from popreg.audit import service as audit
from popreg.kit import events
from popreg.kit.clock import today_in_vietnam, utc_now
from popreg.kit.database import insert_many
from popreg.kit.errors import InvalidInput, NotFound
from popreg.kit.events import PersonChanged, PersonsChanged
from popreg.officials.rules import (
    OfficialPrincipal,
    Place,
    require_jurisdiction,
    require_write,
)
from popreg.registry import repository
from popreg.registry.models import Person, PersonEvent, Residence
from popreg.registry.rules import (
    PERSON_FIELDS,
    DatePrecision,
    LifeStatus,
    RelationKind,
    ResidenceKind,
    raise_merged,
    require_legal_basis,
)
from popreg.units.catalogue import UnitGeneration, UnitLevel, get_unit, to_current

PARENT_KINDS = (RelationKind.FATHER, RelationKind.MOTHER)
SERIALS_PER_PREFIX = 1_000_000
DEFAULT_PURPOSE = "official_duty"


def resolve_place(unit_code: str, generation: UnitGeneration, *, field: str = "unit_code") -> Place:
    """The current commune and province of an address recorded on units of any generation.

    An address recorded before the July 2025 reform keeps its old code; the current commune is the
    one the old commune became part of.
    """
    unit = get_unit(unit_code, generation)
    if unit is None or unit.level is not UnitLevel.COMMUNE:
        raise InvalidInput(
            f"{unit_code} is not a commune of the {generation.value} administrative units.",
            code="UNIT_UNKNOWN",
            details={"field": field, "value": unit_code, "generation": generation.value},
        )
    if generation is UnitGeneration.Y2025:
        return Place(commune_code=unit.code, province_code=unit.province_code)
    current = to_current(unit.code, UnitLevel.COMMUNE)
    if current:
        return Place(commune_code=current[0].code, province_code=current[0].province_code)
    provinces = to_current(unit.province_code, UnitLevel.PROVINCE)
    return Place(commune_code=None, province_code=provinces[0].code if provinces else None)


def person_places(session: Session, person: Person) -> list[Place]:
    """Where a person belongs for jurisdiction: the home unit and every current residence."""
    places = [Place(person.home_commune_code, person.home_province_code)]
    places.extend(
        Place(r.commune_code, r.province_code) for r in repository.residences_of(session, person.id, current_only=True)
    )
    return places


def refresh_home(session: Session, person: Person) -> None:
    """Home = current permanent residence, else the latest temporary one, else the last residence
    ever registered, else the commune where the birth was registered."""
    residences = list(repository.residences_of(session, person.id))
    current = [r for r in residences if r.valid_to is None]
    chosen = next((r for r in current if r.kind == ResidenceKind.PERMANENT), None)
    if chosen is None and current:
        chosen = current[-1]
    if chosen is None and residences:
        chosen = max(residences, key=lambda r: (r.valid_to or date.max, r.id))
    if chosen is not None:
        person.home_commune_code, person.home_province_code = chosen.commune_code, chosen.province_code
    elif person.birth_registration_unit_code:
        place = resolve_place(person.birth_registration_unit_code, UnitGeneration.Y2025)
        person.home_commune_code, person.home_province_code = place.commune_code, place.province_code


def load_person(session: Session, pin: str, *, for_update: bool = False) -> Person:
    """A person by PIN. A malformed PIN is an input error, an unknown one is not found."""
    pin = pin.strip()
    if len(pin) != 12 or not pin.isascii() or not pin.isdigit():
        raise InvalidInput(
            "A personal identification number has exactly 12 digits.",
            code="PIN_INVALID_STRUCTURE",
            details={"value": pin[:20]},
        )
    person = repository.get_person_by_pin(session, pin, for_update=for_update)
    if person is None:
        raise NotFound(f"No person with PIN {pin} is in the register.", code="PERSON_NOT_FOUND")
    return person


def load_for_reading(session: Session, principal: OfficialPrincipal, pin: str, *, action: str, purpose: str) -> Person:
    """A person an official may read, with the read written to the access log (who, what, why)."""
    person = load_person(session, pin)
    require_jurisdiction(principal, person_places(session, person))
    log_read(session, principal, action=action, pin=person.pin, fields=("*",), purpose=purpose)
    return person


def log_read(
    session: Session,
    principal: OfficialPrincipal,
    *,
    action: str,
    pin: str | None,
    fields: tuple[str, ...],
    purpose: str,
) -> None:
    audit.record_access(
        session,
        principal_kind="official",
        principal_id=principal.username,
        action=action,
        person_pin=pin,
        fields=fields,
        purpose=purpose,
    )


def load_for_change(session: Session, principal: OfficialPrincipal, pin: str) -> Person:
    require_write(principal)
    person = load_person(session, pin, for_update=True)
    if person.life_status == LifeStatus.MERGED:
        raise_merged()
    require_jurisdiction(principal, person_places(session, person))
    return person


def snapshot(person: Person) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for field in PERSON_FIELDS:
        value = getattr(person, field)
        values[field] = value.isoformat() if isinstance(value, date) else value
    return values


def residence_record(residence: Residence, household_number: str | None) -> dict[str, Any]:
    return {
        "id": residence.id,
        "kind": residence.kind,
        "address_line": residence.address_line,
        "unit_code": residence.unit_code,
        "unit_generation": residence.unit_generation,
        "commune_code": residence.commune_code,
        "province_code": residence.province_code,
        "household_number": household_number,
        "valid_from": residence.valid_from.isoformat(),
        "valid_to": residence.valid_to.isoformat() if residence.valid_to else None,
    }


def record_event(
    session: Session,
    person: Person,
    *,
    event_type: str,
    changes: dict[str, list[Any]],
    principal: OfficialPrincipal,
    legal_basis: str,
    effective_date: date | None = None,
    source_agency: str | None = None,
) -> None:
    history = PersonEvent(
        person_id=person.id,
        event_type=event_type,
        changes=changes,
        effective_date=effective_date or today_in_vietnam(),
        recorded_at=utc_now(),
        source_agency=source_agency or agency_of(principal),
        legal_basis=legal_basis,
        actor=principal.actor,
    )
    session.add(history)
    # Other systems hear of every change through the outbox, written in this same transaction.
    events.publish(
        session,
        PersonChanged(
            person_id=person.id,
            pin=person.pin,
            event_type=event_type,
            changes=changes,
            effective_date=history.effective_date,
            source_agency=history.source_agency,
            occurred_at=history.recorded_at,
        ),
    )


class PersonIdentity(Protocol):
    """What a history event needs of its person: the record's id and its PIN. An ORM ``Person`` is one;
    batch writers pass lighter rows, so as not to load a thousand ORM objects per batch."""

    @property
    def id(self) -> int: ...

    @property
    def pin(self) -> str: ...


@dataclass(frozen=True, slots=True)
class PlannedEvent:
    """A history event a batch writer will record with :func:`record_events`."""

    person: PersonIdentity
    event_type: str
    changes: dict[str, list[Any]]
    legal_basis: str
    effective_date: date


def record_events(session: Session, planned: Sequence[PlannedEvent], *, principal: OfficialPrincipal) -> None:
    """Write many history events in one statement (``executemany``), in the caller's transaction, and
    publish them as one :class:`PersonsChanged` (the outbox writes its rows set-based too). For batch
    writers; a use case changing one person calls :func:`record_event`."""
    if not planned:
        return
    recorded_at = utc_now()
    source_agency = agency_of(principal)
    insert_many(
        session,
        cast(Table, PersonEvent.__table__),
        [
            {
                "person_id": item.person.id,
                "event_type": item.event_type,
                "changes": item.changes,
                "effective_date": item.effective_date,
                "recorded_at": recorded_at,
                "source_agency": source_agency,
                "legal_basis": item.legal_basis,
                "actor": principal.actor,
            }
            for item in planned
        ],
    )
    events.publish(
        session,
        PersonsChanged(
            tuple(
                PersonChanged(
                    person_id=item.person.id,
                    pin=item.person.pin,
                    event_type=item.event_type,
                    changes=item.changes,
                    effective_date=item.effective_date,
                    source_agency=source_agency,
                    occurred_at=recorded_at,
                )
                for item in planned
            )
        ),
    )


def record_history(
    session: Session,
    *,
    principal: OfficialPrincipal,
    pin: str,
    event_type: str,
    changes: dict[str, list[Any]],
    legal_basis: str,
    effective_date: date | None = None,
) -> None:
    """Write an event of another package (a card issued, a card cancelled) into a person's history,
    in the caller's transaction; ``changes`` keys are namespaced by that package (``cards.<id>``)."""
    person = load_person(session, pin)
    record_event(
        session,
        person,
        event_type=event_type,
        changes=changes,
        principal=principal,
        legal_basis=require_legal_basis(legal_basis),
        effective_date=effective_date,
    )


def agency_of(principal: OfficialPrincipal) -> str:
    """The agency an official acts for: the police of their unit (national level without one), or
    the agency whose sync update is applied."""
    return principal.acting_for or f"police:{principal.jurisdiction_code or 'national'}"


def touch(person: Person) -> None:
    person.version += 1
    person.updated_at = utc_now()


def precision(person: Person) -> DatePrecision:
    return DatePrecision(person.birth_date_precision)
