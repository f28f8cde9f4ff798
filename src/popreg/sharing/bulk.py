"""Bulk verification: a partner's file of millions of claims, verified as a job.

A partner uploads a CSV (UTF-8) or Parquet file: a ``pin`` column and claim columns named as in
:data:`~popreg.sharing.rules.VERIFIABLE_FIELDS` (or mapped to them), with a purpose and a match mode.
The file is checked when it arrives (readable, UTF-8, a ``pin`` column, only known or mapped-away
columns) and refused whole if it fails; after that a bad row only makes its own result ``invalid``.

The job reads the file a chunk at a time; for each chunk it reads the register's facts of the
chunk's PINs in one go (:func:`~popreg.sharing.facts.fetch_facts_table`), verifies every row
column-wise (:func:`~popreg.sharing.columns.verify_table`), writes the chunk's results to disk, and
then, in one transaction, appends the chunk's access-log entry (one entry per chunk, whose items
are every row's PIN and result) and moves the job's checkpoint. A job that stops anywhere (the
process killed, the machine restarted) therefore resumes after its last committed chunk, with every
row logged exactly once: a serving process resumes unfinished jobs when it starts, and takes over a
job whose worker stopped sending heartbeats. When the last chunk is done the results are assembled
into one file (Parquet, or CSV on request) and the uploaded file is deleted.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import shutil
import threading
import uuid
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from popreg.audit.service import PendingEntry, append_entries
from popreg.kit.clock import in_vietnam, utc_now
from popreg.kit.database import Database
from popreg.kit.errors import InvalidInput, NotFound
from popreg.sharing.bulk_models import VerificationJob
from popreg.sharing.columns import verify_table
from popreg.sharing.facts import fetch_facts_table
from popreg.sharing.rules import VERIFIABLE_FIELDS, MatchMode, check_threshold

logger = logging.getLogger("popreg.sharing.bulk")

BULK_ACTION = "verify.bulk"
DEFAULT_CHUNK_ROWS = 200_000
"""Rows per chunk: each chunk is one access-log entry (the log's head stays locked while its items
are written, a fraction of a second) and one step of the checkpoint."""
STALE_AFTER = timedelta(minutes=2)
"""A running job whose worker sent no heartbeat for this long is taken over by another process."""
IGNORE = "-"
"""The mapping target of a column to leave out (``customer_ref=-``)."""
RESULT_FORMATS = ("parquet", "csv")
PARQUET_MAGIC = b"PAR1"
_SAMPLE_BYTES = 1 << 20


class Status:
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


def _refusal(message: str, code: str, **details: Any) -> InvalidInput:
    return InvalidInput(message, code=code, details=details)


# ---------------------------------------------------------------------------------------------
# The file


def parse_mapping(pairs: Mapping[str, str] | list[str] | str | None) -> dict[str, str]:
    """``COLUMN=FIELD`` pairs (a list, or one string separated by commas or new lines), or a mapping:
    the file's column ``COLUMN`` holds the claim ``FIELD`` (or ``pin``); ``FIELD`` ``-`` leaves the
    column out."""
    if pairs is None:
        return {}
    if isinstance(pairs, str):
        pairs = [part for part in pairs.replace("\n", ",").split(",") if part.strip()]
    if isinstance(pairs, list):
        items = []
        for pair in pairs:
            source, sep, field = pair.partition("=")
            if not sep:
                raise _refusal(
                    f"A column mapping is COLUMN=FIELD, not {pair!r}.", "BULK_MAPPING_INVALID", value=pair[:100]
                )
            items.append((source.strip(), field.strip()))
    else:
        items = [(source.strip(), field.strip()) for source, field in pairs.items()]
    mapping: dict[str, str] = {}
    targets = {"pin", IGNORE, *VERIFIABLE_FIELDS}
    for source, field in items:
        if not source or field not in targets:
            raise _refusal(
                f"A column mapping is COLUMN=FIELD with FIELD one of pin, {', '.join(VERIFIABLE_FIELDS)} "
                f"or {IGNORE} (leave the column out).",
                "BULK_MAPPING_INVALID",
                value=f"{source}={field}"[:100],
            )
        mapping[source] = field
    return mapping


@dataclass(frozen=True, slots=True)
class Layout:
    """What a checked file holds: its format, its columns and the claim fields they map to."""

    format: str  # "csv" | "parquet"
    source_names: tuple[str, ...]
    targets: tuple[str, ...]  # per source column: "pin", a claim field, or IGNORE
    fields: tuple[str, ...]  # the claimed fields, in VERIFIABLE_FIELDS order
    rows_total: int  # Parquet: records; CSV: lines after the header (an upper bound of the records)

    @property
    def wanted(self) -> list[str]:
        return [name for name, target in zip(self.source_names, self.targets, strict=True) if target != IGNORE]


def inspect_source(path: Path, mapping: Mapping[str, str]) -> Layout:
    """Check an uploaded file as a whole; refuse it with a stable code if it cannot be verified.

    ``BULK_FILE_EMPTY``, ``BULK_FILE_UNREADABLE`` (not a CSV or Parquet file), ``BULK_FILE_ENCODING``
    (a CSV that is not UTF-8, such as Windows-1258 or TCVN3), ``BULK_COLUMNS_MISSING`` (no ``pin``
    column), ``BULK_MAPPING_INVALID`` (two columns for one field), ``VERIFY_UNKNOWN_FIELD`` (a column
    that is neither a claim nor mapped away), ``VERIFY_NO_CLAIMS`` (no claim column).
    """
    size = path.stat().st_size
    if size == 0:
        raise _refusal("The file is empty.", "BULK_FILE_EMPTY")
    with path.open("rb") as handle:
        head = handle.read(_SAMPLE_BYTES)
    if head.startswith(PARQUET_MAGIC):
        try:
            parquet = pq.ParquetFile(path)
            names = tuple(parquet.schema_arrow.names)
            rows_total = parquet.metadata.num_rows
        except (OSError, pa.ArrowException) as error:
            raise _refusal(f"The file is not a readable Parquet file: {error}", "BULK_FILE_UNREADABLE") from None
        kind = "parquet"
    else:
        names, rows_total = _inspect_csv(path, head, size)
        kind = "csv"
    targets = tuple(mapping.get(name, name) for name in names)
    if "pin" not in targets:
        raise _refusal(
            "The file has no pin column: name one column pin, or map yours with COLUMN=pin.",
            "BULK_COLUMNS_MISSING",
            missing=["pin"],
            found=list(names)[:50],
        )
    unknown = [
        name for name, target in zip(names, targets, strict=True) if target not in ("pin", IGNORE, *VERIFIABLE_FIELDS)
    ]
    if unknown:
        raise _refusal(
            f"These columns are not claims that can be verified: {', '.join(unknown[:10])}. Name claim columns "
            f"{', '.join(VERIFIABLE_FIELDS)}, map them (COLUMN=FIELD) or leave them out (COLUMN=-).",
            "VERIFY_UNKNOWN_FIELD",
            field=unknown[0],
            fields=unknown[:50],
        )
    kept = [target for target in targets if target != IGNORE]
    repeated = sorted({target for target in kept if kept.count(target) > 1})
    if repeated:
        raise _refusal(f"More than one column holds {', '.join(repeated)}.", "BULK_MAPPING_INVALID", fields=repeated)
    fields = tuple(name for name in VERIFIABLE_FIELDS if name in kept)
    if not fields:
        raise _refusal(
            f"The file claims nothing: add at least one column of {', '.join(VERIFIABLE_FIELDS)}.",
            "VERIFY_NO_CLAIMS",
        )
    return Layout(format=kind, source_names=names, targets=targets, fields=fields, rows_total=rows_total)


def _inspect_csv(path: Path, head: bytes, size: int) -> tuple[tuple[str, ...], int]:
    sample = head if len(head) < _SAMPLE_BYTES else head[: head.rfind(b"\n") + 1] or head
    try:
        text = sample.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise _refusal(
            f"The file is not UTF-8 text (byte {error.start} cannot be read); save it as UTF-8 "
            "(Windows-1258 and TCVN3 are not accepted), or send Parquet.",
            "BULK_FILE_ENCODING",
            byte=error.start,
        ) from None
    if "\x00" in text:
        raise _refusal("The file is neither CSV text nor Parquet.", "BULK_FILE_UNREADABLE")
    first_line = text.splitlines()[0] if text.strip() else ""
    header = next(csv.reader([first_line]), None) if first_line.strip() else None
    if not header:
        raise _refusal("The file has no header line.", "BULK_FILE_EMPTY")
    names = tuple(name.strip() for name in header)
    lines = 0
    ends_with_newline = True
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 24), b""):
            lines += block.count(b"\n")
            ends_with_newline = block.endswith(b"\n")
    lines += 0 if ends_with_newline else 1
    return names, max(0, lines - 1)


@dataclass(slots=True)
class Chunk:
    """Rows of the file as text (``pin`` and the claim fields), each with its row number (the CSV line,
    the header being line 1, or the Parquet record number), and rows refused before verification."""

    table: pa.Table
    rows: np.ndarray
    refused: list[tuple[int, str]]  # (row number, code)
    records: int  # records of the file this chunk consumed (the checkpoint counts these)


def read_chunks(path: Path, layout: Layout, *, chunk_rows: int, skip_records: int, after_row: int) -> Iterator[Chunk]:
    """The file's rows a chunk at a time, after the first ``skip_records`` records (and refused rows up
    to ``after_row``), which an earlier run already verified."""
    source = (
        _parquet_batches(path, layout, chunk_rows)
        if layout.format == "parquet"
        else _csv_batches(path, layout, chunk_rows)
    )
    consumed = 0
    for chunk in source:
        start = consumed
        consumed += chunk.records
        if consumed <= skip_records:
            continue
        skip = max(0, skip_records - start)
        if skip:
            chunk = Chunk(chunk.table.slice(skip), chunk.rows[skip:], chunk.refused, chunk.records - skip)
        chunk.refused = [item for item in chunk.refused if item[0] > after_row]
        yield chunk


def _renamed(table: pa.Table, layout: Layout) -> pa.Table:
    targets = dict(zip(layout.source_names, layout.targets, strict=True))
    columns = {
        targets[name]: pc.cast(table[name], pa.string()) for name in table.column_names if targets[name] != IGNORE
    }
    return pa.table({name: columns[name] for name in ("pin", *layout.fields)})


def _parquet_batches(path: Path, layout: Layout, chunk_rows: int) -> Iterator[Chunk]:
    number = 1
    for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_rows, columns=layout.wanted):
        table = _renamed(pa.Table.from_batches([batch]), layout)
        rows = np.arange(number, number + table.num_rows, dtype=np.int64)
        number += table.num_rows
        yield Chunk(table, rows, [], table.num_rows)


def _csv_batches(path: Path, layout: Layout, chunk_rows: int) -> Iterator[Chunk]:
    malformed: list[int] = []  # file lines the parser skipped, in file order

    def on_invalid_row(row: pa_csv.InvalidRow) -> str:
        malformed.append(int(row.number or 0))
        return "skip"

    # One parsing thread: only then does Arrow tell the line of a malformed row.
    read = pa_csv.ReadOptions(
        use_threads=False, block_size=1 << 23, column_names=list(layout.source_names), skip_rows=1
    )
    convert = pa_csv.ConvertOptions(
        column_types=dict.fromkeys(layout.wanted, pa.binary()),
        include_columns=layout.wanted,
        strings_can_be_null=False,
    )
    parse = pa_csv.ParseOptions(invalid_row_handler=on_invalid_row, newlines_in_values=True)
    try:
        reader = pa_csv.open_csv(path, read_options=read, parse_options=parse, convert_options=convert)
    except pa.ArrowInvalid as error:
        raise _refusal(f"The file cannot be read as CSV: {error}", "BULK_FILE_UNREADABLE") from None
    parsed = 0  # records handed out so far
    handed = 0  # malformed lines handed out so far

    def piece(table: pa.Table, *, final: bool) -> Chunk:
        nonlocal parsed, handed
        count = table.num_rows
        # The r-th record (from 0) is on line r + 2 (the header is line 1) plus the malformed lines
        # before it: with the malformed lines m_0 < m_1 < ..., those before are the k with m_k - k <= r + 2.
        marks = np.asarray(malformed, dtype=np.int64)
        shifted = marks - np.arange(len(marks), dtype=np.int64)
        records = np.arange(parsed + 2, parsed + 2 + count, dtype=np.int64)
        rows = records + np.searchsorted(shifted, records, side="right")
        last = int(rows[-1]) if count else 0
        ready = [int(line) for line in marks[handed:] if final or line < last]
        handed += len(ready)
        parsed += count
        refused = [(line, "CSV_ROW_MALFORMED") for line in ready]
        decoded, bad = _decode(table)
        keep = np.ones(count, dtype=bool)
        keep[bad] = False
        refused += [(int(rows[index]), "ENCODING_INVALID") for index in bad]
        return Chunk(_renamed(decoded, layout), rows[keep], refused, count)

    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    try:
        for batch in reader:
            pending.append(batch)
            pending_rows += batch.num_rows
            while pending_rows >= chunk_rows:
                table = pa.Table.from_batches(pending)
                yield piece(table.slice(0, chunk_rows), final=False)
                rest = table.slice(chunk_rows)
                pending, pending_rows = rest.to_batches(), rest.num_rows
    except pa.ArrowInvalid as error:
        raise _refusal(f"The file cannot be read as CSV: {error}", "BULK_FILE_UNREADABLE") from None
    if pending_rows or handed < len(malformed):
        empty = pa.table({name: pa.array([], pa.binary()) for name in layout.wanted})
        yield piece(pa.Table.from_batches(pending) if pending else empty, final=True)


def _decode(table: pa.Table) -> tuple[pa.Table, list[int]]:
    """Binary CSV columns as text; rows that are not valid UTF-8 are taken out (their indices returned)."""
    try:
        return pa.table({name: pc.cast(table[name], pa.string()) for name in table.column_names}), []
    except pa.ArrowInvalid:
        pass
    bad: set[int] = set()
    for name in table.column_names:
        for index, value in enumerate(table[name].to_pylist()):
            try:
                value.decode("utf-8")
            except UnicodeDecodeError:
                bad.add(index)
    keep = np.ones(table.num_rows, dtype=bool)
    keep[sorted(bad)] = False
    kept = table.filter(pa.array(keep))
    return pa.table({name: pc.cast(kept[name], pa.string()) for name in kept.column_names}), sorted(bad)


# ---------------------------------------------------------------------------------------------
# Jobs


@dataclass(frozen=True, slots=True)
class JobRequest:
    """A partner's bulk verification, as submitted."""

    partner_id: str
    purpose: str
    legal_basis: str
    mode: str
    threshold: float
    result_format: str
    source_name: str
    mapping: Mapping[str, str]


