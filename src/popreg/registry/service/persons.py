"""Registering persons (with their PIN), reading and searching them, and changing their data,
life status and family relations."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from popreg.kit import events
from popreg.kit.clock import today_in_vietnam, utc_now
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
from popreg.registry.models import Household, Person, PersonRelation
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
    require_alive,
    require_legal_basis,
)
from popreg.registry.schemas import (
    HouseholdMembership,
    LifeStatusIn,
    PersonCreate,
    PersonPage,
    PersonRead,
    PersonSummary,
    PersonUpdate,
    RelationIn,
    RelationRead,
    ResidenceRead,
)
from popreg.registry.service.common import (
    DEFAULT_PURPOSE,
    PARENT_KINDS,
    SERIALS_PER_PREFIX,
    load_for_change,
    load_for_reading,
    load_person,
    log_read,
    precision,
    record_event,
    refresh_home,
    resolve_place,
    snapshot,
    touch,
)
from popreg.registry.service.merge import refuse_if_retired
from popreg.registry.service.residences import add_residence
from popreg.units.catalogue import UnitGeneration, get_unit


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
    record_event(
        session,
        person,
        event_type="person.registered",
        changes=diff({}, snapshot(person)),
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
        add_residence(session, person, residence, principal=principal, today=today)
    refresh_home(session, person)
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
            parent = load_person(session, pin)
        except (InvalidInput, NotFound) as error:
            error.details = {**error.details, "field": f"{kind.value}_pin"}
            raise
        if parent.sex != sex.value:
            raise InvalidInput(
                f"The {kind.value} given (PIN {pin}) is not recorded as {sex.name.lower()}.",
                code="RELATION_PARENT_SEX_MISMATCH",
                details={"field": f"{kind.value}_pin"},
            )
        check_parent_older(parent=PartialDate(parent.birth_date, precision(parent)), child=birth, kind=kind)
        parents.append((kind, parent))
    return parents


def get_person(
    session: Session, *, principal: OfficialPrincipal, pin: str, purpose: str = DEFAULT_PURPOSE
) -> PersonRead:
    """A person's current record; the read is written to the access log."""
    person = load_for_reading(session, principal, pin, action="person.read", purpose=purpose)
    refuse_if_retired(session, person)
    return person_view(session, person)


def get_person_record(session: Session, *, pin: str, for_update: bool = False) -> Person:
    """A person's row by PIN, for another package's service, which checks jurisdiction with
    :func:`person_places` and logs its own reads; ``for_update`` locks the row for a change."""
    return load_person(session, pin, for_update=for_update)


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
        birth_date=str(PartialDate(person.birth_date, precision(person))),
        birth_date_precision=precision(person),
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
    log_read(session, principal, action="person.search", pin=None, fields=(terms,), purpose=purpose)
    items = [
        PersonSummary(
            pin=p.pin,
            full_name=p.full_name,
            birth_date=str(PartialDate(p.birth_date, precision(p))),
            sex=Sex(p.sex),
            life_status=LifeStatus(p.life_status),
            home_commune_code=p.home_commune_code,
            home_province_code=p.home_province_code,
        )
        for p in rows[:page_size]
    ]
    return PersonPage(items=items, page=page, page_size=page_size, has_next=len(rows) > page_size)


def update_person(session: Session, *, principal: OfficialPrincipal, pin: str, data: PersonUpdate) -> Person:
    """Correct or change personal data, citing the document that authorises it.

    The year of birth, the sex and the place of birth registration are encoded in the PIN, which
    never changes (Law on Identification 2023, Art. 12): such a correction is refused here.
    """
    legal_basis = require_legal_basis(data.legal_basis)
    person = load_for_change(session, principal, pin)
    if data.expected_version is not None and data.expected_version != person.version:
        raise Conflict(
            f"The record changed since version {data.expected_version} (now {person.version}); "
            "reload it and apply the change again.",
            code="VERSION_CONFLICT",
        )
    _check_reference_codes(
        ethnicity_code=data.ethnicity_code, religion_code=data.religion_code, nationality=data.nationality
    )
    before = snapshot(person)
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
    changes = diff(before, snapshot(person))
    if not changes:
        raise InvalidInput("The change gives no new value.", code="CHANGE_EMPTY")
    touch(person)
    record_event(
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


def set_life_status(session: Session, *, principal: OfficialPrincipal, pin: str, data: LifeStatusIn) -> Person:
    """Record a death (death extract), or a court's declaration of missing or dead, or its annulment."""
    legal_basis = require_legal_basis(data.legal_basis)
    person = load_for_change(session, principal, pin)
    current = LifeStatus(person.life_status)
    check_life_transition(current, data.status)
    check_event_date(
        data.date, birth=PartialDate(person.birth_date, precision(person)), today=today_in_vietnam(), field="date"
    )
    before = snapshot(person)
    person.life_status = data.status.value
    person.life_status_date = None if data.status is LifeStatus.ALIVE else data.date
    touch(person)
    event_type = {LifeStatus.DECEASED: "person.died", LifeStatus.ALIVE: "person.declaration_annulled"}.get(
        data.status, f"person.{data.status.value}"
    )
    record_event(
        session,
        person,
        event_type=event_type,
        changes=diff(before, snapshot(person)),
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
    person = load_for_change(session, principal, pin)
    relative = load_person(session, data.relative_pin)
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
            parent=PartialDate(relative.birth_date, precision(relative)),
            child=PartialDate(person.birth_date, precision(person)),
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
    touch(person)
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
    record_event(
        session,
        person,
        event_type=f"relation.{kind.value}_added",
        changes={f"relations.{relation.id}": [None, record]},
        principal=principal,
        legal_basis=legal_basis,
        effective_date=valid_from,
    )
