"""Jobs on an uploaded file, worked on a chunk at a time in the background of a serving process.

A partner's bulk verification (:mod:`popreg.sharing.bulk`) and an agency's sync file
(:mod:`popreg.sync.file_jobs`) keep the same promises, kept here once; how a chunk is read, processed
and committed, and what the result holds, stays with each of them.

- Files: a job's files are in ``<directory>/<job id>/``: the upload (``source``), one part per
  committed chunk (``part-000000.<suffix>``) and, at the end, the result.
- Claim: a runner (one per serving process, with a random worker id) takes the oldest queued job, or
  a running job whose worker sent no heartbeat for :data:`STALE_AFTER` (its process died), by a
  conditional update, so that two processes never both hold one job.
- Checkpoint: a chunk's part is on disk (flushed with ``fsync``) before the transaction that moves the
  job's checkpoint commits; that transaction is the heartbeat, and it is refused (:class:`LostClaim`)
  if another process took the job over meanwhile. Parts of chunks that never committed are deleted
  when the job resumes, so a job that stops anywhere resumes after its last committed chunk.
- End: the parts are assembled beside the result and renamed into place, the job is marked
  ``completed``, then the parts and the upload are deleted. A job is marked ``failed`` only for an
  error that retrying cannot cure.
- A runner that shuts down cleanly gives its job back (``queued``), so that the next process resumes it
  at once rather than after :data:`STALE_AFTER`.
- Retention: a completed job's result links PINs to outcomes, so it is kept only for the runner's
  ``result_retention`` (``POPREG_JOB_RESULT_RETENTION_HOURS``) after the job finished. From then on the
  job is ``expired`` (its owner is told so at once, see :func:`shown_status`), and a sweep
  (:meth:`JobRunner.expire_results`) marks it so and deletes its folder; the job's row, with its counts,
  stays.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import ClassVar, Final, Generic, TypeVar

from sqlalchemy import ColumnElement, Integer, String, or_, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from popreg.kit.clock import utc_now
from popreg.kit.database import Database, UTCDateTime, one_of
from popreg.kit.errors import DomainError

STALE_AFTER: Final = timedelta(minutes=2)
"""A running job whose worker sent no heartbeat for this long is taken over by another process."""
_CANDIDATES: Final = 5
"""Jobs looked at per claim: if another process takes the first, the next one is tried."""
DEFAULT_RESULT_RETENTION: Final = timedelta(hours=168)
"""How long a completed job's result is kept unless the runner is told otherwise (the default of
``POPREG_JOB_RESULT_RETENTION_HOURS``)."""
ABANDONED_UPLOAD_AFTER: Final = timedelta(hours=24)
"""A job folder with no job (an upload whose process died while it was checked) is deleted once nothing
in it has changed for this long; checking an upload takes minutes at most."""
_JOB_FOLDER: Final = re.compile(r"[0-9a-f]{32}")
"""The name of a job's folder (:func:`new_job_id`); anything else in the directory is not a job's."""


class JobStatus(StrEnum):
    """A job is queued (accepted, or given back) until a runner claims it, running while a runner holds
    it, and at the end completed (its result can be fetched) or failed (with a code and a message). A
    completed job becomes expired when its result is deleted at the end of the retention period."""

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    EXPIRED = "expired"


class JobRecord:
    """The columns every job table has (a mixin of its model): the job's id, its status, which runner
    holds it (``claimed_by``) and when that runner last showed it was alive (``heartbeat_at``), the
    chunks committed (the checkpoint's count), and why it failed."""

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(12))
    chunks_done: Mapped[int] = mapped_column(Integer, default=0)
    error_code: Mapped[str | None] = mapped_column(String(40))
    error_message: Mapped[str | None] = mapped_column(String(500))
    claimed_by: Mapped[str | None] = mapped_column(String(32))
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


JobT = TypeVar("JobT", bound=JobRecord)


class LostClaim(Exception):
    """Another process took the job over (this one stopped sending heartbeats in time)."""


def new_job_id() -> str:
    return uuid.uuid4().hex


