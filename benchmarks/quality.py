"""Benchmark: how long the data-quality report takes on a register of N persons.

Measures, on an existing register (``--url``) or on a SQLite register of ``--people`` synthetic persons
built for the run, each aggregate query of ``popreg.quality.repository`` alone and then the whole
report (``measure_register``: every province and the nation) and one province's report, each
``--repeat`` times (the first run reads from disk, the next from the page cache).

Prints a table and one JSON line. Usage::

    .venv/bin/python benchmarks/quality.py --people 100000
    .venv/bin/python benchmarks/quality.py --url sqlite:////path/to/register.db --repeat 2
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
from collections.abc import Callable
from datetime import UTC, datetime
from datetime import time as day_time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from popreg.kit.clock import VIETNAM, today_in_vietnam
from popreg.kit.database import Database
from popreg.quality import repository, service
from popreg.quality.rules import window_start
from popreg.registry.models import Person


def _build(people: int, directory: Path) -> str:
    url = f"sqlite:///{directory / f'quality-{people}.db'}"
    env = {**os.environ, "POPREG_DATABASE_URL": url}
    for arguments in (["db", "upgrade"], ["synth", "--people", str(people), "--into-db", "--error-rate", "0.02"]):
        subprocess.run([sys.executable, "-m", "popreg", *arguments], env=env, check=True, capture_output=True)  # noqa: S603
    return url


def _timed(database: Database, work: Callable[[Any], object], repeat: int) -> list[tuple[float, float]]:
    """Wall-clock and CPU seconds of each run. On a shared machine the wall clock also counts the time
    other processes held the cores; the CPU time of this process (SQLite runs inside it) does not."""
    seconds = []
    for _ in range(repeat):
        with database.read_session() as session:
            started, cpu = time.perf_counter(), time.process_time()
            work(session)
            seconds.append((round(time.perf_counter() - started, 3), round(time.process_time() - cpu, 3)))
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="An existing, migrated register (SQLite or PostgreSQL URL).")
    parser.add_argument("--people", type=int, default=100_000, help="Synthetic persons when no --url is given.")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--province", default="01", help="The province of the one-province report.")
    arguments = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="popreg-quality-") as directory:
        url = arguments.url or _build(arguments.people, Path(directory))
        database = Database(url)
        as_of = today_in_vietnam()
        since = datetime.combine(window_start(as_of), day_time(0), tzinfo=VIETNAM).astimezone(UTC)
        until = datetime.combine(as_of, day_time(23, 59, 59), tzinfo=VIETNAM).astimezone(UTC)
        with database.read_session() as session:
            persons = session.scalar(select(func.count()).select_from(Person)) or 0
        steps: dict[str, Callable[[Any], object]] = {
            "persons (PIN, dates, ethnicity, precision, touched)": lambda s: repository.person_counts(
                s, as_of=as_of, touched_since=since, province=None
            ),
            "parents born after their child": lambda s: repository.parent_conflicts(s, as_of=as_of, province=None),
            "current residences (units, permanent)": lambda s: repository.residence_counts(
                s, as_of=as_of, province=None
            ),
            "cards": lambda s: repository.card_counts(s, province=None),
            "recording delays (per province)": lambda s: repository.middle_delays(
                s, recorded_from=since, recorded_before=until, province=None, by_province=True
            ),
            "whole report (nation + provinces)": lambda s: service.measure_register(s, as_of=as_of),
            f"one province ({arguments.province})": lambda s: service.measure_register(
                s, as_of=as_of, province=arguments.province
            ),
        }
        results = {name: _timed(database, work, arguments.repeat) for name, work in steps.items()}
        database.dispose()

    table = Table(title=f"popreg quality report: {persons:,} persons on {database.backend}")
    table.add_column("step")
    for run in range(arguments.repeat):
        table.add_column(f"run {run + 1}: wall s", justify="right")
        table.add_column(f"run {run + 1}: CPU s", justify="right")
    for name, seconds in results.items():
        table.add_row(name, *(f"{value:.2f}" for pair in seconds for value in pair))
    Console().print(table)
    print(  # noqa: T201 - the benchmark's output
        json.dumps(
            {
                "benchmark": "quality",
                "backend": database.backend,
                "persons": persons,
                "seconds_wall_cpu": results,
                "load_average": os.getloadavg(),
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
