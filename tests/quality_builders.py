"""A small register whose data-quality figures are known exactly, written row by row.

The register's services refuse the defects that the quality measures look for (a PIN that disagrees
with the date of birth, a date of birth in the future), as they should; records with such defects
arrive in a real register by migration from older systems. So these builders write the rows as a
migration would, with keyword defaults: say only what the test is about.

``build_known_register`` lays out ten persons (nine alive) in Hà Nội (01) and Hồ Chí Minh City (79)
whose every figure is written out in ``KNOWN``, measured on ``AS_OF``. Their verifications by partners
are access-log entries appended as the verification gateway and the bulk jobs append them (the
audit service, with the time of each set, since a test cannot wait a year); the tests of
``test_quality_verifications.py`` verify through the real API as well.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from itertools import count

from sqlalchemy.orm import Session

from popreg.audit.service import PendingEntry, append_entries
from popreg.cards.models import Card
from popreg.kit.clock import VIETNAM
from popreg.kit.database import Database
from popreg.kit.text import fold
from popreg.matching.models import DuplicateCandidate, DuplicateRun
from popreg.registry.models import Person, PersonEvent, PersonRelation, Residence
from popreg.registry.pin import Sex, compose_pin

AS_OF = date(2026, 6, 30)
RECENTLY = datetime(2026, 6, 1, 3, 0, tzinfo=UTC)
LONG_AGO = datetime(2024, 1, 15, 3, 0, tzinfo=UTC)
# The 365-day window of AS_OF starts on 2025-07-01 in Vietnam (UTC+7), that is at 17:00 UTC on 06-30.
FIRST_VIETNAM_HOUR_OF_WINDOW = datetime(2025, 6, 30, 17, 30, tzinfo=UTC)
LAST_VIETNAM_HOUR_BEFORE_WINDOW = datetime(2025, 6, 30, 16, 30, tzinfo=UTC)
BA_DINH, HA_NOI = "00004", "01"
SAIGON_WARD, HO_CHI_MINH = "26740", "79"
OLD_BA_DINH = "00001"  # Phường Phúc Xá, quận Ba Đình: a pre-2025 commune code
_serials = count(1)


def consistent_pin(*, birth_registration_code: str, birth_date: date, sex: str) -> str:
    return compose_pin(birth_registration_code, birth_date.year, Sex(sex), next(_serials))


def add_person(
    session: Session,
    *,
    pin: str | None = None,
    full_name: str = "Nguyễn Thị Lan",
    birth_date: date = date(1990, 5, 12),
    precision: str = "day",
    sex: str = "F",
    ethnicity_code: str | None = "01",
    birth_registration_code: str = "001",
    province: str | None = HA_NOI,
    commune: str | None = BA_DINH,
    life_status: str = "alive",
    life_status_date: date | None = None,
    updated_at: datetime = RECENTLY,
) -> Person:
    person = Person(
        pin=pin or consistent_pin(birth_registration_code=birth_registration_code, birth_date=birth_date, sex=sex),
        full_name=full_name,
        name_folded=fold(full_name),
        family_name=full_name.split()[0],
        middle_name=" ".join(full_name.split()[1:-1]),
        given_name=full_name.split()[-1],
        birth_date=birth_date,
        birth_date_precision=precision,
        sex=sex,
        ethnicity_code=ethnicity_code,
        religion_code="none",
        nationality="VNM",
        birth_registration_code=birth_registration_code,
        birth_registration_unit_code=None,
        origin_unit_code=None,
        origin_unit_generation=None,
        life_status=life_status,
        life_status_date=life_status_date,
        home_commune_code=commune,
        home_province_code=province,
        version=1,
        created_at=min(updated_at, RECENTLY),
        updated_at=updated_at,
    )
    session.add(person)
    session.flush()
    return person


def add_residence(
    session: Session,
    person: Person,
    *,
    kind: str = "permanent",
    unit_code: str = BA_DINH,
    generation: str = "2025",
    commune: str | None = BA_DINH,
    province: str | None = HA_NOI,
    valid_from: date = date(2020, 1, 1),
    valid_to: date | None = None,
) -> Residence:
    residence = Residence(
        person_id=person.id,
        kind=kind,
        address_line="Số 1 phố Đội Cấn",
        unit_code=unit_code,
        unit_generation=generation,
        commune_code=commune,
        province_code=province,
        household_id=None,
        valid_from=valid_from,
        valid_to=valid_to,
        created_at=RECENTLY,
    )
    session.add(residence)
    session.flush()
    return residence


def add_event(
    session: Session,
    person: Person,
    *,
    event_type: str,
    effective_date: date,
    delay_days: int,
    at: time = time(10, 0),
) -> PersonEvent:
    """A history event recorded ``delay_days`` after its effective date, at ``at`` Vietnam time."""
    recorded = datetime.combine(effective_date + timedelta(days=delay_days), at, tzinfo=VIETNAM).astimezone(UTC)
    event = PersonEvent(
        person_id=person.id,
        event_type=event_type,
        changes={},
        effective_date=effective_date,
        recorded_at=recorded,
        source_agency="test",
        legal_basis="test",
        actor="official:test",
    )
    session.add(event)
    session.flush()
    return event


def add_parent(session: Session, child: Person, parent: Person, *, kind: str = "mother") -> None:
    session.add(
        PersonRelation(
            person_id=child.id, relative_id=parent.id, kind=kind, valid_from=None, valid_to=None, created_at=RECENTLY
        )
    )
    session.flush()


def add_card(session: Session, person: Person, *, pin: str | None = None, status: str = "issued") -> None:
    session.add(
        Card(
            person_id=person.id,
            pin=pin or person.pin,
            status=status,
            application_kind="first",
            applied_at=RECENTLY,
            version=1,
        )
    )
    session.flush()


def add_access(
    session: Session,
    *,
    at: datetime,
    action: str = "verify",
    pin: str | None = None,
    result: str = "match",
    items: Sequence[tuple[str | None, str]] = (),
) -> None:
    """An access-log entry of a partner as the sharing package writes it: a single verification names
    the person and its result; a batch (``verify.batch``) or a bulk chunk (``verify.bulk``) is ``ok``
    with one item per person verified."""
    append_entries(
        session,
        [
            PendingEntry(
                principal_kind="partner",
                principal_id="vietbank",
                action=action,
                person_pin=pin,
                fields=("full_name", "birth_date"),
                purpose="account-opening",
                result="ok" if items else result,
                items=items,
                occurred_at=at,
            )
        ],
    )


def add_dedupe_run(
    session: Session,
    *,
    finished_at: datetime | None,
    open_persons: Sequence[Person] = (),
    dismissed_persons: Sequence[Person] = (),
) -> DuplicateRun:
    run = DuplicateRun(
        started_at=(finished_at or RECENTLY) - timedelta(hours=1),
        finished_at=finished_at,
        status="finished" if finished_at else "running",
        persons_scanned=10,
        pairs_scored=45,
        threshold=0.9,
        clusters=1,
        actor="system:cli",
    )
    session.add(run)
    session.flush()
    for status, persons in (("open", open_persons), ("dismissed", dismissed_persons)):
        for person in persons:
            session.add(
                DuplicateCandidate(
                    run_id=run.id,
                    cluster_id=f"c{run.id}",
                    person_id=person.id,
                    province_code=person.home_province_code,
                    match_probability=0.97,
                    status=status,
                )
            )
    session.flush()
    return run


def build_known_register(database: Database, *, with_dedupe: bool = True) -> dict[str, Person]:
    """Ten persons, nine alive: eight in Hà Nội (01), one alive and one deceased in Hồ Chí Minh City (79)."""
    with database.unit_of_work() as session:
        p = {
            "fine": add_person(session, full_name="Nguyễn Thị Lan"),
            "year_only_1": add_person(session, full_name="Trần Văn An", sex="M", precision="year"),
            "year_only_2": add_person(session, full_name="Lê Thị Hoa", precision="year"),
            "no_ethnicity": add_person(session, full_name="Phạm Văn Bình", sex="M", ethnicity_code=None),
            "old_unit": add_person(session, full_name="Hoàng Thị Mai"),
            # Born 1990, female: the century-and-sex digit must be 1; 0 says male.
            "wrong_pin": add_person(session, full_name="Vũ Thị Thu", pin="001090999999"),
            "born_in_future": add_person(session, full_name="Đặng Minh Khôi", birth_date=date(2027, 1, 1)),
            "older_than_mother": add_person(session, full_name="Bùi Văn Cường", sex="M", birth_date=date(1985, 3, 3)),
            "no_permanent": add_person(
                session,
                full_name="Đỗ Thị Hằng",
                birth_registration_code="079",
                province=HO_CHI_MINH,
                commune=SAIGON_WARD,
                updated_at=LONG_AGO,
            ),
            "deceased": add_person(
                session,
                full_name="Hồ Văn Dũng",
                sex="M",
                birth_registration_code="079",
                province=HO_CHI_MINH,
                commune=SAIGON_WARD,
                life_status="deceased",
                life_status_date=date(2026, 5, 1),
            ),
        }
        for key in ("fine", "year_only_1", "year_only_2", "no_ethnicity", "wrong_pin", "born_in_future"):
            add_residence(session, p[key])
        add_residence(session, p["older_than_mother"])
        add_residence(session, p["old_unit"], unit_code=OLD_BA_DINH, generation="pre2025")
        add_residence(
            session,
            p["no_permanent"],
            kind="temporary",
            unit_code=SAIGON_WARD,
            commune=SAIGON_WARD,
            province=HO_CHI_MINH,
        )
        # An ended permanent residence on an old code: not current, so in no measure.
        add_residence(
            session,
            p["no_permanent"],
            unit_code="26734",
            generation="pre2025",
            commune=SAIGON_WARD,
            province=HO_CHI_MINH,
            valid_to=date(2025, 12, 31),
        )
        add_residence(session, p["deceased"], unit_code=SAIGON_WARD, commune=SAIGON_WARD, province=HO_CHI_MINH)
        add_parent(session, p["older_than_mother"], p["fine"])
        add_card(session, p["fine"])
        add_card(session, p["old_unit"], pin="001190000001")  # a card printed with another number
        add_card(session, p["no_permanent"], status="cancelled")
        recent = date(2026, 4, 1)
        add_event(session, p["fine"], event_type="person.registered", effective_date=recent, delay_days=10)
        add_event(session, p["no_permanent"], event_type="person.registered", effective_date=recent, delay_days=30)
        # Known to the year only: its effective date is not the birth, so it is left out.
        add_event(session, p["year_only_1"], event_type="person.registered", effective_date=recent, delay_days=99)
        add_event(session, p["deceased"], event_type="person.died", effective_date=date(2026, 5, 1), delay_days=5)
        add_event(session, p["fine"], event_type="residence.permanent_registered", effective_date=recent, delay_days=2)
        add_event(
            session, p["old_unit"], event_type="residence.permanent_registered", effective_date=recent, delay_days=4
        )
        # Recorded at 00:30 in Vietnam, still the previous day in UTC: nine days, not eight.
        add_event(
            session,
            p["wrong_pin"],
            event_type="residence.permanent_registered",
            effective_date=recent,
            delay_days=9,
            at=time(0, 30),
        )
        add_event(
            session, p["no_permanent"], event_type="residence.temporary_registered", effective_date=recent, delay_days=1
        )
        # Recorded two years ago: outside the 365-day window.
        add_event(
            session,
            p["no_ethnicity"],
            event_type="residence.permanent_registered",
            effective_date=date(2023, 1, 1),
            delay_days=500,
        )
        # Not a life event at all.
        add_event(session, p["fine"], event_type="person.changed", effective_date=recent, delay_days=40)
        _add_verifications(session, p)
        if with_dedupe:
            add_dedupe_run(session, finished_at=datetime(2026, 6, 10, tzinfo=UTC), open_persons=[p["year_only_1"]])
            add_dedupe_run(
                session,
                finished_at=datetime(2026, 6, 20, tzinfo=UTC),
                open_persons=[p["year_only_1"], p["year_only_2"], p["deceased"]],
                dismissed_persons=[p["no_ethnicity"]],
            )
            add_dedupe_run(session, finished_at=None, open_persons=[p["old_unit"]])
        return p


def _add_verifications(session: Session, p: dict[str, Person]) -> None:
    """Confirmed in the window: "fine" (single), "year_only_1" (bulk item) in Hà Nội, "no_permanent"
    (batch item, on the window's first day in Vietnam) in Hồ Chí Minh City. Everything else here must
    not count: a no-match, a refusal, an invalid item, an eKYC read, a deceased person, and a match on
    the day before the window (in Vietnam, though the same UTC day as the batch that counts)."""
    add_access(session, at=RECENTLY, pin=p["fine"].pin)
    add_access(session, at=RECENTLY, pin=p["fine"].pin)  # twice: still one person
    add_access(session, at=RECENTLY, pin=p["no_ethnicity"].pin, result="no_match")
    add_access(session, at=RECENTLY, pin=p["older_than_mother"].pin, result="QUOTA_EXHAUSTED")
    add_access(session, at=RECENTLY, action="read", pin=p["born_in_future"].pin, result="ok")
    add_access(
        session,
        at=FIRST_VIETNAM_HOUR_OF_WINDOW,
        action="verify.batch",
        items=[
            (p["no_permanent"].pin, "match"),
            (p["old_unit"].pin, "no_match"),
            (None, "PIN_INVALID_STRUCTURE"),
            (p["deceased"].pin, "match"),
        ],
    )
    add_access(
        session, at=LAST_VIETNAM_HOUR_BEFORE_WINDOW, action="verify.batch", items=[(p["year_only_2"].pin, "match")]
    )
    add_access(
        session,
        at=RECENTLY,
        action="verify.bulk",
        items=[(p["year_only_1"].pin, "match"), (p["wrong_pin"].pin, "VERIFY_INVALID_DATE")],
    )


HA_NOI_CENSUS = 8_053_663
HO_CHI_MINH_CENSUS = 8_993_082 + 2_426_561 + 1_148_313  # with Bình Dương and Bà Rịa - Vũng Tàu
NATIONAL_CENSUS = 96_208_984

KNOWN: dict[str, dict[str, tuple[int | None, int | None]]] = {
    # measure: scope -> (numerator, denominator)
    "correct": {"national": (6, 9), HA_NOI: (5, 8), HO_CHI_MINH: (1, 1)},
    "correct.pin_consistent": {"national": (8, 9), HA_NOI: (7, 8), HO_CHI_MINH: (1, 1)},
    "correct.dates_plausible": {"national": (7, 9), HA_NOI: (6, 8), HO_CHI_MINH: (1, 1)},
    "correct.cards_agree": {"national": (1, 2), HA_NOI: (1, 2), HO_CHI_MINH: (0, 0)},
    "complete": {"national": (5, 9), HA_NOI: (5, 8), HO_CHI_MINH: (0, 1)},
    "complete.ethnicity_known": {"national": (8, 9), HA_NOI: (7, 8), HO_CHI_MINH: (1, 1)},
    "complete.birth_date_to_day": {"national": (7, 9), HA_NOI: (6, 8), HO_CHI_MINH: (1, 1)},
    "complete.permanent_residence": {"national": (8, 9), HA_NOI: (8, 8), HO_CHI_MINH: (0, 1)},
    "complete.census_coverage": {
        "national": (9, NATIONAL_CENSUS),
        HA_NOI: (8, HA_NOI_CENSUS),
        HO_CHI_MINH: (1, HO_CHI_MINH_CENSUS),
    },
    "clean.current_unit_codes": {"national": (8, 9), HA_NOI: (7, 8), HO_CHI_MINH: (1, 1)},
    "clean.duplicate_candidates": {"national": (2, 9), HA_NOI: (2, 8), HO_CHI_MINH: (0, 1)},
    "live.touched_recently": {"national": (8, 9), HA_NOI: (8, 8), HO_CHI_MINH: (0, 1)},
    "live.verified_recently": {"national": (3, 9), HA_NOI: (2, 8), HO_CHI_MINH: (1, 1)},
    # "no_permanent" was not changed in the year but a partner confirmed it: every record is live.
    "live.touched_or_verified": {"national": (9, 9), HA_NOI: (8, 8), HO_CHI_MINH: (1, 1)},
}
KNOWN_MEDIANS: dict[str, dict[str, tuple[float | None, int]]] = {
    # measure: scope -> (median days, events)
    "live.birth_delay": {"national": (20, 2), HA_NOI: (10, 1), HO_CHI_MINH: (30, 1)},
    "live.death_delay": {"national": (5, 1), HA_NOI: (None, 0), HO_CHI_MINH: (5, 1)},
    "live.move_delay": {"national": (3, 4), HA_NOI: (4, 3), HO_CHI_MINH: (1, 1)},
}
