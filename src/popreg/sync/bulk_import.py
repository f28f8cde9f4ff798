"""A file of an agency's updates (CSV or Parquet, the agency's own column names) fed through the same
batch path as the API, a thousand rows per transaction: by the operator (``popreg sync import``) or as
the job of a file the agency uploads (:mod:`popreg.sync.file_jobs`).

The file is checked whole before any row is applied (:func:`inspect_file`): a CSV in UTF-8 with a
header line and as many fields on every line as in the header, or a readable Parquet file; every
column a target, mapped to one, or mapped away; a column naming the person, one holding a field, and a
legal basis and an observation time (columns, or defaults for every row). A file that fails is refused
with a stable code and changes nothing. A line with too many or too few fields refuses the file rather
than only its row: its values may have slid into the wrong columns, and this channel writes.

Each row's idempotency key is the agency's own (a column mapped to ``key``) or, without one, the file's
name and the row's number (``deaths-2026-11.csv:17``, the first row after the header being 1): applying
the same file again, after a crash or an interruption, answers the rows already done from their keys
and carries on with the others, and never applies a row twice. Every outcome is written to a file of
results, one line per row.

Column targets (``--map COLUMN=TARGET``; a column already named as a target needs no mapping):
``key``, ``pin``, ``observed_at``, ``legal_basis``, ``person.full_name``, ``person.birth_date``,
``person.sex``, ``person.address``, ``person.province_code``, every writable field
(:data:`~popreg.sync.rules.WRITABLE_FIELDS`), and for residences ``permanent_residence.address_line``,
``permanent_residence.unit_code`` (same for ``temporary_residence``). A target ``-`` ignores a column.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy.orm import Session

from popreg.audit.service import PendingEntry, append_entries
from popreg.kit.database import Database
from popreg.kit.errors import Forbidden, InvalidInput, NotFound
from popreg.registry.pin import PIN_SHAPE
from popreg.sharing import repository as partners
from popreg.sync import service
from popreg.sync.rules import IDENTIFIER_SCHEMES
from popreg.sync.schemas import UpdateOutcome

CHUNK: Final = 1000
IGNORE: Final = "-"
_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
META_TARGETS: Final = ("key", "pin", "observed_at", "legal_basis")
PERSON_TARGETS: Final = tuple(
    f"person.{name}" for name in ("full_name", "birth_date", "sex", "address", "province_code")
)
RESIDENCE_TARGETS: Final = tuple(
    f"{kind}.{part}"
    for kind in ("permanent_residence", "temporary_residence")
    for part in ("address_line", "unit_code")
)
SCALAR_FIELDS: Final = (*IDENTIFIER_SCHEMES, "full_name", "death_date")
TARGETS: Final = (*META_TARGETS, *PERSON_TARGETS, *SCALAR_FIELDS, *RESIDENCE_TARGETS)
RESULT_COLUMNS: Final = ("row", "idempotency_key", "outcome", "code", "message", "update_id", "replayed")
"""The columns of a file of results, one line per row of the agency's file."""
PARQUET_MAGIC: Final = b"PAR1"


@dataclass(slots=True)
class ImportReport:
    rows: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)

    def count(self, outcome: UpdateOutcome) -> None:
        key = outcome.outcome.value if outcome.code is None else f"{outcome.outcome.value}:{outcome.code}"
        self.outcomes[key] = self.outcomes.get(key, 0) + 1


def parse_mapping(pairs: Sequence[str]) -> dict[str, str]:
    """``COLUMN=TARGET`` pairs as a dictionary; each target named once (``-`` ignores a column)."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        column, equals, target = pair.partition("=")
        if not equals or not column.strip() or (target.strip() not in TARGETS and target.strip() != IGNORE):
            raise InvalidInput(
                f"A mapping is COLUMN=TARGET with a target among {', '.join(TARGETS)} (or -), not {pair[:80]!r}.",
                code="SYNC_FILE_MAPPING_INVALID",
                details={"mapping": pair[:80]},
            )
        mapping[column.strip()] = target.strip()
    named = [target for target in mapping.values() if target != IGNORE]
    if len(named) != len(set(named)):
        raise InvalidInput("Two columns are mapped to one target.", code="SYNC_FILE_MAPPING_INVALID")
    return mapping


# --- checking a file whole, before any row is applied -------------------------------------------------


@dataclass(frozen=True, slots=True)
class FileLayout:
    """What a checked file holds: its format, its columns and their targets, and its number of rows."""

    format: str  # "csv" | "parquet"
    columns: tuple[str, ...]
    targets: tuple[str, ...]  # per column: a target, or IGNORE
    rows: int

    @property
    def fields(self) -> tuple[str, ...]:
        """The register's fields the file writes (a residence counts once), as a policy names them."""
        named = [target.split(".", 1)[0] for target in self.targets if target in (*SCALAR_FIELDS, *RESIDENCE_TARGETS)]
        return tuple(dict.fromkeys(named))


