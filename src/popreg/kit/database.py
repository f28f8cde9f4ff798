"""Storage: SQLAlchemy engines, sessions and the declarative base shared by every package.

SQLite (WAL) is the embedded default and PostgreSQL (psycopg 3) the production backend; both run
every test. An optional read-only URL sends read traffic (verification) to a streaming replica.

Services never commit: the boundary that opened the unit of work (an HTTP request, a CLI command, a
job) commits when it succeeds and rolls back when anything raised, so a refused operation leaves no
trace in the database.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import psycopg
from psycopg import sql as psycopg_sql
from sqlalchemy import (
    ColumnElement,
    Connection,
    DateTime,
    Engine,
    MetaData,
    Table,
    bindparam,
    create_engine,
    event,
    func,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, QueryableAttribute, Session, sessionmaker
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """The declarative base of every table, with a constraint naming convention for migrations."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always returned timezone-aware, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are never stored: pass an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def _configure_sqlite(engine: Engine, *, immediate: bool) -> None:
    """WAL for concurrent readers, enforced foreign keys, and transactions that take the write
    lock when they begin (``BEGIN IMMEDIATE``), so two writers queue on the busy timeout instead of
    failing with "database is locked" when a reader tries to become a writer."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=NORMAL",
            "PRAGMA foreign_keys=ON",
            "PRAGMA busy_timeout=30000",
            "PRAGMA temp_store=MEMORY",
            "PRAGMA cache_size=-65536",
            "PRAGMA mmap_size=268435456",
        ):
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_engine(url: str, *, pool_size: int = 10, read_only: bool = False) -> Engine:
    """An engine for ``url`` with the pragmas or pool the backend needs."""
    if is_sqlite(url):
        memory = url in ("sqlite://", "sqlite:///:memory:")
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            poolclass=StaticPool if memory else None,
        )
        _configure_sqlite(engine, immediate=not read_only)
        return engine
    options: dict[str, Any] = {"pool_size": pool_size, "max_overflow": pool_size, "pool_pre_ping": True}
    if read_only:
        options["execution_options"] = {"postgresql_readonly": True}
    return create_engine(url, **options)


class Database:
    """The primary engine and, when configured, the read-only engine, with their session makers."""

    def __init__(self, url: str, *, read_url: str | None = None, pool_size: int = 10) -> None:
        self.url = url
        self.engine = make_engine(url, pool_size=pool_size)
        self.read_engine = make_engine(read_url, pool_size=pool_size, read_only=True) if read_url else self.engine
        self._sessions = sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        self._read_sessions = sessionmaker(self.read_engine, expire_on_commit=False, autoflush=False)

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """A session whose transaction commits when the block ends normally, else rolls back."""
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A session on the read-only engine (the primary when no replica is configured)."""
        with self._read_sessions() as session, session.begin():
            yield session

    def refresh_statistics(self) -> None:
        """Let the query planner learn the new sizes after a bulk load.

        Without it PostgreSQL plans against the statistics of the empty tables (or none) and may
        choose sequential scans for the register's point lookups until autovacuum catches up; a
        verification query that takes a millisecond can then take seconds. SQLite's ``optimize``
        analyses only what changed enough to matter.
        """
        with self.engine.connect() as connection:
            if self.backend == "postgresql":
                connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
            else:
                connection.exec_driver_sql("PRAGMA optimize")
                connection.commit()

    def dispose(self) -> None:
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()


# SQLite binds at most 32,766 parameters per statement; a list of values is sent in chunks well below it.
SQLITE_IN_CHUNK = 900


