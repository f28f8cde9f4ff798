"""Streaming export of the register's tables to Parquet, for DuckDB and Spark.

Rows are never all in memory. Each table is read in Arrow record batches through ADBC: PostgreSQL
with ``adbc_driver_postgresql`` (binary ``COPY``), SQLite with ``adbc_driver_sqlite``; an in-memory
SQLite database, which no second connection can see, is read with the session's own ``sqlite3``
cursor instead. Both read the engine that :meth:`Database.read_session` reads (the replica when one
is configured) in a single statement, so the file is one consistent snapshot, ordered by id; ADBC's
connections are read-only.

Reading and writing overlap: while the next batch is read, a writer thread converts the previous
one to the table's Parquet schema and writes it as a zstd-compressed row group. At most
``QUEUED_BATCHES`` batches wait between the two, so memory stays bounded whatever the table's size.
"""

from __future__ import annotations

import queue
import sqlite3
import threading
from collections.abc import Callable, Generator, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import adbc_driver_manager
import adbc_driver_postgresql
import adbc_driver_postgresql.dbapi
import adbc_driver_sqlite
import adbc_driver_sqlite.dbapi
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import JSON, BigInteger, Boolean, Date, Integer, Table
from sqlalchemy.engine import URL

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
SQLITE_BATCH_ROWS = 100_000
POSTGRESQL_BATCH_BYTES = 32 << 20
ROW_GROUP_ROWS = 1_000_000
QUEUED_BATCHES = 2

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


