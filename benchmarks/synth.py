"""Benchmark: how fast the synthetic population is drawn, and how the rate grows with its size.

For each size it times ``generate_population`` (persons, households, members, residences,
relations and, with ``--error-rate``, duplicates and truth: everything a ``popreg synth`` run
builds before writing) and reports persons per second; the small sizes are run three times and the
median is kept. Peak memory is the process's maximum resident set size (``getrusage``), which
only grows, so it is that of the largest size drawn so far. With ``--parquet`` it also times
writing the tables (zstd Parquet) to a temporary directory.

Prints a table and one JSON line. Usage::

    .venv/bin/python benchmarks/synth.py [--full] [--error-rate 0.1] [--parquet] [--workers N]

Sizes: 100,000 and 1,000,000 persons; ``--full`` adds 10,000,000 (one run; about 10 GB of memory).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from popreg.synth.generator import generate_population
from popreg.synth.io import write_parquet

console = Console(stderr=True)
REPEATS_BELOW = 5_000_000
"""Sizes below this are drawn three times and the median time is kept."""


def peak_rss_mib() -> float:
    """The process's peak resident memory in MiB (Linux reports kibibytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(size: int, *, error_rate: float, workers: int | None, parquet: bool) -> dict[str, Any]:
    runs = 3 if size < REPEATS_BELOW else 1
    timings = []
    for run in range(runs):
        started = time.perf_counter()
        population = generate_population(size, seed=run, error_rate=error_rate, workers=workers)
        timings.append(time.perf_counter() - started)
    seconds = statistics.median(timings)
    row: dict[str, Any] = {
        "persons": size,
        "runs": runs,
        "seconds": round(seconds, 3),
        "persons_per_second": round(size / seconds),
        "rows": {name: table.num_rows for name, table in population.tables().items()},
        "peak_rss_mib": round(peak_rss_mib()),
    }
    if parquet:
        with tempfile.TemporaryDirectory() as directory:
            started = time.perf_counter()
            written = write_parquet(population, Path(directory) / "population.parquet")
            row["parquet_seconds"] = round(time.perf_counter() - started, 3)
            row["parquet_mib"] = round(sum(path.stat().st_size for path in written.values()) / 2**20, 1)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="also draw 10,000,000 persons")
    parser.add_argument("--error-rate", type=float, default=0.0, help="share of duplicate records to add")
    parser.add_argument("--workers", type=int, default=None, help="threads (default: one per CPU)")
    parser.add_argument("--parquet", action="store_true", help="also time writing the tables as Parquet")
    arguments = parser.parse_args()

    sizes = [100_000, 1_000_000] + ([10_000_000] if arguments.full else [])
    generate_population(1_000, seed=0)  # load the frequency tables and the unit catalogue once
    rows = []
    for size in sizes:
        console.print(f"drawing {size:,} persons ...")
        row = measure(size, error_rate=arguments.error_rate, workers=arguments.workers, parquet=arguments.parquet)
        rows.append(row)
    base = rows[0]["persons_per_second"]
    for row in rows:
        row["rate_relative_to_smallest"] = round(row["persons_per_second"] / base, 2)

    table = Table(title=f"Synthetic population generation (error rate {arguments.error_rate})")
    for heading in ("persons", "runs", "median s", "persons/s", "vs 100k", "households", "relations", "peak RSS MiB"):
        table.add_column(heading, justify="right")
    if arguments.parquet:
        table.add_column("parquet s", justify="right")
        table.add_column("parquet MiB", justify="right")
    for row in rows:
        cells = [
            f"{row['persons']:,}",
            str(row["runs"]),
            f"{row['seconds']:.3f}",
            f"{row['persons_per_second']:,}",
            f"{row['rate_relative_to_smallest']:.2f}",
            f"{row['rows']['households']:,}",
            f"{row['rows']['relations']:,}",
            f"{row['peak_rss_mib']:,}",
        ]
        if arguments.parquet:
            cells += [f"{row['parquet_seconds']:.3f}", f"{row['parquet_mib']:,}"]
        table.add_row(*cells)
    Console(width=160).print(table)
    print(
        json.dumps(
            {
                "benchmark": "synth",
                "error_rate": arguments.error_rate,
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "results": rows,
            }
        )
    )


if __name__ == "__main__":
    main()
