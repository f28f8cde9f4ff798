"""``popreg match merge`` on SQLite and PostgreSQL: a merge on behalf of a named official, refusals
with their code on standard error and nothing stored."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from builders import register, sign_in
from duplicate_builders import MERGE_BASIS
from popreg.cli import app
from popreg.kit.settings import get_settings


@pytest.fixture
def cli_database(database, monkeypatch):
    monkeypatch.setenv("POPREG_DATABASE_URL", database.url)
    get_settings.cache_clear()
    yield database
    get_settings.cache_clear()


def test_the_cli_merges_on_behalf_of_an_official_and_refuses_with_a_code(client, database, cli_database):
    officer = sign_in(client, database)
    retired: str = register(client, officer)["pin"]
    surviving: str = register(client, officer, permanent_residence=None)["pin"]
    arguments = ["match", "merge", "--keep", surviving, "--retire", retired, "--legal-basis", MERGE_BASIS]

    unknown_official = CliRunner().invoke(app, [*arguments, "--official", "nobody"])
    merged = CliRunner().invoke(app, [*arguments, "--official", "officer"])
    again = CliRunner().invoke(app, [*arguments, "--official", "officer"])
    malformed = CliRunner().invoke(app, [*arguments[:-2], "--legal-basis", "x" * 600, "--official", "officer"])

    assert unknown_official.exit_code == 2
    assert "OFFICIAL_NOT_FOUND" in unknown_official.output
    assert merged.exit_code == 0, merged.output
    assert json.loads(merged.stdout.strip().splitlines()[-1])["surviving_pin"] == surviving
    assert again.exit_code == 2
    assert "MERGE_ALREADY_RETIRED" in again.output
    assert malformed.exit_code == 2
    assert "INPUT_INVALID" in malformed.output
    redirect = client.get(f"/api/v1/persons/{retired}", headers=officer, follow_redirects=False)
    assert redirect.headers["location"] == f"/api/v1/persons/{surviving}"
