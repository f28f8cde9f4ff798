"""Appending to and verifying the access log.

Every append locks the log's head row for the rest of its transaction, so appends from every
process and thread are totally ordered and the chain never forks. Rows are written with Core bulk
inserts: the gateway appends thousands of entries a second (see ``audit.group_commit``).
"""

from __future__ import annotations

import dataclasses
import itertools
import secrets
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import groupby
from typing import Any, cast

from sqlalchemy import Column, Connection, Select, String, Table, bindparam, func, insert, select, union_all, update
from sqlalchemy.orm import Session

from popreg.audit.models import AccessLogEntry, AccessLogHead, AccessLogItem
from popreg.audit.rules import (
    GENESIS_HASH,
    ChainProblem,
    ChainReport,
    LogContent,
    StoredEntry,
    entry_hash,
    items_digest,
    stored_items_digest,
    verify_chain,
)
from popreg.kit.clock import utc_now
from popreg.kit.database import insert_columns

_ENTRIES = cast(Table, AccessLogEntry.__table__)
_ITEMS = cast(Table, AccessLogItem.__table__)
_HEAD = cast(Table, AccessLogHead.__table__)

# Built once: constructing a statement costs more than executing a cached one at this rate.
_LOCK_HEAD = select(_HEAD.c.last_seq, _HEAD.c.last_hash).where(_HEAD.c.id == 1).with_for_update()
_CREATE_HEAD = insert(_HEAD).values(id=1, last_seq=0, last_hash=GENESIS_HASH)
_MOVE_HEAD = update(_HEAD).where(_HEAD.c.id == 1).values(last_seq=bindparam("new_seq"), last_hash=bindparam("new_hash"))
ENTRY_COLUMNS = tuple(column.key for column in _ENTRIES.columns)


def _width(column: Column[Any]) -> int:
    return cast(String, column.type).length or 0


# The widest value each column takes; an entry that does not fit is refused before it is queued,
# so one caller's oversized input can never fail the group commit of everyone else's entries.
_TEXT_LIMITS = {
    name: _width(_ENTRIES.c[name]) for name in ("principal_kind", "principal_id", "action", "purpose", "result")
}
_PIN_LENGTH = _width(_ENTRIES.c.person_pin)
_TRANSACTION_ID_LENGTH = _width(_ENTRIES.c.transaction_id)
_ITEM_RESULT_LENGTH = _width(_ITEMS.c.result)


@dataclass(frozen=True, slots=True)
class PendingEntry:
    """One access to log: who (principal), did what (action), to whom (person or items), why, with what result.

    A batch or bulk request is one entry whose ``items`` are ``(person_pin, result)`` in request
    order; ``person_pin`` is then usually ``None``. Text must fit its column (principal kind 16
    characters, principal id and purpose 120, action and results 40, PINs 12, transaction id 36):
    clip or drop untrusted input (a PIN that is not well formed is logged as ``None``) before
    logging it.
    """

    principal_kind: str  # "official" | "partner" | "anonymous" | "system"
    principal_id: str
    action: str  # e.g. "verify", "verify.batch", "verify.bulk", "read", "token"
    person_pin: str | None
    fields: Sequence[str] = ()
    purpose: str = ""
    legal_basis: str = ""
    result: str = "ok"  # "ok", "match", "no_match", or the refusal's error code
    transaction_id: str | None = None
    items: Sequence[tuple[str | None, str]] = ()  # (person_pin, result) per item of a batch or bulk request
    occurred_at: datetime | None = None  # default: when it is appended (UTC)


class InvalidLogEntry(ValueError):
    """An entry that cannot be stored as given: a programming error of the caller, never input to echo."""


def check_entry(entry: PendingEntry) -> None:
    """Refuse an entry whose text does not fit its columns or whose time has no time zone."""
    for name, limit in _TEXT_LIMITS.items():
        value: str = getattr(entry, name)
        if len(value) > limit:
            raise InvalidLogEntry(f"the access-log field {name} takes at most {limit} characters, got {len(value)}")
    if entry.person_pin is not None and len(entry.person_pin) > _PIN_LENGTH:
        raise InvalidLogEntry(f"a person PIN has {_PIN_LENGTH} characters, got {len(entry.person_pin)}")
    if entry.transaction_id is not None and len(entry.transaction_id) > _TRANSACTION_ID_LENGTH:
        raise InvalidLogEntry(f"a transaction id takes at most {_TRANSACTION_ID_LENGTH} characters")
    if entry.occurred_at is not None and entry.occurred_at.utcoffset() is None:
        raise InvalidLogEntry("occurred_at must be timezone-aware")
    if entry.items:
        if max((len(pin) for pin, _ in entry.items if pin is not None), default=0) > _PIN_LENGTH:
            raise InvalidLogEntry(f"an item's person PIN has at most {_PIN_LENGTH} characters")
        if max(len(result) for _, result in entry.items) > _ITEM_RESULT_LENGTH:
            raise InvalidLogEntry(f"an item's result takes at most {_ITEM_RESULT_LENGTH} characters")


