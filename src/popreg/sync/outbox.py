"""The transactional outbox: every change of a person becomes an outbox row in the change's own
transaction, so no committed change is ever left without its event (and a rolled-back change leaves
none). The dispatcher (:mod:`popreg.sync.dispatch`) delivers the rows later.

Both handlers are subscribed to the register's domain events in :mod:`popreg.wiring`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, and_, event, false, func, insert, literal, literal_column, select
from sqlalchemy.orm import Session

from popreg.kit.database import insert_many, one_of
from popreg.kit.events import PersonChanged, PersonsChanged, PersonsImported
from popreg.registry.models import Person, PersonEvent
from popreg.sync.events_models import OutboxEvent
from popreg.sync.events_rules import public_event_type

_OUTBOX = cast(Table, OutboxEvent.__table__)

# A version-4 UUID made by the database, so that an import's events are written in one statement.
_SQLITE_UUID = (
    "lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2)"
    " || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(lower(hex(randomblob(2))), 2)"
    " || '-' || lower(hex(randomblob(6)))"
)
_POSTGRES_UUID = "CAST(gen_random_uuid() AS VARCHAR)"


_SEQUENCES = "popreg.outbox.sequences"


def _sequences(session: Session, person_ids: Iterable[int]) -> dict[int, int]:
    """The last sequence number given to each person's events, as this transaction sees it.

    Numbers handed out but not yet flushed live in ``session.info``; the others are read with one
    grouped query per 900 persons. The cache is dropped at every commit and rollback (a savepoint's
    too, after which the database is again the truth: ``begin_nested`` flushes first), so a number is
    never reused and no gap is left.
    """
    known: dict[int, int] = session.info.setdefault(_SEQUENCES, {})
    missing = {person_id for person_id in person_ids if person_id not in known}
    found: dict[int, int] = {}
    for among_persons in one_of(session, OutboxEvent.person_id, missing):
        query = (
            select(OutboxEvent.person_id, func.max(OutboxEvent.sequence))
            .where(among_persons)
            .group_by(OutboxEvent.person_id)
        )
        found.update({row[0]: row[1] for row in session.execute(query)})
    for person_id in missing:
        known[person_id] = int(found.get(person_id) or 0)
    return known


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_soft_rollback")
def _forget_sequences(session: Session, *_: object) -> None:
    session.info.pop(_SEQUENCES, None)


def _row(change: PersonChanged, sequence: int) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "person_id": change.person_id,
        "pin": change.pin,
        "sequence": sequence,
        "event_type": public_event_type(change.event_type),
        "history_type": change.event_type,
        "changes": change.changes,
        "effective_date": change.effective_date,
        "source_agency": change.source_agency,
        "occurred_at": change.occurred_at,
        "fanned_out": False,
    }


def record_change(session: Session, event: PersonChanged) -> None:
    """Write the outbox row of one history event. Its sequence is the person's next; two transactions
    that both change a person are serialised by the person's row lock (or, for a change that does not
    lock it, refused by the unique sequence and retried by the caller)."""
    sequences = _sequences(session, (event.person_id,))
    sequences[event.person_id] += 1
    session.add(OutboxEvent(**_row(event, sequences[event.person_id])))


def record_changes(session: Session, event: PersonsChanged) -> None:
    """Write the outbox rows of a batch of history events in one statement (``executemany``), their
    sequences read with one grouped query: what a batch of agencies' updates needs to stay fast."""
    if not event.changes:
        return
    sequences = _sequences(session, (change.person_id for change in event.changes))
    rows = []
    for change in event.changes:
        sequences[change.person_id] += 1
        rows.append(_row(change, sequences[change.person_id]))
    insert_many(session, _OUTBOX, rows)


def record_import(session: Session, event: PersonsImported) -> None:
    """Write one ``person.registered`` outbox row per person of an import batch, in one
    ``INSERT ... SELECT`` over the batch's history events (no row goes through Python).

    The persons were created by this batch, so each row is its person's first: sequence 1."""
    session.flush()
    backend = session.get_bind().dialect.name
    make_uuid: ColumnElement[str] = literal_column(_POSTGRES_UUID if backend == "postgresql" else _SQLITE_UUID)
    of_batch: ColumnElement[bool] = and_(
        PersonEvent.person_id.between(event.first_person_id, event.last_person_id),
        PersonEvent.actor == event.actor,
        PersonEvent.event_type == "person.imported",
    )
    rows = (
        select(
            make_uuid,
            PersonEvent.person_id,
            Person.pin,
            literal(1),
            literal(public_event_type("person.imported")),
            PersonEvent.event_type,
            PersonEvent.changes,
            PersonEvent.effective_date,
            PersonEvent.source_agency,
            PersonEvent.recorded_at,
            false(),
        )
        .join(Person, Person.id == PersonEvent.person_id)
        .where(of_batch)
        .order_by(PersonEvent.id)
    )
    session.execute(
        insert(OutboxEvent).from_select(
            [
                "event_id",
                "person_id",
                "pin",
                "sequence",
                "event_type",
                "history_type",
                "changes",
                "effective_date",
                "source_agency",
                "occurred_at",
                "fanned_out",
            ],
            rows,
        )
    )
