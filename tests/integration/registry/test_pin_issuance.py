"""PIN issuance is collision-free by construction, also under concurrent registrations."""

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select

from builders import BA_DINH, add_official
from popreg.officials import service as officials
from popreg.registry import service
from popreg.registry.models import Person
from popreg.registry.pin import SerialPermutation, Sex
from popreg.registry.schemas import PersonCreate

KEY = b"a-test-key-of-sufficient-length!"


def principal(database):
    with database.unit_of_work() as session:
        return officials.to_principal(officials.get_by_username(session, username="officer"))


def registration(index: int) -> PersonCreate:
    return PersonCreate(
        full_name=f"Ngô Văn Số {chr(65 + index % 26)}",
        birth_date="2001-02-03",
        sex=Sex.MALE,
        ethnicity_code="01",
        birth_registration_unit_code=BA_DINH,
        legal_basis="Trích lục khai sinh 1/2001",
    )


def test_concurrent_registrations_in_one_prefix_never_collide(database):
    add_official(database)
    official = principal(database)
    permutation = SerialPermutation(KEY)

    def register(index: int) -> str:
        with database.unit_of_work() as session:
            return service.register_person(
                session, principal=official, data=registration(index), permutation=permutation
            ).pin

    with ThreadPoolExecutor(max_workers=8) as pool:
        pins = list(pool.map(register, range(60)))
    assert len(set(pins)) == 60
    assert {pin[:6] for pin in pins} == {"001201"}
    with database.read_session() as session:
        stored = session.execute(select(Person.pin)).scalars().all()
    assert sorted(stored) == sorted(pins)


def test_the_serial_is_the_keyed_permutation_of_the_counter(database):
    add_official(database)
    official = principal(database)
    permutation = SerialPermutation(KEY)
    with database.unit_of_work() as session:
        pins = [
            service.register_person(session, principal=official, data=registration(i), permutation=permutation).pin
            for i in range(3)
        ]
    assert [permutation.counter("001201", int(pin[6:])) for pin in pins] == [0, 1, 2]


def test_a_serial_already_held_by_an_imported_record_is_skipped(database):
    add_official(database)
    official = principal(database)
    permutation = SerialPermutation(KEY)
    held_by_import = f"001201{permutation.serial('001201', 1):06d}"
    with database.unit_of_work() as session:
        first = service.register_person(session, principal=official, data=registration(0), permutation=permutation)
        # Give the record the PIN that counter 1 would produce, as an imported record might hold it.
        session.execute(Person.__table__.update().where(Person.id == first.id).values(pin=held_by_import))
    with database.unit_of_work() as session:
        pin = service.issue_pin(session, province_code="001", birth_year=2001, sex=Sex.MALE, permutation=permutation)
    assert pin != held_by_import
    assert permutation.counter("001201", int(pin[6:])) == 2
