"""Writing many register rows at once: the fast path of imports, the demo and benchmarks.

Rows arrive as Arrow tables whose column names are the database's. PostgreSQL receives them with
``COPY ... FROM STDIN (FORMAT csv)`` written by Arrow's CSV writer (no Python loop per row); SQLite
with ``executemany`` over the columns. Everything runs in the caller's transaction.

``load`` takes a whole synthetic population (``popreg.synth``) with its batch-relative ids, shifts the
ids past those in use, derives each person's home unit, and writes a ``person.imported`` history
event per person, built column-wise.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from popreg.kit.clock import utc_now
from popreg.registry.models import Household, HouseholdMember, Person, PersonRelation, Residence
from popreg.registry.rules import PERSON_FIELDS
from popreg.units.catalogue import UnitGeneration, get_unit

# The columns of a person row written in bulk: the recorded fields and the folded name.
PERSON_COLUMNS = (*PERSON_FIELDS, "name_folded")
SERIAL_TABLES = ("persons", "households", "household_members", "residences", "person_relations", "person_events")
SQLITE_BATCH = 20_000


def write_rows(session: Session, table_name: str, rows: pa.Table) -> None:
    """Append ``rows`` to ``table_name``; column names must be the table's."""
    if rows.num_rows == 0:
        return
    if session.get_bind().dialect.name == "postgresql":
        _copy_postgresql(session, table_name, rows)
    else:
        _insert_sqlite(session, table_name, rows)


def _copy_postgresql(session: Session, table_name: str, rows: pa.Table) -> None:
    buffer = io.BytesIO()
    # Quote every non-null value, so that an empty string stays a string and only nulls are bare.
    pa_csv.write_csv(rows, buffer, pa_csv.WriteOptions(include_header=False, quoting_style="all_valid"))
    connection = session.connection().connection.driver_connection
    assert connection is not None  # noqa: S101 - an open session always has a DBAPI connection
    columns = ", ".join(rows.column_names)
    with connection.cursor() as cursor, cursor.copy(f"COPY {table_name} ({columns}) FROM STDIN (FORMAT csv)") as copy:
        view = buffer.getbuffer()
        for start in range(0, len(view), 1 << 20):
            copy.write(view[start : start + (1 << 20)])


def _sqlite_column(column: pa.ChunkedArray) -> list[object]:
    kind = column.type
    if pa.types.is_timestamp(kind):
        # SQLAlchemy's SQLite DateTime format, UTC without the offset.
        # Arrow's %S carries the microseconds.
        column = pc.strftime(pc.cast(column, pa.timestamp("us", tz="UTC")), format="%Y-%m-%d %H:%M:%S")
    elif pa.types.is_date(kind):
        column = pc.strftime(column, format="%Y-%m-%d")
    values: list[object] = column.to_pylist()
    return values


def _insert_sqlite(session: Session, table_name: str, rows: pa.Table) -> None:
    placeholders = ", ".join("?" for _ in rows.column_names)
    statement = f"INSERT INTO {table_name} ({', '.join(rows.column_names)}) VALUES ({placeholders})"  # noqa: S608
    raw = session.connection().connection.driver_connection
    assert raw is not None  # noqa: S101
    cursor = raw.cursor()
    for start in range(0, rows.num_rows, SQLITE_BATCH):
        chunk = rows.slice(start, SQLITE_BATCH)
        cursor.executemany(
            statement, zip(*(_sqlite_column(chunk.column(i)) for i in range(chunk.num_columns)), strict=True)
        )
    cursor.close()


