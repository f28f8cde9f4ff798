"""Sync files an agency uploads through the API (``POST /api/v1/sync/files``), applied as jobs.

The file is the one ``popreg sync import`` takes (CSV or Parquet, the agency's own column names mapped
to targets) and is checked whole when it arrives (:func:`popreg.sync.bulk_import.inspect_file`): a file
whose rows cannot become updates is refused with a code and leaves nothing behind. A job then applies
it in the background, a chunk of rows per transaction through the batch path, as the CLI does.

Each chunk is one transaction holding its updates, its access-log entry (action ``sync.file``, the job
id as transaction id, one item per row) and the job's checkpoint; the chunk's outcomes are written to
disk before it commits. Each row keeps its idempotency key (a ``key`` column, or ``<file name>:<row>``),
so a job that stops anywhere (the process killed, the machine restarted) resumes after its last
committed chunk and applies every row exactly once, and the same file uploaded again answers every row
from its key (``replayed``) and changes nothing more. The agency's policy is read again for each chunk:
a partner suspended, or whose policy no longer allows ``sync``, stops its job (``failed``, with that
code) before another row is applied.

A serving process runs the jobs in a background thread: when it starts it takes the queued jobs and
those whose worker stopped sending heartbeats (a process that died), and when it shuts down cleanly it
gives its job back. After the last chunk the outcomes are assembled into one file (CSV, or Parquet on
request) and the uploaded file is deleted. The outcomes are kept for the runner's retention period
(``POPREG_JOB_RESULT_RETENTION_HOURS``) after the job completed; then the job is expired and its folder
deleted (see :mod:`popreg.kit.jobs`).
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any, Final

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from popreg.audit.service import PendingEntry, append_entries
from popreg.kit.clock import utc_now
from popreg.kit.errors import InvalidInput, NotFound
from popreg.kit.jobs import STALE_AFTER as STALE_AFTER
from popreg.kit.jobs import JobRunner, job_directory, results_available_until, shown_status
from popreg.kit.jobs import new_job_id as new_job_id
from popreg.kit.jobs import source_path as source_path
from popreg.sync import bulk_import
from popreg.sync.file_jobs_models import SyncFileJob
from popreg.sync.rules import Outcome
from popreg.sync.schemas import FileJobCounts, FileJobError, FileJobRead, FileJobStatus, UpdateOutcome

FILES_PATH: Final = "/api/v1/sync/files"
FILE_ACTION: Final = "sync.file"
RESULT_FORMATS: Final = ("csv", "parquet")
_JOB_ID = re.compile(r"[0-9a-f]{32}")
_RESULT_TYPES: Final = {
    "row": pa.int64(),
    "idempotency_key": pa.string(),
    "outcome": pa.string(),
    "code": pa.string(),
    "message": pa.string(),
    "update_id": pa.int64(),
    "replayed": pa.bool_(),
}


@dataclass(frozen=True, slots=True)
class FileJobRequest:
    """An agency's upload, as submitted: ``defaults`` hold the ``legal_basis`` and ``observed_at`` of
    the rows without their own."""

    partner_id: str
    source_name: str
    mapping: Mapping[str, str]
    defaults: Mapping[str, str]
    result_format: str


def check_result_format(value: str) -> str:
    if value not in RESULT_FORMATS:
        raise InvalidInput(
            "The result format is csv or parquet.", code="SYNC_FILE_OPTION_INVALID", details={"field": "result_format"}
        )
    return value


def result_path(directory: Path, job_id: str, result_format: str) -> Path:
    return job_directory(directory, job_id) / f"results.{result_format}"


def create_job(
    session: Session, *, job_id: str, request: FileJobRequest, layout: bulk_import.FileLayout
) -> SyncFileJob:
    """Record an accepted upload (queued) and its acceptance in the access log, in the caller's transaction."""
    now = utc_now()
    job = SyncFileJob(
        id=job_id,
        partner_id=request.partner_id,
        source_name=request.source_name[:300],
        source_format=layout.format,
        column_mapping=json.dumps(dict(request.mapping), ensure_ascii=False),
        legal_basis=request.defaults.get("legal_basis", ""),
        observed_at=request.defaults.get("observed_at", ""),
        fields=",".join(layout.fields),
        result_format=request.result_format,
        status=FileJobStatus.QUEUED,
        rows_total=layout.rows,
        rows_done=0,
        chunks_done=0,
        applied=0,
        queued=0,
        rejected=0,
        replayed=0,
        created_at=now,
        updated_at=now,
    )
    session.add(job)
    session.flush()
    append_entries(
        session,
        [
            PendingEntry(
                principal_kind="partner",
                principal_id=request.partner_id,
                action=FILE_ACTION,
                person_pin=None,
                fields=layout.fields,
                purpose="sync",
                legal_basis=request.defaults.get("legal_basis", ""),
                result="accepted",
                transaction_id=job_id,
            )
        ],
    )
    return job


def get_job(session: Session, *, job_id: str, partner_id: str) -> SyncFileJob:
    """The partner's own job; another partner's job is not found, exactly like one that does not exist."""
    job = session.get(SyncFileJob, job_id) if _JOB_ID.fullmatch(job_id) else None
    if job is None or job.partner_id != partner_id:
        raise NotFound(
            "No such sync file job of yours.", code="SYNC_FILE_JOB_NOT_FOUND", details={"job_id": job_id[:40]}
        )
    return job


