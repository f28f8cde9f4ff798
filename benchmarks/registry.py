"""Benchmark: PIN lookup and search latency on a register of N synthetic persons.

For each backend (SQLite file, PostgreSQL) it builds a register with the synthetic population, then
measures, one call at a time as an official's request would run (own transaction, access-log entry,
commit):

- ``get_person``: lookup by PIN through the service (jurisdiction check, residences, relations,
  household, access log);
- ``pin_lookup_raw``: the bare indexed lookup, for comparison;
- ``search_name``: accent-insensitive search by full name prefix (national administrator);
- ``search_name_dob``: the same narrowed by year of birth;
- ``search_commune``: a commune officer's search by family name within their commune.

Prints a table and one JSON line. Usage::

    .venv/bin/python benchmarks/registry.py --people 1000000 [--backends sqlite,postgresql] [--calls 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from popreg.kit.database import Database
from popreg.kit.migrations import upgrade
from popreg.kit.text import fold
from popreg.officials.rules import OfficialPrincipal, Role
from popreg.registry import bulk, repository, service
from popreg.synth.generator import generate_population

POSTGRES_ADMIN_URL = os.environ.get("POPREG_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
console = Console(stderr=True)


def fresh_database(backend: str, workdir: Path) -> Database:
    if backend == "sqlite":
        return Database(f"sqlite:///{workdir / 'bench.db'}")
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text('DROP DATABASE IF EXISTS "popreg_bench" WITH (FORCE)'))
        connection.execute(text('CREATE DATABASE "popreg_bench"'))
    admin.dispose()
    return Database(make_url(POSTGRES_ADMIN_URL).set(database="popreg_bench").render_as_string(hide_password=False))


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def measure(calls: int, operation: Callable[[int], Any]) -> dict[str, float]:
    for i in range(min(50, calls)):  # warm caches and pools
        operation(i)
    timings = []
    for i in range(calls):
        started = time.perf_counter()
        operation(i)
        timings.append((time.perf_counter() - started) * 1000)
    return {"median_ms": statistics.median(timings), "p99_ms": percentile(timings, 0.99), "calls": calls}


def run_backend(backend: str, people: int, calls: int, seed: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        database = fresh_database(backend, Path(folder))
        upgrade(database)
        started = time.perf_counter()
        population = generate_population(people, seed=seed)
        generated = time.perf_counter()
        with database.unit_of_work() as session:
            bulk.load(
                session,
                population,
            )
        loaded = time.perf_counter()
        if backend == "postgresql":
            with database.engine.connect() as connection:
                connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
        else:
            with database.engine.begin() as connection:
                connection.exec_driver_sql("ANALYZE")
        console.print(
            f"[{backend}] generated {people:,} in {generated - started:.1f} s, loaded in {loaded - generated:.1f} s"
        )

        rng = random.Random(seed)
        persons = population.persons
        sample = rng.sample(range(persons.num_rows), min(calls, persons.num_rows))
        pins = [persons["pin"][i].as_py() for i in sample]
        names = [persons["name_folded"][i].as_py() for i in sample]
        families = [fold(persons["family_name"][i].as_py()) for i in sample]
        years = [str(persons["birth_date"][i].as_py().year) for i in sample]
        residences = population.residences
        homes = residences.filter(pc.equal(residences["kind"], "permanent"))["commune_code"]
        communes = [homes[rng.randrange(len(homes))].as_py() for _ in sample]
        admin = OfficialPrincipal(
            id=0, username="bench", display_name="Bench", role=Role.NATIONAL_ADMIN, jurisdiction_code=None
        )

        def officer(i: int) -> OfficialPrincipal:
            return OfficialPrincipal(
                id=0,
                username="bench-commune",
                display_name="Bench",
                role=Role.COMMUNE_OFFICER,
                jurisdiction_code=communes[i],
            )

        def get_person(i: int) -> None:
            with database.unit_of_work() as session:
                service.get_person(session, principal=admin, pin=pins[i % len(pins)])

        def raw_lookup(i: int) -> None:
            with database.read_session() as session:
                repository.get_person_by_pin(session, pins[i % len(pins)])

        def search_name(i: int) -> None:
            with database.unit_of_work() as session:
                service.search_persons(session, principal=admin, name=names[i % len(names)])

        def search_name_dob(i: int) -> None:
            with database.unit_of_work() as session:
                service.search_persons(
                    session, principal=admin, name=names[i % len(names)], birth_date=years[i % len(years)]
                )

        def search_commune(i: int) -> None:
            with database.unit_of_work() as session:
                service.search_persons(session, principal=officer(i % len(communes)), name=families[i % len(families)])

        results = {
            "get_person": measure(calls, get_person),
            "pin_lookup_raw": measure(calls, raw_lookup),
            "search_name": measure(calls, search_name),
            "search_name_dob": measure(calls, search_name_dob),
            "search_commune": measure(calls, search_commune),
        }
        database.dispose()
        return {
            "backend": backend,
            "people": people,
            "load_seconds": round(loaded - generated, 2),
            "load_persons_per_second": round(people / (loaded - generated)),
            "operations": results,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--seed", type=int, default=2024)
    arguments = parser.parse_args()
    runs = [
        run_backend(backend, arguments.people, arguments.calls, arguments.seed)
        for backend in arguments.backends.split(",")
    ]
    machine = f"{platform.machine()}, {os.cpu_count()} cores"
    table = Table(title=f"Register latency, {arguments.people:,} persons ({machine})")
    for column in ("backend", "operation", "median ms", "p99 ms", "calls"):
        table.add_column(column, justify="right" if column not in ("backend", "operation") else "left")
    for run in runs:
        for name, figures in run["operations"].items():
            table.add_row(
                run["backend"], name, f"{figures['median_ms']:.3f}", f"{figures['p99_ms']:.3f}", str(figures["calls"])
            )
    Console().print(table)
    print(
        json.dumps(
            {"benchmark": "registry", "machine": {"cpus": os.cpu_count(), "arch": platform.machine()}, "runs": runs}
        )
    )


if __name__ == "__main__":
    main()
