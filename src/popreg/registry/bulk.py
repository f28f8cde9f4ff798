"""Loading many trusted records into the register at once (the demo, benchmarks, migrations).

The input is a set of Arrow tables whose columns are named like the register's tables (the shape
``popreg.synth`` produces). Records keep their relative ids, shifted past the ids already in use;
every person gets a ``person.imported`` history event; each person's home unit (for jurisdiction) is
derived from their residences. PostgreSQL is loaded with ``COPY``, SQLite with batched inserts,
all in the caller's transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Table, func, select, text
from sqlalchemy.orm import Session

from popreg.kit.clock import utc_now
from popreg.registry.models import Household, HouseholdMember, Person, PersonEvent, PersonRelation, Residence
from popreg.units.catalogue import UnitGeneration, get_unit

BATCH_ROWS = 50_000
PERSON_COLUMNS = (
    "pin", "full_name", "name_folded", "family_name", "middle_name", "given_name", "birth_date",
    "birth_date_precision", "sex", "ethnicity_code", "religion_code", "nationality", "birth_registration_code",
    "birth_registration_unit_code", "origin_unit_code", "origin_unit_generation", "life_status", "life_status_date",
)
SNAPSHOT_FIELDS = tuple(c for c in PERSON_COLUMNS if c != "name_folded")


@dataclass(frozen=True, slots=True)
class BulkRecords:
    """The tables to load; ``persons.person_id`` and the other ids are relative to this batch."""

    persons: pa.Table
    households: pa.Table
    household_members: pa.Table
    residences: pa.Table
    relations: pa.Table


@dataclass(frozen=True, slots=True)
class BulkSummary:
    persons: int
    households: int
    residences: int
    relations: int
    events: int


def _max_id(session: Session, column: Any) -> int:
    return int(session.execute(select(func.coalesce(func.max(column), 0))).scalar_one())


def _home_codes(persons: pa.Table, residences: pa.Table) -> tuple[pa.Array, pa.Array]:
    """Home commune and province: the current permanent residence, else a current temporary one,
    else the commune where the birth was registered."""
    current = residences.filter(pc.is_null(residences["valid_to"]))
    ranked = current.append_column("rank", pc.if_else(pc.equal(current["kind"], "permanent"), 0, 1))
    ranked = ranked.sort_by([("person_id", "ascending"), ("rank", "ascending")])
    first = ranked.group_by("person_id", use_threads=False).aggregate(
        [("commune_code", "first"), ("province_code", "first")])
    joined = persons.select(["person_id", "birth_registration_unit_code"]).join(first, "person_id")
    joined = joined.sort_by("person_id")
    order = pc.sort_indices(persons["person_id"])
    if not pc.all(pc.equal(pc.take(persons["person_id"], order), joined["person_id"])).as_py():
        raise ValueError("person ids must be unique")
    commune = joined["commune_code_first"]
    province = joined["province_code_first"]
    fallback_units = pc.unique(joined["birth_registration_unit_code"]).to_pylist()
    province_of = {code: unit.province_code for code in fallback_units if code
                   and (unit := get_unit(code, UnitGeneration.Y2025)) is not None}
    fallback_province = pa.array([province_of.get(code) if code else None
                                  for code in joined["birth_registration_unit_code"].to_pylist()], pa.string())
    commune = pc.coalesce(commune, joined["birth_registration_unit_code"])
    province = pc.coalesce(province, fallback_province)
    # Back to the input order of persons.
    inverse = pc.sort_indices(order)
    return pc.take(commune, inverse), pc.take(province, inverse)


def _rows(table: pa.Table, columns: Sequence[str]) -> Iterator[list[dict[str, Any]]]:
    for batch in table.select(list(columns)).to_batches(max_chunksize=BATCH_ROWS):
        yield batch.to_pylist()


def _copy(session: Session, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Stream rows into PostgreSQL with COPY (text format)."""
    connection = session.connection().connection.driver_connection
    assert connection is not None  # noqa: S101 - an open session always has a DBAPI connection
    names = ", ".join(columns)
    with connection.cursor() as cursor, cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _insert(session: Session, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    if session.get_bind().dialect.name == "postgresql":
        _copy(session, table, columns, rows)
        return
    placeholders = ", ".join("?" for _ in columns)
    statement = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({placeholders})"  # noqa: S608
    raw = session.connection().connection.driver_connection
    assert raw is not None  # noqa: S101
    cursor = raw.cursor()
    batch: list[Sequence[Any]] = []
    for row in rows:
        batch.append(tuple(_sqlite_value(v) for v in row))
        if len(batch) >= BATCH_ROWS:
            cursor.executemany(statement, batch)
            batch.clear()
    if batch:
        cursor.executemany(statement, batch)
    cursor.close()


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _table_rows(table: pa.Table, columns: Sequence[str], shifts: dict[str, int],
                extra: dict[str, Any] | None = None) -> Iterator[tuple[Any, ...]]:
    for chunk in _rows(table, columns):
        for row in chunk:
            for name, offset in shifts.items():
                if row[name] is not None:
                    row[name] += offset
            values = [row[c] for c in columns]
            if extra:
                values.extend(extra.values())
            yield tuple(values)


def load(session: Session, records: BulkRecords, *, actor: str = "system:bulk-load",
         legal_basis: str = "bulk load", source_agency: str = "population-register") -> BulkSummary:
    """Load every table in the caller's transaction and return how many rows each received."""
    now = utc_now()
    person_shift = _max_id(session, Person.id)
    household_shift = _max_id(session, Household.id)
    residence_shift = _max_id(session, Residence.id)
    member_shift = _max_id(session, HouseholdMember.id)
    relation_shift = _max_id(session, PersonRelation.id)

    persons = records.persons
    home_commune, home_province = _home_codes(persons, records.residences)
    persons = persons.append_column("home_commune_code", home_commune).append_column("home_province_code", home_province)
    person_columns = ["person_id", *PERSON_COLUMNS, "home_commune_code", "home_province_code"]
    _insert(session, Person.__table__, ["id", *person_columns[1:], "version", "created_at", "updated_at"],  # type: ignore[arg-type]
            _table_rows(persons, person_columns, {"person_id": person_shift},
                        {"version": 1, "created_at": now, "updated_at": now}))

    _insert(session, Household.__table__,  # type: ignore[arg-type]
            ["id", "number", "head_person_id", "address_line", "unit_code", "unit_generation", "commune_code",
             "province_code", "created_at"],
            _table_rows(records.households, ["household_id", "number", "head_person_id", "address_line", "unit_code",
                                             "unit_generation", "commune_code", "province_code"],
                        {"household_id": household_shift, "head_person_id": person_shift}, {"created_at": now}))
    members = records.household_members.append_column(
        "member_id", pa.array(range(1, records.household_members.num_rows + 1), pa.int64()))
    _insert(session, HouseholdMember.__table__,  # type: ignore[arg-type]
            ["id", "household_id", "person_id", "relationship_to_head", "joined_on"],
            _table_rows(members, ["member_id", "household_id", "person_id", "relationship_to_head", "joined_on"],
                        {"member_id": member_shift, "household_id": household_shift, "person_id": person_shift}))
    residence_columns = ["residence_id", "person_id", "kind", "address_line", "unit_code", "unit_generation",
                         "commune_code", "province_code", "household_id", "valid_from", "valid_to"]
    _insert(session, Residence.__table__, ["id", *residence_columns[1:], "created_at"],  # type: ignore[arg-type]
            _table_rows(records.residences, residence_columns,
                        {"residence_id": residence_shift, "person_id": person_shift,
                         "household_id": household_shift}, {"created_at": now}))
    relations = records.relations.append_column(
        "relation_id", pa.array(range(1, records.relations.num_rows + 1), pa.int64()))
    _insert(session, PersonRelation.__table__,  # type: ignore[arg-type]
            ["id", "person_id", "relative_id", "kind", "created_at"],
            _table_rows(relations, ["relation_id", "person_id", "relative_id", "kind"],
                        {"relation_id": relation_shift, "person_id": person_shift, "relative_id": person_shift},
                        {"created_at": now}))
    events = _import_events(persons, person_shift, now=now, actor=actor, legal_basis=legal_basis,
                            source_agency=source_agency)
    _insert(session, PersonEvent.__table__,  # type: ignore[arg-type]
            ["person_id", "event_type", "changes", "effective_date", "recorded_at", "source_agency", "legal_basis",
             "actor"], events)
    if session.get_bind().dialect.name == "postgresql":
        for table in ("persons", "households", "household_members", "residences", "person_relations"):
            session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                                 f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"))
    session.flush()
    return BulkSummary(persons=persons.num_rows, households=records.households.num_rows,
                       residences=records.residences.num_rows, relations=records.relations.num_rows,
                       events=persons.num_rows)


def _import_events(persons: pa.Table, shift: int, *, now: datetime, actor: str, legal_basis: str,
                   source_agency: str) -> Iterator[tuple[Any, ...]]:
    """One ``person.imported`` event per person, carrying the whole record as its ``after`` values."""
    today = now.date()
    for chunk in _rows(persons, ["person_id", *SNAPSHOT_FIELDS]):
        for row in chunk:
            changes = {field: [None, row[field].isoformat() if isinstance(row[field], date) else row[field]]
                       for field in SNAPSHOT_FIELDS if row[field] is not None}
            yield (row["person_id"] + shift, "person.imported", json.dumps(changes, ensure_ascii=False), today, now,
                   source_agency, legal_basis, actor)