def resync_sequences(session: Session) -> None:
    """After rows were written with explicit ids, move PostgreSQL's id sequences past them."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for table in SERIAL_TABLES:
        session.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)"
            )
        )


def reserve_ids(session: Session, table_name: str, count: int) -> pa.Array:
    """``count`` ids for new rows of ``table_name`` that no concurrent writer can take: drawn from
    the sequence on PostgreSQL; on SQLite the transaction holds the write lock, so the next ids
    after the largest are free."""
    if session.get_bind().dialect.name == "postgresql":
        drawn = (
            session.execute(
                text(
                    f"SELECT nextval(pg_get_serial_sequence('{table_name}', 'id')) "  # noqa: S608
                    "FROM generate_series(1, :n)"
                ),
                {"n": count},
            )
            .scalars()
            .all()
        )
        return pa.array(drawn, pa.int64())
    first = int(session.execute(text(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table_name}")).scalar_one())  # noqa: S608
    return pa.array(range(first, first + count), pa.int64())


def max_id(session: Session, column: Any) -> int:
    largest: int = session.execute(select(func.coalesce(func.max(column), 0))).scalar_one()
    return largest


def _json_string(values: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """Values as JSON literals: quoted strings (the register's fields hold no quote, backslash or
    control character: names and codes are validated), ISO dates, or null."""
    as_text = pc.strftime(values, format="%Y-%m-%d") if pa.types.is_date(values.type) else pc.cast(values, pa.string())
    quoted = pc.binary_join_element_wise('"', as_text, '"', "")
    return pc.fill_null(quoted, "null")


def history_events(
    persons: pa.Table,
    *,
    person_ids: pa.Array | pa.ChunkedArray,
    event_type: str,
    effective_date: pa.Array | pa.ChunkedArray | None,
    recorded_at: datetime,
    source_agency: str,
    legal_basis: str,
    actor: str,
) -> pa.Table:
    """One history event per person whose ``changes`` carry every registered field as ``[null, value]``."""
    parts: list[pa.ChunkedArray | pa.Array | str] = []
    for index, field in enumerate(PERSON_FIELDS):
        parts.append(("{" if index == 0 else ",") + f'"{field}":[null,')
        parts.append(_json_string(persons[field]))
        parts.append("]")
    parts.append("}")
    changes = pc.binary_join_element_wise(*parts, "")
    count = persons.num_rows
    today = recorded_at.date()
    return pa.table(
        {
            "person_id": person_ids,
            "event_type": pa.array([event_type] * count, pa.string()) if count else pa.array([], pa.string()),
            "changes": changes,
            "effective_date": effective_date if effective_date is not None else pa.array([today] * count, pa.date32()),
            "recorded_at": pa.array([recorded_at] * count, pa.timestamp("us", tz="UTC")),
            "source_agency": pa.array([source_agency] * count, pa.string()),
            "legal_basis": pa.array([legal_basis] * count, pa.string()),
            "actor": pa.array([actor] * count, pa.string()),
        }
    )


def home_units(
    person_ids: pa.Array | pa.ChunkedArray, birth_units: pa.Array | pa.ChunkedArray, residences: pa.Table
) -> tuple[pa.Array, pa.Array]:
    """Each person's home commune and province (see ``registry.service``): the current permanent
    residence, else a current temporary one, else the commune where the birth was registered."""
    current = residences.filter(pc.is_null(residences["valid_to"]))
    ranked = current.append_column("rank", pc.if_else(pc.equal(current["kind"], "permanent"), 0, 1))
    ranked = ranked.sort_by([("person_id", "ascending"), ("rank", "ascending")])
    first = ranked.group_by("person_id", use_threads=False).aggregate(
        [("commune_code", "first"), ("province_code", "first")]
    )
    keyed = pa.table(
        {"person_id": person_ids, "position": pa.array(range(len(person_ids)), pa.int64()), "birth_unit": birth_units}
    )
    joined = keyed.join(first, "person_id").sort_by("position")
    units = {code: get_unit(code, UnitGeneration.Y2025) for code in pc.unique(birth_units).to_pylist() if code}
    province_of = {code: unit.province_code for code, unit in units.items() if unit is not None}
    birth_province = pa.array(
        [province_of.get(code) if code else None for code in joined["birth_unit"].to_pylist()], pa.string()
    )
    commune = pc.coalesce(
        joined["commune_code_first"], pc.if_else(pc.is_valid(birth_province), joined["birth_unit"], None)
    )
    province = pc.coalesce(joined["province_code_first"], birth_province)
    return commune.combine_chunks(), province.combine_chunks()


class BulkRecords(Protocol):
    """A population to load (a ``popreg.synth`` population is one); ``person_id`` and the other
    ids are relative to this batch."""

    @property
    def persons(self) -> pa.Table: ...
    @property
    def households(self) -> pa.Table: ...
    @property
    def household_members(self) -> pa.Table: ...
    @property
    def residences(self) -> pa.Table: ...
    @property
    def relations(self) -> pa.Table: ...


@dataclass(frozen=True, slots=True)
class BulkSummary:
    persons: int
    households: int
    residences: int
    relations: int
    events: int


def _offset(session: Session, column: Any, ids: Any) -> int:
    smallest = pc.min(ids).as_py()
    return max_id(session, column) + 1 - (smallest if smallest is not None else 1)


def _shift(column: pa.ChunkedArray, offset: int) -> pa.ChunkedArray:
    return pc.add(column, offset) if offset else column


def _select(table: pa.Table, mapping: dict[str, str | pa.Array | pa.ChunkedArray]) -> pa.Table:
    """A table with the given database column names, from source columns or ready arrays."""
    return pa.table({name: table[source] if isinstance(source, str) else source for name, source in mapping.items()})


def _constant(value: object, count: int, kind: pa.DataType) -> pa.Array:
    return pa.array([value] * count, kind)


def person_rows(records: BulkRecords, person_ids: pa.Array | pa.ChunkedArray, now: datetime) -> pa.Table:
    """The ``persons`` rows of a population (its persons given the ids ``person_ids``), as the
    database holds them: recorded fields, folded name, home units, version 1, created now."""
    persons, count = records.persons, records.persons.num_rows
    home_commune, home_province = home_units(
        persons["person_id"], persons["birth_registration_unit_code"], records.residences
    )
    stamp = pa.timestamp("us", tz="UTC")
    return _select(
        persons,
        {
            "id": person_ids,
            **{c: c for c in PERSON_COLUMNS},
            "home_commune_code": home_commune,
            "home_province_code": home_province,
            "version": _constant(1, count, pa.int64()),
            "created_at": _constant(now, count, stamp),
            "updated_at": _constant(now, count, stamp),
        },
    )


def load(
    session: Session,
    records: BulkRecords,
    *,
    actor: str = "system:bulk-load",
    legal_basis: str = "bulk load",
    source_agency: str = "population-register",
) -> BulkSummary:
    """Load a whole population in the caller's transaction."""
    now = utc_now()
    stamp = pa.timestamp("us", tz="UTC")
    # Relative ids: the smallest id of each table in this batch lands just after the largest in use.
    person_shift = _offset(session, Person.id, records.persons["person_id"])
    household_shift = _offset(session, Household.id, records.households["household_id"])
    residence_shift = _offset(session, Residence.id, records.residences["residence_id"])
    member_shift = max_id(session, HouseholdMember.id)
    relation_shift = max_id(session, PersonRelation.id)

    persons, residences = records.persons, records.residences
    count = persons.num_rows
    person_ids = _shift(persons["person_id"], person_shift)
    write_rows(session, "persons", person_rows(records, person_ids, now))
    households = records.households
    write_rows(
        session,
        "households",
        _select(
            households,
            {
                "id": _shift(households["household_id"], household_shift),
                "number": "number",
                "head_person_id": _shift(households["head_person_id"], person_shift),
                "address_line": "address_line",
                "unit_code": "unit_code",
                "unit_generation": "unit_generation",
                "commune_code": "commune_code",
                "province_code": "province_code",
                "created_at": _constant(now, households.num_rows, stamp),
            },
        ),
    )
    members = records.household_members
    write_rows(
        session,
        "household_members",
        _select(
            members,
            {
                "id": pa.array(range(member_shift + 1, member_shift + members.num_rows + 1), pa.int64()),
                "household_id": _shift(members["household_id"], household_shift),
                "person_id": _shift(members["person_id"], person_shift),
                "relationship_to_head": "relationship_to_head",
                "joined_on": "joined_on",
            },
        ),
    )
    write_rows(
        session,
        "residences",
        _select(
            residences,
            {
                "id": _shift(residences["residence_id"], residence_shift),
                "person_id": _shift(residences["person_id"], person_shift),
                "kind": "kind",
                "address_line": "address_line",
                "unit_code": "unit_code",
                "unit_generation": "unit_generation",
                "commune_code": "commune_code",
                "province_code": "province_code",
                "household_id": _shift(residences["household_id"], household_shift),
                "valid_from": "valid_from",
                "valid_to": "valid_to",
                "created_at": _constant(now, residences.num_rows, stamp),
            },
        ),
    )
    relations = records.relations
    write_rows(
        session,
        "person_relations",
        _select(
            relations,
            {
                "id": pa.array(range(relation_shift + 1, relation_shift + relations.num_rows + 1), pa.int64()),
                "person_id": _shift(relations["person_id"], person_shift),
                "relative_id": _shift(relations["relative_id"], person_shift),
                "kind": "kind",
                "created_at": _constant(now, relations.num_rows, stamp),
            },
        ),
    )
    write_rows(
        session,
        "person_events",
        history_events(
            persons,
            person_ids=person_ids,
            event_type="person.imported",
            effective_date=None,
            recorded_at=now,
            source_agency=source_agency,
            legal_basis=legal_basis,
            actor=actor,
        ),
    )
    resync_sequences(session)
    session.flush()
    return BulkSummary(
        persons=count,
        households=households.num_rows,
        residences=residences.num_rows,
        relations=relations.num_rows,
        events=count,
    )
