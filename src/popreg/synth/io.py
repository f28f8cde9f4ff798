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

import os
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
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
    """One Parquet file, written in row groups of :data:`ROW_GROUP_SIZE` rows as tables arrive.

    Row groups are encoded on ``pool`` (Arrow releases the GIL while it compresses), so the files
    of several tables are written at the same time and while the next chunks are drawn; one row
    group of a file is in flight at a time, which keeps them in order and bounds the memory held.
    """

    def __init__(self, path: Path, schema: pa.Schema, pool: ThreadPoolExecutor) -> None:
        self.path = path
        self.schema = schema
        self.pool = pool
        self.pending: list[pa.Table] = []
        self.pending_rows = 0
        self.writer: pq.ParquetWriter | None = None
        self.in_flight: Future[None] | None = None

    def add(self, table: pa.Table) -> None:
        self.pending.append(table)
        self.pending_rows += table.num_rows
        if self.pending_rows >= ROW_GROUP_SIZE:
            self._flush()

    def _flush(self, *, last: bool = False) -> None:
        tables, self.pending, self.pending_rows = self.pending, [], 0
        if self.in_flight is not None:
            self.in_flight.result()
        self.in_flight = self.pool.submit(self._write, tables, last)

    def _write(self, tables: list[pa.Table], last: bool) -> None:
        if self.writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.writer = pq.ParquetWriter(self.path, self.schema, compression="zstd")
        if tables:
            self.writer.write_table(pa.concat_tables(tables), row_group_size=ROW_GROUP_SIZE)
        if last:
            self.writer.close()

    def close(self) -> Future[None]:
        """Write what is left (an empty file if nothing came) and close the file, in the background."""
        self._flush(last=True)
        assert self.in_flight is not None  # noqa: S101 - _flush always submits
        return self.in_flight


def write_parquet_stream(chunks: Iterable[SyntheticPopulation], out_path: Path | str) -> dict[str, Path]:
    """Write the population given as consecutive chunks; the paths of the files written.

    The truth table is written only if some record is a duplicate (has a defect).
    """
    paths = table_paths(out_path)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="parquet") as pool:
        writers = {name: _TableWriter(paths[name], schema, pool) for name, schema in TABLES.items()}
        has_duplicates = False
        try:
            for chunk in chunks:
                for name, table in chunk.tables().items():
                    writers[name].add(table)
                has_duplicates = has_duplicates or chunk.truth.column("defect").null_count < chunk.truth.num_rows
        finally:
            for writer in writers.values():
                if writer.in_flight is not None:
                    writer.in_flight.result()
        for done in [writer.close() for writer in writers.values()]:
            done.result()
    if not has_duplicates:
        # Large populations had already started a truth file before the end showed it is not needed.
        writers.pop("truth").path.unlink(missing_ok=True)
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
