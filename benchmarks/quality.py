"""Benchmark: how long the data-quality report takes on a register of N persons.

Measures, on an existing register (``--url``) or on a SQLite register of ``--people`` synthetic persons
built for the run, each aggregate query of ``popreg.quality.repository`` alone and then the whole
report (``measure_register``: every province and the nation) and one province's report, each
``--repeat`` times (the first run reads from disk, the next from the page cache).

Before that it times the fold of the access log into each person's last confirmed day ("verified
recently"): ``--log-items`` bulk-verification items and ``--log-singles`` single verifications of
random persons (90 % matches) are appended to the log as the sharing package appends them, spread
over the last 400 days, then folded once (the first fold of a log that size), then a tenth more is
appended and folded (a night's increment), then the fold is run with nothing new. The items are
appended to a register the benchmark builds by default; to an existing ``--url`` only when
``--log-items`` or ``--log-singles`` is given (they are synthetic access-log entries: use a copy).
The report steps fold whatever the log holds, like ``popreg quality report``.

Prints a table and one JSON line. Usage::

    .venv/bin/python benchmarks/quality.py --people 100000
    .venv/bin/python benchmarks/quality.py --url sqlite:////path/to/copy-of-register.db --log-items 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from datetime import time as day_time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from popreg.audit.service import PendingEntry, append_entries
from popreg.kit.clock import VIETNAM, today_in_vietnam, utc_now
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


BULK_CHUNK = 200_000  # items per access-log entry, as a bulk job writes them (sharing.bulk.DEFAULT_CHUNK_ROWS)
SINGLES_PER_TRANSACTION = 10_000


def _append_verifications(database: Database, pins: list[str], *, items: int, singles: int, seed: int) -> None:
    """Synthetic verifications of random persons: bulk chunks of items, then single verifications, each
    entry at a random moment of the last 400 days; 90 % match, 8 % do not, 2 % are invalid."""
    chance = random.Random(seed)  # noqa: S311 - synthetic workload, not security
    outcomes = ["match"] * 90 + ["no_match"] * 8 + ["VERIFY_INVALID_DATE"] * 2
    now = utc_now()

    def moment() -> datetime:
        return now - timedelta(seconds=chance.randrange(400 * 86_400))

    def entry(
        action: str, *, person_pin: str | None, result: str, items: list[tuple[str | None, str]] | None = None
    ) -> PendingEntry:
        return PendingEntry(
            principal_kind="partner",
            principal_id="benchmark-bank",
            action=action,
            person_pin=person_pin,
            purpose="account-opening",
            fields=("full_name", "birth_date"),
            result=result,
            items=items or (),
            occurred_at=moment(),
        )

    for start in range(0, items, BULK_CHUNK):
        count = min(BULK_CHUNK, items - start)
        chunk: list[tuple[str | None, str]] = list(
            zip(chance.choices(pins, k=count), chance.choices(outcomes, k=count), strict=True)
        )
        with database.unit_of_work() as session:
            append_entries(session, [entry("verify.bulk", person_pin=None, result="ok", items=chunk)])
    for start in range(0, singles, SINGLES_PER_TRANSACTION):
        count = min(SINGLES_PER_TRANSACTION, singles - start)
        with database.unit_of_work() as session:
            append_entries(
                session,
                [
                    entry("verify", person_pin=chance.choice(pins), result=chance.choice(outcomes[:98]))
                    for _ in range(count)
                ],
            )


def _timed_fold(database: Database) -> dict[str, float | int]:
    """One fold in its own transaction, commit included: wall and CPU seconds, log entries read (a bulk
    chunk is one entry) and persons whose day was inserted or moved."""
    started, cpu = time.perf_counter(), time.process_time()
    with database.unit_of_work() as session:
        fold = service.fold_verifications(session)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    if fold is None:
        raise SystemExit("The database is read-only: the fold cannot be measured there.")
    return {
        "entries": fold.through_seq - fold.after_seq,
        "persons": fold.persons,
        "wall": round(wall, 3),
        "cpu": round(cpu, 3),
    }


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
    parser.add_argument(
        "--log-items", type=int, help="Bulk-verification items to append (default 1,000,000 on a built register)."
    )
    parser.add_argument(
        "--log-singles", type=int, help="Single verifications to append (default 100,000 on a built register)."
    )
    parser.add_argument("--seed", type=int, default=7)
    arguments = parser.parse_args()
    built = arguments.url is None
    log_items = arguments.log_items if arguments.log_items is not None else (1_000_000 if built else 0)
    log_singles = arguments.log_singles if arguments.log_singles is not None else (100_000 if built else 0)

    with tempfile.TemporaryDirectory(prefix="popreg-quality-") as directory:
        url = arguments.url or _build(arguments.people, Path(directory))
        database = Database(url)
        as_of = today_in_vietnam()
        since = datetime.combine(window_start(as_of), day_time(0), tzinfo=VIETNAM).astimezone(UTC)
        until = datetime.combine(as_of, day_time(23, 59, 59), tzinfo=VIETNAM).astimezone(UTC)
        with database.read_session() as session:
            persons = session.scalar(select(func.count()).select_from(Person)) or 0
            pins = list(session.scalars(select(Person.pin))) if log_items or log_singles else []
        folds: dict[str, dict[str, float | int]] = {}
        if pins:
            started = time.perf_counter()
            _append_verifications(database, pins, items=log_items, singles=log_singles, seed=arguments.seed)
            appended = round(time.perf_counter() - started, 1)
            folds[f"first fold ({log_items:,} items, {log_singles:,} singles)"] = _timed_fold(database)
            _append_verifications(
                database, pins, items=log_items // 10, singles=log_singles // 10, seed=arguments.seed + 1
            )
            folds[f"next fold ({log_items // 10:,} items, {log_singles // 10:,} singles)"] = _timed_fold(database)
            folds["fold with nothing new"] = _timed_fold(database)
            Console(stderr=True).print(f"Appended the synthetic verifications in {appended} s.")
        verified_since = window_start(as_of)
        steps: dict[str, Callable[[Any], object]] = {
            "persons (PIN, dates, ethnicity, precision, touched, verified)": lambda s: repository.person_counts(
                s, as_of=as_of, touched_since=since, verified_since=verified_since, province=None
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
    if folds:
        fold_table = Table(title="fold of the access log into the last confirmed day of each person")
        for column in ("step", "log entries", "persons moved", "wall s", "CPU s"):
            fold_table.add_column(column, justify="left" if column == "step" else "right")
        for name, figures in folds.items():
            fold_table.add_row(
                name,
                f"{figures['entries']:,}",
                f"{figures['persons']:,}",
                f"{figures['wall']:.2f}",
                f"{figures['cpu']:.2f}",
            )
        Console().print(fold_table)
    print(  # noqa: T201 - the benchmark's output
        json.dumps(
            {
                "benchmark": "quality",
                "backend": database.backend,
                "persons": persons,
                "folds": folds,
                "seconds_wall_cpu": results,
                "load_average": os.getloadavg(),
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