def results_available_until(job: JobRecord, *, retention: timedelta, now: datetime) -> datetime | None:
    """Until when a job's result can be downloaded: ``retention`` after the job completed (None for a
    job without a result to download, including one whose retention has ended by ``now``)."""
    if job.status != JobStatus.COMPLETED or job.finished_at is None:
        return None
    until = job.finished_at + retention
    return until if until > now else None


def shown_status(job: JobRecord, *, retention: timedelta, now: datetime) -> JobStatus:
    """A job's status as its owner is told it: a completed job whose retention has ended is expired at
    that instant, even if no sweep has deleted its result yet."""
    if job.status == JobStatus.COMPLETED and results_available_until(job, retention=retention, now=now) is None:
        return JobStatus.EXPIRED
    return JobStatus(job.status)


def _last_change(folder: Path) -> float:
    """When the folder or a file in it last changed (seconds since the epoch); now if it is gone."""
    try:
        return max(path.stat().st_mtime for path in (folder, *folder.iterdir()))
    except OSError:
        return time.time()


def job_directory(directory: Path, job_id: str) -> Path:
    return directory / job_id


def source_path(directory: Path, job_id: str) -> Path:
    return job_directory(directory, job_id) / "source"


def remove_job_files(directory: Path, job_id: str) -> None:
    shutil.rmtree(job_directory(directory, job_id), ignore_errors=True)


def fsync(path: Path) -> None:
    """Make a written file durable, so that a checkpoint committed after it never points at lost bytes."""
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


