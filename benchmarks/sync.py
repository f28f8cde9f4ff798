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
4. sends the same batches again (every update a replay: one effect per key) and times that too.

``--without-outbox`` is a diagnostic: the same run with every package's handler except the outbox's, to
tell the sync path's own cost from that of writing the outbound events.

Prints a table and one JSON line. Usage::

    .venv/bin/python benchmarks/sync.py --databases sqlite:////tmp/sync-100k.db,postgresql+psycopg://...
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

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


def drive(
    database: Database, gate: PartnerGate, authorization: str, batches: list[list[dict[str, Any]]]
) -> dict[str, Any]:
    outcomes: dict[str, int] = {}
    started = time.perf_counter()
    for batch in batches:
        answers, _transaction = handle(database, gate, authorization=authorization, updates=batch, action="sync.batch")
        for answer in answers:
            key = answer.code or answer.outcome.value
            outcomes[key] = outcomes.get(key, 0) + 1
    seconds = time.perf_counter() - started
    total = sum(len(batch) for batch in batches)
    return {"updates": total, "seconds": round(seconds, 3), "per_second": round(total / seconds), "outcomes": outcomes}


def measure(url: str, *, updates: int, names: int, seed: int, outbox: bool) -> dict[str, Any]:
    if outbox:
        configure()
    else:
        # Diagnostic: the sync path's own cost, with the packages' handlers except the outbox's.
        events.subscribe(PersonDied, cancel_cards_at_death)
    database = Database(url, pool_size=4)
    with database.read_session() as session:
        persons = int(session.scalar(select(func.count()).select_from(Person)) or 0)
    run = f"r{os.getpid() % 10_000:04d}{int(time.time()) % 1000:03d}"
    partner_id = f"bench-{run}"
    authorization = prepare_agency(database, partner_id)
    settings = Settings(profile=Profile.TEST, database_url=url, secret_key=SECRET, pin_key=SECRET)
    gate = PartnerGate(database, settings)
    pins = sample_pins(database, updates + names, seed)
    identifiers = identifier_batches(pins[:updates], run)
    first = drive(database, gate, authorization, identifiers)
    replay = drive(database, gate, authorization, identifiers)
    corrections = drive(database, gate, authorization, name_batches(database, pins[updates : updates + names], run))
    database.dispose()
    return {
        "database": database.backend,
        "outbox": outbox,
        "persons": persons,
        "batch": BATCH,
        "identifiers": first,
        "replays": replay,
        "name_corrections": corrections,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--databases", required=True, help="Comma-separated URLs of registers to measure.")
    parser.add_argument("--updates", type=int, default=50_000, help="Identifier updates (distinct persons).")
    parser.add_argument("--names", type=int, default=5_000, help="Name corrections (through the registry).")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--without-outbox", action="store_true", help="Diagnostic: leave out the outbox's handler of history events."
    )
    arguments = parser.parse_args()
    results = [
        measure(
            url.strip(),
            updates=arguments.updates,
            names=arguments.names,
            seed=arguments.seed,
            outbox=not arguments.without_outbox,
        )
        for url in arguments.databases.split(",")
        if url.strip()
    ]
    table = Table(
        title=f"Sync updates applied end to end, batches of {BATCH} ({platform.processor() or platform.machine()})"
    )
    for column in ("database", "persons", "outbox", "kind", "updates", "seconds", "updates/s", "outcomes"):
        table.add_column(column)
    for result in results:
        for kind in ("identifiers", "replays", "name_corrections"):
            figures = result[kind]
            table.add_row(
                result["database"],
                f"{result['persons']:,}",
                "yes" if result["outbox"] else "no",
                kind,
                f"{figures['updates']:,}",
                f"{figures['seconds']:.2f}",
                f"{figures['per_second']:,}",
                ", ".join(f"{key} {value}" for key, value in sorted(figures["outcomes"].items())),
            )
    console.print(table)
    print(json.dumps({"benchmark": "sync", "cpus": os.cpu_count(), "results": results}))  # noqa: T201


if __name__ == "__main__":
    main()
