"""Reading what the register holds about many persons at once, for verification.

The facts a claim is compared with are the person's recorded identity, their current permanent
residence (the Law on Residence 2020 allows one at a time) and the identity cards they were handed
(any status: a claimed card that was cancelled must answer as cancelled).

Two readers, both one round trip per batch and both on SQLite and PostgreSQL:

* :func:`fetch_facts` for the verification hot path: a few hundred PINs, one query, answered as
  :class:`~popreg.sharing.rules.RegisterFacts` objects. It goes straight to the driver's cursor.
* :func:`fetch_facts_table` for bulk files: millions of PINs, answered as an Arrow table
  (:data:`FACTS_SCHEMA`) for :mod:`popreg.sharing.columns`. PostgreSQL streams the rows out with
  ``COPY ... TO STDOUT`` as CSV that Arrow parses; SQLite joins a temporary table of the PINs.

Neither writes to the register: both work on a read-only replica (the PostgreSQL reader needs no
temporary table, which a hot standby would refuse).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from sqlalchemy.engine import Connection

from popreg.registry.pin import PIN_SHAPE
from popreg.sharing.rules import VERIFIABLE_FIELDS, CardFact, RegisterFacts

CARD_TYPE = pa.struct([("issued_on", pa.date32()), ("expiry_date", pa.date32()), ("status", pa.string())])
FACTS_SCHEMA = pa.schema(
    [
        ("pin", pa.string()),
        ("full_name", pa.string()),
        ("birth_date", pa.date32()),
        ("birth_date_precision", pa.string()),
        ("sex", pa.string()),
        ("nationality", pa.string()),
        ("life_status", pa.string()),
        ("permanent_commune_code", pa.string()),
        ("permanent_address", pa.string()),
        ("cards", pa.list_(CARD_TYPE)),
    ]
)
"""One row per person found. ``cards`` lists the cards that were handed over (date of issue known)."""

TABLE_CHUNK = 200_000
"""PINs per query of the column-wise reader: large enough to amortise a round trip, small enough to
keep the plan an index lookup per PIN and the memory of one answer modest."""

_PERSON_COLUMNS = (
    "p.pin, p.full_name, p.birth_date, p.birth_date_precision, p.sex, p.nationality, p.life_status, "
    "r.commune_code, r.address_line"
)
_RESIDENCE_JOIN = "LEFT JOIN residences AS r ON r.person_id = p.id AND r.kind = 'permanent' AND r.valid_to IS NULL"
_CARD_JOIN = "LEFT JOIN cards AS c ON c.person_id = p.id AND c.issued_on IS NOT NULL"
# Fixed text only (no input is ever formatted into these statements; PINs are bound parameters).
_HOT_SELECT = (
    f"SELECT {_PERSON_COLUMNS}, c.issued_on, c.expiry_date, c.status FROM persons AS p {_RESIDENCE_JOIN} {_CARD_JOIN}"  # noqa: S608
)
# A record retired by a merge (life status ``merged``) is not read: its PIN answers as an unknown PIN.
_CURRENT_RECORD = "p.life_status <> 'merged'"
_HOT_SQLITE = f"{_HOT_SELECT} WHERE p.pin IN (SELECT value FROM json_each(?)) AND {_CURRENT_RECORD}"  # noqa: S608
_HOT_POSTGRESQL = f"{_HOT_SELECT} WHERE p.pin = ANY(%s) AND {_CURRENT_RECORD}"  # noqa: S608


def _driver_connection(connection: Any) -> tuple[Any, bool]:
    """The DBAPI connection behind ``connection`` and whether it is PostgreSQL (else SQLite)."""
    if isinstance(connection, Connection):
        raw = connection.connection.driver_connection
        return raw, connection.dialect.name == "postgresql"
    return connection, type(connection).__module__.startswith("psycopg")


def _as_date(value: Any) -> Any:
    """A date as the driver returns it (psycopg: a date; SQLite: ISO text), as a date (None stays None)."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(value)