def one_of(
    session: Session, column: ColumnElement[Any] | QueryableAttribute[Any], values: Collection[Any]
) -> Iterator[ColumnElement[bool]]:
    """Conditions "column is one of values", each for one statement, as few as the backend allows.

    PostgreSQL: one condition, ``column IN (SELECT unnest(:array))``, one parameter whatever the count:
    a semi-join, which the planner runs as index probes or a hash join. A list of values as such
    (``IN ($2, ..., $901)`` or ``= ANY($2)``) becomes a filter that compares each row with every value,
    unhashed in the generic plan psycopg's prepared statements get after 5 runs: with statistics taken
    while the table was small, replay lookups scanned a partner's whole history against 1,000 keys
    (0.4 s a batch at 12,000 rows, growing with the history). SQLite: ``IN`` over chunks of 900 values.
    """
    ordered = sorted(set(values))
    element = column.__clause_element__() if isinstance(column, QueryableAttribute) else column
    if not ordered:
        return
    if session.get_bind().dialect.name == "postgresql":
        yield element.in_(select(func.unnest(bindparam(None, ordered, type_=ARRAY(element.type)))))
        return
    for start in range(0, len(ordered), SQLITE_IN_CHUNK):
        yield element.in_(ordered[start : start + SQLITE_IN_CHUNK])


def insert_many(session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert many rows (dicts with the same keys) in the session's transaction, as one bulk operation
    (see :func:`insert_columns`)."""
    if not rows:
        return
    names = list(rows[0].keys())
    insert_columns(session.connection(), table, names, [[row[name] for row in rows] for name in names])


def insert_columns(
    connection: Connection, table: Table, names: Sequence[str], columns: Sequence[Sequence[Any]]
) -> None:
    """Insert rows given column by column (``columns[i]`` holds the values of ``names[i]``), as one bulk
    operation of the driver.

    The values go through the columns' own bind conversions (JSON, UTC datetimes, dates), one function
    per column, then straight to the driver, skipping SQLAlchemy's per-row parameter processing (a
    third of a sync batch's CPU): PostgreSQL: ``COPY ... FROM STDIN``, several times cheaper than an
    ``INSERT`` per row; SQLite: one prepared ``INSERT`` run by the driver's ``executemany``.
    Server-side defaults and autoincrement ids are filled as for an ``INSERT``; Python-side column
    defaults are not, so rows carry every value. A constraint violation raises the same exception an
    ``INSERT`` would (a unique violation is an ``IntegrityError``), so that callers that retry on a
    conflict see no difference.
    """
    if not columns or not columns[0]:
        return
    statement, conversions = _bulk_plan(table, tuple(names), connection.dialect)
    converted = [
        column if convert is None else [None if value is None else convert(value) for value in column]
        for column, convert in zip(columns, conversions, strict=True)
    ]
    values = zip(*converted, strict=True)
    driver_connection: Any = connection.connection.driver_connection
    if connection.dialect.name == "postgresql":
        _copy_rows(driver_connection, statement, values, table=table.name)
        return
    try:
        driver_connection.executemany(statement, values)
    except sqlite3.Error as error:
        raise DBAPIError.instance(statement, None, error, sqlite3.Error) from error


@lru_cache(maxsize=64)
def _bulk_plan(table: Table, names: tuple[str, ...], dialect: Dialect) -> tuple[Any, tuple[Any, ...]]:
    """The statement (``COPY`` on PostgreSQL, a positional ``INSERT`` on SQLite) and each column's bind
    conversion, worked out once per table, columns and dialect: the access log writes a few rows per
    group commit, where this setup would otherwise cost more than the rows."""
    conversions = tuple(table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names)
    if dialect.name == "postgresql":
        listed = psycopg_sql.SQL(", ").join(psycopg_sql.Identifier(name) for name in names)
        copy = psycopg_sql.SQL("COPY {} ({}) FROM STDIN").format(psycopg_sql.Identifier(table.name), listed)
        return copy, conversions
    quote = dialect.identifier_preparer.quote
    listed_names = ", ".join(quote(name) for name in names)
    placeholders = ", ".join("?" * len(names))
    return f"INSERT INTO {quote(table.name)} ({listed_names}) VALUES ({placeholders})", conversions  # noqa: S608 - the table's own names


def _copy_rows(driver_connection: Any, statement: Any, values: Iterator[tuple[Any, ...]], *, table: str) -> None:
    try:
        with driver_connection.cursor() as cursor, cursor.copy(statement) as copy:
            for row in values:
                copy.write_row(row)
    except psycopg.Error as error:
        raise DBAPIError.instance(f"COPY {table}", None, error, psycopg.Error) from error
