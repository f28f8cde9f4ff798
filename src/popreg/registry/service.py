"""Use cases of the national population register.

Each function checks the official's role and jurisdiction, applies the civil-status rules, writes the
change and its history event in the caller's transaction (flush, never commit), and records every
read of a person in the access log.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy.orm import Session

from popreg.audit import service as audit
from popreg.kit import events
from popreg.kit.clock import end_of_day_utc, today_in_vietnam, utc_now
from popreg.kit.errors import Conflict, InvalidInput, NotFound
from popreg.kit.events import PersonDied
from popreg.kit.text import canonical, fold, split_full_name
from popreg.officials.rules import (
    OfficialPrincipal,
    Place,
    require_jurisdiction,
    require_write,
)
from popreg.registry import reference, repository
from popreg.registry.models import Household, HouseholdMember, Person, PersonEvent, PersonRelation, Residence
from popreg.registry.pin import SerialPermutation, Sex, century_sex_digit, check_pin
from popreg.registry.rules import (
    DatePrecision,
    HouseholdRelationship,
    LifeStatus,
    PartialDate,
    RelationKind,
    ResidenceKind,
    check_birth_date,
    check_event_date,
    check_life_transition,
    check_parent_older,
    diff,
    replay,
    require_alive,
    require_legal_basis,
)
from popreg.registry.schemas import (
    AsOfRead,
    EventRead,
    HistoryRead,
    HouseholdCreate,
    HouseholdLeave,
    HouseholdMemberIn,
    HouseholdMemberRead,
    HouseholdMembership,
    HouseholdRead,
    LifeStatusIn,
    PersonCreate,
    PersonPage,
    PersonRead,
    PersonSummary,
    PersonUpdate,
    RelationIn,
    RelationRead,
    ResidenceEnd,
    ResidenceIn,
    ResidenceRead,
)
from popreg.units.catalogue import UnitGeneration, UnitLevel, get_unit, to_current

PERSON_FIELDS = (
    "pin",
    "full_name",
    "family_name",
    "middle_name",
    "given_name",
    "birth_date",
    "birth_date_precision",
    "sex",
    "ethnicity_code",
    "religion_code",
    "nationality",
    "birth_registration_code",
    "birth_registration_unit_code",
    "origin_unit_code",
    "origin_unit_generation",
    "life_status",
    "life_status_date",
)
PARENT_KINDS = (RelationKind.FATHER, RelationKind.MOTHER)
SERIALS_PER_PREFIX = 1_000_000
DEFAULT_PURPOSE = "official_duty"


# ---------------------------------------------------------------------------------------------
# Places and jurisdiction


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


def _refresh_home(session: Session, person: Person) -> None:
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


def _load_person(session: Session, pin: str, *, for_update: bool = False) -> Person:
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


def _load_for_change(session: Session, principal: OfficialPrincipal, pin: str) -> Person:
    require_write(principal)
    person = _load_person(session, pin, for_update=True)
    require_jurisdiction(principal, person_places(session, person))
    return person


# ---------------------------------------------------------------------------------------------
# History


def _snapshot(person: Person) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for field in PERSON_FIELDS:
        value = getattr(person, field)
        values[field] = value.isoformat() if isinstance(value, date) else value
    return values


def _residence_record(residence: Residence, household_number: str | None) -> dict[str, Any]:
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


def _record_event(
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
    session.add(
        PersonEvent(
            person_id=person.id,
            event_type=event_type,
            changes=changes,
            effective_date=effective_date or today_in_vietnam(),
            recorded_at=utc_now(),
            source_agency=source_agency or _agency_of(principal),
            legal_basis=legal_basis,
            actor=principal.actor,
        )
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
    person = _load_person(session, pin)
    _record_event(
        session,
        person,
        event_type=event_type,
        changes=changes,
        principal=principal,
        legal_basis=require_legal_basis(legal_basis),
        effective_date=effective_date,
    )


def _agency_of(principal: OfficialPrincipal) -> str:
    """The agency an official acts for: the police of their unit (national level without one)."""
    return f"police:{principal.jurisdiction_code or 'national'}"


# ---------------------------------------------------------------------------------------------
# Registration


def _check_reference_codes(*, ethnicity_code: str | None, religion_code: str | None, nationality: str | None) -> None:
    if ethnicity_code is not None and reference.get_ethnic_group(ethnicity_code) is None:
        raise InvalidInput(
            f"{ethnicity_code} is not one of the 54 official ethnic group codes (01-54).",
            code="ETHNICITY_UNKNOWN",
            details={"field": "ethnicity_code"},
        )
    if religion_code is not None and reference.get_religion(religion_code) is None:
        raise InvalidInput(
            f"{religion_code} is not a recognised religion code; use 'none' for no religion.",
            code="RELIGION_UNKNOWN",
            details={"field": "religion_code"},
        )
    if nationality is not None and not (
        len(nationality) == 3 and nationality.isascii() and nationality.isalpha() and nationality.isupper()
    ):
        raise InvalidInput(
            "Nationality is an ISO 3166-1 alpha-3 code in capitals, such as VNM.",
            code="NATIONALITY_INVALID",
            details={"field": "nationality"},
        )


def _clean_name(full_name: str) -> str:
    name = canonical(full_name)
    if not fold(name) or any(ch.isdigit() for ch in name):
        raise InvalidInput(
            "A full name is made of letters (with diacritics as registered), without digits.",
            code="NAME_INVALID",
            details={"field": "full_name"},
        )
    return name


def _birth_registration_prefix(data: PersonCreate) -> tuple[str, str | None, Place | None]:
    """The PIN's province-or-country code (Circular 59/2021 Art. 4) and where the birth was registered."""
    if data.birth_registration_country_code is not None:
        code = data.birth_registration_country_code
        if data.birth_registration_unit_code is not None:
            raise InvalidInput(
                "Give either the commune or the country of birth registration, not both.",
                code="BIRTH_REGISTRATION_AMBIGUOUS",
            )
        if not (len(code) == 3 and code.isdigit() and 101 <= int(code) <= 295):
            raise InvalidInput(
                "A country code of birth registration abroad is a number from 101 to 295.",
                code="BIRTH_REGISTRATION_COUNTRY_INVALID",
                details={"field": "birth_registration_country_code"},
            )
        return code, None, None
    if data.birth_registration_unit_code is None:
        raise InvalidInput(
            "Give the commune where the birth was registered (or the country, if abroad).",
            code="BIRTH_REGISTRATION_REQUIRED",
            details={"field": "birth_registration_unit_code"},
        )
    place = resolve_place(data.birth_registration_unit_code, UnitGeneration.Y2025, field="birth_registration_unit_code")
    assert place.province_code is not None  # noqa: S101 - a current commune always has a province
    return "0" + place.province_code, data.birth_registration_unit_code, place


