"""``popreg match link``: an agency's file linked to another file or to the register."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from matching_builders import load_population, population
from popreg.cli import app
from popreg.kit.database import Database
from popreg.kit.settings import get_settings
from popreg.kit.text import strip_diacritics

MAPS = ["--map", "ho_ten=full_name", "--map", "ngay_sinh=birth_date", "--map", "gioi=sex",
        "--map", "ho=family_name", "--map", "dem=middle_name", "--map", "ten=given_name",
        "--map", "sinh=birth_date"]  # fmt: skip


def _files(tmp_path: Path, *, parquet: bool = False) -> tuple[Path, Path, dict[str, str]]:
    """A left file (one full-name column) and a right file (name parts, middle name as an initial)."""
    persons = population(people=1200, seed=21, error_rate=0.05).persons.to_pandas()
    persons = persons[persons["middle_name"] != ""].head(300)
    left = pd.DataFrame(
        {
            "ma": [f"L{i:04d}" for i in range(len(persons))],
            "ho_ten": persons["full_name"],
            "ngay_sinh": persons["birth_date"].astype(str),
            "gioi": persons["sex"],
        }
    )
    right = pd.DataFrame(
        {
            "ma": [f"R{i:04d}" for i in range(len(persons))],
            "ho": persons["family_name"].map(strip_diacritics),
            "dem": persons["middle_name"].str[0] + ".",
            "ten": persons["given_name"],
            "sinh": persons["birth_date"].astype(str),
            "gioi": persons["sex"],
        }
    ).iloc[::-1]
    suffix = "parquet" if parquet else "csv"
    left_path, right_path = tmp_path / f"left.{suffix}", tmp_path / f"right.{suffix}"
    if parquet:
        left.to_parquet(left_path)
        right.to_parquet(right_path)
    else:
        left.to_csv(left_path, index=False)
        right.to_csv(right_path, index=False)
    truth = {f"L{i:04d}": f"R{i:04d}" for i in range(len(persons))}
    return left_path, right_path, truth


def _invoke(*args: str) -> Any:
    return CliRunner().invoke(app, ["match", "link", *args])


@pytest.mark.parametrize("parquet", [False, True])
def test_two_files_with_their_own_column_names_are_linked(tmp_path: Path, parquet: bool) -> None:
    left, right, truth = _files(tmp_path, parquet=parquet)
    out = tmp_path / "pairs.csv"

    result = _invoke("--left", str(left), "--right", str(right), "--id", "ma", *MAPS, "--out", str(out))

    assert result.exit_code == 0, result.output
    pairs = pd.read_csv(out, dtype={"left_id": str, "right_id": str})
    assert list(pairs.columns) == ["left_id", "right_id", "match_probability"]
    best = pairs.sort_values("match_probability", ascending=False).drop_duplicates("left_id")
    confident = best[best["match_probability"] >= 0.9]
    correct = sum(truth[a] == b for a, b in zip(confident["left_id"], confident["right_id"], strict=True))
    assert correct >= 0.95 * len(truth)
    assert correct >= 0.99 * len(confident)


@pytest.fixture
def register_env(database: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    monkeypatch.setenv("POPREG_DATABASE_URL", database.url)
    get_settings.cache_clear()
    yield database
    get_settings.cache_clear()


def test_a_file_is_linked_to_the_register(register_env: Database, tmp_path: Path) -> None:
    load_population(register_env, people=1200, seed=21, error_rate=0.05)
    persons = population(people=1200, seed=21, error_rate=0.05).persons.to_pandas().head(50)
    left = tmp_path / "agency.csv"
    pd.DataFrame(
        {"so": [f"A{i}" for i in range(50)], "ho_ten": persons["full_name"],
         "ngay_sinh": persons["birth_date"].astype(str), "gioi": persons["sex"]}
    ).to_csv(left, index=False)  # fmt: skip
    out = tmp_path / "pairs.csv"

    result = _invoke(
        "--left", str(left), "--right", "register", "--id", "so", "--map", "ho_ten=full_name",
        "--map", "ngay_sinh=birth_date", "--map", "gioi=sex", "--out", str(out), "--threshold", "0.9",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    pairs = pd.read_csv(out, dtype={"left_id": str, "right_id": str})
    best = pairs.drop_duplicates("left_id")
    expected = {f"A{i}": str(pid) for i, pid in enumerate(persons["person_id"])}
    assert sum(expected[a] == b for a, b in zip(best["left_id"], best["right_id"], strict=True)) >= 48


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"left": "missing.csv"}, "MATCH_FILE_UNREADABLE"),
        ({"id": "nope"}, "MATCH_COLUMN_UNKNOWN"),
        ({"maps": ["--map", "ho_ten=nickname"]}, "MATCH_FIELD_UNKNOWN"),
        ({"maps": ["--map", "ho_ten"]}, "MATCH_MAPPING_INVALID"),
        ({"maps": ["--map", "khong_co=full_name", "--map", "gioi=sex"]}, "MATCH_COLUMN_UNKNOWN"),
        ({"maps": ["--map", "ho_ten=full_name", "--map", "sinh=birth_date"]}, "MATCH_NO_COMMON_FIELDS"),
        ({"threshold": "0"}, "MATCH_THRESHOLD_INVALID"),
        ({"backend": "oracle"}, "MATCH_BACKEND_UNAVAILABLE"),
    ],
)
def test_bad_input_gets_a_clear_code_and_no_traceback(tmp_path: Path, change: dict[str, Any], code: str) -> None:
    left, right, _ = _files(tmp_path)
    out = tmp_path / "pairs.csv"
    args = [
        "--left", str(tmp_path / change.get("left", left.name)), "--right", str(right), "--id", change.get("id", "ma"),
        *change.get("maps", MAPS), "--out", str(out), "--threshold", change.get("threshold", "0.5"),
        "--backend", change.get("backend", "duckdb"),
    ]  # fmt: skip

    result = _invoke(*args)

    assert result.exit_code == 2, result.output
    assert code in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


def test_an_identifier_links_records_whose_date_of_birth_is_wrong(tmp_path: Path) -> None:
    persons = population(people=1200, seed=21, error_rate=0.05).persons.to_pandas().head(200)
    numbers = [f"{7900000000 + i * 7919:012d}" for i in range(len(persons))]
    left = pd.DataFrame(
        {"ma": [f"L{i:04d}" for i in range(len(persons))], "ho_ten": persons["full_name"],
         "ngay_sinh": persons["birth_date"].astype(str), "so_bhxh": numbers}
    )  # fmt: skip
    # The other agency recorded every birth date two years off and writes the number with spaces.
    wrong_year = pd.to_datetime(persons["birth_date"]) - pd.DateOffset(years=2)
    right = pd.DataFrame(
        {"ma": [f"R{i:04d}" for i in range(len(persons))], "ho_ten": persons["full_name"],
         "sinh": wrong_year.dt.strftime("%Y-%m-%d"), "bhxh": [f"{n[:3]} {n[3:6]} {n[6:]}" for n in numbers]}
    )  # fmt: skip
    left_path, right_path, out = tmp_path / "left.csv", tmp_path / "right.csv", tmp_path / "pairs.csv"
    left.to_csv(left_path, index=False)
    right.to_csv(right_path, index=False)
    names = ["--map", "ho_ten=full_name", "--map", "ngay_sinh=birth_date", "--map", "sinh=birth_date"]
    files = ["--left", str(left_path), "--right", str(right_path), "--id", "ma", "--threshold", "0.9"]

    with_numbers = _invoke(*files, *names, "--map", "so_bhxh=identifier", "--map", "bhxh=identifier", "--out", str(out))

    assert with_numbers.exit_code == 0, with_numbers.output
    pairs = pd.read_csv(out, dtype=str)
    linked = set(zip(pairs["left_id"], pairs["right_id"], strict=True))
    assert len(linked & {(f"L{i:04d}", f"R{i:04d}") for i in range(len(persons))}) >= 195
    without_numbers = _invoke(*files, *names, "--out", str(out))
    assert without_numbers.exit_code == 0, without_numbers.output
    assert len(pd.read_csv(out, dtype=str)) < 20