def inspect_file(
    path: Path, *, mapping: Mapping[str, str], defaults: Mapping[str, str], name: str | None = None
) -> FileLayout:
    """Check a file as a whole (reading every CSV line once); refuse it with a stable code if its rows
    cannot become updates.

    ``SYNC_FILE_UNREADABLE`` (missing, not UTF-8, a line with another number of fields than the
    header, a damaged Parquet file), ``SYNC_FILE_EMPTY`` (no header, or no rows),
    ``SYNC_FILE_COLUMN_UNKNOWN``, ``SYNC_FILE_MAPPING_INVALID`` (two columns for one target),
    ``SYNC_FILE_COLUMNS_MISSING``, ``SYNC_FILE_OPTION_INVALID`` (a default that cannot be used).
    ``name`` is the file's name as the agency knows it (for messages).
    """
    label = name or path.name
    check_defaults(defaults)
    try:
        with path.open("rb") as file:
            magic = file.read(len(PARQUET_MAGIC))
    except OSError as error:
        raise InvalidInput(f"{label} cannot be read ({error.strerror}).", code="SYNC_FILE_UNREADABLE") from None
    if not magic:
        raise InvalidInput(f"{label} is empty.", code="SYNC_FILE_EMPTY")
    kind = "parquet" if magic == PARQUET_MAGIC else "csv"
    columns, rows = _parquet_shape(path, label) if kind == "parquet" else _csv_shape(path, label)
    targets = check_columns(columns, mapping=mapping, defaults=defaults)
    if rows == 0:
        raise InvalidInput(f"{label} has a header but no rows.", code="SYNC_FILE_EMPTY")
    return FileLayout(format=kind, columns=columns, targets=targets, rows=rows)


def check_defaults(defaults: Mapping[str, str]) -> None:
    """The legal basis and the observation time given for rows without their own: usable by every row."""
    if len(defaults.get("legal_basis", "")) > 300:
        raise InvalidInput(
            "The legal basis takes at most 300 characters.",
            code="SYNC_FILE_OPTION_INVALID",
            details={"field": "legal_basis"},
        )
    observed_at = defaults.get("observed_at", "")
    if observed_at:
        try:
            zone = datetime.fromisoformat(observed_at).tzinfo
        except ValueError:
            zone = None
        if zone is None:
            raise InvalidInput(
                "observed_at is a date and time with its time zone (2026-11-27T00:00:00+07:00).",
                code="SYNC_FILE_OPTION_INVALID",
                details={"field": "observed_at"},
            )


def check_columns(
    columns: Sequence[str], *, mapping: Mapping[str, str], defaults: Mapping[str, str]
) -> tuple[str, ...]:
    """Each column's target. A column that is neither a target nor mapped refuses the file: a misspelt
    column is never silently left out of an update."""
    targets = tuple(mapping.get(column, column) for column in columns)
    unknown = [column for column, target in zip(columns, targets, strict=True) if target not in (*TARGETS, IGNORE)]
    if unknown:
        raise InvalidInput(
            f"These columns are not targets: {', '.join(repr(name[:40]) for name in unknown[:10])}. Map them "
            f"(COLUMN=TARGET) to one of {', '.join(TARGETS)}, or leave them out (COLUMN=-).",
            code="SYNC_FILE_COLUMN_UNKNOWN",
            details={"columns": [name[:80] for name in unknown[:20]]},
        )
    named = [target for target in targets if target != IGNORE]
    repeated = sorted({target for target in named if named.count(target) > 1})
    if repeated:
        raise InvalidInput(
            f"More than one column holds {', '.join(repeated)}.",
            code="SYNC_FILE_MAPPING_INVALID",
            details={"targets": repeated},
        )
    missing = []
    if "pin" not in named and "person.full_name" not in named:
        missing.append("pin")
    if not any(target in (*SCALAR_FIELDS, *RESIDENCE_TARGETS) for target in named):
        missing.append("field")
    for meta in ("legal_basis", "observed_at"):
        if meta not in named and not defaults.get(meta):
            missing.append(meta)
    if missing:
        raise InvalidInput(
            "The rows cannot become updates: each needs the person (a pin column, or person.full_name), at "
            "least one field column, a legal basis and the time of observation (columns, or given for every "
            f"row). Missing: {', '.join(missing)}.",
            code="SYNC_FILE_COLUMNS_MISSING",
            details={"missing": missing, "found": [name[:80] for name in columns[:50]]},
        )
    return targets