def issue_pin(
    session: Session, *, province_code: str, birth_year: int, sex: Sex, permutation: SerialPermutation
) -> str:
    """Issue a PIN that no one holds, collision-free by construction.

    The serial is a keyed permutation of a per-prefix counter taken under a row lock, so two
    concurrent issuances never draw the same serial. Serials already held by records imported
    from elsewhere are skipped in counter order (never a random retry).
    """
    prefix = f"{province_code}{century_sex_digit(birth_year, sex)}{birth_year % 100:02d}"
    while True:
        counter = repository.take_pin_counter(session, prefix)
        if counter >= SERIALS_PER_PREFIX:
            raise Conflict(f"Every serial of prefix {prefix} has been issued.", code="PIN_SERIALS_EXHAUSTED")
        pin = f"{prefix}{permutation.serial(prefix, counter):06d}"
        if not repository.pin_exists(session, pin):
            return pin


def register_person(
    session: Session, *, principal: OfficialPrincipal, data: PersonCreate, permutation: SerialPermutation
) -> Person:
    """Register a person and issue their PIN, with parents and permanent residence if given."""
    require_write(principal)
    legal_basis = require_legal_basis(data.legal_basis)
    today = today_in_vietnam()
    birth = PartialDate.parse(data.birth_date)
    check_birth_date(birth, today=today)
    full_name = _clean_name(data.full_name)
    _check_reference_codes(
        ethnicity_code=data.ethnicity_code, religion_code=data.religion_code, nationality=data.nationality
    )
    prefix_code, birth_unit, birth_place = _birth_registration_prefix(data)
    residence_place = (
        resolve_place(data.permanent_residence.unit_code, data.permanent_residence.unit_generation)
        if data.permanent_residence
        else None
    )
    if data.origin_unit_code is not None and get_unit(data.origin_unit_code, data.origin_unit_generation) is None:
        raise InvalidInput(
            f"{data.origin_unit_code} is not a unit of the {data.origin_unit_generation.value} units.",
            code="UNIT_UNKNOWN",
            details={"field": "origin_unit_code"},
        )
    # A birth registered abroad with no residence yet belongs to no unit: national officials only.
    places = [p for p in (birth_place, residence_place) if p is not None] or [Place(None, None)]
    require_jurisdiction(principal, places)
    parents = _load_parents(session, data, birth)

    family, middle, given = split_full_name(full_name)
    now = utc_now()
    person = Person(
        pin=issue_pin(
            session, province_code=prefix_code, birth_year=birth.value.year, sex=data.sex, permutation=permutation
        ),
        full_name=full_name,
        name_folded=fold(full_name),
        family_name=family,
        middle_name=middle,
        given_name=given,
        birth_date=birth.value,
        birth_date_precision=birth.precision.value,
        sex=data.sex.value,
        ethnicity_code=data.ethnicity_code,
        religion_code=data.religion_code,
        nationality=data.nationality,
        birth_registration_code=prefix_code,
        birth_registration_unit_code=birth_unit,
        origin_unit_code=data.origin_unit_code,
        origin_unit_generation=data.origin_unit_generation.value if data.origin_unit_code else None,
        life_status=LifeStatus.ALIVE.value,
        life_status_date=None,
        version=1,
        created_at=now,
        updated_at=now,
    )
    session.add(person)
    session.flush()
    effective = birth.value if birth.precision is DatePrecision.DAY else today
    _record_event(
        session,
        person,
        event_type="person.registered",
        changes=diff({}, _snapshot(person)),
        principal=principal,
        legal_basis=legal_basis,
        effective_date=effective,
        source_agency=data.source_agency,
    )
    for kind, parent in parents:
        _link(session, person, parent, kind=kind, valid_from=birth.value, principal=principal, legal_basis=legal_basis)
    if data.permanent_residence is not None:
        residence = data.permanent_residence.model_copy(
            update={"legal_basis": data.permanent_residence.legal_basis or legal_basis}
        )
        _add_residence(session, person, residence, principal=principal, today=today)
    _refresh_home(session, person)
    session.flush()
    return person


