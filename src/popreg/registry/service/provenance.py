"""Where each attribute of a person comes from: the value the register holds now, the agency whose
recorded change set it, and when that change was recorded.

A partner that reads a person (eKYC) receives every attribute with its provenance, so that a bank
can tell a name the civil-status office corrected last week from one carried over at registration.
The caller (the sharing package) decides who may read what and writes the access log; this module
only answers from the register's current state and its history events.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from popreg.kit.errors import InvalidInput
from popreg.registry import repository
from popreg.registry.models import Person, PersonEvent, Residence
from popreg.registry.rules import LifeStatus, PartialDate, ResidenceKind, raise_merged
from popreg.registry.service.common import load_person, precision

# Each readable attribute and the keys of history events that change it. The two permanent-residence
# attributes are changed by events on a permanent residence record (``residences.<id>``).
_PERSON_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "full_name": ("full_name",),
    "birth_date": ("birth_date", "birth_date_precision"),
    "sex": ("sex",),
    "ethnicity_code": ("ethnicity_code",),
    "religion_code": ("religion_code",),
    "nationality": ("nationality",),
    "life_status": ("life_status",),
    "life_status_date": ("life_status_date",),
}
_PERMANENT_RESIDENCE_ATTRIBUTES = ("permanent_address", "permanent_commune_code")
READABLE_FIELDS: tuple[str, ...] = (*_PERSON_ATTRIBUTES, *_PERMANENT_RESIDENCE_ATTRIBUTES)
"""The attributes of a person the register can share with a partner, each with its provenance."""


@dataclass(frozen=True, slots=True)
class Provenanced:
    """One attribute as the register holds it now.

    ``source`` is the agency of the last history event that set the attribute, or the agency that
    registered (or imported) the person when no later event touched it; ``last_updated`` is the
    moment that event was recorded. ``value`` is ``None`` for an attribute the register does not
    hold (no permanent residence, no date of death).
    """

    value: str | None
    source: str
    last_updated: datetime


def field_provenance(session: Session, *, pin: str, fields: Sequence[str]) -> dict[str, Provenanced]:
    """The current value and provenance of each of ``fields`` of the person with ``pin``.

    Refuses a malformed PIN (``PIN_INVALID_STRUCTURE``), an unknown one (``PERSON_NOT_FOUND``) and an
    attribute the register does not share (``READ_FIELD_UNKNOWN``). Authorisation and the access log
    belong to the caller.
    """
    unknown = [field for field in fields if field not in READABLE_FIELDS]
    if unknown:
        raise InvalidInput(
            f"The register shares only these attributes: {', '.join(READABLE_FIELDS)}.",
            code="READ_FIELD_UNKNOWN",
            details={"field": "fields", "unknown": unknown},
        )
    person = load_person(session, pin)
    if person.life_status == LifeStatus.MERGED:
        raise_merged()
    events = repository.events_of(session, person.id)
    residence = repository.current_permanent_residence(session, person.id)
    answer: dict[str, Provenanced] = {}
    for field in fields:
        value = _person_value(person, field) if field in _PERSON_ATTRIBUTES else _residence_value(residence, field)
        setter = next((event for event in reversed(events) if _sets(event.changes, field)), None)
        answer[field] = _provenanced(value, setter, person, events)
    return answer


def _sets(changes: Mapping[str, Any], field: str) -> bool:
    """Whether a history event's changes set the attribute."""
    keys = _PERSON_ATTRIBUTES.get(field)
    if keys is not None:
        return any(key in changes for key in keys)
    return _touches_permanent_residence(changes)


def _touches_permanent_residence(changes: Mapping[str, Any]) -> bool:
    for key, values in changes.items():
        if not key.startswith("residences."):
            continue
        if any(isinstance(record, dict) and record.get("kind") == ResidenceKind.PERMANENT for record in values):
            return True
    return False


def _provenanced(
    value: str | None, setter: PersonEvent | None, person: Person, events: Sequence[PersonEvent]
) -> Provenanced:
    origin = setter or (events[0] if events else None)
    if origin is None:  # a record without any history event: only rows written outside the services
        return Provenanced(value=value, source="population-register", last_updated=person.created_at)
    return Provenanced(value=value, source=origin.source_agency, last_updated=origin.recorded_at)


def _person_value(person: Person, field: str) -> str | None:
    if field == "birth_date":
        return str(PartialDate(person.birth_date, precision(person)))
    value = getattr(person, field)
    if isinstance(value, date):
        return value.isoformat()
    return None if value is None else str(value)


def _residence_value(residence: Residence | None, field: str) -> str | None:
    if residence is None:
        return None
    return residence.address_line if field == "permanent_address" else residence.commune_code
