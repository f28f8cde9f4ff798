"""The table of bulk verification jobs: a partner's uploaded file of claims, verified chunk by chunk."""

from __future__ import annotations

from sqlalchemy import Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from popreg.kit.database import Base
from popreg.kit.jobs import JobRecord


class VerificationJob(JobRecord, Base):
    """One bulk verification: where its file is, how far it got, what it found.

    ``records_done`` (records of the file read) and ``last_line`` (the last row answered) are the
    checkpoint; ``rows_done`` counts the rows answered, for progress. They move in the same transaction as the
    access-log entry of each chunk, after the chunk's results were written to disk, so a job that
    stops anywhere resumes after its last committed chunk and logs every row exactly once.
    ``claimed_by`` and ``heartbeat_at`` say which serving process works on it; another process takes
    over a job whose heartbeat stopped (see ``popreg.sharing.bulk``). The columns every job table has (its id,
    status, claim, heartbeat, chunk count, error and times) are those of :class:`popreg.kit.jobs.JobRecord`.
    """

    __tablename__ = "verification_jobs"

    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id"))
    purpose: Mapped[str] = mapped_column(String(120))
    legal_basis: Mapped[str] = mapped_column(String(300))
    mode: Mapped[str] = mapped_column(String(12))
    threshold: Mapped[float] = mapped_column(Float)
    fields: Mapped[str] = mapped_column(String(200))
    column_mapping: Mapped[str] = mapped_column(String(2000))
    source_name: Mapped[str] = mapped_column(String(300))
    source_format: Mapped[str] = mapped_column(String(8))
    result_format: Mapped[str] = mapped_column(String(8))
    rows_total: Mapped[int] = mapped_column(Integer)
    rows_done: Mapped[int] = mapped_column(Integer, default=0)
    records_done: Mapped[int] = mapped_column(Integer, default=0)
    last_line: Mapped[int] = mapped_column(Integer, default=0)
    matched: Mapped[int] = mapped_column(Integer, default=0)
    not_matched: Mapped[int] = mapped_column(Integer, default=0)
    invalid: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        Index("ix_verification_jobs_partner_id_created_at", "partner_id", "created_at"),
        Index("ix_verification_jobs_status", "status"),
    )
