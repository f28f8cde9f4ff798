"""`popreg quality report` and `popreg quality snapshot` as an operator runs them (the `popreg` command,
in process), on both backends."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner, Result

from popreg.cli import app
from popreg.kit.database import Database
from popreg.kit.settings import get_settings
from popreg.quality.models import QualitySnapshot
from quality_builders import AS_OF, HA_NOI, KNOWN, KNOWN_MEDIANS, build_known_register


@pytest.fixture
def popreg(database: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Result]]:
    monkeypatch.setenv("POPREG_DATABASE_URL", database.url)
    get_settings.cache_clear()
    yield lambda *args: CliRunner().invoke(app, ["quality", *args])
    get_settings.cache_clear()


def _snapshots(database) -> int:
    with database.read_session() as session:
        return session.scalar(select(func.count()).select_from(QualitySnapshot)) or 0


def test_the_json_report_has_every_scope_with_numerators_and_denominators(popreg: Any, database: Database):
    build_known_register(database)
    result = popreg("report", "--format", "json", "--as-of", AS_OF.isoformat())
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["snapshot_id"] is None
    assert body["as_of"] == AS_OF.isoformat()
    for measure, scopes in KNOWN.items():
        for scope, (numerator, denominator) in scopes.items():
            figure = body["scopes"][scope][measure]
            assert (figure["numerator"], figure["denominator"]) == (numerator, denominator), (measure, scope)
    assert body["scopes"]["national"]["live.move_delay"]["value"] == KNOWN_MEDIANS["live.move_delay"]["national"][0]
    # The register's eight access-log entries, folded first: five persons were ever confirmed.
    folded = body["verifications_folded"]
    assert (folded["after_seq"], folded["through_seq"], folded["persons"]) == (0, 8, 5)
    assert _snapshots(database) == 0


def test_the_table_report_of_one_province_names_it_and_its_counts(popreg: Any, database: Database):
    build_known_register(database)
    result = popreg("report", "--province", HA_NOI, "--as-of", AS_OF.isoformat())
    assert result.exit_code == 0, result.output
    assert "Thành phố Hà Nội (01)" in result.stdout
    assert "Complete records" in result.stdout
    assert "62.5%" in result.stdout  # 5 of 8
    assert "national" not in result.stdout


def test_save_and_snapshot_store_a_snapshot_each(popreg: Any, database: Database):
    build_known_register(database)
    saved = popreg("report", "--save", "--format", "json", "--as-of", AS_OF.isoformat())
    assert saved.exit_code == 0, saved.stderr
    assert json.loads(saved.stdout)["snapshot_id"] == 1
    assert "Folded access-log entries 1 to 8: 5 persons newly confirmed" in saved.stderr
    snapshot = popreg("snapshot")
    assert snapshot.exit_code == 0, snapshot.stderr
    assert "Stored snapshot 2" in snapshot.stderr
    assert "Folded" not in snapshot.stderr  # nothing was logged since
    assert _snapshots(database) == 2


def test_bad_input_is_refused_with_a_clear_message_and_stores_nothing(popreg: Any, database: Database):
    unknown = popreg("report", "--province", "99")
    assert unknown.exit_code == 1
    assert "UNIT_UNKNOWN" in unknown.stderr
    bad_day = popreg("report", "--as-of", "30/06/2026")
    assert bad_day.exit_code == 2
    assert "YYYY-MM-DD" in bad_day.stderr
    both = popreg("report", "--save", "--province", HA_NOI)
    assert both.exit_code == 2
    assert "--save stores the whole country" in both.stderr
    assert "Traceback" not in unknown.stderr + bad_day.stderr + both.stderr
    assert _snapshots(database) == 0
