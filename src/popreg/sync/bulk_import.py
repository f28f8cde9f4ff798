"""A file of an agency's updates (CSV or Parquet, the agency's own column names) fed through the same
batch path as the API, a thousand rows per transaction.

Each row's idempotency key is the agency's own (a column mapped to ``key``) or, without one, the file's
name and the row's number (``deaths-2026-11.csv:17``): running the same file again, after a crash or
an interruption, answers the rows already done from their keys and carries on with the others, and
never applies a row twice. Every outcome is written to a CSV of results, one line per row.

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
from pathlib import Path
from typing import Any, Final

import pyarrow.parquet as pq

from popreg.audit.service import PendingEntry, append_entries
from popreg.kit.database import Database
from popreg.kit.errors import Forbidden, InvalidInput
from popreg.sharing import repository as partners
from popreg.sync import service
from popreg.sync.rules import IDENTIFIER_SCHEMES
from popreg.sync.schemas import UpdateOutcome

CHUNK: Final = 1000
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
        if not equals or not column.strip() or (target.strip() not in TARGETS and target.strip() != "-"):
            raise InvalidInput(
                f"A mapping is COLUMN=TARGET with a target among {', '.join(TARGETS)} (or -), not {pair[:80]!r}.",
                code="SYNC_FILE_MAPPING_INVALID",
                details={"mapping": pair[:80]},
            )
        mapping[column.strip()] = target.strip()
    named = [target for target in mapping.values() if target != "-"]
    if len(named) != len(set(named)):
        raise InvalidInput("Two columns are mapped to one target.", code="SYNC_FILE_MAPPING_INVALID")
    return mapping


def rows_of(path: Path) -> Iterator[dict[str, Any]]:
    """The file's rows as dictionaries of text (Parquet by its magic bytes, CSV in UTF-8 otherwise)."""
    try:
        with path.open("rb") as file:
            magic = file.read(4)
    except OSError as error:
        raise InvalidInput(f"{path.name} cannot be read ({error.strerror}).", code="SYNC_FILE_UNREADABLE") from None
    if magic == b"PAR1":
        try:
            parquet = pq.ParquetFile(path)
            for batch in parquet.iter_batches(batch_size=CHUNK):
                yield from batch.to_pylist()
        except Exception as error:  # noqa: BLE001 - pyarrow raises many kinds for a damaged file
            raise InvalidInput(
                f"{path.name} is not a readable Parquet file ({error}).", code="SYNC_FILE_UNREADABLE"
            ) from None
        return
    try:
        with path.open(encoding="utf-8-sig", newline="") as text:
            reader = csv.DictReader(text)
            if not reader.fieldnames:
                raise InvalidInput(f"{path.name} has no header line.", code="SYNC_FILE_UNREADABLE")
            yield from reader
    except UnicodeDecodeError:
        raise InvalidInput(
            f"{path.name} is not UTF-8 text: save it as UTF-8 or send Parquet.", code="SYNC_FILE_UNREADABLE"
        ) from None
    except csv.Error as error:
        raise InvalidInput(f"{path.name} is not a readable CSV file ({error}).", code="SYNC_FILE_UNREADABLE") from None


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
        policy = partners.get_policy(session, partner_id=partner_id)
        partner = partners.get_partner(session, partner_id=partner_id)
    if partner is None or policy is None:
        raise InvalidInput(f"No partner {partner_id!r}.", code="PARTNER_NOT_FOUND")
    if "sync" not in policy.operations:
        raise Forbidden(
            f"The policy of {partner_id} does not allow the operation 'sync'.", code="POLICY_OPERATION_DENIED"
        )
    agency = service.Agency(partner_id=partner_id, write_fields=frozenset(policy.write_fields))
    report = ImportReport()
    with results.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["row", "idempotency_key", "outcome", "code", "message", "update_id", "replayed"])
        chunk: list[dict[str, Any]] = []
        for number, row in enumerate(rows_of(path), start=1):
            chunk.append(update_of(row, number, mapping=mapping, defaults=defaults, file_name=path.name))
            if len(chunk) == CHUNK:
                _apply_chunk(database, agency, chunk, report.rows, writer, report)
                chunk = []
        if chunk:
            _apply_chunk(database, agency, chunk, report.rows, writer, report)
    return report


def _apply_chunk(
    database: Database,
    agency: service.Agency,
    chunk: list[dict[str, Any]],
    first_row: int,
    writer: Any,
    report: ImportReport,
) -> None:
    with database.unit_of_work() as session:
        outcomes = service.receive(session, agency=agency, updates=chunk)
        append_entries(
            session,
            [
                PendingEntry(
                    principal_kind="system",
                    principal_id=f"cli:sync-import:{agency.partner_id}"[:120],
                    action="sync.import",
                    person_pin=None,
                    fields=sorted({name for update in chunk for name in update["fields"]})[:20],
                    purpose="sync",
                    legal_basis=str(chunk[0]["legal_basis"])[:300],
                    items=[
                        (
                            update["person"].get("pin") if len(update["person"].get("pin", "")) == 12 else None,
                            (outcome.code or outcome.outcome.value)[:40],
                        )
                        for update, outcome in zip(chunk, outcomes, strict=True)
                    ],
                )
            ],
        )
    for offset, outcome in enumerate(outcomes):
        writer.writerow(
            [
                first_row + offset + 1,
                outcome.idempotency_key or "",
                outcome.outcome.value,
                outcome.code or "",
                outcome.message or "",
                outcome.update_id or "",
                "yes" if outcome.replayed else "no",
            ]
        )
        report.count(outcome)
    report.rows += len(chunk)
