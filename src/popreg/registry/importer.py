"""Bulk import of person records from CSV or Parquet: validated, fast, resumable, exactly once.

Each batch of rows is validated column-wise (:mod:`popreg.registry.import_rules`), checked for PINs
already in the register or earlier in the file, and written (``COPY`` on PostgreSQL, batched inserts
on SQLite) together with its history events, its rejected rows and the job's checkpoint, **in one
transaction**. A crash or ``kill -9`` therefore loses at most the batch in flight, which was never
visible; running the same import again finds the job by the file's fingerprint and resumes after the
last committed batch, so every row is loaded exactly once. Running it again after it finished loads
nothing.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from sqlalchemy import Index, func, select, text
from sqlalchemy.orm import Session

from popreg.kit import events
from popreg.kit.clock import today_in_vietnam, utc_now
from popreg.kit.database import Base, Database
from popreg.kit.errors import InvalidInput
from popreg.kit.events import PersonsImported
from popreg.registry import bulk, import_rules
from popreg.registry.models import ImportJob, ImportReject, Person

# Page cache while importing into SQLite: enough to keep much of the indexes in memory, small enough
# that an import stays well under 2 GiB of memory.
SQLITE_IMPORT_CACHE_KIB = 512 << 10

REJECT_MESSAGES = {
    "PIN_INVALID_STRUCTURE": "The PIN is not exactly 12 digits.",
    "PIN_UNKNOWN_PROVINCE": "The PIN's first three digits are not a province or country code.",
    "PIN_BIRTH_YEAR_MISMATCH": "The PIN's century-sex digit and year digits disagree with the date of birth.",
    "PIN_SEX_MISMATCH": "The PIN's century-sex digit disagrees with the sex.",
    "PIN_DUPLICATE_IN_FILE": "An earlier row of this file has the same PIN.",
    "PIN_ALREADY_REGISTERED": "A person with this PIN is already in the register.",
    "NAME_INVALID": "The full name is missing, has digits, quotes or control characters, or is over 200 letters.",
    "DATE_INVALID": "Not a date that exists, written YYYY-MM-DD (or YYYY-MM / YYYY for a date of birth).",
    "BIRTH_DATE_IN_FUTURE": "The date of birth is after today.",
    "BIRTH_DATE_IMPOSSIBLE": "The date of birth is before 1880.",
    "SEX_INVALID": "The sex is not M or F (Nam or Nữ).",
    "ETHNICITY_UNKNOWN": "Not one of the 54 official ethnic-group codes (01-54).",
    "RELIGION_UNKNOWN": "Not a recognised religion code ('none' for no religion).",
    "NATIONALITY_INVALID": "Not an ISO 3166-1 alpha-3 code.",
    "UNIT_UNKNOWN": "Not a commune code of the stated generation of administrative units.",
    "UNIT_GENERATION_INVALID": "The unit generation is neither '2025' nor 'pre2025'.",
    "RESIDENCE_INCOMPLETE": "A residence needs both an address line and a commune code.",
    "LIFE_STATUS_INVALID": "The life status is not alive, deceased, declared_missing or declared_dead.",
    "ENCODING_INVALID": "The row is not valid UTF-8 text.",
    "CSV_ROW_MALFORMED": "The line does not have the same number of fields as the header.",
}


@dataclass(frozen=True, slots=True)
class ImportSummary:
    job_id: int
    source: str
    rows_read: int
    rows_loaded: int
    rows_rejected: int
    already_done: bool
    ignored_columns: tuple[str, ...]
    rejects_by_code: dict[str, int]


Progress = Callable[[int, int, int], None]


class ImportFailed(InvalidInput):
    """The file as a whole cannot be imported (unreadable, or required columns missing)."""

    code = "IMPORT_FILE_INVALID"


def parse_mapping(pairs: list[str]) -> dict[str, str]:
    """``SOURCE=FIELD`` pairs (a file's column name = the register field it holds)."""
    mapping = {}
    for pair in pairs:
        source, sep, field = pair.partition("=")
        if not sep or not source.strip() or field.strip() not in import_rules.KNOWN_COLUMNS:
            raise ImportFailed(
                f"--map takes COLUMN=FIELD with FIELD one of {', '.join(import_rules.KNOWN_COLUMNS)}.",
                code="IMPORT_MAPPING_INVALID",
                details={"value": pair},
            )
        mapping[source.strip()] = field.strip()
    return mapping


def fingerprint(path: Path, mapping: Mapping[str, str]) -> str:
    """SHA-256 of the file's bytes and the column mapping: the identity of an import job."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    digest.update(repr(sorted(mapping.items())).encode())
    return digest.hexdigest()


class _Source:
    """Batches of a CSV or Parquet file with the columns renamed to register fields, as text.

    Each batch is ``(table, line_numbers, rejects)``: the file line (CSV, header = line 1) or record
    number (Parquet) of every row, and rows refused before validation (malformed lines, bad UTF-8).
    """

    def __init__(self, path: Path, mapping: Mapping[str, str], *, batch_rows: int) -> None:
        self.path = path
        self.mapping = dict(mapping)
        self.batch_rows = batch_rows
        self.is_parquet = path.suffix.lower() in (".parquet", ".pq")
        try:
            names = pq.ParquetFile(path).schema_arrow.names if self.is_parquet else self._csv_header()
        except (OSError, pa.ArrowInvalid, UnicodeDecodeError, csv.Error) as error:
            raise ImportFailed(f"Cannot read {path.name}: {error}", code="IMPORT_FILE_UNREADABLE") from None
        self.source_names = names
        self.renamed = [self.mapping.get(name, name) for name in names]
        missing = [c for c in import_rules.REQUIRED_COLUMNS if c not in self.renamed]
        if missing:
            raise ImportFailed(
                f"{path.name} lacks the required column(s) {', '.join(missing)}; name them in the "
                "header or map them with --map COLUMN=FIELD.",
                code="IMPORT_COLUMNS_MISSING",
                details={"missing": missing, "found": names},
            )
        self.ignored = tuple(n for n, r in zip(names, self.renamed, strict=True) if r not in import_rules.KNOWN_COLUMNS)

    def _csv_header(self) -> list[str]:
        with self.path.open("rb") as handle:
            first_line = handle.readline().decode("utf-8-sig")
        header = next(csv.reader([first_line]), None)
        if not header:
            raise ImportFailed(f"{self.path.name} is empty: it has no header line.", code="IMPORT_FILE_EMPTY")
        return [name.strip() for name in header]

    def batches(self) -> Iterator[tuple[pa.Table, np.ndarray, list[tuple[int, str, str, str | None]]]]:
        if self.is_parquet:
            yield from self._parquet_batches()
        else:
            yield from self._csv_batches()

    def _prepare(self, batch: pa.RecordBatch | pa.Table) -> pa.Table:
        table = pa.Table.from_batches([batch]) if isinstance(batch, pa.RecordBatch) else batch
        table = table.rename_columns(self.renamed)
        keep = [name for name in table.column_names if name in import_rules.KNOWN_COLUMNS]
        return table.select(keep)

    def _parquet_batches(self) -> Iterator[tuple[pa.Table, np.ndarray, list[tuple[int, str, str, str | None]]]]:
        number = 1
        for batch in pq.ParquetFile(self.path).iter_batches(batch_size=self.batch_rows):
            lines = np.arange(number, number + batch.num_rows, dtype=np.int64)
            number += batch.num_rows
            yield self._prepare(batch), lines, []

    def _csv_batches(self) -> Iterator[tuple[pa.Table, np.ndarray, list[tuple[int, str, str, str | None]]]]:
        skipped: list[int] = []
        malformed: list[tuple[int, str, str, str | None]] = []

        def on_invalid_row(row: pa_csv.InvalidRow) -> str:
            skipped.append(int(row.number or 0))
            malformed.append((int(row.number or 0), "*", "CSV_ROW_MALFORMED", row.text[:200]))
            return "skip"

        read = pa_csv.ReadOptions(
            use_threads=False,
            block_size=max(1 << 16, self.batch_rows * 128),
            column_names=self.source_names,
            skip_rows=1,
        )
        convert = pa_csv.ConvertOptions(
            column_types=dict.fromkeys(self.source_names, pa.binary()), strings_can_be_null=False
        )
        parse = pa_csv.ParseOptions(invalid_row_handler=on_invalid_row)
        try:
            reader = pa_csv.open_csv(self.path, read_options=read, parse_options=parse, convert_options=convert)
        except pa.ArrowInvalid as error:
            raise ImportFailed(f"Cannot read {self.path.name} as CSV: {error}", code="IMPORT_FILE_UNREADABLE") from None
        parsed = 0
        for batch in reader:
            table = self._prepare(batch)
            # Line numbers: data rows start at line 2; every skipped (malformed) line shifts the rest.
            lines = np.arange(parsed + 2, parsed + 2 + table.num_rows, dtype=np.int64)
            for line in sorted(skipped):
                lines[lines >= line] += 1
            parsed += table.num_rows
            table, encoding_rejects = _decode(table, lines)
            keep = np.ones(len(lines), dtype=bool)
            for index, _value in encoding_rejects:
                keep[index] = False
            rejected = [(int(lines[i]), "*", "ENCODING_INVALID", None) for i, _ in encoding_rejects]
            yield table, lines[keep], [*malformed, *rejected]
            malformed.clear()


def _decode(table: pa.Table, lines: np.ndarray) -> tuple[pa.Table, list[tuple[int, None]]]:
    """Binary CSV columns to text; rows with invalid UTF-8 are taken out (reported by the caller)."""
    try:
        return pa.table({name: pc.cast(table[name], pa.string()) for name in table.column_names}), []
    except pa.ArrowInvalid:
        pass
    bad = set()
    for name in table.column_names:
        for index, value in enumerate(table[name].to_pylist()):
            try:
                value.decode("utf-8")
            except UnicodeDecodeError:
                bad.add(index)
    mask = pa.array([i not in bad for i in range(table.num_rows)])
    kept = table.filter(mask)
    return pa.table({name: pc.cast(kept[name], pa.string()) for name in kept.column_names}), [
        (i, None) for i in sorted(bad)
    ]


def _existing_pins(session: Session, pins: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Those of ``pins`` already in the register (sorted), with the id of the person holding each."""
    rows: list[Any] = []
    if session.get_bind().dialect.name == "postgresql":
        rows.extend(session.execute(select(Person.pin, Person.id).where(Person.pin == func.any(pins))).all())
    else:
        for start in range(0, len(pins), 900):
            chunk = pins[start : start + 900]
            rows.extend(session.execute(select(Person.pin, Person.id).where(Person.pin.in_(chunk))).all())
    rows.sort(key=lambda row: row[0])
    found = np.array([pin for pin, _ in rows], dtype="U12")
    holders = np.array([person_id for _, person_id in rows], dtype=np.int64)
    return found, holders


def _duplicates(valid: pa.Table, session: Session, *, first_person_id: int) -> tuple[pa.Array, pa.Array]:
    """A mask of rows to load, and each refused row's code (in-file or register duplicate).

    A PIN held in the register by a person this job loaded is a duplicate inside the file; held by
    anyone else it is already registered; repeated within the batch, every occurrence after the
    first is a duplicate inside the file.
    """
    pins = valid["pin"].to_numpy(zero_copy_only=False).astype("U12")
    distinct, first_index = np.unique(pins, return_index=True)
    first_in_batch = np.zeros(len(pins), dtype=bool)
    first_in_batch[first_index] = True
    found, holders = _existing_pins(session, distinct.tolist())
    position = np.clip(np.searchsorted(found, pins), 0, max(len(found) - 1, 0))
    in_register = (found[position] == pins) if len(found) else np.zeros(len(pins), dtype=bool)
    loaded_by_this_job = in_register & (holders[position] >= first_person_id) if len(found) else in_register
    codes = np.full(len(pins), None, dtype=object)
    codes[~first_in_batch] = "PIN_DUPLICATE_IN_FILE"
    codes[in_register] = "PIN_ALREADY_REGISTERED"
    codes[loaded_by_this_job] = "PIN_DUPLICATE_IN_FILE"
    code_array = pa.array(codes, pa.string())
    return pc.is_null(code_array), code_array


def _load_batch(session: Session, job: ImportJob, valid: pa.Table, *, source: str) -> int:
    """Write persons, their residences and history events; return how many persons."""
    count = valid.num_rows
    if count == 0:
        return 0
    now = utc_now()
    person_ids = bulk.reserve_ids(session, "persons", count)
    has_residence = pc.is_valid(valid["unit_code"])
    residences = pa.table(
        {
            "person_id": pc.filter(person_ids, has_residence),
            "kind": pa.array(["permanent"] * int(pc.sum(has_residence).as_py() or 0), pa.string()),
            "address_line": pc.filter(valid["address_line"], has_residence),
            "unit_code": pc.filter(valid["unit_code"], has_residence),
            "unit_generation": pc.filter(valid["unit_generation"], has_residence),
            "commune_code": pc.filter(valid["commune_code"], has_residence),
            "province_code": pc.filter(valid["province_code"], has_residence),
            "valid_to": pa.nulls(int(pc.sum(has_residence).as_py() or 0), pa.date32()),
        }
    )
    home_commune, home_province = bulk.home_units(person_ids, valid["birth_registration_unit_code"], residences)
    stamp = pa.timestamp("us", tz="UTC")
    persons = pa.table(
        {
            "id": person_ids,
            **{name: valid[name] for name in bulk.PERSON_COLUMNS},
            "home_commune_code": home_commune,
            "home_province_code": home_province,
            "version": pa.array(np.ones(count, dtype=np.int64)),
            "created_at": pa.array([now] * count, stamp),
            "updated_at": pa.array([now] * count, stamp),
        }
    )
    bulk.write_rows(session, "persons", persons)
    residence_rows = residences.num_rows
    bulk.write_rows(
        session,
        "residences",
        pa.table(
            {
                **{
                    name: residences[name]
                    for name in (
                        "person_id",
                        "kind",
                        "address_line",
                        "unit_code",
                        "unit_generation",
                        "commune_code",
                        "province_code",
                    )
                },
                "valid_from": pa.array([now.date()] * residence_rows, pa.date32()),
                "created_at": pa.array([now] * residence_rows, stamp),
            }
        ),
    )
    bulk.write_rows(
        session,
        "person_events",
        bulk.history_events(
            valid,
            person_ids=person_ids,
            event_type="person.imported",
            effective_date=None,
            recorded_at=now,
            source_agency="import",
            legal_basis=f"import of {source}",
            actor=f"import:{job.id}",
        ),
    )
    # One event per imported person for other systems, written set-based by the outbox's subscriber.
    events.publish(
        session,
        PersonsImported(
            first_person_id=int(pc.min(person_ids).as_py()),
            last_person_id=int(pc.max(person_ids).as_py()),
            actor=f"import:{job.id}",
        ),
    )
    loaded: int = count
    return loaded


def _write_rejects(session: Session, job: ImportJob, rejects: list[tuple[int, str, str, str | None]]) -> None:
    if not rejects:
        return
    rows = sorted(rejects)
    bulk.write_rows(
        session,
        "import_rejects",
        pa.table(
            {
                "job_id": pa.array([job.id] * len(rows), pa.int64()),
                "row_number": pa.array([r[0] for r in rows], pa.int64()),
                "column_name": pa.array([r[1] for r in rows], pa.string()),
                "code": pa.array([r[2] for r in rows], pa.string()),
                "value": pa.array([r[3] for r in rows], pa.string()),
            }
        ),
    )


def deferrable_indexes() -> list[Index]:
    """The secondary indexes an import writes to (everything but primary keys and unique indexes,
    which the import itself relies on to find duplicate PINs)."""
    tables = [Base.metadata.tables[name] for name in ("persons", "person_events", "residences")]
    return sorted((index for table in tables for index in table.indexes if not index.unique), key=lambda i: str(i.name))


def _drop_deferred_indexes(database: Database) -> None:
    with database.engine.begin() as connection:
        for index in deferrable_indexes():
            index.drop(connection, checkfirst=True)


def _rebuild_deferred_indexes(database: Database) -> None:
    with database.engine.connect() as connection:
        raw: Any = connection.connection.driver_connection
        sqlite = database.backend == "sqlite"
        if sqlite:
            # Sorting ten million keys in memory takes gigabytes: let SQLite sort on disk for this
            # (the setting can only change outside a transaction).
            raw.execute("PRAGMA temp_store=FILE")
            raw.execute("PRAGMA cache_size=-65536")
        with connection.begin():
            for index in deferrable_indexes():
                index.create(connection, checkfirst=True)
        if sqlite:
            raw.execute("PRAGMA temp_store=MEMORY")


def _start_job(database: Database, *, digest: str, source: str, defer_indexes: bool) -> tuple[int, bool, bool]:
    """Find or create the job of this file; returns (id, already completed, indexes deferred)."""
    with database.unit_of_work() as session:
        job = session.execute(select(ImportJob).where(ImportJob.fingerprint == digest)).scalar_one_or_none()
        if job is None:
            now = utc_now()
            job = ImportJob(
                fingerprint=digest,
                kind="persons",
                source_name=source,
                status="running",
                rows_done=0,
                last_line=0,
                rows_loaded=0,
                rows_rejected=0,
                started_at=now,
                updated_at=now,
                first_person_id=bulk.max_id(session, Person.id) + 1,
                deferred_indexes=defer_indexes,
            )
            session.add(job)
            session.flush()
        return job.id, job.status == "completed", job.deferred_indexes


def import_persons(
    database: Database,
    path: Path,
    *,
    mapping: Mapping[str, str] | None = None,
    batch_rows: int = 100_000,
    progress: Progress | None = None,
    today: date | None = None,
    defer_indexes: bool = False,
) -> ImportSummary:
    """Import (or resume importing) a file of persons; see the module docstring for the guarantees.

    ``defer_indexes`` is for an initial load into an empty or idle register: the secondary indexes
    of persons, history and residences are dropped while the rows load and rebuilt at the end
    (searches are slow meanwhile). The choice is kept with the job, so an interrupted import that
    is run again drops them again if needed and rebuilds them when it finishes.
    """
    mapping = mapping or {}
    source = _Source(path, mapping, batch_rows=batch_rows)
    job_id, already_done, deferred = _start_job(
        database, digest=fingerprint(path, mapping), source=path.name, defer_indexes=defer_indexes
    )
    today = today or today_in_vietnam()
    rows_read = 0
    if not already_done:
        if deferred:
            _drop_deferred_indexes(database)
        with database.read_session() as session:
            job = session.get(ImportJob, job_id)
            assert job is not None  # noqa: S101
            rows_done, last_line = job.rows_done, job.last_line
        for table, lines, early_rejects in source.batches():
            rows_read += table.num_rows
            if rows_read <= rows_done:
                continue  # committed by an earlier run
            skip = max(0, rows_done - (rows_read - table.num_rows))
            table, lines = table.slice(skip), lines[skip:]
            early = [r for r in early_rejects if r[0] > last_line]
            _import_batch(database, job_id, table, lines, early, source=path.name, today=today, progress=progress)
            rows_done = rows_read
            last_line = int(lines[-1]) if len(lines) else last_line
        if deferred:
            _rebuild_deferred_indexes(database)
        database.refresh_statistics()
        with database.unit_of_work() as session:
            job = session.get(ImportJob, job_id, with_for_update=True)
            assert job is not None  # noqa: S101
            job.status, job.finished_at, job.updated_at = "completed", utc_now(), utc_now()
    return _summary(database, job_id, source=path.name, already_done=already_done, ignored=source.ignored)


def _import_batch(
    database: Database,
    job_id: int,
    table: pa.Table,
    lines: np.ndarray,
    early_rejects: list[tuple[int, str, str, str | None]],
    *,
    source: str,
    today: date,
    progress: Progress | None,
) -> None:
    checked = import_rules.validate(table, first_row_number=0, today=today)
    line_of = pa.array(lines, pa.int64())
    rejects = list(early_rejects)
    rejects.extend(
        (int(line), column, code, value)
        for line, column, code, value in zip(
            pc.take(line_of, checked.rejects["row_number"]).to_pylist(),
            checked.rejects["column_name"].to_pylist(),
            checked.rejects["code"].to_pylist(),
            checked.rejects["value"].to_pylist(),
            strict=True,
        )
    )
    valid = checked.valid
    with database.unit_of_work() as session:
        if database.backend == "sqlite":
            # Index upkeep with random keys (PINs, names) is what a large import spends its time on;
            # a bigger page cache for the importing connection keeps more of the indexes in memory.
            session.execute(text(f"PRAGMA cache_size=-{SQLITE_IMPORT_CACHE_KIB}"))
        job = session.get(ImportJob, job_id, with_for_update=True)
        assert job is not None  # noqa: S101
        keep, codes = _duplicates(valid, session, first_person_id=job.first_person_id)
        refused = pc.invert(keep)
        rejects.extend(
            (int(line), "pin", code, pin)
            for line, code, pin in zip(
                pc.take(line_of, pc.filter(valid["row_number"], refused)).to_pylist(),
                pc.filter(codes, refused).to_pylist(),
                pc.filter(valid["pin"], refused).to_pylist(),
                strict=True,
            )
        )
        loaded = _load_batch(session, job, valid.filter(keep), source=source)
        _write_rejects(session, job, rejects)
        job.rows_done += table.num_rows
        job.last_line = int(lines[-1]) if len(lines) else job.last_line
        job.rows_loaded += loaded
        job.rows_rejected += len(rejects)
        job.updated_at = utc_now()
        totals = (job.rows_done, job.rows_loaded, job.rows_rejected)
    if progress is not None:
        progress(*totals)


def _summary(
    database: Database, job_id: int, *, source: str, already_done: bool, ignored: tuple[str, ...]
) -> ImportSummary:
    with database.read_session() as session:
        job = session.get(ImportJob, job_id)
        assert job is not None  # noqa: S101
        by_code: dict[str, int] = {}
        for code in session.execute(select(ImportReject.code).where(ImportReject.job_id == job_id)).scalars():
            by_code[code] = by_code.get(code, 0) + 1
        return ImportSummary(
            job_id=job_id,
            source=source,
            rows_read=job.rows_done + _malformed(by_code),
            rows_loaded=job.rows_loaded,
            rows_rejected=job.rows_rejected,
            already_done=already_done,
            ignored_columns=ignored,
            rejects_by_code=by_code,
        )


def _malformed(by_code: Mapping[str, int]) -> int:
    return by_code.get("CSV_ROW_MALFORMED", 0) + by_code.get("ENCODING_INVALID", 0)


def write_reject_file(database: Database, job_id: int, out: Path) -> int:
    """Write the job's rejected rows as CSV (line, column, code, message, value); return how many."""
    with database.read_session() as session, out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["line", "column", "code", "message", "value"])
        count = 0
        query = (
            select(ImportReject)
            .where(ImportReject.job_id == job_id)
            .order_by(ImportReject.row_number, ImportReject.id)
            .execution_options(yield_per=10_000)
        )
        for reject in session.execute(query).scalars():
            writer.writerow(
                [
                    reject.row_number,
                    reject.column_name,
                    reject.code,
                    REJECT_MESSAGES.get(reject.code, ""),
                    reject.value or "",
                ]
            )
            count += 1
    return count


def summary_dict(summary: ImportSummary) -> dict[str, Any]:
    return {
        "job_id": summary.job_id,
        "source": summary.source,
        "rows_read": summary.rows_read,
        "rows_loaded": summary.rows_loaded,
        "rows_rejected": summary.rows_rejected,
        "already_done": summary.already_done,
        "ignored_columns": list(summary.ignored_columns),
        "rejects_by_code": summary.rejects_by_code,
    }
