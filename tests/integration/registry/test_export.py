"""`popreg export`: the Parquet file holds exactly the stored rows, on both databases, read through ADBC."""

import json
import shutil
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow.parquet as pq
import pytest
from sqlalchemy import select

from popreg.kit.database import Database, insert_many
from popreg.kit.errors import InvalidInput
from popreg.kit.migrations import upgrade
from popreg.registry import export
from popreg.registry.export import EXPORTABLE, arrow_schema, export_table
from popreg.registry.models import Person, PersonEvent

PERSONS = Person.__table__
EVENTS = PersonEvent.__table__
CREATED = datetime(2024, 3, 1, 23, 59, 58, 123456, tzinfo=UTC)


def person_row(index: int, **overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": index,
        "pin": f"0010900{index:05d}",
        "full_name": f"Trần Thị Số {index}",
        "name_folded": f"tran thi so {index}",
        "family_name": "Trần",
        "middle_name": "Thị",
        "given_name": f"Số {index}",
        "birth_date": date(1990, 1, 1) + timedelta(days=index),
        "birth_date_precision": "day",
        "sex": "F",
        "ethnicity_code": "01",
        "religion_code": "none",
        "nationality": "VNM",
        "birth_registration_code": "001",
        "birth_registration_unit_code": "00004",
        "origin_unit_code": "00004",
        "origin_unit_generation": "2025",
        "life_status": "alive",
        "life_status_date": None,
        "home_commune_code": "00004",
        "home_province_code": "01",
        "version": 1,
        "created_at": CREATED + timedelta(seconds=index),
        "updated_at": CREATED + timedelta(days=1, microseconds=index),
    }
    row.update(overrides)
    return row


def event_row(index: int, *, person_id: int, **overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": index,
        "person_id": person_id,
        "event_type": "person_registered",
        "changes": {"full_name": [None, f"Trần Thị Số {person_id}"], "ethnicity_code": [None, None]},
        "effective_date": date(2024, 3, 1),
        "recorded_at": CREATED + timedelta(microseconds=index),
        "source_agency": "Hà Nội",
        "legal_basis": "",
        "actor": "officer",
    }
    row.update(overrides)
    return row


def store(database: Database, table: Any, rows: list[dict[str, Any]]) -> None:
    with database.unit_of_work() as session:
        insert_many(session, table, rows)