def _insert_rows(connection: Connection, table: Table, rows: list[tuple[Any, ...]]) -> None:
    """Insert rows given as tuples in the table's column order, as one bulk operation of the driver
    (``COPY`` on PostgreSQL: about 0.6 µs of client CPU per item row against 11 µs for an executemany)."""
    names = [column.key for column in table.columns]
    insert_columns(connection, table, names, list(zip(*rows, strict=True)))


def _storable(text: str) -> str:
    """Untrusted text as every backend stores it: NUL, which no PostgreSQL text column takes (and which
    would fail the group commit of everyone else's entries), becomes U+FFFD; the length is unchanged."""
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


_PROCESS_PREFIX = secrets.token_hex(8)
_SEQUENCE = itertools.count(1)


def new_transaction_id() -> str:
    """The id that names one request in the access log and in its answer: unique across processes and
    restarts (a random prefix per process, then a counter) and cheap, since every request takes one."""
    return f"{_PROCESS_PREFIX}{next(_SEQUENCE):016x}"


def write_entries(connection: Connection, entries: Sequence[PendingEntry]) -> list[tuple[Any, ...]]:
    """Chain and insert already checked entries in ``connection``'s transaction; the rows as written,
    each a tuple in the column order of ``access_log`` (``ENTRY_COLUMNS``; the sequence number first).

    The head row is locked first (``SELECT ... FOR UPDATE``; on SQLite the transaction already holds
    the database's write lock from ``BEGIN IMMEDIATE``) and moved to the last entry at the end.
    """
    head = connection.execute(_LOCK_HEAD).one_or_none()
    if head is None:
        connection.execute(_CREATE_HEAD)
        last_seq, last_hash = 0, GENESIS_HASH
    else:
        last_seq, last_hash = head
    now = utc_now()
    rows: list[tuple[Any, ...]] = []
    item_rows: list[tuple[Any, ...]] = []
    for entry in entries:
        seq = last_seq + 1
        digest = items_digest(entry.items) if entry.items else None
        content = LogContent(
            seq=seq,
            occurred_at=now if entry.occurred_at is None else entry.occurred_at.astimezone(UTC),
            principal_kind=entry.principal_kind,
            principal_id=_storable(entry.principal_id),
            action=entry.action,
            person_pin=entry.person_pin,
            fields=_storable(",".join(entry.fields)),
            purpose=_storable(entry.purpose),
            legal_basis=_storable(entry.legal_basis),
            result=entry.result,
            transaction_id=entry.transaction_id,
            item_count=len(entry.items) if entry.items else None,
            items_digest=digest,
        )
        hash_of_entry = entry_hash(last_hash, content)
        # In the order of ENTRY_COLUMNS (the model's column order).
        rows.append(
            (
                seq,
                content.occurred_at,
                content.principal_kind,
                content.principal_id,
                content.action,
                content.person_pin,
                content.fields,
                content.purpose,
                content.legal_basis,
                content.result,
                last_hash,
                hash_of_entry,
                content.transaction_id,
                content.item_count,
                digest,
            )
        )
        if entry.items:
            item_rows += [(seq, position, pin, result) for position, (pin, result) in enumerate(entry.items)]
        last_seq, last_hash = seq, hash_of_entry
    if rows:
        _insert_rows(connection, _ENTRIES, rows)
        if item_rows:
            _insert_rows(connection, _ITEMS, item_rows)
        connection.execute(_MOVE_HEAD, {"new_seq": last_seq, "new_hash": last_hash})
    return rows


def append_entries(session: Session, entries: Sequence[PendingEntry]) -> list[int]:
    """Append entries in order in the caller's transaction (durable when the caller commits); their sequence numbers.

    The head row stays locked until that transaction ends: keep it short.
    """
    for entry in entries:
        check_entry(entry)
    return [row[0] for row in write_entries(session.connection(), entries)]