def job_summary(job: SyncFileJob, *, retention: timedelta, now: datetime) -> FileJobRead:
    """What an agency is told about its job at ``now``, its outcomes being kept for ``retention``."""
    location = f"{FILES_PATH}/{job.id}"
    return FileJobRead(
        job_id=job.id,
        status=FileJobStatus(shown_status(job, retention=retention, now=now)),
        source_name=job.source_name,
        result_format=job.result_format,
        fields=job.fields.split(",") if job.fields else [],
        rows_total=job.rows_total,
        rows_done=job.rows_done,
        progress=round(min(1.0, job.rows_done / job.rows_total), 4) if job.rows_total else 1.0,
        counts=FileJobCounts(applied=job.applied, queued=job.queued, rejected=job.rejected),
        replayed=job.replayed,
        created_at=job.created_at,
        updated_at=job.updated_at,
        finished_at=job.finished_at,
        results_available_until=results_available_until(job, retention=retention, now=now),
        error=FileJobError(code=job.error_code, message=job.error_message or "") if job.error_code else None,
        status_url=location,
        results_url=f"{location}/results",
    )


class FileJobRunner(JobRunner[SyncFileJob]):
    """Runs sync file jobs in a background thread of a serving process. On start it resumes the jobs a
    stopped process left unfinished."""

    model = SyncFileJob
    part_suffix = "csv"
    label = "sync file"
    internal_error = (
        "SYNC_FILE_JOB_FAILED",
        "The job stopped on an internal error; upload the file again (the rows already applied are "
        "answered from their keys).",
    )
    default_chunk_rows = bulk_import.CHUNK

    def _run(self, job_id: str, *, max_chunks: int | None) -> None:
        with self.database.unit_of_work() as session:
            job = session.get(SyncFileJob, job_id)
            if job is None:
                return
            partner_id, name, result_format = job.partner_id, job.source_name, job.result_format
            mapping: dict[str, str] = json.loads(job.column_mapping)
            defaults = {"legal_basis": job.legal_basis, "observed_at": job.observed_at}
            done, chunk_number = job.rows_done, job.chunks_done
        first_chunk = chunk_number
        self._remove_uncommitted_parts(job_id, chunk_number)
        rows = islice(
            enumerate(bulk_import.rows_of(source_path(self.directory, job_id), name=name), start=1), done, None
        )
        chunk: list[dict[str, Any]] = []
        first_row = done + 1
        for number, row in rows:
            chunk.append(bulk_import.update_of(row, number, mapping=mapping, defaults=defaults, file_name=name))
            if len(chunk) < self.chunk_rows:
                continue
            if self._stops_before(chunk_number, first_chunk=first_chunk, max_chunks=max_chunks):
                return
            self._commit_chunk(job_id, partner_id, chunk, first_row=first_row, chunk_number=chunk_number)
            chunk_number, first_row, chunk = chunk_number + 1, number + 1, []
        if chunk:
            if self._stops_before(chunk_number, first_chunk=first_chunk, max_chunks=max_chunks):
                return
            self._commit_chunk(job_id, partner_id, chunk, first_row=first_row, chunk_number=chunk_number)
            chunk_number += 1
        self._complete(
            job_id,
            chunks=chunk_number,
            target=result_path(self.directory, job_id, result_format),
            assemble=lambda parts, into: _assemble(parts, into, result_format=result_format),
        )

    def _commit_chunk(
        self, job_id: str, partner_id: str, chunk: list[dict[str, Any]], *, first_row: int, chunk_number: int
    ) -> None:
        part = self.part_path(job_id, chunk_number)
        for attempt in (1, 2):
            try:
                with self.checkpoint(job_id, chunk_number=chunk_number) as (session, job):
                    outcomes = bulk_import.receive_chunk(
                        session,
                        agency=bulk_import.agency_of(session, partner_id=partner_id),
                        updates=chunk,
                        principal=("partner", partner_id),
                        action=FILE_ACTION,
                        transaction_id=job_id,
                    )
                    _write_part(part, first_row, outcomes)
                    job.rows_done += len(chunk)
                    job.applied += sum(1 for outcome in outcomes if outcome.outcome is Outcome.APPLIED)
                    job.queued += sum(1 for outcome in outcomes if outcome.outcome is Outcome.QUEUED)
                    job.rejected += sum(1 for outcome in outcomes if outcome.outcome is Outcome.REJECTED)
                    job.replayed += sum(1 for outcome in outcomes if outcome.replayed)
                return
            except IntegrityError:
                # Another request stored one of these keys (or linked one of these numbers) first: the
                # chunk is applied again, and answers those rows from what that request stored.
                if attempt == 2:
                    raise


def _assemble(parts: list[Path], into: Path, *, result_format: str) -> None:
    """The parts as one file: CSV with a header line, or Parquet with the result columns' types."""
    if result_format == "csv":
        with into.open("wb") as out:
            out.write((",".join(bulk_import.RESULT_COLUMNS) + "\r\n").encode())
            for part in parts:
                with part.open("rb") as source:
                    shutil.copyfileobj(source, out, 1 << 20)
    else:
        schema = pa.schema(list(_RESULT_TYPES.items()))
        with pq.ParquetWriter(into, schema) as writer:
            for part in parts:
                writer.write_table(_read_part(part).cast(schema))


def _write_part(path: Path, first_row: int, outcomes: Sequence[UpdateOutcome]) -> None:
    """A chunk's outcomes as lines of the results file (no header), on disk before the chunk commits."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        for row, outcome in enumerate(outcomes, start=first_row):
            writer.writerow(bulk_import.result_cells(row, outcome))
        out.flush()
        os.fsync(out.fileno())


def _read_part(path: Path) -> pa.Table:
    return pa_csv.read_csv(
        path,
        read_options=pa_csv.ReadOptions(column_names=list(bulk_import.RESULT_COLUMNS)),
        parse_options=pa_csv.ParseOptions(newlines_in_values=True),
        convert_options=pa_csv.ConvertOptions(
            column_types=_RESULT_TYPES, true_values=["yes"], false_values=["no"], strings_can_be_null=True
        ),
    )
