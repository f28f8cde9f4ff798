"""The `popreg` command as an operator uses it (a real subprocess each time)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def popreg(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "popreg", *args],
        capture_output=True,
        text=True,
        input=stdin,
        env={**os.environ, **(env or {})},
        timeout=120,
        check=False,
    )


def test_pin_check_prints_one_json_object_and_exits_0_for_a_valid_pin():
    result = popreg("pin", "check", "001203012345", "--dob", "2003-04-05", "--sex", "M")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["valid"] is True
    assert (body["province_code"], body["birth_year"], body["sex"], body["errors"]) == ("001", 2003, "M", [])


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["12345"], "PIN_INVALID_STRUCTURE"),
        (["000203012345"], "PIN_UNKNOWN_PROVINCE"),
        (["001203012345", "--sex", "F"], "PIN_SEX_MISMATCH"),
        (["001203012345", "--dob", "1990-01-01"], "PIN_BIRTH_YEAR_MISMATCH"),
        (["001203012345", "--dob", "not-a-date"], "DOB_INVALID"),
    ],
)
def test_pin_check_exits_1_with_the_stable_error_code(args, code):
    result = popreg("pin", "check", *args)
    assert result.returncode == 1
    assert code in json.loads(result.stdout)["errors"]


def test_an_operator_creates_the_schema_and_an_official(tmp_path: Path):
    env = {"POPREG_DATABASE_URL": f"sqlite:///{tmp_path / 'ops.db'}", "POPREG_NEW_PASSWORD": "a-long-password"}
    upgraded = popreg("db", "upgrade", env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    added = popreg("user", "add", "cb.badinh", "--role", "commune_officer", "--jurisdiction", "00004", env=env)
    assert added.returncode == 0, added.stderr
    assert "cb.badinh" in added.stderr
    again = popreg("user", "add", "cb.badinh", "--role", "commune_officer", "--jurisdiction", "00004", env=env)
    assert again.returncode == 1
    assert "OFFICIAL_USERNAME_TAKEN" in again.stderr
    wrong_level = popreg("user", "add", "cb.x", "--role", "commune_officer", "--jurisdiction", "01", env=env)
    assert wrong_level.returncode == 1
    assert "OFFICIAL_JURISDICTION_INVALID" in wrong_level.stderr


def test_the_production_profile_refuses_to_start_with_development_secrets(tmp_path: Path):
    env = {"POPREG_PROFILE": "production", "POPREG_DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}"}
    result = popreg("db", "upgrade", env=env)
    assert result.returncode != 0
    assert "POPREG_SECRET_KEY" in result.stderr
