"""Stored data-quality measurements, so that officials can see the trend and not only today's figure."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

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