def check_options(*, mode: str, threshold: float, result_format: str) -> tuple[MatchMode, float, str]:
    """The match mode, threshold and result format of a job, or ``BULK_OPTION_INVALID`` /
    ``VERIFY_INVALID_THRESHOLD``."""
    try:
        match_mode = MatchMode(mode)
    except ValueError:
        raise _refusal("The mode is exact, normalised or fuzzy.", "BULK_OPTION_INVALID", field="mode") from None
    if result_format not in RESULT_FORMATS:
        raise _refusal("The result format is parquet or csv.", "BULK_OPTION_INVALID", field="result_format")
    return match_mode, check_threshold(threshold), result_format


def job_directory(directory: Path, job_id: str) -> Path:
    return directory / job_id


def source_path(directory: Path, job_id: str) -> Path:
    return job_directory(directory, job_id) / "source"


def result_path(directory: Path, job_id: str, result_format: str) -> Path:
    return job_directory(directory, job_id) / f"result.{result_format}"


def new_job_id() -> str:
    return uuid.uuid4().hex


def create_job(session: Session, *, job_id: str, request: JobRequest, layout: Layout) -> VerificationJob:
    """Record an accepted job (queued) and its acceptance in the access log, in the caller's transaction."""
    now = utc_now()
    job = VerificationJob(
        id=job_id,
        partner_id=request.partner_id,
        purpose=request.purpose,
        legal_basis=request.legal_basis,
        mode=request.mode,
        threshold=request.threshold,
        fields=",".join(layout.fields),
        column_mapping=json.dumps(dict(request.mapping), ensure_ascii=False),
        source_name=request.source_name[:300],
        source_format=layout.format,
        result_format=request.result_format,
        status=Status.QUEUED,
        rows_total=layout.rows_total,
        rows_done=0,
        records_done=0,
        last_line=0,
        chunks_done=0,
        matched=0,
        not_matched=0,
        invalid=0,
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
                action=BULK_ACTION,
                person_pin=None,
                fields=layout.fields,
                purpose=request.purpose,
                legal_basis=request.legal_basis,
                result="accepted",
                transaction_id=job_id,
            )
        ],
    )
    return job