def stored(database: Database, table: Any) -> list[dict[str, Any]]:
    with database.read_session() as session:
        return [dict(row._mapping) for row in session.execute(select(table).order_by(table.c.id))]


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches of a few hundred rows, so that a test table spans several batches and row groups."""
    monkeypatch.setattr(export, "SQLITE_BATCH_ROWS", 1000)
    monkeypatch.setattr(export, "POSTGRESQL_BATCH_BYTES", 64 << 10)


def test_exported_persons_equal_the_stored_rows_in_id_order(database, tmp_path, small_batches):
    rows = [
        person_row(
            index,
            # NULL and the empty string stay apart, and so do missing and present dates.
            ethnicity_code=None if index % 3 == 0 else "" if index % 3 == 1 else "05",
            origin_unit_code="" if index % 2 else None,
            life_status_date=date(2020, 2, 29) if index % 5 == 0 else None,
        )
        for index in range(1, 3001)
    ]
    # Stored out of id order: the file must be in id order all the same.
    store(database, PERSONS, rows[1500:] + rows[:1500])
    out = tmp_path / "persons.parquet"
    counts: list[int] = []

    summary = export_table(database, "persons", out, progress=counts.append)

    file = pq.ParquetFile(out)
    assert summary.rows == 3000
    assert file.schema_arrow == arrow_schema(PERSONS)
    assert file.metadata.num_row_groups > 1
    assert file.metadata.row_group(0).column(0).compression == "ZSTD"
    assert counts == sorted(counts) and counts[-1] == 3000 and len(counts) == file.metadata.num_row_groups
    exported = file.read().to_pylist()
    assert exported == stored(database, PERSONS)
    assert exported[0]["created_at"] == datetime(2024, 3, 1, 23, 59, 59, 123456, tzinfo=UTC)
    assert exported[0]["updated_at"].utcoffset() == timedelta(0)
    assert [row["ethnicity_code"] for row in exported[:3]] == ["", "05", None]


def test_exported_events_carry_their_changes_as_json_text(database, tmp_path):
    store(database, PERSONS, [person_row(1)])
    store(
        database,
        EVENTS,
        [
            event_row(1, person_id=1),
            event_row(2, person_id=1, event_type="note", changes=1.5),  # SQLite stores this JSON as a number
            event_row(3, person_id=1, changes={"ghi_chú": "Đã xác minh"}, legal_basis="Điều 12"),
        ],
    )
    out = tmp_path / "events.parquet"

    assert export_table(database, "events", out).rows == 3

    exported = pq.read_table(out)
    assert exported.schema == arrow_schema(EVENTS)
    assert exported["changes"][1].as_py() == "1.5"
    assert [json.loads(text) for text in exported["changes"].to_pylist()] == [
        row["changes"] for row in stored(database, EVENTS)
    ]
    assert exported.drop_columns(["changes"]).to_pylist() == [
        {name: value for name, value in row.items() if name != "changes"} for row in stored(database, EVENTS)
    ]


def test_an_empty_table_exports_a_valid_file_with_its_schema(database, tmp_path):
    for name, table in EXPORTABLE.items():
        out = tmp_path / f"{name}.parquet"

        assert export_table(database, name, out).rows == 0

        file = pq.ParquetFile(out)
        assert (file.metadata.num_rows, file.metadata.num_row_groups) == (0, 0)
        assert file.read().schema == arrow_schema(table)


def test_text_and_date_columns_null_in_the_first_batches_export_their_later_values(database, tmp_path, small_batches):
    # ADBC's SQLite driver types a column from the first batch: all NULL there would read as integers.
    rows = [
        person_row(index)
        | (
            {"ethnicity_code": None, "origin_unit_code": None, "life_status_date": None}
            if index <= 4500
            else {"ethnicity_code": "09", "origin_unit_code": "", "life_status_date": date(2021, 7, 1)}
        )
        for index in range(1, 5001)
    ]
    store(database, PERSONS, rows)
    out = tmp_path / "persons.parquet"

    assert export_table(database, "persons", out).rows == 5000

    exported = pq.read_table(out)
    assert exported.schema == arrow_schema(PERSONS)
    assert exported.to_pylist() == stored(database, PERSONS)
    assert exported["life_status_date"].null_count == 4500


def test_an_unknown_table_is_refused_and_writes_no_file(database, tmp_path):
    out = tmp_path / "pins.parquet"

    with pytest.raises(InvalidInput) as refused:
        export_table(database, "pin-counters", out)

    assert refused.value.code == "EXPORT_UNKNOWN_TABLE"
    assert not out.exists()


def test_the_export_reads_the_database_that_read_sessions_read(database, tmp_path, request):
    store(database, PERSONS, [person_row(1), person_row(2)])
    # A primary without these rows (SQLite: an empty copy) or that cannot be reached (PostgreSQL).
    if database.backend == "sqlite":
        shutil.copyfile(request.getfixturevalue("sqlite_template"), tmp_path / "primary.db")
        primary = f"sqlite:///{tmp_path / 'primary.db'}"
    else:
        primary = database.engine.url.set(database="popreg_no_such_database").render_as_string(hide_password=False)
    with_replica = Database(primary, read_url=database.url)
    out = tmp_path / "persons.parquet"
    try:
        assert export_table(with_replica, "persons", out).rows == 2
    finally:
        with_replica.dispose()
    assert pq.read_table(out).to_pylist() == stored(database, PERSONS)


def test_an_error_while_writing_is_raised_and_leaves_no_file(database, tmp_path, small_batches):
    store(database, PERSONS, [person_row(index) for index in range(1, 3001)])
    out = tmp_path / "persons.parquet"

    def interrupt(rows: int) -> None:
        raise RuntimeError(f"stopped after {rows} rows")

    with pytest.raises(RuntimeError, match="stopped after"):
        export_table(database, "persons", out, progress=interrupt)
    assert not out.exists()


def test_an_error_while_reading_is_raised_and_leaves_no_file(database, tmp_path, monkeypatch):
    store(database, PERSONS, [person_row(1)])
    out = tmp_path / "persons.parquet"
    # A text that is not a date breaks the conversion of SQLite's dates; PostgreSQL refuses the cast.
    monkeypatch.setattr(export, "_postgresql_select", lambda table: "SELECT 'x'::date AS id")
    monkeypatch.setattr(export, "_sqlite_select", lambda table, schema: "SELECT * FROM no_such_table")

    with pytest.raises(Exception, match="no_such_table|date"):
        export_table(database, "persons", out)
    assert not out.exists()


def test_a_sqlite_file_is_read_through_adbc_and_an_in_memory_one_through_its_session(
    sqlite_template, tmp_path, monkeypatch, small_batches
):
    rows = [person_row(index, ethnicity_code=None if index <= 2500 else "01") for index in range(1, 3001)]
    shutil.copyfile(sqlite_template, tmp_path / "popreg.db")
    in_file = Database(f"sqlite:///{tmp_path / 'popreg.db'}")
    in_memory = Database("sqlite://")
    upgrade(in_memory)
    for database in (in_file, in_memory):
        store(database, PERSONS, rows)
    read_by_session = []
    session_batches = export._sqlite_cursor_batches

    def spy(database, table, schema):
        read_by_session.append(database)
        return session_batches(database, table, schema)

    monkeypatch.setattr(export, "_sqlite_cursor_batches", spy)
    try:
        for database in (in_file, in_memory):
            out = tmp_path / "persons.parquet"
            assert export_table(database, "persons", out).rows == 3000
            assert pq.read_table(out).to_pylist() == stored(database, PERSONS)
        assert read_by_session == [in_memory]
    finally:
        in_file.dispose()
        in_memory.dispose()
