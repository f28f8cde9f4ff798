"""Benchmark: synthetic generation, bulk import and export, and how each grows with size.

For each size (1M by default; ``--sizes 1000000,10000000`` for the full run):

1. generation: ``popreg synth --people N --out persons.parquet`` (households, residences and
   relations included), persons per second;
2. import, per backend (SQLite file, PostgreSQL): ``popreg import persons persons.parquet`` into a
   fresh, migrated (indexed) register; persons per second and the import process's peak memory;
3. export, per backend: ``popreg export persons --out ...``; persons per second.

Every step runs as its own process, as an operator would run it, so wall time and peak memory
(``wait4`` resource usage of that process) are the real figures. Prints a table and one JSON line.

    .venv/bin/python benchmarks/bulk.py [--sizes 1000000,10000000] [--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

POSTGRES_ADMIN_URL = os.environ.get("POPREG_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
console = Console(stderr=True)


def run(arguments: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Run ``popreg ARGUMENTS``; return (seconds, peak RSS in MiB) of that process alone."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "popreg", *arguments],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(
            f"popreg {' '.join(arguments)} failed: {process.stderr.read().decode() if process.stderr else ''}"
        )
    return seconds, usage.ru_maxrss / 1024


def fresh_database_url(backend: str, folder: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{folder / 'bench.db'}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text('DROP DATABASE IF EXISTS "popreg_bulk" WITH (FORCE)'))
        connection.execute(text('CREATE DATABASE "popreg_bulk"'))
    admin.dispose()
    return make_url(POSTGRES_ADMIN_URL).set(database="popreg_bulk").render_as_string(hide_password=False)


def measure_size(people: int, backends: list[str], seed: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        source = folder / "persons.parquet"
        seconds, memory = run(["synth", "--people", str(people), "--seed", str(seed), "--out", str(source)], {})
        console.print(f"{people:,}: generated in {seconds:.1f} s")
        result: dict[str, Any] = {
            "people": people,
            "generation": {
                "seconds": round(seconds, 2),
                "persons_per_second": round(people / seconds),
                "peak_mib": round(memory),
            },
        }
        for backend in backends:
            env = {"POPREG_DATABASE_URL": fresh_database_url(backend, folder)}
            run(["db", "upgrade"], env)
            import_seconds, import_memory = run(["import", "persons", str(source)], env)
            export_seconds, export_memory = run(["export", "persons", "--out", str(folder / "out.parquet")], env)
            console.print(f"{people:,} {backend}: import {import_seconds:.1f} s, export {export_seconds:.1f} s")
            result[backend] = {
                "import": {
                    "seconds": round(import_seconds, 2),
                    "persons_per_second": round(people / import_seconds),
                    "peak_mib": round(import_memory),
                },
                "export": {
                    "seconds": round(export_seconds, 2),
                    "persons_per_second": round(people / export_seconds),
                    "peak_mib": round(export_memory),
                },
            }
            (folder / "bench.db").unlink(missing_ok=True)
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000000")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--seed", type=int, default=2024)
    arguments = parser.parse_args()
    sizes = [int(size) for size in arguments.sizes.split(",")]
    backends = arguments.backends.split(",")
    results = [measure_size(size, backends, arguments.seed) for size in sizes]

    table = Table(title=f"Bulk figures ({platform.machine()}, {os.cpu_count()} cores)")
    for column in ("persons", "step", "backend", "seconds", "persons/s", "peak MiB"):
        table.add_column(column, justify="left" if column in ("step", "backend") else "right")
    for result in results:
        generation = result["generation"]
        table.add_row(
            f"{result['people']:,}",
            "generate",
            "-",
            f"{generation['seconds']:.1f}",
            f"{generation['persons_per_second']:,}",
            str(generation["peak_mib"]),
        )
        for backend in backends:
            for step in ("import", "export"):
                figures = result[backend][step]
                table.add_row(
                    f"{result['people']:,}",
                    step,
                    backend,
                    f"{figures['seconds']:.1f}",
                    f"{figures['persons_per_second']:,}",
                    str(figures["peak_mib"]),
                )
    Console().print(table)
    growth = {}
    if len(results) > 1:
        small, large = results[0], results[-1]
        growth["generation_rate_ratio"] = round(
            large["generation"]["persons_per_second"] / small["generation"]["persons_per_second"], 2
        )
        for backend in backends:
            for step in ("import", "export"):
                growth[f"{backend}_{step}_rate_ratio"] = round(
                    large[backend][step]["persons_per_second"] / small[backend][step]["persons_per_second"], 2
                )
    print(
        json.dumps(
            {
                "benchmark": "bulk",
                "machine": {"cpus": os.cpu_count(), "arch": platform.machine()},
                "results": results,
                "rate_ratio_largest_to_smallest": growth,
            }
        )
    )


if __name__ == "__main__":
    main()