def _load_parents(session: Session, data: PersonCreate, birth: PartialDate) -> list[tuple[RelationKind, Person]]:
    parents: list[tuple[RelationKind, Person]] = []
    for kind, pin, sex in (
        (RelationKind.FATHER, data.father_pin, Sex.MALE),
        (RelationKind.MOTHER, data.mother_pin, Sex.FEMALE),
    ):
        if pin is None:
            continue
        try:
            parent = _load_person(session, pin)
        except (InvalidInput, NotFound) as error:
            error.details = {**error.details, "field": f"{kind.value}_pin"}
            raise
        if parent.sex != sex.value:
            raise InvalidInput(
                f"The {kind.value} given (PIN {pin}) is not recorded as {sex.name.lower()}.",
                code="RELATION_PARENT_SEX_MISMATCH",
                details={"field": f"{kind.value}_pin"},
            )
        check_parent_older(parent=PartialDate(parent.birth_date, _precision(parent)), child=birth, kind=kind)
        parents.append((kind, parent))
    return parents


def _precision(person: Person) -> DatePrecision:
    return DatePrecision(person.birth_date_precision)


# ---------------------------------------------------------------------------------------------
# Reading


def get_person(
    session: Session, *, principal: OfficialPrincipal, pin: str, purpose: str = DEFAULT_PURPOSE
) -> PersonRead:
    """A person's current record; the read is written to the access log."""
    person = _load_person(session, pin)
    require_jurisdiction(principal, person_places(session, person))
    audit.record_access(
        session,
        principal_kind="official",
        principal_id=principal.username,
        action="person.read",
        person_pin=person.pin,
        fields=("*",),
        purpose=purpose,
    )
    return person_view(session, person)


def get_person_record(session: Session, *, pin: str, for_update: bool = False) -> Person:
    """A person's row by PIN, for another package's service, which checks jurisdiction with
    :func:`person_places` and logs its own reads; ``for_update`` locks the row for a change."""
    return _load_person(session, pin, for_update=for_update)


