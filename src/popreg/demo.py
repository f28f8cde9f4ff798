"""The demo: an SQLite register with a synthetic population and demo officials, ready to serve."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from popreg.kit.database import Database
from popreg.kit.migrations import upgrade
from popreg.officials import service as officials
from popreg.officials.rules import Role
from popreg.registry import bulk
from popreg.synth.generator import generate_population


@dataclass(frozen=True, slots=True)
class DemoOfficial:
    username: str
    password: str
    role: Role
    jurisdiction_code: str | None
    display_name: str


# Documented in the README: demo data only, never for a real deployment.
DEMO_OFFICIALS = (
    DemoOfficial("admin", "popreg-demo-admin", Role.NATIONAL_ADMIN, None, "Quản trị quốc gia"),
    DemoOfficial("hanoi", "popreg-demo-hanoi", Role.PROVINCE_OFFICER, "01", "Cán bộ Công an TP Hà Nội"),
    DemoOfficial("badinh", "popreg-demo-badinh", Role.COMMUNE_OFFICER, "00004", "Cán bộ Công an phường Ba Đình"),
    DemoOfficial("auditor", "popreg-demo-audit", Role.AUDITOR, None, "Kiểm tra viên"),
)


def build_demo(*, database_file: str, people: int, seed: int, console: Console) -> str:
    """Create the demo database (once; an existing demo file is reused) and return its URL."""
    path = Path(database_file).resolve()
    url = f"sqlite:///{path}"
    if path.exists():
        console.print(f"Using the existing demo register {path} (delete it to build a new one).")
        _print_officials(console)
        return url
    started = time.perf_counter()
    database = Database(url)
    upgrade(database)
    console.print(f"Generating {people:,} synthetic persons (seed {seed})...")
    population = generate_population(people, seed=seed)
    generated = time.perf_counter()
    with database.unit_of_work() as session:
        summary = bulk.load(
            session,
            population,
            legal_basis="Synthetic demonstration data",
        )
        for official in DEMO_OFFICIALS:
            officials.create(
                session,
                username=official.username,
                password=official.password,
                display_name=official.display_name,
                role=official.role,
                jurisdiction_code=official.jurisdiction_code,
            )
    database.dispose()
    loaded = time.perf_counter()
    console.print(
        f"Loaded {summary.persons:,} persons, {summary.households:,} households and "
        f"{summary.residences:,} residences in {loaded - started:.1f} s "
        f"(generation {generated - started:.1f} s, loading {loaded - generated:.1f} s)."
    )
    _print_officials(console)
    return url


def _print_officials(console: Console) -> None:
    table = Table(title="Demo officials (synthetic data only)")
    for column in ("username", "password", "role", "jurisdiction"):
        table.add_column(column)
    for official in DEMO_OFFICIALS:
        table.add_row(
            official.username, official.password, official.role.value, official.jurisdiction_code or "national"
        )
    console.print(table)
