"""``popreg sync import`` on SQLite and PostgreSQL: an agency's file, its own column names mapped, fed
through the batch path; an interrupted run resumed has one effect per row; a malformed file is refused;
and ``popreg partner policy --write-fields`` gives an agency the sync channel."""

# ruff: noqa: F811

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from builders import register
from popreg.kit.settings import get_settings
from popreg.sharing.cli import app as partner_cli
from popreg.sharing.models import PartnerPolicy
from popreg.sync.cli import app as sync_cli
from popreg.sync.models import PersonIdentifier, SyncUpdate

# The fixture officer comes from sharing_builders, agency from sync_builders (no conftest in this shared folder).
from sharing_builders import officer  # noqa: F401 - fixtures (see the note above)
from sync_builders import BASIS, OBSERVED, agency  # noqa: F401 - fixtures (see the note above)


@pytest.fixture
def run(database: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("POPREG_DATABASE_URL", database.url)
    get_settings.cache_clear()
    yield lambda cli, *args: CliRunner().invoke(cli, list(args))
    get_settings.cache_clear()


def outcomes(path: Path) -> list[tuple[str, str, str]]:
    with path.open(encoding="utf-8") as file:
        return [(row["idempotency_key"], row["outcome"], row["code"]) for row in csv.DictReader(file)]


def count(database, model) -> int:
    with database.unit_of_work() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_an_agency_file_with_its_own_columns_is_applied_and_a_second_run_changes_nothing(
    client, database, officer, agency, run, tmp_path
):
    pins = [register(client, officer, full_name=f"Nguyễn Văn {name}", sex="M")["pin"] for name in ("An", "Bình")]
    source = tmp_path / "bhxh-2026-11.csv"
    with source.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["so_dinh_danh", "ma_so_bhxh", "ghi_chu"])
        writer.writerow([pins[0], "0123456789", "x"])
        writer.writerow([pins[1], "12", "y"])
        writer.writerow(["079099000000", "0987654321", "z"])
    arguments = [
        "import", str(source), "--source", "bhxh", "--map", "so_dinh_danh=pin",
        "--map", "ma_so_bhxh=social_insurance_number", "--map", "ghi_chu=-",
        "--legal-basis", BASIS, "--observed-at", OBSERVED,
    ]  # fmt: skip
    first = run(sync_cli, *arguments, "--results", str(tmp_path / "first.csv"))
    again = run(sync_cli, *arguments, "--results", str(tmp_path / "again.csv"))

    assert first.exit_code == 0, first.output
    assert outcomes(tmp_path / "first.csv") == [
        ("bhxh-2026-11.csv:1", "applied", ""),
        ("bhxh-2026-11.csv:2", "rejected", "SYNC_INVALID_VALUE"),
        ("bhxh-2026-11.csv:3", "rejected", "SYNC_PERSON_NOT_FOUND"),
    ]
    assert again.exit_code == 0, again.output
    assert outcomes(tmp_path / "again.csv") == outcomes(tmp_path / "first.csv")
    assert count(database, PersonIdentifier) == 1
    assert count(database, SyncUpdate) == 3


def test_a_parquet_file_with_keys_and_demographic_columns_is_read(client, database, officer, agency, run, tmp_path):
    pin = register(client, officer)["pin"]
    table = pa.table(
        {"key": ["t-1"], "pin": [pin], "tax_code": ["0101234567"], "observed_at": [OBSERVED], "legal_basis": [BASIS]}
    )
    pq.write_table(table, tmp_path / "tax.parquet")
    result = run(
        sync_cli, "import", str(tmp_path / "tax.parquet"), "--source", "bhxh", "--results", str(tmp_path / "r.csv")
    )

    assert result.exit_code == 0, result.output
    assert outcomes(tmp_path / "r.csv") == [("t-1", "applied", "")]


def test_malformed_files_and_mappings_are_refused_with_their_code(database, agency, run, tmp_path):
    latin = tmp_path / "latin.csv"
    latin.write_bytes("pin,tax_code\n001190000001,Nguy\xe9n\n".encode("latin-1"))
    unreadable = run(sync_cli, "import", str(latin), "--source", "bhxh", "--results", str(tmp_path / "r.csv"))
    bad_map = run(
        sync_cli, "import", str(latin), "--source", "bhxh", "--map", "a=blood", "--results", str(tmp_path / "r.csv")
    )
    unknown = run(sync_cli, "import", str(latin), "--source", "nobody", "--results", str(tmp_path / "r.csv"))

    assert unreadable.exit_code == 1
    assert "SYNC_FILE_UNREADABLE" in unreadable.output
    assert "SYNC_FILE_MAPPING_INVALID" in bad_map.output
    assert "PARTNER_NOT_FOUND" in unknown.output
    assert count(database, SyncUpdate) == 0


def test_the_partner_policy_command_sets_the_writable_fields_and_refuses_unknown_ones(database, run):
    run(partner_cli, "create", "thue", "--name", "Tổng cục Thuế", "--kind", "agency")
    allowed = run(
        partner_cli, "policy", "thue", "--operations", "sync", "--write-fields", "tax_code",
        "--daily-quota", "1000", "--rate", "10", "--burst", "10",
    )  # fmt: skip
    refused = run(
        partner_cli, "policy", "thue", "--operations", "sync", "--write-fields", "blood_group",
        "--daily-quota", "1000", "--rate", "10", "--burst", "10",
    )  # fmt: skip

    assert allowed.exit_code == 0, allowed.output
    assert refused.exit_code == 1
    assert "POLICY_FIELD_UNKNOWN" in refused.output
    with database.unit_of_work() as session:
        policy = session.get(PartnerPolicy, "thue")
        assert policy is not None
        assert (policy.operations, policy.write_fields, policy.version) == (["sync"], ["tax_code"], 2)