def record_access(
    session: Session,
    *,
    principal_kind: str,
    principal_id: str,
    action: str,
    person_pin: str | None,
    fields: Sequence[str] = (),
    purpose: str,
    legal_basis: str = "",
    result: str = "ok",
) -> AccessLogEntry:
    """Append one entry in the caller's transaction, so it is durable when the caller commits.

    The head row is locked for the rest of the transaction: appends are totally ordered. The entry
    returned is a copy of the row as written, not attached to the session (the log is append-only).
    """
    entry = PendingEntry(
        principal_kind=principal_kind,
        principal_id=principal_id,
        action=action,
        person_pin=person_pin,
        fields=fields,
        purpose=purpose,
        legal_basis=legal_basis,
        result=result,
    )
    check_entry(entry)
    (row,) = write_entries(session.connection(), [entry])
    return AccessLogEntry(**dict(zip(ENTRY_COLUMNS, row, strict=True)))


class _Counted:
    """The item rows of one entry as ``(position, person_pin, result)``, counted as they stream past."""

    def __init__(self, rows: Iterable[Any]) -> None:
        self._rows = iter(rows)
        self.count = 0

    def __iter__(self) -> Iterator[tuple[int, str | None, str]]:
        for row in self._rows:
            self.count += 1
            yield row.position, row.person_pin, row.result


def _stored_entries(session: Session) -> Iterator[StoredEntry]:
    """The log in sequence order, each entry with the digest of the item rows stored under it.

    Entries and items are read as two streams ordered by sequence number and merged, so memory stays
    bounded however long the log and however large a bulk request's item list.
    """
    columns = [_ENTRIES.c[field.name] for field in dataclasses.fields(LogContent)]
    entries = session.execute(
        select(*columns, _ENTRIES.c.prev_hash, _ENTRIES.c.entry_hash)
        .order_by(_ENTRIES.c.seq)
        .execution_options(yield_per=5000)
    )
    items = session.execute(
        select(_ITEMS.c.seq, _ITEMS.c.position, _ITEMS.c.person_pin, _ITEMS.c.result)
        .order_by(_ITEMS.c.seq, _ITEMS.c.position)
        .execution_options(yield_per=20000)
    )
    item_groups = groupby(items, key=lambda item: item.seq)
    pending = next(item_groups, None)
    for row in entries:
        seq = row.seq
        # Items under a sequence number with no entry belong to a removed entry: reported as removed.
        while pending is not None and pending[0] < seq:
            pending = next(item_groups, None)
        found_digest, found_count = None, 0
        if pending is not None and pending[0] == seq:
            counted = _Counted(pending[1])
            found_digest, found_count = stored_items_digest(counted), counted.count
            pending = next(item_groups, None)
        content = LogContent(*row[: len(columns)])
        yield StoredEntry(content, row.prev_hash, row.entry_hash, found_digest, found_count)


def verify_log(session: Session, *, max_problems: int = 20) -> ChainReport:
    """Recompute the whole chain and every items digest in sequence order and report what is broken."""
    head = session.execute(select(_HEAD.c.last_seq, _HEAD.c.last_hash).where(_HEAD.c.id == 1)).one_or_none()
    report = verify_chain(
        _stored_entries(session),
        head_seq=head.last_seq if head else 0,
        head_hash=head.last_hash if head else GENESIS_HASH,
        max_problems=max_problems,
    )
    if len(report.problems) >= max_problems:
        return report
    last_entry = select(func.coalesce(func.max(_ENTRIES.c.seq), 0)).scalar_subquery()
    stray = session.execute(select(func.min(_ITEMS.c.seq)).where(_ITEMS.c.seq > last_entry)).scalar_one()
    if stray is None:
        return report
    problem = ChainProblem(stray, "changed", f"items were added for entry {stray}, which is not in the log")
    return ChainReport(entries_checked=report.entries_checked, problems=(*report.problems, problem))


@dataclass(frozen=True, slots=True)
class PersonAccess:
    """One use of a person's data as the person may see it ("who used my data"): who, what, why, when."""

    seq: int
    occurred_at: datetime
    principal_kind: str
    principal_id: str
    action: str
    fields: tuple[str, ...]
    purpose: str
    legal_basis: str
    result: str  # for a person looked up in a batch or bulk request: the result of that item
    transaction_id: str | None
    position: int | None  # the person's position in a batch or bulk request; None for a single request
    pin: str  # the PIN the access named (one of the person's PINs: a merged duplicate record's too)


