"""The table of sync file jobs: an agency's uploaded file of updates, applied chunk by chunk."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from popreg.kit.database import Base
from popreg.kit.jobs import JobRecord


class SyncFileJob(JobRecord, Base):
    """One uploaded file of an agency's updates: where it is, how far it got, what became of its rows.

    ``rows_done`` (rows of the file answered) and ``chunks_done`` are the checkpoint. They move in the
    transaction that applies the chunk's updates and logs them, after the chunk's outcomes were written to
    disk, so a job that stops anywhere resumes after its last committed chunk and applies each row once.
    ``applied``, ``queued`` and ``rejected`` count the rows by outcome (a row answered from an earlier
    update with the same key counts under that update's outcome, and in ``replayed``).
    ``claimed_by`` and ``heartbeat_at`` say which serving process works on it; another process takes
    over a job whose heartbeat stopped (see ``popreg.sync.file_jobs``). The columns every job table has (its id,
    status, claim, heartbeat, chunk count, error and times) are those of :class:`popreg.kit.jobs.JobRecord`.
    """

    __tablename__ = "sync_file_jobs"

    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id"))
    source_name: Mapped[str] = mapped_column(String(300))
    source_format: Mapped[str] = mapped_column(String(8))
    column_mapping: Mapped[str] = mapped_column(Text)
    legal_basis: Mapped[str] = mapped_column(String(300))
    observed_at: Mapped[str] = mapped_column(String(40))
    fields: Mapped[str] = mapped_column(String(400))
    result_format: Mapped[str] = mapped_column(String(8))
    rows_total: Mapped[int] = mapped_column(Integer)
    rows_done: Mapped[int] = mapped_column(Integer, default=0)
    applied: Mapped[int] = mapped_column(Integer, default=0)
    queued: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    replayed: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        Index("ix_sync_file_jobs_partner_id_created_at", "partner_id", "created_at"),
        Index("ix_sync_file_jobs_status", "status"),
    )