def get_job(session: Session, *, job_id: str, partner_id: str) -> VerificationJob:
    """The partner's own job; another partner's job is not found, exactly like one that does not exist."""
    job = session.get(VerificationJob, job_id) if len(job_id) <= 32 else None
    if job is None or job.partner_id != partner_id:
        raise NotFound(
            "No such bulk verification job of yours.", code="BULK_JOB_NOT_FOUND", details={"job_id": job_id[:40]}
        )
    return job


def job_summary(job: VerificationJob) -> dict[str, Any]:
    """What a partner is told about its job."""
    summary: dict[str, Any] = {
        "job_id": job.id,
        "status": job.status,
        "source_name": job.source_name,
        "purpose": job.purpose,
        "mode": job.mode,
        "threshold": job.threshold,
        "fields": job.fields.split(","),
        "result_format": job.result_format,
        "rows_total": job.rows_total,
        "rows_done": job.rows_done,
        "progress": round(min(1.0, job.rows_done / job.rows_total), 4) if job.rows_total else 1.0,
        "counts": {"match": job.matched, "no_match": job.not_matched, "invalid": job.invalid},
        "created_at": job.created_at.isoformat(),
        "updated_at": job.updated_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }
    if job.error_code:
        summary["error"] = {"code": job.error_code, "message": job.error_message or ""}
    return summary