class JobRunner(ABC, Generic[JobT]):
    """Runs the jobs of one table in a background thread of a serving process (or in the caller's
    thread: ``claim_next`` then ``run``). On start it resumes the jobs a stopped process left unfinished.

    A subclass names its table (``model``), the suffix of its parts, what a failure is called, and does
    one job's work in ``_run``, committing each chunk inside :meth:`checkpoint` and ending with
    :meth:`_complete`.
    """

    model: type[JobT]
    part_suffix: str
    label: str
    """What the jobs are called in the log and in the thread's name (``sync file``)."""
    refusal: type[DomainError] = DomainError
    """The errors that fail a job with their own code and message (anything else is internal)."""
    internal_error: tuple[str, str]
    """The code and message of a job that failed on an internal error."""
    default_chunk_rows: int
    """Rows read, processed and committed at a time unless the runner is given another number."""
    SWEEP_EVERY: ClassVar[timedelta] = timedelta(minutes=5)
    """How often the background loop expires results (:meth:`expire_results`), and once when it starts.
    A job in progress delays the sweep (the owner is refused the results at the exact end of the
    retention all the same)."""

    def __init__(
        self,
        database: Database,
        *,
        directory: Path,
        chunk_rows: int | None = None,
        poll_seconds: float = 5.0,
        result_retention: timedelta = DEFAULT_RESULT_RETENTION,
    ) -> None:
        self.database = database
        self.directory = Path(directory)
        self.chunk_rows = self.default_chunk_rows if chunk_rows is None else chunk_rows
        self.poll_seconds = poll_seconds
        self.result_retention = result_retention
        self.worker = uuid.uuid4().hex
        self.logger = logging.getLogger(type(self).__module__)
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._stopping.clear()
            name = "popreg-" + self.label.replace(" ", "-")
            self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
            self._thread.start()

    def notify(self) -> None:
        """A job was submitted: look for work now."""
        self._wake.set()

    def close(self) -> None:
        """Stop after the chunk in progress (its job resumes on the next start)."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stopping.set()
        self._wake.set()
        thread.join(timeout=60)
        self.release()

    def release(self) -> None:
        """Give back the jobs this runner holds, so that the next process resumes them at once."""
        model = self.model
        with self.database.unit_of_work() as session:
            session.execute(
                update(model)
                .where(model.claimed_by == self.worker, model.status == JobStatus.RUNNING)
                .values(status=JobStatus.QUEUED, claimed_by=None, updated_at=utc_now())
                .execution_options(synchronize_session=False)
            )

    def _loop(self) -> None:
        next_sweep = time.monotonic()
        while not self._stopping.is_set():
            if time.monotonic() >= next_sweep:
                next_sweep = time.monotonic() + self.SWEEP_EVERY.total_seconds()
                try:
                    self.expire_results(utc_now())
                except Exception:
                    self.logger.exception("%s results could not be expired; the next sweep tries again", self.label)
            try:
                job_id = self.claim_next()
                if job_id is not None:
                    self.run(job_id)
                    continue
            except Exception:
                self.logger.exception("%s worker failed; it tries again shortly", self.label)
            self._wake.wait(self.poll_seconds)
            self._wake.clear()

    def expire_results(self, now: datetime) -> int:
        """Expire the completed jobs that finished ``result_retention`` or longer before ``now`` and
        delete their folders; answer how many jobs this call expired.

        One conditional update marks them all (only jobs still completed, so that of several processes
        sweeping at once each job is expired by one) and commits before any folder is deleted: a crash in
        between leaves folders of expired jobs, which this sweep (or the next) deletes along with those
        a failed job left behind, and those of uploads that never became a job and have not changed for
        :data:`ABANDONED_UPLOAD_AFTER`. Folders of jobs that are queued, running or completed, and of
        uploads being checked, are left alone."""
        model = self.model
        with self.database.unit_of_work() as session:
            expired = (
                session.execute(
                    update(model)
                    .where(model.status == JobStatus.COMPLETED, model.finished_at <= now - self.result_retention)
                    .values(status=JobStatus.EXPIRED, updated_at=now)
                    .returning(model.id)
                    .execution_options(synchronize_session=False)
                )
                .scalars()
                .all()
            )
        removed = self._remove_folders_without_result(now)
        if expired or removed:
            self.logger.info(
                "%s: %d results expired; %d folders of expired or failed jobs deleted",
                self.label,
                len(expired),
                removed,
            )
        return len(expired)

    def _remove_folders_without_result(self, now: datetime) -> int:
        """Delete the folders of this runner's directory that belong to expired or failed jobs, and those
        of uploads that never became a job (the process died while checking them) once nothing in them
        has changed for :data:`ABANDONED_UPLOAD_AFTER`."""
        if not self.directory.is_dir():
            return 0
        folders = [entry.name for entry in self.directory.iterdir() if _JOB_FOLDER.fullmatch(entry.name)]
        model = self.model
        known: set[str] = set()
        ended: list[str] = []
        with self.database.unit_of_work() as session:
            for named in one_of(session, model.id, folders):
                for job_id, status in session.execute(select(model.id, model.status).where(named)):
                    known.add(job_id)
                    if status in (JobStatus.EXPIRED, JobStatus.FAILED):
                        ended.append(job_id)
        # Listed before the jobs were read: a folder whose job was created meanwhile is recent, so it stays.
        idle_since = (now - ABANDONED_UPLOAD_AFTER).timestamp()
        abandoned = [name for name in folders if name not in known and _last_change(self.directory / name) < idle_since]
        for job_id in (*ended, *abandoned):
            remove_job_files(self.directory, job_id)
        return len(ended) + len(abandoned)

    def claim_next(self) -> str | None:
        """Take the oldest queued job, or a running job whose worker went silent."""
        model = self.model
        stale = utc_now() - STALE_AFTER
        claimable: ColumnElement[bool] = or_(
            model.status == JobStatus.QUEUED,
            (model.status == JobStatus.RUNNING) & or_(model.heartbeat_at.is_(None), model.heartbeat_at < stale),
        )
        with self.database.unit_of_work() as session:
            candidates = (
                session.execute(select(model.id).where(claimable).order_by(model.created_at).limit(_CANDIDATES))
                .scalars()
                .all()
            )
            for job_id in candidates:
                claimed = session.execute(
                    update(model)
                    .where(model.id == job_id, claimable)
                    .values(
                        status=JobStatus.RUNNING, claimed_by=self.worker, heartbeat_at=utc_now(), updated_at=utc_now()
                    )
                    .execution_options(synchronize_session=False)
                )
                if getattr(claimed, "rowcount", 0) == 1:
                    return str(job_id)
        return None

    def run(self, job_id: str, *, max_chunks: int | None = None) -> None:
        """Work on a job this runner claimed until it is completed or failed, or the runner stops, or
        ``max_chunks`` chunks are done (then the job stays claimed, as if this process had stopped)."""
        try:
            self._run(job_id, max_chunks=max_chunks)
        except LostClaim:
            self.logger.warning("%s job %s was taken over by another process", self.label, job_id)
        except self.refusal as refusal:
            self._fail(job_id, refusal.code, refusal.message)
        except Exception:
            self.logger.exception("%s job %s failed", self.label, job_id)
            self._fail(job_id, *self.internal_error)

    @abstractmethod
    def _run(self, job_id: str, *, max_chunks: int | None) -> None:
        """One job's work from its checkpoint: each chunk committed in :meth:`checkpoint` unless
        :meth:`_stops_before` it, then :meth:`_complete`."""

    def _stops_before(self, chunk_number: int, *, first_chunk: int, max_chunks: int | None) -> bool:
        """Whether to leave the job before chunk ``chunk_number`` (this run began at ``first_chunk``)."""
        return self._stopping.is_set() or (max_chunks is not None and chunk_number >= first_chunk + max_chunks)

    def part_path(self, job_id: str, chunk_number: int) -> Path:
        return job_directory(self.directory, job_id) / f"part-{chunk_number:06d}.{self.part_suffix}"

    def _remove_uncommitted_parts(self, job_id: str, chunks_done: int) -> None:
        """Parts a run wrote but stopped before committing: their chunks are done again."""
        for stray in job_directory(self.directory, job_id).glob(f"part-*.{self.part_suffix}"):
            if int(stray.stem.split("-")[1]) >= chunks_done:
                stray.unlink()

    def _claimed(self, session: Session, job_id: str, *, running: bool = True) -> JobT:
        """The job, locked, if this runner still holds it (and it is still running, if ``running``)."""
        job = session.get(self.model, job_id, with_for_update=True)
        if job is None or job.claimed_by != self.worker or (running and job.status != JobStatus.RUNNING):
            raise LostClaim(job_id)
        return job

    @contextmanager
    def checkpoint(self, job_id: str, *, chunk_number: int) -> Iterator[tuple[Session, JobT]]:
        """The transaction of chunk ``chunk_number``: the caller records the chunk's work and counts in
        it; on leaving, the checkpoint and the heartbeat move and it commits (nothing is stored if the
        caller raises, or if another process took the job over)."""
        with self.database.unit_of_work() as session:
            job = self._claimed(session, job_id)
            yield session, job
            job.chunks_done = chunk_number + 1
            job.heartbeat_at = job.updated_at = utc_now()

    def _complete(
        self, job_id: str, *, chunks: int, target: Path, assemble: Callable[[list[Path], Path], None]
    ) -> None:
        """Assemble the parts of ``chunks`` chunks into ``target`` (``assemble(parts, into)``), mark the
        job completed, then delete the parts and the upload."""
        parts = [self.part_path(job_id, number) for number in range(chunks)]
        partial = target.with_name(f"{target.name}.partial")
        assemble(parts, partial)
        fsync(partial)
        os.replace(partial, target)
        with self.database.unit_of_work() as session:
            job = self._claimed(session, job_id, running=False)
            job.status = JobStatus.COMPLETED
            self._completed(job)
            job.finished_at = job.updated_at = utc_now()
        for part in parts:
            part.unlink(missing_ok=True)
        source_path(self.directory, job_id).unlink(missing_ok=True)

    def _completed(self, job: JobT) -> None:
        """Anything more a table records when its job completes."""

    def _fail(self, job_id: str, code: str, message: str) -> None:
        with self.database.unit_of_work() as session:
            job = session.get(self.model, job_id, with_for_update=True)
            if job is None or job.claimed_by != self.worker:
                return
            job.status, job.error_code, job.error_message = JobStatus.FAILED, code[:40], message[:500]
            job.finished_at = job.updated_at = utc_now()
        # A failed job has no result to give: its upload and the parts of its committed chunks go.
        remove_job_files(self.directory, job_id)
