"""Synthetic populations are written as Parquet files, one per table, and read back unchanged."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from popreg.synth import io
from popreg.synth.generator import generate_population, iter_population
from popreg.synth.io import read_parquet, table_paths, write_parquet, write_parquet_stream
from popreg.synth.schema import TABLES


def test_a_parquet_file_name_gets_the_persons_and_siblings_for_the_other_tables(tmp_path: Path) -> None:
    paths = table_paths(tmp_path / "people.parquet")
    assert paths["persons"] == tmp_path / "people.parquet"
    assert paths["households"] == tmp_path / "people.households.parquet"
    assert paths["truth"] == tmp_path / "people.truth.parquet"


def test_a_directory_gets_one_file_per_table(tmp_path: Path) -> None:
    assert table_paths(tmp_path / "out") == {name: tmp_path / "out" / f"{name}.parquet" for name in TABLES}


def test_a_written_population_reads_back_unchanged(tmp_path: Path) -> None:
    population = generate_population(8_000, seed=12, error_rate=0.1)
    written = write_parquet(population, tmp_path / "people.parquet")
    assert set(written) == set(TABLES)
    back = read_parquet(tmp_path / "people.parquet")
    for name in TABLES:
        assert back.tables()[name].equals(population.tables()[name].combine_chunks()), name


def test_the_truth_is_written_only_when_there_are_duplicates(tmp_path: Path) -> None:
    written = write_parquet(generate_population(3_000, seed=1), tmp_path)
    assert "truth" not in written and not (tmp_path / "truth.parquet").exists()
    assert read_parquet(tmp_path).truth.num_rows == 0


def test_no_truth_file_is_left_when_a_row_group_of_it_was_written_before_the_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With row groups smaller than the population (as with a million persons and more), the truth
    # file has been started by the time the last chunk shows there are no duplicates.
    monkeypatch.setattr(io, "ROW_GROUP_SIZE", 1_000)
    written = write_parquet_stream(iter_population(6_000, seed=3), tmp_path / "people.parquet")
    assert "truth" not in written and not (tmp_path / "people.truth.parquet").exists()
    assert pq.ParquetFile(written["persons"]).metadata.num_row_groups > 1
    assert pq.read_table(written["persons"]).num_rows == 6_000


def test_a_streamed_population_is_the_generated_one(tmp_path: Path) -> None:
    write_parquet_stream(iter_population(40_000, seed=8, error_rate=0.05), tmp_path)
    population = generate_population(40_000, seed=8, error_rate=0.05)
    assert pq.read_table(tmp_path / "persons.parquet").equals(population.persons.combine_chunks())
    assert pq.read_table(tmp_path / "residences.parquet").equals(population.residences.combine_chunks())
