"""Streaming export of the register's tables to Parquet, for DuckDB and Spark.

Rows are never all in memory: PostgreSQL streams ``COPY (SELECT ...) TO STDOUT`` which Arrow's CSV
reader parses block by block; SQLite is read with a cursor in chunks. Each block becomes one or
more Parquet row groups (zstd-compressed).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from sqlalchemy import JSON, BigInteger, Boolean, Date, Integer, Table
from sqlalchemy.orm import Session

from popreg.kit.database import Database, UTCDateTime
from popreg.kit.errors import InvalidInput
from popreg.registry.models import Household, HouseholdMember, Person, PersonEvent, PersonRelation, Residence

EXPORTABLE: dict[str, Table] = {
    "persons": Person.__table__,  # type: ignore[dict-item]
    "households": Household.__table__,  # type: ignore[dict-item]
    "household-members": HouseholdMember.__table__,  # type: ignore[dict-item]
    "residences": Residence.__table__,  # type: ignore[dict-item]
    "relations": PersonRelation.__table__,  # type: ignore[dict-item]
    "events": PersonEvent.__table__,  # type: ignore[dict-item]
}
CHUNK_ROWS = 200_000
COPY_BLOCK_BYTES = 32 << 20

Progress = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class ExportSummary:
    table: str
    rows: int
    path: Path


def arrow_schema(table: Table) -> pa.Schema:
    """The Parquet schema of a table: integers, text, dates, UTC timestamps, booleans; JSON as text."""
    fields = []
    for column in table.columns:
        kind = column.type
        if isinstance(kind, UTCDateTime):
            arrow_type: pa.DataType = pa.timestamp("us", tz="UTC")
        elif isinstance(kind, Integer | BigInteger):
            arrow_type = pa.int64()
        elif isinstance(kind, Date):
            arrow_type = pa.date32()
        elif isinstance(kind, Boolean):
            arrow_type = pa.bool_()
        else:
            arrow_type = pa.string()
        fields.append(pa.field(column.name, arrow_type, nullable=column.nullable or False))
    return pa.schema(fields)


def _postgresql_select(table: Table) -> str:
    parts = []
    for column in table.columns:
        if isinstance(column.type, UTCDateTime):
            parts.append(f"to_char({column.name} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
        elif isinstance(column.type, JSON):
            parts.append(f"{column.name}::text")
        else:
            parts.append(column.name)
    return f"SELECT {', '.join(parts)} FROM {table.name} ORDER BY id"  # noqa: S608 - names come from our metadata


def _postgresql_blocks(session: Session, table: Table, schema: pa.Schema) -> Iterator[pa.Table]:
    connection = session.connection().connection.driver_connection
    assert connection is not None  # noqa: S101
    # FORCE_QUOTE quotes every value, so a bare empty field is NULL and a quoted empty one "".
    convert = pa_csv.ConvertOptions(
        column_types={f.name: f.type for f in schema}, strings_can_be_null=True, quoted_strings_can_be_null=False
    )
    read = pa_csv.ReadOptions(column_names=schema.names, use_threads=True)
    pending = bytearray()
    with (
        connection.cursor() as cursor,
        cursor.copy(f"COPY ({_postgresql_select(table)}) TO STDOUT (FORMAT csv, FORCE_QUOTE *)") as copy,
    ):
        for data in copy:
            pending += data
            if len(pending) >= COPY_BLOCK_BYTES:
                cut = pending.rfind(b"\n") + 1
                yield pa_csv.read_csv(
                    io.BytesIO(bytes(pending[:cut])), read_options=read, convert_options=convert
                ).cast(schema)
                del pending[:cut]
    if pending:
        yield pa_csv.read_csv(io.BytesIO(bytes(pending)), read_options=read, convert_options=convert).cast(schema)


def _sqlite_array(values: tuple[object, ...], kind: pa.DataType) -> pa.Array:
    """SQLite returns dates and timestamps as text (timestamps in UTC without an offset)."""
    if pa.types.is_timestamp(kind):
        return pa.array(values, pa.string()).cast(pa.timestamp("us")).cast(kind)
    if pa.types.is_date(kind):
        return pa.array(values, pa.string()).cast(kind)
    return pa.array(values, kind)


def _sqlite_blocks(session: Session, table: Table, schema: pa.Schema) -> Iterator[pa.Table]:
    raw = session.connection().connection.driver_connection
    assert raw is not None  # noqa: S101
    cursor = raw.cursor()
    cursor.execute(f"SELECT {', '.join(schema.names)} FROM {table.name} ORDER BY id")  # noqa: S608
    while rows := cursor.fetchmany(CHUNK_ROWS):
        columns = list(zip(*rows, strict=True))
        yield pa.table(
            [_sqlite_array(values, field.type) for values, field in zip(columns, schema, strict=True)], schema=schema
        )
    cursor.close()


def export_table(database: Database, name: str, out: Path, *, progress: Progress | None = None) -> ExportSummary:
    """Stream one table of the register into a Parquet file."""
    if name not in EXPORTABLE:
        raise InvalidInput(
            f"Cannot export {name!r}; choose one of {', '.join(EXPORTABLE)}.", code="EXPORT_UNKNOWN_TABLE"
        )
    table = EXPORTABLE[name]
    schema = arrow_schema(table)
    rows = 0
    with database.read_session() as session, pq.ParquetWriter(out, schema, compression="zstd") as writer:
        blocks = (_postgresql_blocks if session.get_bind().dialect.name == "postgresql" else _sqlite_blocks)(
            session, table, schema
        )
        for block in blocks:
            writer.write_table(block, row_group_size=1_000_000)
            rows += block.num_rows
            if progress is not None:
                progress(rows)
    return ExportSummary(table=name, rows=rows, path=out)
