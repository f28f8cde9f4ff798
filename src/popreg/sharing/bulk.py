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
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from sqlalchemy.orm import Session

from popreg.audit.service import PendingEntry, append_entries
from popreg.kit.clock import in_vietnam, utc_now
from popreg.kit.errors import InvalidInput, NotFound
from popreg.kit.jobs import STALE_AFTER as STALE_AFTER
from popreg.kit.jobs import (
    JobRunner,
    JobStatus,
    fsync,
    job_directory,
    results_available_until,
    shown_status,
)
from popreg.kit.jobs import new_job_id as new_job_id
from popreg.kit.jobs import source_path as source_path
from popreg.sharing.bulk_models import VerificationJob
from popreg.sharing.columns import verify_table
from popreg.sharing.facts import fetch_facts_table
from popreg.sharing.rules import VERIFIABLE_FIELDS, MatchMode, check_threshold

BULK_ACTION = "verify.bulk"
DEFAULT_CHUNK_ROWS = 200_000
"""Rows per chunk: each chunk is one access-log entry (the log's head stays locked while its items
are written, a fraction of a second) and one step of the checkpoint."""
IGNORE = "-"
"""The mapping target of a column to leave out (``customer_ref=-``)."""
RESULT_FORMATS = ("parquet", "csv")
PARQUET_MAGIC = b"PAR1"
_SAMPLE_BYTES = 1 << 20


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


def result_path(directory: Path, job_id: str, result_format: str) -> Path:
    return job_directory(directory, job_id) / f"result.{result_format}"


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
        status=JobStatus.QUEUED,
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


def job_summary(job: VerificationJob, *, retention: timedelta, now: datetime) -> dict[str, Any]:
    """What a partner is told about its job at ``now``, its results being kept for ``retention``."""
    until = results_available_until(job, retention=retention, now=now)
    summary: dict[str, Any] = {
        "job_id": job.id,
        "status": shown_status(job, retention=retention, now=now).value,
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
        "results_available_until": until.isoformat() if until else None,
    }
    if job.error_code:
        summary["error"] = {"code": job.error_code, "message": job.error_message or ""}
    return summary


class BulkRunner(JobRunner[VerificationJob]):
    """Runs bulk verification jobs in a background thread of a serving process (or in the caller's
    thread, from the CLI). On start it resumes the jobs a stopped process left unfinished."""

    model = VerificationJob
    part_suffix = "parquet"
    label = "bulk verification"
    refusal = InvalidInput
    internal_error = ("BULK_JOB_FAILED", "The job stopped on an internal error; submit the file again.")
    default_chunk_rows = DEFAULT_CHUNK_ROWS

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
        layout = inspect_source(source_path(self.directory, job_id), mapping)
        self._remove_uncommitted_parts(job_id, chunk_number)
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
                if self._stops_before(chunk_number, first_chunk=first_chunk, max_chunks=max_chunks):
                    return
                ahead = reader.submit(read_ahead)
                chunk, facts = item
                results = self._answers(chunk, facts, mode=mode, threshold=threshold, today=today)
                _write_durably(results, self.part_path(job_id, chunk_number))
                self._commit_chunk(job_id, chunk, results, layout, context=context, chunk_number=chunk_number)
                chunk_number += 1
        result_format = context[3]
        self._complete(
            job_id,
            chunks=chunk_number,
            target=result_path(self.directory, job_id, result_format),
            assemble=lambda parts, into: _assemble(parts, into, result_format=result_format),
        )

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
        with self.checkpoint(job_id, chunk_number=chunk_number) as (session, job):
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
            job.matched += counts.get("match", 0)
            job.not_matched += counts.get("no_match", 0)
            job.invalid += counts.get("invalid", 0)

    def _completed(self, job: VerificationJob) -> None:
        job.rows_total = job.rows_done  # exact now (a CSV's line count was an upper bound)


def _assemble(parts: list[Path], into: Path, *, result_format: str) -> None:
    """The parts as one Parquet or CSV file, with the union of their columns."""
    schema = _result_schema([pq.read_schema(part) for part in parts])
    if result_format == "csv":
        with pa_csv.CSVWriter(into, schema) as writer:
            for part in parts:
                writer.write_table(_conform(pq.read_table(part), schema))
    else:
        with pq.ParquetWriter(into, schema) as writer:
            for part in parts:
                writer.write_table(_conform(pq.read_table(part), schema))


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
    fsync(path)