def fetch_facts(connection: Any, pins: Sequence[str]) -> dict[str, RegisterFacts]:
    """The facts of those of ``pins`` the register holds (unknown PINs are absent), in one query.

    ``connection`` is an SQLAlchemy :class:`~sqlalchemy.engine.Connection` or a DBAPI connection
    (``sqlite3`` or ``psycopg``); the query runs in its current transaction, if any.
    """
    wanted = list(dict.fromkeys(pin for pin in pins if PIN_SHAPE.fullmatch(pin)))
    if not wanted:
        return {}
    raw, postgresql = _driver_connection(connection)
    cursor = raw.cursor()
    try:
        if postgresql:
            cursor.execute(_HOT_POSTGRESQL, (wanted,), prepare=True)
        else:
            cursor.execute(_HOT_SQLITE, (json.dumps(wanted),))
        rows = cursor.fetchall()
    finally:
        cursor.close()
    found: dict[str, RegisterFacts] = {}
    cards: dict[str, list[CardFact]] = {}
    for pin, name, born, precision, sex, nationality, life, commune, address, issued, expiry, status in rows:
        if pin not in found:
            found[pin] = RegisterFacts(
                pin,
                name,
                _as_date(born),
                precision,
                sex,
                nationality,
                life,
                commune,
                address,
                (),
            )
        if issued is not None:
            cards.setdefault(pin, []).append(CardFact(_as_date(issued), _as_date(expiry), status))
    for pin, held in cards.items():
        person = found[pin]
        found[pin] = RegisterFacts(
            person.pin,
            person.full_name,
            person.birth_date,
            person.birth_date_precision,
            person.sex,
            person.nationality,
            person.life_status,
            person.permanent_commune_code,
            person.permanent_address,
            tuple(held),
        )
    return found


# ---------------------------------------------------------------------------------------------
# Column-wise


def facts_to_table(facts: Iterable[RegisterFacts]) -> pa.Table:
    """Facts objects as a table of :data:`FACTS_SCHEMA` (for tests and small batches)."""
    rows = list(facts)
    return pa.table(
        {
            "pin": [f.pin for f in rows],
            "full_name": [f.full_name for f in rows],
            "birth_date": [f.birth_date for f in rows],
            "birth_date_precision": [f.birth_date_precision for f in rows],
            "sex": [f.sex for f in rows],
            "nationality": [f.nationality for f in rows],
            "life_status": [f.life_status for f in rows],
            "permanent_commune_code": [f.permanent_commune_code for f in rows],
            "permanent_address": [f.permanent_address for f in rows],
            "cards": [
                [{"issued_on": c.issued_on, "expiry_date": c.expiry_date, "status": c.status} for c in f.cards]
                for f in rows
            ],
        },
        schema=FACTS_SCHEMA,
    )


def needs(fields: Iterable[str]) -> tuple[bool, bool]:
    """Whether claims on ``fields`` need the permanent residence, and the cards."""
    wanted = set(fields)
    unknown = wanted - set(VERIFIABLE_FIELDS)
    if unknown:
        raise ValueError(f"not verifiable: {sorted(unknown)}")
    return bool(wanted & {"permanent_commune_code", "permanent_address"}), "card_issued_on" in wanted


def fetch_facts_table(
    connection: Any, pins: pa.Array | pa.ChunkedArray, *, fields: Iterable[str] = VERIFIABLE_FIELDS
) -> pa.Table:
    """The facts of those of ``pins`` the register holds, as a table of :data:`FACTS_SCHEMA`.

    Only what claims on ``fields`` need is read: without an address claim the residence columns are
    null, without a card claim ``cards`` is empty. Malformed and repeated PINs are skipped.
    """
    residence, cards = needs(fields)
    values = pc.unique(pa.chunked_array([pins]) if isinstance(pins, pa.Array) else pins)
    values = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    values = pc.filter(values, pc.fill_null(pc.match_substring_regex(values, r"^[0-9]{12}$"), False))
    raw, postgresql = _driver_connection(connection)
    parts: list[pa.Table] = []
    for start in range(0, len(values), TABLE_CHUNK):
        chunk = values.slice(start, TABLE_CHUNK)
        read = _read_postgresql if postgresql else _read_sqlite
        parts.append(read(raw, chunk, residence=residence, cards=cards))
    if not parts:
        return FACTS_SCHEMA.empty_table()
    return pa.concat_tables(parts).combine_chunks()


_PERSON_TYPES = {
    "pin": pa.string(),
    "full_name": pa.string(),
    "birth_date": pa.date32(),
    "birth_date_precision": pa.string(),
    "sex": pa.string(),
    "nationality": pa.string(),
    "life_status": pa.string(),
    "permanent_commune_code": pa.string(),
    "permanent_address": pa.string(),
}
_CARD_TYPES = {"pin": pa.string(), "issued_on": pa.date32(), "expiry_date": pa.date32(), "status": pa.string()}


def _person_select(*, residence: bool, pin_filter: str) -> str:
    columns = _PERSON_COLUMNS if residence else _PERSON_COLUMNS.replace("r.commune_code, r.address_line", "NULL, NULL")
    join = _RESIDENCE_JOIN if residence else ""
    return f"SELECT {columns} FROM persons AS p {join} WHERE {pin_filter} AND {_CURRENT_RECORD}"  # noqa: S608


def _card_select(pin_filter: str) -> str:
    return (
        "SELECT p.pin, c.issued_on, c.expiry_date, c.status FROM persons AS p "  # noqa: S608
        f"JOIN cards AS c ON c.person_id = p.id AND c.issued_on IS NOT NULL WHERE {pin_filter} AND {_CURRENT_RECORD}"
    )


