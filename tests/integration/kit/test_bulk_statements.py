"""kit.database's bulk helpers on both backends: lookups by many values and inserts through the driver."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import Table, func, select
from sqlalchemy.exc import IntegrityError

from popreg.kit.database import SQLITE_IN_CHUNK, insert_many, one_of
from popreg.sync.models import SyncUpdate
from sharing_builders import add_partner

UPDATES: Table = SyncUpdate.__table__  # type: ignore[assignment]


def update_row(partner_id: str, key: str) -> dict[str, object]:
    return {
        "partner_id": partner_id,
        "idempotency_key": key,
        "body_hash": "0" * 64,
        "legal_basis": "Luật Bảo hiểm xã hội 2024",
        "person_ref": {"pin": "001090012345"},
        "fields": {"social_insurance_number": "0123456789"},
        "observed_at": datetime(2026, 11, 27, 3, 0, tzinfo=UTC),
        "received_at": datetime(2026, 11, 27, 3, 0, 1, tzinfo=UTC),
        "outcome": "rejected",
        "reason_code": "SYNC_PERSON_NOT_FOUND",
        "reason": "No person with this PIN is in the register.",
        "person_id": None,
        "candidates": [],
        "province_code": None,
        "commune_code": None,
        "review_status": None,
        "resolved_by": None,
        "resolved_at": None,
        "resolution_note": None,
    }


def test_one_of_finds_every_row_of_more_values_than_one_statement_takes(database):
    count = 2 * SQLITE_IN_CHUNK + 7
    add_partner(database, partner_id="bhxh")
    with database.unit_of_work() as session:
        insert_many(session, UPDATES, [update_row("bhxh", f"k-{n}") for n in range(count)])
    wanted = [f"k-{n}" for n in range(0, count, 2)] + ["k-unknown", "k-0"]  # a miss and a repeat

    with database.unit_of_work() as session:
        conditions = list(one_of(session, UPDATES.c.idempotency_key, wanted))
        keys = select(UPDATES.c.idempotency_key).where(UPDATES.c.partner_id == "bhxh")
        found = [key for condition in conditions for key in session.scalars(keys.where(condition))]

    assert sorted(found) == sorted(f"k-{n}" for n in range(0, count, 2))
    # PostgreSQL takes the values as one array whatever their number; SQLite in chunks of 900.
    assert len(conditions) == (1 if database.backend == "postgresql" else 2)


def test_one_of_with_no_value_gives_no_condition(database):
    with database.unit_of_work() as session:
        assert list(one_of(session, UPDATES.c.idempotency_key, [])) == []


def test_insert_many_stores_json_dates_and_times_as_an_insert_would(database):
    add_partner(database, partner_id="bhxh")
    with database.unit_of_work() as session:
        insert_many(session, UPDATES, [update_row("bhxh", "k-1")])

    with database.unit_of_work() as session:
        stored = session.scalars(select(SyncUpdate)).one()
        assert stored.fields == {"social_insurance_number": "0123456789"}
        assert stored.observed_at == datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
        assert stored.candidates == []
        assert stored.id is not None


def test_insert_many_raises_the_integrity_error_an_insert_would_and_stores_nothing(database):
    add_partner(database, partner_id="bhxh")
    with database.unit_of_work() as session:
        insert_many(session, UPDATES, [update_row("bhxh", "k-1")])

    with pytest.raises(IntegrityError), database.unit_of_work() as session:
        insert_many(session, UPDATES, [update_row("bhxh", "k-2"), update_row("bhxh", "k-1")])

    with database.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(UPDATES)) == 1
