"""Benchmark: agencies' updates applied end to end on a register of N synthetic persons.

For each register (an SQLite file or a PostgreSQL URL, migrated and holding a synthetic population,
e.g. made by ``POPREG_DATABASE_URL=... popreg synth --people 100000 --seed 7 --into-db``), it:

1. registers an agency partner allowed to sync every writable field, and makes an access token;
2. builds batches of 1,000 updates about distinct persons picked at random, by PIN: social insurance
   numbers (the bulk of S3's traffic), and separately name corrections (the registry's per-person path);
3. applies each batch as ``POST /api/v1/sync/updates/batch`` does, without HTTP: the gate checks the
   token and the policy, then one transaction per batch matches the persons by PIN, validates, checks
   conflicts, writes the identifiers, the history events, the outbox rows (when that package hooks the
   history), the update records and the access-log entry, and commits;
4. sends the same batches again (every update a replay: one effect per key) and times that too;
5. applies mixed traffic as the seed describes it: health-insurance card numbers, with a share
   (``--register-share``, 1 % by default) of deaths reported by hospitals, which go through the
   registry's use case (life status, cards cancelled) in a savepoint each.

Each figure comes with the CPU it cost per update: this process's (the client, and SQLite itself)
and, on PostgreSQL, that of the server's backends connected to the benchmark's database, read from
/proc (the benchmark runs beside the server). On a machine shared with other work the CPU per update
is the steadier figure; updates/s is what a quiet machine gives. ``--clients N`` runs N processes side
by side, each with its own share of the persons, as N serving workers would (the aggregate throughput
is reported; SQLite serialises writers). ``--fresh`` first copies the register (a file copy on SQLite,
``CREATE DATABASE ... TEMPLATE`` on PostgreSQL) so that every run starts from the same state, then
drops the copy.

``--without-outbox`` is a diagnostic: the same run with every package's handler except the outbox's, to
tell the sync path's own cost from that of writing the outbound events.

Prints a table and one JSON line. Usage::

    .venv/bin/python benchmarks/sync.py --databases sqlite:////tmp/sync-100k.db,postgresql+psycopg://...
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing
import os
import platform
import random
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, func, select, text

from popreg.cards.service import cancel_cards_at_death
from popreg.kit import events
from popreg.kit.database import Database
from popreg.kit.events import PersonDied
from popreg.kit.settings import Profile, Settings
from popreg.registry.models import Person
from popreg.sharing import service as partners
from popreg.sharing.credentials import access_token_key, issue_access_token
from popreg.sharing.gate import PartnerGate
from popreg.sharing.schemas import PartnerCreate, PartnerKind, PolicyIn
from popreg.sync.api import handle
from popreg.sync.rules import WRITABLE_FIELDS
from popreg.wiring import configure

BATCH = 1000
SECRET = "benchmark-secret-key-of-at-least-32-characters"  # noqa: S105 - a throw-away benchmark key
console = Console()


def prepare_agency(database: Database, partner_id: str) -> str:
    """An agency allowed to sync every writable field; returns the Authorization header value."""
    with database.unit_of_work() as session:
        partners.create(
            session,
            actor=partners.CLI_OPERATOR,
            data=PartnerCreate(id=partner_id, name="Bảo hiểm xã hội Việt Nam", kind=PartnerKind.AGENCY),
        )
        partners.set_policy(
            session,
            actor=partners.CLI_OPERATOR,
            partner_id=partner_id,
            data=PolicyIn(
                operations=["sync"],
                write_fields=list(WRITABLE_FIELDS),
                daily_quota=10_000_000_000,
                rate_per_second=1_000_000,
                burst=1_000_000,
            ),
        )
    token, _claims = issue_access_token(
        key=access_token_key(SECRET),
        partner_id=partner_id,
        scope=["sync"],
        policy_version=2,
        lifetime_seconds=3600,
        now=int(time.time()),
    )
    return f"Bearer {token}"


def sample_pins(database: Database, count: int, seed: int) -> list[str]:
    with database.read_session() as session:
        pins = list(session.scalars(select(Person.pin).where(Person.life_status == "alive")))
    random.Random(seed).shuffle(pins)
    return pins[:count]


def identifier_batches(pins: list[str], run: str) -> list[list[dict[str, Any]]]:
    observed = (datetime.now(UTC) - timedelta(seconds=5)).isoformat()
    updates = [
        {
            "idempotency_key": f"{run}-{index}",
            "legal_basis": "Luật Bảo hiểm xã hội 2024, Điều 16",
            "person": {"pin": pin},
            "fields": {"social_insurance_number": f"{(index * 7919 + int(run[-3:], 36)) % 10**10:010d}"},
            "observed_at": observed,
        }
        for index, pin in enumerate(pins)
    ]
    return [updates[start : start + BATCH] for start in range(0, len(updates), BATCH)]


def mixed_batches(pins: list[str], run: str, register_share: float) -> list[list[dict[str, Any]]]:
    """The agencies' traffic as the seed describes it: mostly numbers (social insurance, health
    insurance, tax, driving licence), and a share of register changes, here deaths reported by
    hospitals, which go through the registry's use case (life status, cards cancelled, history)."""
    observed = (datetime.now(UTC) - timedelta(seconds=5)).isoformat()
    died = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    every = max(1, round(1 / register_share)) if register_share > 0 else 0
    updates = []
    for index, pin in enumerate(pins):
        death = every and index % every == every - 1
        number = f"{(index * 7919 + int(run[-3:], 36) + 3) % 10**10:010d}"
        updates.append(
            {
                "idempotency_key": f"{run}-mixed-{index}",
                "legal_basis": "Luật Hộ tịch 2014, Điều 33" if death else "Luật Bảo hiểm xã hội 2024, Điều 16",
                "person": {"pin": pin},
                "fields": {"death_date": died} if death else {"health_insurance_card_number": f"DN401{number}"},
                "observed_at": observed,
            }
        )
    return [updates[start : start + BATCH] for start in range(0, len(updates), BATCH)]