def _copy_csv(raw: Any, query: str, pins: list[str], types: dict[str, pa.DataType]) -> pa.Table:
    """Run ``query`` (one ``%s`` for the array of PINs) through ``COPY TO STDOUT`` and parse it."""
    buffer = io.BytesIO()
    with raw.cursor() as cursor, cursor.copy(f"COPY ({query}) TO STDOUT (FORMAT csv)", (pins,)) as copy:
        for block in copy:
            buffer.write(block)
    if buffer.tell() == 0:
        return pa.table({name: pa.array([], kind) for name, kind in types.items()})
    return pa_csv.read_csv(
        pa.py_buffer(buffer.getbuffer()),
        read_options=pa_csv.ReadOptions(column_names=list(types), use_threads=True),
        # COPY writes NULL as an empty field and an empty string as "".
        convert_options=pa_csv.ConvertOptions(
            column_types=types, null_values=[""], strings_can_be_null=True, quoted_strings_can_be_null=False
        ),
    )


def _read_postgresql(raw: Any, pins: pa.Array, *, residence: bool, cards: bool) -> pa.Table:
    listed = pins.to_pylist()
    persons = _copy_csv(raw, _person_select(residence=residence, pin_filter="p.pin = ANY(%s)"), listed, _PERSON_TYPES)
    held = _copy_csv(raw, _card_select("p.pin = ANY(%s)"), listed, _CARD_TYPES) if cards else None
    return _assemble(persons, held)


def _read_sqlite(raw: Any, pins: pa.Array, *, residence: bool, cards: bool) -> pa.Table:
    own_transaction = not raw.in_transaction  # one transaction: a consistent read, and cheap inserts
    cursor = raw.cursor()
    try:
        if own_transaction:
            cursor.execute("BEGIN")
        cursor.execute("CREATE TEMP TABLE IF NOT EXISTS verify_pins (pin TEXT PRIMARY KEY) WITHOUT ROWID")
        cursor.execute("DELETE FROM temp.verify_pins")
        cursor.executemany(
            "INSERT OR IGNORE INTO temp.verify_pins (pin) VALUES (?)", ((pin,) for pin in pins.to_pylist())
        )
        pin_filter = "p.pin IN (SELECT pin FROM temp.verify_pins)"
        cursor.execute(_person_select(residence=residence, pin_filter=pin_filter))
        persons = _sqlite_table(cursor.fetchall(), _PERSON_TYPES)
        held = None
        if cards:
            cursor.execute(_card_select(pin_filter))
            held = _sqlite_table(cursor.fetchall(), _CARD_TYPES)
        cursor.execute("DELETE FROM temp.verify_pins")
        if own_transaction:
            cursor.execute("COMMIT")
    except BaseException:
        if own_transaction and raw.in_transaction:
            cursor.execute("ROLLBACK")
        raise
    finally:
        cursor.close()
    return _assemble(persons, held)


def _sqlite_table(rows: list[tuple[Any, ...]], types: dict[str, pa.DataType]) -> pa.Table:
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in types]
    arrays = {}
    for (name, kind), values in zip(types.items(), columns, strict=True):
        if pa.types.is_date(kind):
            # SQLite keeps dates as ISO text.
            arrays[name] = pc.cast(pc.strptime(pa.array(values, pa.string()), format="%Y-%m-%d", unit="s"), kind)
        else:
            arrays[name] = pa.array(values, kind)
    return pa.table(arrays)


def _assemble(persons: pa.Table, held: pa.Table | None) -> pa.Table:
    """Persons with the list of their cards, in :data:`FACTS_SCHEMA`."""
    count = persons.num_rows
    if held is None or held.num_rows == 0:
        offsets = np.zeros(count + 1, dtype=np.int32)
        values = pa.array([], CARD_TYPE)
    else:
        position = pc.index_in(held["pin"], value_set=persons["pin"]).to_numpy(zero_copy_only=False)
        order = np.argsort(position, kind="stable")
        counts = np.bincount(position, minlength=count)
        offsets = np.zeros(count + 1, dtype=np.int32)
        np.cumsum(counts, out=offsets[1:])
        ordered = held.take(pa.array(order))
        values = pa.StructArray.from_arrays(
            [
                ordered["issued_on"].combine_chunks(),
                ordered["expiry_date"].combine_chunks(),
                ordered["status"].combine_chunks(),
            ],
            fields=list(CARD_TYPE),
        )
    card_lists = pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values, type=pa.list_(CARD_TYPE))
    return pa.table([*(persons[name] for name in _PERSON_TYPES), card_lists], schema=FACTS_SCHEMA)