def person_view_by_id(session: Session, person_id: int) -> PersonRead:
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound("The person is not in the register.", code="PERSON_NOT_FOUND")
    return person_view(session, person)


def person_view(session: Session, person: Person) -> PersonRead:
    households: dict[int, str] = {}
    residences = []
    for residence in repository.residences_of(session, person.id):
        number = None
        if residence.household_id is not None:
            if residence.household_id not in households:
                household = session.get(Household, residence.household_id)
                households[residence.household_id] = household.number if household else ""
            number = households[residence.household_id]
        unit = get_unit(residence.unit_code, UnitGeneration(residence.unit_generation))
        residences.append(
            ResidenceRead(
                id=residence.id,
                kind=ResidenceKind(residence.kind),
                address_line=residence.address_line,
                unit_code=residence.unit_code,
                unit_generation=residence.unit_generation,
                unit_name=unit.name if unit else None,
                commune_code=residence.commune_code,
                province_code=residence.province_code,
                household_number=number,
                valid_from=residence.valid_from,
                valid_to=residence.valid_to,
            )
        )
    relations = [
        RelationRead(
            kind=RelationKind(relation.kind),
            relative_pin=relative_pin,
            relative_name=relative_name,
            valid_from=relation.valid_from,
            valid_to=relation.valid_to,
        )
        for relation, relative_pin, relative_name in repository.relations_of(session, person.id)
    ]
    membership = repository.current_membership(session, person.id)
    household_view = None
    if membership is not None:
        member, household = membership
        household_view = HouseholdMembership(
            number=household.number,
            relationship_to_head=HouseholdRelationship(member.relationship_to_head),
            head_pin=repository.pin_of(session, household.head_person_id),
        )
    group = reference.get_ethnic_group(person.ethnicity_code) if person.ethnicity_code else None
    return PersonRead(
        pin=person.pin,
        full_name=person.full_name,
        family_name=person.family_name,
        middle_name=person.middle_name,
        given_name=person.given_name,
        birth_date=str(PartialDate(person.birth_date, _precision(person))),
        birth_date_precision=_precision(person),
        sex=Sex(person.sex),
        ethnicity_code=person.ethnicity_code,
        ethnicity_name=group.name if group else None,
        religion_code=person.religion_code,
        nationality=person.nationality,
        birth_registration_code=person.birth_registration_code,
        birth_registration_unit_code=person.birth_registration_unit_code,
        origin_unit_code=person.origin_unit_code,
        origin_unit_generation=person.origin_unit_generation,
        life_status=LifeStatus(person.life_status),
        life_status_date=person.life_status_date,
        version=person.version,
        residences=residences,
        relations=relations,
        household=household_view,
        created_at=person.created_at,
        updated_at=person.updated_at,
    )


def search_persons(
    session: Session,
    *,
    principal: OfficialPrincipal,
    name: str | None = None,
    birth_date: str | None = None,
    sex: Sex | None = None,
    life_status: LifeStatus | None = None,
    unit_code: str | None = None,
    page: int = 1,
    page_size: int = 20,
    purpose: str = DEFAULT_PURPOSE,
) -> PersonPage:
    """Search by accent-insensitive name prefix, date of birth and unit, within the jurisdiction."""
    folded = fold(name) if name else None
    if not folded and not birth_date and not unit_code:
        raise InvalidInput("Give a name, a date of birth or a unit to search by.", code="SEARCH_TOO_BROAD")
    birth_from = birth_to = None
    if birth_date:
        partial = PartialDate.parse(birth_date)
        birth_from, birth_to = partial.earliest(), partial.latest()
    if unit_code is not None and not (unit_code.isdigit() and len(unit_code) in (2, 5)):
        raise InvalidInput(
            "A unit code is a 2-digit province or 5-digit commune code.",
            code="UNIT_UNKNOWN",
            details={"field": "unit_code"},
        )
    rows = repository.search_persons(
        session,
        name_folded=folded,
        birth_from=birth_from,
        birth_to=birth_to,
        sex=sex.value if sex else None,
        life_status=life_status.value if life_status else None,
        unit_code=unit_code,
        jurisdiction_code=principal.jurisdiction_code,
        limit=page_size + 1,
        offset=(page - 1) * page_size,
    )
    terms = ",".join(f"{k}={v}" for k, v in (("name", folded), ("birth_date", birth_date), ("unit", unit_code)) if v)
    audit.record_access(
        session,
        principal_kind="official",
        principal_id=principal.username,
        action="person.search",
        person_pin=None,
        fields=(terms,),
        purpose=purpose,
    )
    items = [
        PersonSummary(
            pin=p.pin,
            full_name=p.full_name,
            birth_date=str(PartialDate(p.birth_date, _precision(p))),
            sex=Sex(p.sex),
            life_status=LifeStatus(p.life_status),
            home_commune_code=p.home_commune_code,
            home_province_code=p.home_province_code,
        )
        for p in rows[:page_size]
    ]
    return PersonPage(items=items, page=page, page_size=page_size, has_next=len(rows) > page_size)