def name_batches(database: Database, pins: list[str], run: str) -> list[list[dict[str, Any]]]:
    with database.read_session() as session:
        query = select(Person.pin, Person.full_name).where(Person.pin.in_(pins))
        names: dict[str, str] = {row.pin: row.full_name for row in session.execute(query)}
    observed = datetime.now(UTC).isoformat()
    updates = [
        {
            "idempotency_key": f"{run}-name-{index}",
            "legal_basis": "Quyết định cải chính hộ tịch",
            "person": {"pin": pin},
            "fields": {"full_name": names[pin] + " An"},
            "observed_at": observed,
        }
        for index, pin in enumerate(pins)
    ]
    return [updates[start : start + BATCH] for start in range(0, len(updates), BATCH)]


CLK_TCK = os.sysconf("SC_CLK_TCK")


def server_cpu(database: Database) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend connected to the benchmark's database (other work on the
    same server, such as a test suite, is left out)."""
    with database.read_session() as session:
        pids = session.scalars(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")).all()
    seconds: dict[int, float] = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        seconds[int(pid)] = (int(fields[11]) + int(fields[12])) / CLK_TCK
    return seconds


def drive(
    database: Database, gate: PartnerGate, authorization: str, batches: list[list[dict[str, Any]]]
) -> dict[str, Any]:
    outcomes: dict[str, int] = {}
    postgres = database.backend == "postgresql"
    before = server_cpu(database) if postgres else {}
    cpu, started = time.process_time(), time.perf_counter()
    for batch in batches:
        answers, _transaction = handle(database, gate, authorization=authorization, updates=batch, action="sync.batch")
        for answer in answers:
            key = answer.code or answer.outcome.value
            outcomes[key] = outcomes.get(key, 0) + 1
    finished = time.perf_counter()
    client = time.process_time() - cpu
    after = server_cpu(database) if postgres else {}
    server = sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())
    return {
        "updates": sum(len(batch) for batch in batches),
        "started": started,
        "finished": finished,
        "client_cpu": client,
        "server_cpu": server,
        "outcomes": outcomes,
    }


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One phase over every client: wall time from the first start to the last finish."""
    total = sum(run["updates"] for run in runs)
    seconds = max(run["finished"] for run in runs) - min(run["started"] for run in runs)
    outcomes: dict[str, int] = {}
    for run in runs:
        for key, count in run["outcomes"].items():
            outcomes[key] = outcomes.get(key, 0) + count
    client = sum(run["client_cpu"] for run in runs)
    # Clients side by side read the same backends: the largest reading covers them all.
    server = max(run["server_cpu"] for run in runs)
    return {
        "updates": total,
        "seconds": round(seconds, 3),
        "per_second": round(total / seconds) if seconds else 0,
        "client_cpu_us": round(client / total * 1e6) if total else 0,
        "server_cpu_us": round(server / total * 1e6) if total else 0,
        "outcomes": outcomes,
    }


def wire(*, outbox: bool) -> None:
    if outbox:
        configure()
    else:
        # Diagnostic: the sync path's own cost, with the packages' handlers except the outbox's.
        events.subscribe(PersonDied, cancel_cards_at_death)


def client_phases(
    url: str, authorization: str, phases: list[list[list[dict[str, Any]]]], *, outbox: bool, ready: Any = None
) -> list[dict[str, Any]]:
    """One client: each phase's batches in turn (a client process builds its own engine and gate)."""
    wire(outbox=outbox)
    database = Database(url, pool_size=2)
    settings = Settings(profile=Profile.TEST, database_url=url, secret_key=SECRET, pin_key=SECRET)
    gate = PartnerGate(database, settings)
    # The benchmark holds every batch of every phase from the start, which a serving process never does
    # (a request's updates are freed with it): leave them out of the collector's full passes.
    gc.freeze()
    results = []
    for phase in phases:
        if ready is not None:
            ready.wait()  # every client starts each phase together
        results.append(drive(database, gate, authorization, phase))
    database.dispose()
    return results


def _client_process(arguments: tuple[str, str, list[list[list[dict[str, Any]]]], bool, Any]) -> list[dict[str, Any]]:
    url, authorization, phases, outbox, ready = arguments
    return client_phases(url, authorization, phases, outbox=outbox, ready=ready)