class LostClaim(Exception):
    """Another process took the job over (this one stopped sending heartbeats in time)."""


class BulkRunner:
    """Runs bulk verification jobs in a background thread of a serving process (or in the caller's
    thread, from the CLI). On start it resumes the jobs a stopped process left unfinished."""

    def __init__(
        self,
        database: Database,
        *,
        directory: Path,
        chunk_rows: int = DEFAULT_CHUNK_ROWS,
        poll_seconds: float = 5.0,
    ) -> None:
        self.database = database
        self.directory = Path(directory)
        self.chunk_rows = chunk_rows
        self.poll_seconds = poll_seconds
        self.worker = uuid.uuid4().hex
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._stopping.clear()
            self._thread = threading.Thread(target=self._loop, name="popreg-bulk-verify", daemon=True)
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
        with self.database.unit_of_work() as session:
            session.execute(
                update(VerificationJob)
                .where(VerificationJob.claimed_by == self.worker, VerificationJob.status == Status.RUNNING)
                .values(status=Status.QUEUED, claimed_by=None, updated_at=utc_now())
                .execution_options(synchronize_session=False)
            )

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                job_id = self.claim_next()
                if job_id is not None:
                    self.run(job_id)
                    continue
            except Exception:
                logger.exception("bulk verification worker failed; it tries again shortly")
            self._wake.wait(self.poll_seconds)
            self._wake.clear()

    def claim_next(self) -> str | None:
        """Take the oldest queued job, or a running job whose worker went silent."""
        stale = utc_now() - STALE_AFTER
        with self.database.unit_of_work() as session:
            candidates = (
                session.execute(
                    select(VerificationJob.id)
                    .where(
                        or_(
                            VerificationJob.status == Status.QUEUED,
                            (VerificationJob.status == Status.RUNNING)
                            & or_(VerificationJob.heartbeat_at.is_(None), VerificationJob.heartbeat_at < stale),
                        )
                    )
                    .order_by(VerificationJob.created_at)
                    .limit(5)
                )
                .scalars()
                .all()
            )
            for job_id in candidates:
                claimed = session.execute(
                    update(VerificationJob)
                    .where(
                        VerificationJob.id == job_id,
                        or_(
                            VerificationJob.status == Status.QUEUED,
                            (VerificationJob.status == Status.RUNNING)
                            & or_(VerificationJob.heartbeat_at.is_(None), VerificationJob.heartbeat_at < stale),
                        ),
                    )
                    .values(status=Status.RUNNING, claimed_by=self.worker, heartbeat_at=utc_now(), updated_at=utc_now())
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
            logger.warning("bulk job %s was taken over by another process", job_id)
        except InvalidInput as refusal:
            self._fail(job_id, refusal.code, refusal.message)
        except Exception:
            logger.exception("bulk job %s failed", job_id)
            self._fail(job_id, "BULK_JOB_FAILED", "The job stopped on an internal error; submit the file again.")

    def _run(self, job_id: str, *, max_chunks: int | None) -> None:
        with self.database.read_session() as session:
            job = session.get(VerificationJob, job_id)
            if job is None:
                return
            mapping = json.loads(job.column_mapping)
            mode, threshold = MatchMode(job.mode), job.threshold
            skip, after_row, chunk_number = job.records_done, job.last_line, job.chunks_done
            today = in_vietnam(job.created_at).date()
            context = (job.partner_id, job.purpose, job.legal_basis, job.result_format)
        first_chunk = chunk_number
        folder = job_directory(self.directory, job_id)
        layout = inspect_source(source_path(self.directory, job_id), mapping)
        for stray in folder.glob("part-*.parquet"):
            if int(stray.stem.split("-")[1]) >= chunk_number:
                stray.unlink()  # written by a run that stopped before committing it
        chunks = read_chunks(
            source_path(self.directory, job_id),
            layout,
            chunk_rows=self.chunk_rows,
            skip_records=skip,
            after_row=after_row,
        )

        def read_ahead() -> tuple[Chunk, pa.Table] | None:
            """The next chunk and the register's facts of its PINs (the database works meanwhile)."""
            chunk = next(chunks, None)
            return None if chunk is None else (chunk, self._facts(chunk, layout))

        # While a chunk is verified and logged, the next one is parsed and its facts read.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="popreg-bulk-read") as reader:
            ahead = reader.submit(read_ahead)
            while (item := ahead.result()) is not None:
                if self._stopping.is_set() or (max_chunks is not None and chunk_number >= first_chunk + max_chunks):
                    return
                ahead = reader.submit(read_ahead)
                chunk, facts = item
                results = self._answers(chunk, facts, mode=mode, threshold=threshold, today=today)
                part = folder / f"part-{chunk_number:06d}.parquet"
                _write_durably(results, part)
                self._commit_chunk(job_id, chunk, results, layout, context=context, chunk_number=chunk_number)
                chunk_number += 1
        self._finish(job_id, folder, chunk_number, result_format=context[3])

    def _facts(self, chunk: Chunk, layout: Layout) -> pa.Table:
        with self.database.read_engine.connect() as connection:
            return fetch_facts_table(connection, chunk.table["pin"], fields=layout.fields)

    @staticmethod
    def _answers(chunk: Chunk, facts: pa.Table, *, mode: MatchMode, threshold: float, today: date) -> pa.Table:
        answers = verify_table(chunk.table, facts, mode=mode, threshold=threshold, today=today)
        answers = answers.add_column(0, "row", pa.array(chunk.rows, pa.int64()))
        if chunk.refused:
            count = len(chunk.refused)
            refused = pa.table(
                {
                    "row": pa.array([row for row, _ in chunk.refused], pa.int64()),
                    "result": pa.array(["invalid"] * count, pa.string()),
                    "error_code": pa.array([code for _, code in chunk.refused], pa.string()),
                }
            )
            answers = pa.concat_tables([answers, refused], promote_options="default").sort_by("row")
        return answers

    def _commit_chunk(
        self,
        job_id: str,
        chunk: Chunk,
        results: pa.Table,
        layout: Layout,
        *,
        context: tuple[str, str, str, str],
        chunk_number: int,
    ) -> None:
        partner_id, purpose, legal_basis, _ = context
        pins = results["pin"].combine_chunks()
        well_formed = pc.fill_null(pc.match_substring_regex(pins, r"^[0-9]{12}$"), False)
        logged_pins = pc.if_else(well_formed, pins, pa.scalar(None, pa.string()))
        outcome = pc.coalesce(
            pc.if_else(pc.equal(results["result"], "invalid"), results["error_code"], results["result"]), "invalid"
        )
        items = list(zip(logged_pins.to_pylist(), outcome.to_pylist(), strict=True))
        counts = {entry["values"]: entry["counts"] for entry in pc.value_counts(results["result"]).to_pylist()}
        with self.database.unit_of_work() as session:
            job = session.get(VerificationJob, job_id, with_for_update=True)
            if job is None or job.claimed_by != self.worker or job.status != Status.RUNNING:
                raise LostClaim(job_id)
            append_entries(
                session,
                [
                    PendingEntry(
                        principal_kind="partner",
                        principal_id=partner_id,
                        action=BULK_ACTION,
                        person_pin=None,
                        fields=layout.fields,
                        purpose=purpose,
                        legal_basis=legal_basis,
                        result="ok",
                        transaction_id=job_id,
                        items=items,
                    )
                ],
            )
            job.records_done += chunk.records
            job.rows_done += results.num_rows
            job.last_line = max(job.last_line, int(results["row"][-1].as_py()) if results.num_rows else 0)
            job.chunks_done = chunk_number + 1
            job.matched += counts.get("match", 0)
            job.not_matched += counts.get("no_match", 0)
            job.invalid += counts.get("invalid", 0)
            job.heartbeat_at = job.updated_at = utc_now()

    def _finish(self, job_id: str, folder: Path, chunks: int, *, result_format: str) -> None:
        parts = [folder / f"part-{number:06d}.parquet" for number in range(chunks)]
        target = folder / f"result.{result_format}"
        partial = folder / f"result.{result_format}.partial"
        schema = _result_schema([pq.read_schema(part) for part in parts])
        if result_format == "csv":
            with pa_csv.CSVWriter(partial, schema) as writer:
                for part in parts:
                    writer.write_table(_conform(pq.read_table(part), schema))
        else:
            with pq.ParquetWriter(partial, schema) as writer:
                for part in parts:
                    writer.write_table(_conform(pq.read_table(part), schema))
        _fsync(partial)
        os.replace(partial, target)
        with self.database.unit_of_work() as session:
            job = session.get(VerificationJob, job_id, with_for_update=True)
            if job is None or job.claimed_by != self.worker:
                raise LostClaim(job_id)
            job.status = Status.COMPLETED
            job.rows_total = job.rows_done  # exact now (a CSV's line count was an upper bound)
            job.finished_at = job.updated_at = utc_now()
        for part in parts:
            part.unlink(missing_ok=True)
        source_path(self.directory, job_id).unlink(missing_ok=True)

    def _fail(self, job_id: str, code: str, message: str) -> None:
        with self.database.unit_of_work() as session:
            job = session.get(VerificationJob, job_id, with_for_update=True)
            if job is None or job.claimed_by != self.worker:
                return
            job.status, job.error_code, job.error_message = Status.FAILED, code, message[:500]
            job.finished_at = job.updated_at = utc_now()
        source_path(self.directory, job_id).unlink(missing_ok=True)


def _result_schema(schemas: list[pa.Schema]) -> pa.Schema:
    """The union of the parts' columns (a part without refused rows may lack none; one of only refused
    rows lacks the answer columns)."""
    if not schemas:
        return pa.schema([("row", pa.int64()), ("pin", pa.string()), ("result", pa.string())])
    return pa.unify_schemas(schemas, promote_options="default")


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    return pa.table(
        {
            field.name: table[field.name].cast(field.type)
            if field.name in table.column_names
            else pa.nulls(table.num_rows, field.type)
            for field in schema
        },
        schema=schema,
    )


def _write_durably(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    _fsync(path)


def _fsync(path: Path) -> None:
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


def remove_job_files(directory: Path, job_id: str) -> None:
    shutil.rmtree(job_directory(directory, job_id), ignore_errors=True)