def history(session: Session, *, principal: OfficialPrincipal, pin: str, purpose: str = DEFAULT_PURPOSE) -> HistoryRead:
    """Every recorded change of a person, oldest first."""
    person = _load_person(session, pin)
    require_jurisdiction(principal, person_places(session, person))
    audit.record_access(
        session,
        principal_kind="official",
        principal_id=principal.username,
        action="person.history",
        person_pin=person.pin,
        fields=("*",),
        purpose=purpose,
    )
    events = [
        EventRead.model_validate(event, from_attributes=True) for event in repository.events_of(session, person.id)
    ]
    return HistoryRead(pin=person.pin, events=events)


def as_of(
    session: Session,
    *,
    principal: OfficialPrincipal,
    pin: str,
    on: date,
    axis: str = "recorded",
    purpose: str = DEFAULT_PURPOSE,
) -> AsOfRead:
    """What the register said about a person at the end of day ``on`` (axis "recorded"), or what
    was in force on that day as known today (axis "effective")."""
    if axis not in ("recorded", "effective"):
        raise InvalidInput("axis is 'recorded' or 'effective'.", code="INPUT_INVALID", details={"field": "axis"})
    person = _load_person(session, pin)
    require_jurisdiction(principal, person_places(session, person))
    audit.record_access(
        session,
        principal_kind="official",
        principal_id=principal.username,
        action="person.as_of",
        person_pin=person.pin,
        fields=("*",),
        purpose=purpose,
    )
    if axis == "recorded":
        events = repository.events_of(session, person.id, recorded_until=end_of_day_utc(on))
    else:
        events = repository.events_of(session, person.id, effective_until=on)
    state = replay(event.changes for event in events) if events else {}
    return AsOfRead(pin=person.pin, date=on, axis=axis, existed=bool(events), state=state)


# ---------------------------------------------------------------------------------------------
# Changes


def update_person(session: Session, *, principal: OfficialPrincipal, pin: str, data: PersonUpdate) -> Person:
    """Correct or change personal data, citing the document that authorises it.

    The year of birth, the sex and the place of birth registration are encoded in the PIN, which
    never changes (Law on Identification 2023, Art. 12): such a correction is refused here.
    """
    legal_basis = require_legal_basis(data.legal_basis)
    person = _load_for_change(session, principal, pin)
    if data.expected_version is not None and data.expected_version != person.version:
        raise Conflict(
            f"The record changed since version {data.expected_version} (now {person.version}); "
            "reload it and apply the change again.",
            code="VERSION_CONFLICT",
        )
    _check_reference_codes(
        ethnicity_code=data.ethnicity_code, religion_code=data.religion_code, nationality=data.nationality
    )
    before = _snapshot(person)
    if data.full_name is not None:
        person.full_name = _clean_name(data.full_name)
        person.name_folded = fold(person.full_name)
        person.family_name, person.middle_name, person.given_name = split_full_name(person.full_name)
    if data.birth_date is not None:
        birth = PartialDate.parse(data.birth_date)
        check_birth_date(birth, today=today_in_vietnam())
        person.birth_date, person.birth_date_precision = birth.value, birth.precision.value
    if data.sex is not None:
        person.sex = data.sex.value
    for field in ("ethnicity_code", "religion_code", "nationality"):
        value = getattr(data, field)
        if value is not None:
            setattr(person, field, value)
    if data.origin_unit_code is not None:
        generation = data.origin_unit_generation or UnitGeneration.Y2025
        if get_unit(data.origin_unit_code, generation) is None:
            raise InvalidInput(
                f"{data.origin_unit_code} is not a unit of the {generation.value} units.",
                code="UNIT_UNKNOWN",
                details={"field": "origin_unit_code"},
            )
        person.origin_unit_code, person.origin_unit_generation = data.origin_unit_code, generation.value
    check = check_pin(person.pin, birth_date=person.birth_date, sex=Sex(person.sex))
    if not check.valid:
        raise Conflict(
            "The year of birth and the sex are encoded in the PIN, which never changes; this "
            "correction needs the PIN procedure, not a data change.",
            code="PIN_WOULD_BECOME_INCONSISTENT",
            details={"pin_errors": [error.code for error in check.errors]},
        )
    changes = diff(before, _snapshot(person))
    if not changes:
        raise InvalidInput("The change gives no new value.", code="CHANGE_EMPTY")
    _touch(person)
    _record_event(
        session,
        person,
        event_type="person.changed",
        changes=changes,
        principal=principal,
        legal_basis=legal_basis,
        effective_date=data.effective_date,
    )
    session.flush()
    return person