def _parquet_shape(path: Path, label: str) -> tuple[tuple[str, ...], int]:
    try:
        parquet = pq.ParquetFile(path)
        return tuple(parquet.schema_arrow.names), int(parquet.metadata.num_rows)
    except (OSError, pa.ArrowException) as error:
        raise InvalidInput(f"{label} is not a readable Parquet file ({error}).", code="SYNC_FILE_UNREADABLE") from None


def _csv_shape(path: Path, label: str) -> tuple[tuple[str, ...], int]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as text:
            reader = csv.reader(text)
            header = next(reader, None)
            if not header or not any(name.strip() for name in header):
                raise InvalidInput(f"{label} has no header line.", code="SYNC_FILE_EMPTY")
            rows = 0
            for record in reader:
                if not record:
                    continue  # a blank line is no row
                rows += 1
                if len(record) != len(header):
                    raise InvalidInput(
                        f"Line {reader.line_num} of {label} has {len(record)} fields and the header {len(header)}: "
                        "quote values that hold commas or line breaks.",
                        code="SYNC_FILE_UNREADABLE",
                        details={"line": reader.line_num, "row": rows},
                    )
    except UnicodeDecodeError as error:
        raise InvalidInput(
            f"{label} is not UTF-8 text (byte {error.start} of a block cannot be read): save it as UTF-8 "
            "(Windows-1258 and TCVN3 are not accepted), or send Parquet.",
            code="SYNC_FILE_UNREADABLE",
        ) from None
    except csv.Error as error:
        raise InvalidInput(f"{label} is not a readable CSV file ({error}).", code="SYNC_FILE_UNREADABLE") from None
    return tuple(header), rows


# --- rows and updates ------------------------------------------------------------------------------------


def rows_of(path: Path, *, name: str | None = None) -> Iterator[dict[str, Any]]:
    """The file's rows as dictionaries of text (Parquet by its magic bytes, CSV in UTF-8 otherwise)."""
    label = name or path.name
    try:
        with path.open("rb") as file:
            magic = file.read(len(PARQUET_MAGIC))
    except OSError as error:
        raise InvalidInput(f"{label} cannot be read ({error.strerror}).", code="SYNC_FILE_UNREADABLE") from None
    if magic == PARQUET_MAGIC:
        try:
            parquet = pq.ParquetFile(path)
            for batch in parquet.iter_batches(batch_size=CHUNK):
                yield from batch.to_pylist()
        except Exception as error:  # noqa: BLE001 - pyarrow raises many kinds for a damaged file
            raise InvalidInput(
                f"{label} is not a readable Parquet file ({error}).", code="SYNC_FILE_UNREADABLE"
            ) from None
        return
    try:
        with path.open(encoding="utf-8-sig", newline="") as text:
            reader = csv.DictReader(text)
            if not reader.fieldnames:
                raise InvalidInput(f"{label} has no header line.", code="SYNC_FILE_EMPTY")
            yield from reader
    except UnicodeDecodeError:
        raise InvalidInput(
            f"{label} is not UTF-8 text: save it as UTF-8 or send Parquet.", code="SYNC_FILE_UNREADABLE"
        ) from None
    except csv.Error as error:
        raise InvalidInput(f"{label} is not a readable CSV file ({error}).", code="SYNC_FILE_UNREADABLE") from None


def update_of(
    row: Mapping[str, Any], number: int, *, mapping: Mapping[str, str], defaults: Mapping[str, str], file_name: str
) -> dict[str, Any]:
    """One row as an update (the JSON shape of the API); empty cells say nothing."""
    values: dict[str, Any] = {}
    for column, value in row.items():
        target = mapping.get(column, column)
        if target in TARGETS and value is not None and str(value).strip() != "":
            values[target] = value if not hasattr(value, "isoformat") else value.isoformat()
    person = {target.split(".", 1)[1]: str(value) for target, value in values.items() if target.startswith("person.")}
    if "pin" in values:
        person["pin"] = str(values["pin"]).strip()
    fields: dict[str, Any] = {name: str(values[name]) for name in SCALAR_FIELDS if name in values}
    for target in RESIDENCE_TARGETS:
        if target in values:
            kind, part = target.split(".", 1)
            fields.setdefault(kind, {})[part] = str(values[target])
    return {
        "idempotency_key": str(values.get("key") or f"{_KEY_UNSAFE.sub('_', file_name)[:80]}:{number}"),
        "legal_basis": str(values.get("legal_basis") or defaults.get("legal_basis", "")),
        "person": person,
        "fields": fields,
        "observed_at": str(values.get("observed_at") or defaults.get("observed_at", "")),
    }