def _conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """The batch in the Parquet schema. PostgreSQL sends ``integer`` columns as int32; SQLite holds
    booleans as 0 or 1, dates as ``YYYY-MM-DD`` text and timestamps as ``YYYY-MM-DD HH:MM:SS[.ffffff]``
    text in UTC without an offset."""
    columns = []
    for column, field in zip(batch.columns, schema, strict=True):
        if column.type != field.type:
            if pa.types.is_timestamp(field.type) and pa.types.is_string(column.type):
                column = column.cast(pa.timestamp("us"))
            column = column.cast(field.type)
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def libpq_uri(url: URL) -> str:
    """The libpq connection URI of a SQLAlchemy PostgreSQL URL (any ``+driver`` dropped), with its
    password and query parameters."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _postgresql_select(table: Table) -> str:
    names = [
        f"{column.name}::text AS {column.name}" if isinstance(column.type, JSON) else column.name
        for column in table.columns
    ]
    return f"SELECT {', '.join(names)} FROM {table.name} ORDER BY id"  # noqa: S608 - names come from our metadata


def _postgresql_batches(url: URL, table: Table) -> Generator[pa.RecordBatch, None, None]:
    with (
        adbc_driver_postgresql.dbapi.connect(libpq_uri(url), autocommit=True) as connection,
        connection.cursor() as cursor,
    ):
        # The export only reads; on the primary too, it must never be able to write.
        cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
        cursor.adbc_statement.set_options(
            **{adbc_driver_postgresql.StatementOptions.BATCH_SIZE_HINT_BYTES.value: str(POSTGRESQL_BATCH_BYTES)}
        )
        cursor.execute(_postgresql_select(table))
        yield from cursor.fetch_record_batch()


def _sqlite_select(table: Table, schema: pa.Schema) -> str:
    """The rows ordered by id, after one typed sentinel row whose id is NULL (SQLite sorts NULL first).

    ADBC's SQLite driver infers each column's type from the first batch and takes a column with only
    NULLs there for an integer, then fails on the first text in a later batch; the sentinel gives every
    column a value of its type in the first batch. Columns exported as text, dates or timestamps are
    cast to text: a JSON column has numeric affinity, so a JSON number is stored as a number.
    """
    sentinel, values = [], []
    for field in schema:
        if field.name == "id":
            sentinel.append("NULL AS id")
            values.append("id")
        elif pa.types.is_integer(field.type) or pa.types.is_boolean(field.type):
            sentinel.append(f"0 AS {field.name}")
            values.append(field.name)
        else:
            sentinel.append(f"'' AS {field.name}")
            values.append(f"CAST({field.name} AS TEXT)")
    rows = f"SELECT {', '.join(values)} FROM {table.name}"  # noqa: S608 - names come from our metadata
    return f"SELECT {', '.join(sentinel)} UNION ALL {rows} ORDER BY id"


def _sqlite_adbc_connection(url: URL) -> adbc_driver_sqlite.dbapi.AdbcSqliteConnection | None:
    """A read-only ADBC connection to the database file, or None where ADBC cannot open it: a database
    in memory (which only the session's own connection sees), a URL with driver options, a file that
    SQLite cannot open read-only."""
    if not url.database or url.database == ":memory:" or url.query:
        return None
    try:
        return adbc_driver_sqlite.dbapi.connect(
            f"file:{quote(str(Path(url.database).resolve()))}?mode=ro", autocommit=True
        )
    except adbc_driver_manager.Error:
        return None


def _sqlite_batches(database: Database, table: Table, schema: pa.Schema) -> Generator[pa.RecordBatch, None, None]:
    connection = _sqlite_adbc_connection(database.read_engine.url)
    if connection is None:
        yield from _sqlite_cursor_batches(database, table, schema)
        return
    with connection, connection.cursor() as cursor:
        # One row more for the sentinel, so that the first row group is as large as the others.
        cursor.adbc_statement.set_options(
            **{adbc_driver_sqlite.StatementOptions.BATCH_ROWS.value: str(SQLITE_BATCH_ROWS + 1)}
        )
        cursor.execute(_sqlite_select(table, schema))
        batches = iter(cursor.fetch_record_batch())
        first = next(batches, None)
        if first is not None:
            yield first.slice(1)  # without the sentinel
        yield from batches


def _sqlite_cursor_batches(database: Database, table: Table, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    """The same rows through the session's ``sqlite3`` cursor, as text and integers."""
    raw_types = [
        pa.int64() if pa.types.is_integer(field.type) or pa.types.is_boolean(field.type) else pa.string()
        for field in schema
    ]
    with database.read_session() as session:
        connection = session.connection().connection.driver_connection
        assert isinstance(connection, sqlite3.Connection)  # noqa: S101
        with closing(connection.cursor()) as cursor:
            cursor.execute(_sqlite_select(table, schema))
            cursor.fetchone()  # the sentinel
            while rows := cursor.fetchmany(SQLITE_BATCH_ROWS):
                columns = zip(*rows, strict=True)
                yield pa.RecordBatch.from_arrays(
                    [pa.array(values, kind) for values, kind in zip(columns, raw_types, strict=True)],
                    names=schema.names,
                )


def _write(
    batches: Iterator[pa.RecordBatch], writer: pq.ParquetWriter, schema: pa.Schema, progress: Progress | None
) -> int:
    """Write the batches in a writer thread while the caller's thread reads the next ones.

    An error in either thread stops both and is raised here; the writer thread has ended when this
    returns. ``progress`` is called from the writer thread with the number of rows written so far.
    """
    pending: queue.Queue[pa.RecordBatch | None] = queue.Queue(maxsize=QUEUED_BATCHES)
    failures: list[BaseException] = []
    written = 0

    def write() -> None:
        nonlocal written
        try:
            while (batch := pending.get()) is not None:
                writer.write_batch(_conform(batch, schema), row_group_size=ROW_GROUP_ROWS)
                written += batch.num_rows
                if progress is not None:
                    progress(written)
        except BaseException as error:  # raised again in the reading thread
            failures.append(error)
            # Keep taking batches so that the reading thread never waits on a full queue.
            while pending.get() is not None:
                pass

    thread = threading.Thread(target=write, name="parquet-writer")
    thread.start()
    try:
        for batch in batches:
            if failures:
                break
            if batch.num_rows:
                pending.put(batch)
    finally:
        pending.put(None)
        thread.join()
    if failures:
        raise failures[0]
    return written


def export_table(database: Database, name: str, out: Path, *, progress: Progress | None = None) -> ExportSummary:
    """Stream one table of the register into a Parquet file; a failed export leaves no file behind,
    so that a partial export is never taken for a complete one."""
    if name not in EXPORTABLE:
        raise InvalidInput(
            f"Cannot export {name!r}; choose one of {', '.join(EXPORTABLE)}.", code="EXPORT_UNKNOWN_TABLE"
        )
    table = EXPORTABLE[name]
    schema = arrow_schema(table)
    engine = database.read_engine
    reader = (
        _postgresql_batches(engine.url, table)
        if engine.dialect.name == "postgresql"
        else _sqlite_batches(database, table, schema)
    )
    try:
        with closing(reader) as batches, pq.ParquetWriter(out, schema, compression="zstd") as writer:
            rows = _write(batches, writer, schema, progress)
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    return ExportSummary(table=name, rows=rows, path=out)