def _touch(person: Person) -> None:
    person.version += 1
    person.updated_at = utc_now()


def set_life_status(session: Session, *, principal: OfficialPrincipal, pin: str, data: LifeStatusIn) -> Person:
    """Record a death (death extract), or a court's declaration of missing or dead, or its annulment."""
    legal_basis = require_legal_basis(data.legal_basis)
    person = _load_for_change(session, principal, pin)
    current = LifeStatus(person.life_status)
    check_life_transition(current, data.status)
    check_event_date(
        data.date, birth=PartialDate(person.birth_date, _precision(person)), today=today_in_vietnam(), field="date"
    )
    before = _snapshot(person)
    person.life_status = data.status.value
    person.life_status_date = None if data.status is LifeStatus.ALIVE else data.date
    _touch(person)
    event_type = {LifeStatus.DECEASED: "person.died", LifeStatus.ALIVE: "person.declaration_annulled"}.get(
        data.status, f"person.{data.status.value}"
    )
    _record_event(
        session,
        person,
        event_type=event_type,
        changes=diff(before, _snapshot(person)),
        principal=principal,
        legal_basis=legal_basis,
        effective_date=data.date,
    )
    session.flush()
    if data.status in (LifeStatus.DECEASED, LifeStatus.DECLARED_DEAD):
        events.publish(
            session, PersonDied(pin=person.pin, date=data.date, actor=principal.actor, legal_basis=legal_basis)
        )
    return person


def add_relation(session: Session, *, principal: OfficialPrincipal, pin: str, data: RelationIn) -> Person:
    """Link a person to a parent, spouse or guardian (a spouse link is recorded on both persons)."""
    legal_basis = require_legal_basis(data.legal_basis)
    person = _load_for_change(session, principal, pin)
    relative = _load_person(session, data.relative_pin)
    if relative.id == person.id:
        raise InvalidInput("A person cannot be their own relative.", code="RELATION_SELF")
    if data.kind in PARENT_KINDS:
        expected = Sex.MALE if data.kind is RelationKind.FATHER else Sex.FEMALE
        if relative.sex != expected.value:
            raise InvalidInput(
                f"The {data.kind.value} is not recorded as {expected.name.lower()}.",
                code="RELATION_PARENT_SEX_MISMATCH",
                details={"field": "relative_pin"},
            )
        check_parent_older(
            parent=PartialDate(relative.birth_date, _precision(relative)),
            child=PartialDate(person.birth_date, _precision(person)),
            kind=data.kind,
        )
    if data.kind is not RelationKind.GUARDIAN and repository.current_relation(session, person.id, data.kind.value):
        raise Conflict(f"The person already has a current {data.kind.value} recorded.", code="RELATION_EXISTS")
    if data.kind is RelationKind.SPOUSE:
        require_alive(LifeStatus(person.life_status), action="record a marriage")
        require_alive(LifeStatus(relative.life_status), action="record a marriage")
        if repository.current_relation(session, relative.id, "spouse"):
            raise Conflict("The relative already has a current spouse recorded.", code="RELATION_EXISTS")
    _link(
        session,
        person,
        relative,
        kind=data.kind,
        valid_from=data.valid_from,
        principal=principal,
        legal_basis=legal_basis,
    )
    if data.kind is RelationKind.SPOUSE:
        _link(
            session,
            relative,
            person,
            kind=data.kind,
            valid_from=data.valid_from,
            principal=principal,
            legal_basis=legal_basis,
        )
    _touch(person)
    session.flush()
    return person


