"""The access log: who read or changed which person's data, why, and when; hash-chained."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from popreg.kit.database import Base, UTCDateTime

# 64-bit on both backends: SQLite's INTEGER already is (and, as a sole primary key, is the rowid).
SEQUENCE_NUMBER = BigInteger().with_variant(Integer(), "sqlite")


class AccessLogEntry(Base):
    """One entry of the tamper-evident access log.

    ``entry_hash`` is SHA-256 over the previous entry's hash and this entry's canonical content, so
    changing, removing or reordering any entry breaks every hash after it (``popreg audit verify``).
    A batch or bulk request is one entry whose ``items_digest`` covers its ``access_log_item`` rows.
    """

    __tablename__ = "access_log"

    seq: Mapped[int] = mapped_column(SEQUENCE_NUMBER, primary_key=True, autoincrement=False)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    principal_kind: Mapped[str] = mapped_column(String(16))
    principal_id: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(40))
    person_pin: Mapped[str | None] = mapped_column(String(12), index=True)
    fields: Mapped[str] = mapped_column(Text)
    purpose: Mapped[str] = mapped_column(String(120))
    legal_basis: Mapped[str] = mapped_column(Text)
    result: Mapped[str] = mapped_column(String(40))
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))
    transaction_id: Mapped[str | None] = mapped_column(String(36), index=True)
    item_count: Mapped[int | None] = mapped_column(Integer)
    items_digest: Mapped[str | None] = mapped_column(String(64))


class AccessLogItem(Base):
    """One person looked up by a batch or bulk request, at its position in that request.

    No foreign key to ``access_log``: the verifier, not the schema, must be what notices an item
    whose entry was removed.
    """

    __tablename__ = "access_log_item"

    seq: Mapped[int] = mapped_column(SEQUENCE_NUMBER, primary_key=True, autoincrement=False)
    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    person_pin: Mapped[str | None] = mapped_column(String(12), index=True)
    result: Mapped[str] = mapped_column(String(40))


class AccessLogHead(Base):
    """The single row holding the last sequence number and hash: the lock that orders appends."""

    __tablename__ = "access_log_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    last_seq: Mapped[int] = mapped_column(SEQUENCE_NUMBER)
    last_hash: Mapped[str] = mapped_column(String(64))