def result_cells(row: int, outcome: UpdateOutcome) -> list[Any]:
    """One line of a file of results (:data:`RESULT_COLUMNS`)."""
    return [
        row,
        outcome.idempotency_key or "",
        outcome.outcome.value,
        outcome.code or "",
        outcome.message or "",
        outcome.update_id or "",
        "yes" if outcome.replayed else "no",
    ]


# --- applying ------------------------------------------------------------------------------------------


def agency_of(session: Session, *, partner_id: str) -> service.Agency:
    """The agency as its policy stands now: ``PARTNER_NOT_FOUND``, ``PARTNER_SUSPENDED``, or
    ``POLICY_OPERATION_DENIED`` when the policy does not (or no longer) allow ``sync``."""
    partner = partners.get_partner(session, partner_id=partner_id)
    policy = partners.get_policy(session, partner_id=partner_id)
    if partner is None or policy is None:
        raise NotFound(f"No partner {partner_id!r}.", code="PARTNER_NOT_FOUND")
    if partner.status != "active":
        raise Forbidden(f"The partner {partner_id} is suspended.", code="PARTNER_SUSPENDED")
    if "sync" not in policy.operations:
        raise Forbidden(
            f"The policy of {partner_id} does not allow the operation 'sync'.", code="POLICY_OPERATION_DENIED"
        )
    return service.Agency(partner_id=partner_id, write_fields=frozenset(policy.write_fields))


def receive_chunk(
    session: Session,
    *,
    agency: service.Agency,
    updates: list[dict[str, Any]],
    principal: tuple[str, str],
    action: str,
    transaction_id: str | None = None,
) -> list[UpdateOutcome]:
    """Apply a chunk of a file's updates in the caller's transaction, with the chunk's access-log entry
    (its items: each row's PIN, when well formed, and outcome), so that both commit or neither."""
    outcomes = service.receive(session, agency=agency, updates=updates)
    pins = [update["person"].get("pin", "") for update in updates]
    append_entries(
        session,
        [
            PendingEntry(
                principal_kind=principal[0],
                principal_id=principal[1][:120],
                action=action,
                person_pin=None,
                fields=sorted({name for update in updates for name in update["fields"]})[:20],
                purpose="sync",
                legal_basis=str(updates[0]["legal_basis"])[:300],
                transaction_id=transaction_id,
                items=[
                    (pin if PIN_SHAPE.fullmatch(pin) else None, (outcome.code or outcome.outcome.value)[:40])
                    for pin, outcome in zip(pins, outcomes, strict=True)
                ],
            )
        ],
    )
    return outcomes


def import_file(
    database: Database,
    path: Path,
    *,
    partner_id: str,
    mapping: Mapping[str, str],
    defaults: Mapping[str, str],
    results: Path,
) -> ImportReport:
    """Apply a file's rows for ``partner_id`` (an agency whose policy allows ``sync``), a chunk per
    transaction, writing each row's outcome to ``results``. Safe to run again on the same file."""
    with database.unit_of_work() as session:
        agency = agency_of(session, partner_id=partner_id)
    inspect_file(path, mapping=mapping, defaults=defaults)
    principal = ("system", f"cli:sync-import:{partner_id}")
    report = ImportReport()
    with results.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(RESULT_COLUMNS)
        chunk: list[dict[str, Any]] = []
        for number, row in enumerate(rows_of(path), start=1):
            chunk.append(update_of(row, number, mapping=mapping, defaults=defaults, file_name=path.name))
            if len(chunk) == CHUNK:
                _import_chunk(database, agency, principal, chunk, writer, report)
                chunk = []
        if chunk:
            _import_chunk(database, agency, principal, chunk, writer, report)
    return report


def _import_chunk(
    database: Database,
    agency: service.Agency,
    principal: tuple[str, str],
    chunk: list[dict[str, Any]],
    writer: Any,
    report: ImportReport,
) -> None:
    with database.unit_of_work() as session:
        outcomes = receive_chunk(session, agency=agency, updates=chunk, principal=principal, action="sync.import")
    for offset, outcome in enumerate(outcomes, start=report.rows + 1):
        writer.writerow(result_cells(offset, outcome))
        report.count(outcome)
    report.rows += len(chunk)
