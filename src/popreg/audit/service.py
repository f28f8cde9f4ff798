"""Appending to and verifying the access log."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from popreg.audit.models import AccessLogEntry, AccessLogHead
from popreg.audit.rules import GENESIS_HASH, ChainReport, LogContent, entry_hash, verify_chain
from popreg.kit.clock import utc_now


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

    The head row is locked for the rest of the transaction: appends are totally ordered.
    """
    head = session.execute(select(AccessLogHead).where(AccessLogHead.id == 1).with_for_update()).scalar_one_or_none()
    if head is None:
        head = AccessLogHead(id=1, last_seq=0, last_hash=GENESIS_HASH)
        session.add(head)
    content = LogContent(
        seq=head.last_seq + 1,
        occurred_at=utc_now(),
        principal_kind=principal_kind,
        principal_id=principal_id,
        action=action,
        person_pin=person_pin,
        fields=",".join(fields),
        purpose=purpose,
        legal_basis=legal_basis,
        result=result,
    )
    digest = entry_hash(head.last_hash, content)
    entry = AccessLogEntry(
        seq=content.seq,
        occurred_at=content.occurred_at,
        principal_kind=principal_kind,
        principal_id=principal_id,
        action=action,
        person_pin=person_pin,
        fields=content.fields,
        purpose=purpose,
        legal_basis=legal_basis,
        result=result,
        prev_hash=head.last_hash,
        entry_hash=digest,
    )
    session.add(entry)
    head.last_seq = content.seq
    head.last_hash = digest
    session.flush()
    return entry


def _content(entry: AccessLogEntry) -> LogContent:
    return LogContent(
        seq=entry.seq,
        occurred_at=entry.occurred_at,
        principal_kind=entry.principal_kind,
        principal_id=entry.principal_id,
        action=entry.action,
        person_pin=entry.person_pin,
        fields=entry.fields,
        purpose=entry.purpose,
        legal_basis=entry.legal_basis,
        result=entry.result,
    )


def verify_log(session: Session) -> ChainReport:
    """Recompute the whole chain in storage order (by primary key) and report what is broken."""
    head = session.get(AccessLogHead, 1)

    def rows() -> Iterator[tuple[LogContent, str, str]]:
        stream = session.execute(
            select(AccessLogEntry).order_by(AccessLogEntry.seq).execution_options(yield_per=5000)
        ).scalars()
        for entry in stream:
            yield _content(entry), entry.prev_hash, entry.entry_hash

    return verify_chain(
        rows(), head_seq=head.last_seq if head else 0, head_hash=head.last_hash if head else GENESIS_HASH
    )


def entries_for_person(session: Session, *, pin: str, limit: int = 100) -> list[AccessLogEntry]:
    """The most recent accesses to one person's data, newest first (the "who used my data" view)."""
    return list(
        session.execute(
            select(AccessLogEntry)
            .where(AccessLogEntry.person_pin == pin)
            .order_by(AccessLogEntry.seq.desc())
            .limit(limit)
        ).scalars()
    )
