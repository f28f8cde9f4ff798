"""Writing a synthetic population as Parquet files, one per table.

Layout: given ``people.parquet``, the persons go to ``people.parquet`` and each other table to a
sibling named after it: ``people.households.parquet``, ``people.household_members.parquet``,
``people.residences.parquet``, ``people.relations.parquet`` and ``people.truth.parquet`` (the
truth only when the population has duplicates). Given a path without the ``.parquet`` suffix,
it is a directory that receives ``persons.parquet``, ``households.parquet`` and so on.

Files are written in row groups of about a million rows (zstd-compressed), which suits DuckDB,
Spark and Arrow readers that scan them in parallel. :func:`write_parquet_stream` takes the
population chunk by chunk (:func:`popreg.synth.generator.iter_population`), so a population
larger than memory streams to disk.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from popreg.synth.generator import SyntheticPopulation
from popreg.synth.schema import TABLES

ROW_GROUP_SIZE = 1_000_000
_SUFFIX = ".parquet"


def table_paths(out_path: Path | str) -> dict[str, Path]:
    """Where each table is written for ``out_path`` (see the module docstring)."""
    path = Path(out_path)
    if path.suffix == _SUFFIX:
        stem = path.with_suffix("")
        return {name: path if name == "persons" else stem.with_name(f"{stem.name}.{name}{_SUFFIX}") for name in TABLES}
    return {name: path / f"{name}{_SUFFIX}" for name in TABLES}


class _TableWriter:
    """One Parquet file, written in row groups of :data:`ROW_GROUP_SIZE` rows as tables arrive."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path = path
        self.schema = schema
        self.pending: list[pa.Table] = []
        self.pending_rows = 0
        self.writer: pq.ParquetWriter | None = None

    def add(self, table: pa.Table) -> None:
        self.pending.append(table)
        self.pending_rows += table.num_rows
        if self.pending_rows >= ROW_GROUP_SIZE:
            self._flush()

    def _flush(self) -> None:
        if self.writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.writer = pq.ParquetWriter(self.path, self.schema, compression="zstd")
        if self.pending:
            self.writer.write_table(pa.concat_tables(self.pending), row_group_size=ROW_GROUP_SIZE)
        self.pending = []
        self.pending_rows = 0

    def close(self) -> None:
        """Write what is left (an empty file if nothing came) and close the file."""
        self._flush()
        if self.writer is not None:
            self.writer.close()


def write_parquet_stream(chunks: Iterable[SyntheticPopulation], out_path: Path | str) -> dict[str, Path]:
    """Write the population given as consecutive chunks; the paths of the files written.

    The truth table is written only if some record is a duplicate (has a defect).
    """
    paths = table_paths(out_path)
    writers = {name: _TableWriter(paths[name], schema) for name, schema in TABLES.items()}
    has_duplicates = False
    for chunk in chunks:
        for name, table in chunk.tables().items():
            writers[name].add(table)
        has_duplicates = has_duplicates or chunk.truth.column("defect").null_count < chunk.truth.num_rows
    if not has_duplicates:
        del writers["truth"]
    for writer in writers.values():
        writer.close()
    return {name: paths[name] for name in writers}


def write_parquet(population: SyntheticPopulation, out_path: Path | str) -> dict[str, Path]:
    """Write every table of ``population``; the paths of the files written."""
    return write_parquet_stream([population], out_path)


def read_parquet(out_path: Path | str) -> SyntheticPopulation:
    """Read back a population written by :func:`write_parquet` (an empty truth if none was written)."""
    paths = table_paths(out_path)
    tables = {
        name: pq.read_table(path, schema=TABLES[name]) if path.exists() else TABLES[name].empty_table()
        for name, path in paths.items()
    }
    return SyntheticPopulation(**tables)
