"""The tables of duplicate detection: each run of ``popreg match dedupe`` and the clusters it found.

A run scores candidate pairs across the register and groups persons whose pairwise match probability
reaches the run's threshold into clusters. Every member of a cluster is one row of
``duplicate_candidates``; officials review a cluster as a whole (merge two of its members, or dismiss
it), and the row's ``status`` records the outcome.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from popreg.kit.database import Base, UTCDateTime


class DuplicateRun(Base):
    """One pass of duplicate detection over the register (``status``: running, finished, failed)."""

    __tablename__ = "duplicate_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(12))
    persons_scanned: Mapped[int] = mapped_column(Integer, default=0)
    pairs_scored: Mapped[int] = mapped_column(Integer, default=0)
    threshold: Mapped[float] = mapped_column(Float)
    clusters: Mapped[int] = mapped_column(Integer, default=0)
    actor: Mapped[str] = mapped_column(String(120))


class DuplicateCandidate(Base):
    """A person found in a cluster of likely duplicates.

    ``match_probability`` is the best pairwise probability linking this person to another member.
    ``status``: open (awaiting review), merged (retired into or surviving a merge), dismissed (the
    official found the cluster's persons to be different people).
    """

    __tablename__ = "duplicate_candidates"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("duplicate_runs.id"))
    cluster_id: Mapped[str] = mapped_column(String(40))
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    province_code: Mapped[str | None] = mapped_column(String(2))
    match_probability: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(12))
    decided_by: Mapped[str | None] = mapped_column(String(120))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_duplicate_candidates_run_id_cluster_id", "run_id", "cluster_id"),
        Index("ix_duplicate_candidates_status_province_code", "status", "province_code"),
        Index("ix_duplicate_candidates_person_id", "person_id"),
    )