def entries_for_person(session: Session, *, pins: Collection[str], limit: int = 100) -> list[PersonAccess]:
    """The most recent accesses to one person's data, newest first, including batches that looked the
    person up; ``pins`` are the person's PINs (the record's own, and those of duplicate records merged
    into it)."""
    detail = (
        _ENTRIES.c.seq,
        _ENTRIES.c.occurred_at,
        _ENTRIES.c.principal_kind,
        _ENTRIES.c.principal_id,
        _ENTRIES.c.action,
        _ENTRIES.c.fields,
        _ENTRIES.c.purpose,
        _ENTRIES.c.legal_basis,
    )
    wanted = sorted(set(pins))
    direct = session.execute(
        select(*detail, _ENTRIES.c.result, _ENTRIES.c.transaction_id, _ENTRIES.c.person_pin)
        .where(_ENTRIES.c.person_pin.in_(wanted))
        .order_by(_ENTRIES.c.seq.desc())
        .limit(limit)
    ).all()
    in_batches = session.execute(
        select(*detail, _ITEMS.c.result, _ENTRIES.c.transaction_id, _ITEMS.c.person_pin, _ITEMS.c.position)
        .join(_ENTRIES, _ENTRIES.c.seq == _ITEMS.c.seq)
        .where(_ITEMS.c.person_pin.in_(wanted))
        .order_by(_ITEMS.c.seq.desc(), _ITEMS.c.position)
        .limit(limit)
    ).all()
    accesses = [_person_access(row, None) for row in direct]
    accesses += [_person_access(row[:-1], row.position) for row in in_batches]
    accesses.sort(key=lambda access: (-access.seq, access.position if access.position is not None else -1))
    return accesses[:limit]


def _person_access(row: Sequence[Any], position: int | None) -> PersonAccess:
    """An access from a row of (seq, occurred_at, principal_kind, principal_id, action, fields, purpose,
    legal_basis, result, transaction_id, person_pin)."""
    fields = row[5]
    return PersonAccess(
        seq=row[0],
        occurred_at=row[1],
        principal_kind=row[2],
        principal_id=row[3],
        action=row[4],
        fields=tuple(fields.split(",")) if fields else (),
        purpose=row[6],
        legal_basis=row[7],
        result=row[8],
        transaction_id=row[9],
        position=position,
        pin=row[10],
    )


def last_seq(session: Session) -> int:
    """The sequence number of the newest committed entry (0 for an empty log). Appends hold the log's
    head row until they commit, so every entry numbered below it is committed as well."""
    return int(session.scalar(select(func.max(_ENTRIES.c.seq))) or 0)


def persons_with_result(
    *, after_seq: int, through_seq: int, actions: Collection[str], itemised_actions: Collection[str], result: str
) -> Select[tuple[str, datetime]]:
    """A query of (PIN, when) for each person an entry numbered in ``(after_seq, through_seq]`` answered
    with ``result``: single-person entries of ``actions``, and the items of ``itemised_actions``
    (batches and bulk jobs), for another package to aggregate set-based (quality's "verified
    recently")."""
    singles = select(_ENTRIES.c.person_pin.label("pin"), _ENTRIES.c.occurred_at.label("at")).where(
        _ENTRIES.c.seq > after_seq,
        _ENTRIES.c.seq <= through_seq,
        _ENTRIES.c.action.in_(actions),
        _ENTRIES.c.result == result,
        _ENTRIES.c.person_pin.is_not(None),
    )
    items = (
        select(_ITEMS.c.person_pin.label("pin"), _ENTRIES.c.occurred_at.label("at"))
        .select_from(_ENTRIES)
        .join(_ITEMS, _ITEMS.c.seq == _ENTRIES.c.seq)
        .where(
            _ENTRIES.c.seq > after_seq,
            _ENTRIES.c.seq <= through_seq,
            _ENTRIES.c.action.in_(itemised_actions),
            _ITEMS.c.result == result,
            _ITEMS.c.person_pin.is_not(None),
        )
    )
    both = union_all(singles, items).subquery("answered")
    return select(both.c.pin, both.c.at)