def run_clients(
    url: str, authorization: str, phases: list[list[list[dict[str, Any]]]], *, clients: int, outbox: bool
) -> list[Any]:
    """Each phase's batches dealt out to ``clients`` processes; one summary per phase."""
    if clients == 1:
        return [summarise([run]) for run in client_phases(url, authorization, phases, outbox=outbox)]
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        ready = manager.Barrier(clients)
        shares = [[phase[number::clients] for phase in phases] for number in range(clients)]
        with context.Pool(clients) as pool:
            per_client = pool.map(_client_process, [(url, authorization, share, outbox, ready) for share in shares])
    return [summarise([runs[index] for runs in per_client]) for index in range(len(phases))]


@contextmanager
def fresh_copy(url: str) -> Iterator[str]:
    """A copy of the register to measure on, dropped afterwards."""
    if url.startswith("sqlite"):
        source = Path(url.split(":///", 1)[1])
        target = source.with_name(f"{source.stem}-bench-{os.getpid()}{source.suffix}")
        shutil.copyfile(source, target)
        try:
            yield f"sqlite:///{target}"
        finally:
            for leftover in target.parent.glob(f"{target.name}*"):
                leftover.unlink()
        return
    base, _, name = url.rpartition("/")
    copy = f"{name}_bench_{os.getpid()}"
    admin = create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{copy}" TEMPLATE "{name}"'))
    try:
        yield f"{base}/{copy}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{copy}" WITH (FORCE)'))
        admin.dispose()


def measure(
    url: str, *, updates: int, names: int, seed: int, outbox: bool, clients: int, register_share: float
) -> dict[str, Any]:
    database = Database(url, pool_size=4)
    with database.read_session() as session:
        persons = int(session.scalar(select(func.count()).select_from(Person)) or 0)
    run = f"r{os.getpid() % 10_000:04d}{int(time.time()) % 1000:03d}"
    partner_id = f"bench-{run}"
    authorization = prepare_agency(database, partner_id)
    pins = sample_pins(database, 2 * updates + names, seed)
    identifiers = identifier_batches(pins[:updates], run)
    corrections = name_batches(database, pins[updates : updates + names], run)
    mixed = mixed_batches(pins[updates + names :], run, register_share)
    backend = database.backend
    database.dispose()
    first, replay, renamed, traffic = run_clients(
        url, authorization, [identifiers, identifiers, corrections, mixed], clients=clients, outbox=outbox
    )
    return {
        "database": backend,
        "outbox": outbox,
        "persons": persons,
        "batch": BATCH,
        "clients": clients,
        "identifiers": first,
        "replays": replay,
        "name_corrections": renamed,
        "register_share": register_share,
        "mixed": traffic,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--databases", required=True, help="Comma-separated URLs of registers to measure.")
    parser.add_argument("--updates", type=int, default=50_000, help="Identifier updates (distinct persons).")
    parser.add_argument("--names", type=int, default=5_000, help="Name corrections (through the registry).")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--clients", type=int, default=1, help="Processes applying batches side by side.")
    parser.add_argument(
        "--register-share",
        type=float,
        default=0.01,
        help="Share of deaths among the mixed traffic's updates (the rest: health-insurance numbers).",
    )
    parser.add_argument("--fresh", action="store_true", help="Measure on a copy of each register, then drop it.")
    parser.add_argument(
        "--without-outbox", action="store_true", help="Diagnostic: leave out the outbox's handler of history events."
    )
    arguments = parser.parse_args()
    results = []
    for url in (url.strip() for url in arguments.databases.split(",") if url.strip()):
        with fresh_copy(url) if arguments.fresh else nullcontext(url) as target:
            results.append(
                measure(
                    target,
                    updates=arguments.updates,
                    names=arguments.names,
                    seed=arguments.seed,
                    outbox=not arguments.without_outbox,
                    clients=arguments.clients,
                    register_share=arguments.register_share,
                )
            )
    table = Table(
        title=f"Sync updates applied end to end, batches of {BATCH} ({platform.processor() or platform.machine()})"
    )
    columns = ("database", "persons", "clients", "kind", "updates", "seconds", "updates/s", "CPU µs/update", "outcomes")
    for column in columns:
        table.add_column(column)
    for result in results:
        for kind in ("identifiers", "replays", "name_corrections", "mixed"):
            figures = result[kind]
            cpu = f"{figures['client_cpu_us']:,}" + (
                f" + server {figures['server_cpu_us']:,}" if result["database"] == "postgresql" else ""
            )
            table.add_row(
                result["database"],
                f"{result['persons']:,}",
                str(result["clients"]),
                kind,
                f"{figures['updates']:,}",
                f"{figures['seconds']:.2f}",
                f"{figures['per_second']:,}",
                cpu,
                ", ".join(f"{key} {value}" for key, value in sorted(figures["outcomes"].items())),
            )
    console.print(table)
    load = os.getloadavg()
    summary = {"benchmark": "sync", "cpus": os.cpu_count(), "load_average": [round(x, 2) for x in load]}
    print(json.dumps(summary | {"results": results}))  # noqa: T201


if __name__ == "__main__":
    main()