def _link(
    session: Session,
    person: Person,
    relative: Person,
    *,
    kind: RelationKind,
    valid_from: date | None,
    principal: OfficialPrincipal,
    legal_basis: str,
) -> None:
    relation = PersonRelation(
        person_id=person.id,
        relative_id=relative.id,
        kind=kind.value,
        valid_from=valid_from,
        valid_to=None,
        created_at=utc_now(),
    )
    session.add(relation)
    session.flush()
    record = {
        "kind": kind.value,
        "relative_pin": relative.pin,
        "relative_name": relative.full_name,
        "valid_from": valid_from.isoformat() if valid_from else None,
        "valid_to": None,
    }
    _record_event(
        session,
        person,
        event_type=f"relation.{kind.value}_added",
        changes={f"relations.{relation.id}": [None, record]},
        principal=principal,
        legal_basis=legal_basis,
        effective_date=valid_from,
    )


# ---------------------------------------------------------------------------------------------
# Residence


def register_residence(session: Session, *, principal: OfficialPrincipal, pin: str, data: ResidenceIn) -> Residence:
    """Register a permanent or temporary residence (Law on Residence 2020, Art. 20 and 27).

    The official of the receiving commune registers it, so jurisdiction is checked on the new
    address. A person has at most one permanent residence: registering another needs
    ``end_current`` (a move), which ends the current one the day before.
    """
    require_write(principal)
    require_legal_basis(data.legal_basis)
    person = _load_person(session, pin, for_update=True)
    require_alive(LifeStatus(person.life_status), action="register a residence")
    residence = _add_residence(session, person, data, principal=principal, today=today_in_vietnam())
    _refresh_home(session, person)
    _touch(person)
    session.flush()
    return residence


def _add_residence(
    session: Session, person: Person, data: ResidenceIn, *, principal: OfficialPrincipal, today: date
) -> Residence:
    legal_basis = require_legal_basis(data.legal_basis)
    place = resolve_place(data.unit_code, data.unit_generation)
    require_jurisdiction(principal, [place])
    valid_from = data.valid_from or today
    check_event_date(
        valid_from, birth=PartialDate(person.birth_date, _precision(person)), today=today, field="valid_from"
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
    _record_event(
        session,
        person,
        event_type=f"residence.{data.kind.value}_registered",
        changes={f"residences.{residence.id}": [None, _residence_record(residence, data.household_number)]},
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
    person = _load_person(session, pin, for_update=True)
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
    _refresh_home(session, person)
    _touch(person)
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
    before = _residence_record(residence, household.number if household else None)
    residence.valid_to = max(valid_to, residence.valid_from)
    session.flush()
    after = _residence_record(residence, household.number if household else None)
    _record_event(
        session,
        person,
        event_type=f"residence.{residence.kind}_ended",
        changes={f"residences.{residence.id}": [before, after]},
        principal=principal,
        legal_basis=legal_basis,
        effective_date=residence.valid_to,
    )


# ---------------------------------------------------------------------------------------------
# Households


def create_household(session: Session, *, principal: OfficialPrincipal, data: HouseholdCreate) -> Household:
    """Open a household at an address, with its head as the first member."""
    require_write(principal)
    legal_basis = require_legal_basis(data.legal_basis)
    place = resolve_place(data.unit_code, data.unit_generation)
    require_jurisdiction(principal, [place])
    head = _load_person(session, data.head_pin, for_update=True)
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
    person = _load_person(session, data.pin, for_update=True)
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
    person = _load_person(session, pin, for_update=True)
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
    before = _membership_record(household, member)
    member.left_on = data.left_on or today_in_vietnam()
    _touch(person)
    _record_event(
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
    _touch(person)
    _record_event(
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
    audit.record_access(
        session,
        principal_kind="official",
        principal_id=principal.username,
        action="household.read",
        person_pin=None,
        fields=(household.number,),
        purpose=DEFAULT_PURPOSE,
    )
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
