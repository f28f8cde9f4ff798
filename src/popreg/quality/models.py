"""Stored data-quality measurements, so that officials can see the trend and not only today's figure, and
the per-person day of the last confirmation by a partner that the "verified recently" measure reads."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from popreg.audit.models import SEQUENCE_NUMBER
from popreg.kit.database import Base, UTCDateTime

# 64-bit on PostgreSQL: a national count (persons, events) can pass 2^31 over the years.
COUNT = BigInteger().with_variant(Integer(), "sqlite")


class QualitySnapshot(Base):
    """One measurement of the whole register (every province and the nation), as of one day."""

    __tablename__ = "quality_snapshots"

    id: Mapped[int] = mapped_column(primary_key=True)
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime())
    as_of: Mapped[date] = mapped_column(Date)
    taken_by: Mapped[str] = mapped_column(String(120))
    seconds: Mapped[float] = mapped_column(Float)
    # The `popreg match dedupe` run the duplicate measure was taken from, if any (no foreign key: the
    # matching package may prune its runs; the snapshot keeps what it measured).
    duplicate_run_id: Mapped[int | None] = mapped_column(Integer)
    duplicate_run_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class QualityFigure(Base):
    """One measure in one scope of a snapshot.

    ``scope`` is ``national``, a current (2025) province code, or ``none`` for persons whose home
    province is not known. ``value`` is a share (0-1), a ratio (census coverage) or a median in
    days, as the measure's definition says; it is empty when the measure could not be taken.
    """

    __tablename__ = "quality_figures"

    id: Mapped[int] = mapped_column(primary_key=True)
    snapshot_id: Mapped[int] = mapped_column(ForeignKey("quality_snapshots.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(String(8))
    measure: Mapped[str] = mapped_column(String(40))
    numerator: Mapped[int | None] = mapped_column(COUNT)
    denominator: Mapped[int | None] = mapped_column(COUNT)
    value: Mapped[float | None] = mapped_column(Float)

    __table_args__ = (Index("ix_quality_figures_snapshot_scope", "snapshot_id", "scope"),)


class PersonVerification(Base):
    """The Vietnam calendar day on which a partner last confirmed a person's record: a verification whose
    every claim matched (single, or an item of a batch or bulk request), as the access log shows it.

    Kept by folding the access log incrementally (``popreg.quality.service.fold_verifications``), so
    that measuring "verified in the last year" reads one row per person instead of a log that grows by
    about 1.5 billion verifications a quarter. Keyed by the PIN the partner sent, which is the current
    PIN of a record (a merged record's PIN answers as unknown, so it is never confirmed). On SQLite the
    table is clustered on the PIN (``WITHOUT ROWID``): a lookup or an upsert is one B-tree search.
    """

    __tablename__ = "person_verifications"

    person_pin: Mapped[str] = mapped_column(String(12), primary_key=True)
    last_verified_on: Mapped[date] = mapped_column(Date)

    __table_args__ = {"sqlite_with_rowid": False}


class VerificationWatermark(Base):
    """The one row saying how far the access log has been folded into ``person_verifications``: every
    entry up to ``folded_seq`` (its sequence number) is counted, none after it."""

    __tablename__ = "person_verification_watermark"

    id: Mapped[int] = mapped_column(primary_key=True)
    folded_seq: Mapped[int] = mapped_column(SEQUENCE_NUMBER)
    folded_at: Mapped[datetime] = mapped_column(UTCDateTime())
