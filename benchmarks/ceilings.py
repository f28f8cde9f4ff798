"""Benchmark: what this machine's parts can do at best, beneath popreg's own code.

The bulk and gateway goals (issues 3 and 5) are judged against these floors and ceilings, measured
on the same machine with nothing of popreg's logic in the way:

1. **ingest**: the ``persons`` rows of a synthetic population, already converted (Python tuples for
   SQLite's ``executemany``, CSV bytes for PostgreSQL's ``COPY``), written in one transaction into a
   fresh, migrated register, with the register's indexes and with only the primary key and the
   unique PIN. No validation, no history events, no residences, no outbox: the most an import of
   persons could ever reach on this database.
2. **read**: the same rows read back through ADBC (C, straight into Arrow; what ``popreg export`` uses)
   and through Python's ``sqlite3``, and the rate at which Arrow encodes them as zstd Parquet in memory:
   the most an export could ever reach.
3. **http**: a bare ASGI application (reads and parses the JSON body, answers a constant JSON of the
   size of a verification answer) served by uvicorn with uvloop and httptools, one process, driven by
   ``wrk`` at 64 connections on the same cores: the most a Python gateway process could answer, and
   the CPU each request costs before any authentication, lookup, signature or log.
4. **signature**: the CPU of one ES256 signature of a verification answer by popreg's signer.

Prints a table and one JSON line::

    .venv/bin/python benchmarks/ceilings.py [--people 1000000] [--skip ingest,read,http,signature]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import adbc_driver_postgresql.dbapi as adbc_postgresql
import adbc_driver_sqlite.dbapi as adbc_sqlite
import psycopg
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from cryptography.hazmat.primitives.asymmetric import ec
from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from popreg.kit.clock import utc_now
from popreg.kit.database import Database
from popreg.kit.migrations import upgrade
from popreg.registry import bulk
from popreg.sharing.signing import AnswerSigner
from popreg.synth.generator import generate_population
from verify import cpu_seconds, free_port, process_tree, run_wrk

POSTGRES_ADMIN_URL = os.environ.get("POPREG_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
DATABASE = "popreg_ceilings"
console = Console(stderr=True)


def persons_table(people: int) -> pa.Table:
    population = generate_population(people, seed=11)
    return bulk.person_rows(population, pa.array(range(1, people + 1), pa.int64()), utc_now())


def fresh_postgresql() -> str:
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{DATABASE}"'))
    admin.dispose()
    url = postgresql_url()
    upgrade(Database(url))
    return url


def postgresql_url() -> str:
    return make_url(POSTGRES_ADMIN_URL).set(database=DATABASE).render_as_string(hide_password=False)


def libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def secondary_indexes(connection: Any, sql: str) -> list[str]:
    return [row[0] for row in connection.execute(sql).fetchall()]


def ingest_sqlite(rows: pa.Table, path: Path, *, indexed: bool) -> float:
    columns = rows.column_names
    values = list(zip(*(bulk._sqlite_column(rows.column(i)) for i in range(rows.num_columns)), strict=True))
    path.unlink(missing_ok=True)
    upgrade(Database(f"sqlite:///{path}"))
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute("PRAGMA cache_size=-524288")
    if not indexed:
        for name in secondary_indexes(
            connection,
            "SELECT name FROM sqlite_master WHERE type='index' AND tbl_name='persons' AND sql NOT LIKE '%UNIQUE%'",
        ):
            connection.execute(f"DROP INDEX {name}")
    statement = f"INSERT INTO persons ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"  # noqa: S608
    started = time.perf_counter()
    connection.execute("BEGIN")
    for start in range(0, len(values), 100_000):
        connection.executemany(statement, values[start : start + 100_000])
    connection.execute("COMMIT")
    seconds = time.perf_counter() - started
    connection.close()
    return seconds


def ingest_postgresql(rows: pa.Table, *, indexed: bool) -> float:
    url = fresh_postgresql()
    buffer = io.BytesIO()
    pa_csv.write_csv(rows, buffer, pa_csv.WriteOptions(include_header=False, quoting_style="all_valid"))
    data = buffer.getvalue()
    with psycopg.connect(libpq(url)) as connection:
        if not indexed:
            for name in secondary_indexes(
                connection,
                "SELECT indexname FROM pg_indexes WHERE tablename = 'persons' "
                "AND indexdef NOT LIKE '%UNIQUE%' AND indexname NOT LIKE 'pk_%'",
            ):
                connection.execute(f"DROP INDEX {name}")
        connection.commit()
        started = time.perf_counter()
        with (
            connection.cursor() as cursor,
            cursor.copy(f"COPY persons ({', '.join(rows.column_names)}) FROM STDIN (FORMAT csv)") as copy,
        ):
            for start in range(0, len(data), 1 << 20):
                copy.write(data[start : start + (1 << 20)])
        connection.commit()
        return time.perf_counter() - started


def read_adbc(connect: Any, target: str, rows: int) -> float:
    started = time.perf_counter()
    with connect(target) as connection, connection.cursor() as cursor:
        if connect is adbc_sqlite.connect:
            cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(rows)})
        cursor.execute("SELECT * FROM persons ORDER BY id")
        # One batch for SQLite: the driver takes each column's type from the first batch, and a
        # column that is null all through it would be taken for an integer.
        read = sum(batch.num_rows for batch in cursor.fetch_record_batch())
    seconds = time.perf_counter() - started
    assert read == rows  # noqa: S101
    return seconds


def read_sqlite3(path: Path) -> float:
    started = time.perf_counter()
    connection = sqlite3.connect(path)
    cursor = connection.execute("SELECT * FROM persons ORDER BY id")
    while cursor.fetchmany(100_000):
        pass
    connection.close()
    return time.perf_counter() - started


def lookup_us(pins: list[str], path: Path, url: str) -> tuple[float, float]:
    """CPU microseconds per PIN looked up, 1,000 random PINs per query (the verification facts)."""
    rng = random.Random(5)
    columns = "pin, full_name, birth_date, sex, life_status"
    sqlite_connection = sqlite3.connect(path)
    postgresql_connection = psycopg.connect(libpq(url))
    sqlite_times, postgresql_times = [], []
    for _ in range(30):
        batch = rng.sample(pins, 1000)
        started = time.process_time()
        found = sqlite_connection.execute(
            f"SELECT {columns} FROM persons WHERE pin IN ({', '.join('?' for _ in batch)})",  # noqa: S608
            batch,
        ).fetchall()
        sqlite_times.append((time.process_time() - started) / len(batch) * 1e6)
        assert len(found) == len(batch)  # noqa: S101
        started, wall = time.process_time(), time.perf_counter()
        found = postgresql_connection.execute(
            f"SELECT {columns} FROM persons WHERE pin IN (SELECT unnest(%s::text[]))",  # noqa: S608
            (batch,),
        ).fetchall()
        # PostgreSQL works in its own process: count the wall time, which includes its CPU.
        postgresql_times.append((time.perf_counter() - wall) / len(batch) * 1e6)
        assert len(found) == len(batch)  # noqa: S101
    sqlite_connection.close()
    postgresql_connection.close()
    return round(statistics.median(sqlite_times), 2), round(statistics.median(postgresql_times), 2)


def parquet_encode(rows: pa.Table) -> float:
    started = time.perf_counter()
    pq.write_table(rows, io.BytesIO(), compression="zstd", row_group_size=1_000_000)
    return time.perf_counter() - started


BARE_APP = textwrap.dedent(
    """
    import orjson

    ANSWER = orjson.dumps({"transaction_id": "0" * 36, "partner_id": "bench", "request_sha256": "0" * 64,
        "answered_at": "2026-11-27T00:00:00Z", "mode": "normalised", "result": "match",
        "attributes": {"full_name": "match", "birth_date": "match", "sex": "match"}, "signature": "s" * 180})

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        orjson.loads(body)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": ANSWER})
    """
)


def bare_http(seconds: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        (folder / "bare_app.py").write_text(BARE_APP)
        bodies = folder / "bodies.jsonl"
        bodies.write_text(
            json.dumps(
                {
                    "pin": "001190012345",
                    "purpose": "kyc",
                    "claims": {"full_name": "Nguyễn Văn An", "birth_date": "1990-01-01", "sex": "M"},
                }
            )
            + "\n"
        )
        port = free_port()
        server = subprocess.Popen(  # noqa: S603 - our own command line
            [
                str(Path(sys.executable).parent / "uvicorn"),
                "--app-dir",
                str(folder),
                "bare_app:app",
                "--loop",
                "uvloop",
                "--http",
                "httptools",
                "--no-access-log",
                "--log-level",
                "warning",
                "--port",
                str(port),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(2)
            run_wrk(port, "/", "none", bodies, connections=64, seconds=3, threads=2)
            before = cpu_seconds(process_tree(server.pid))
            figures = run_wrk(port, "/", "none", bodies, connections=64, seconds=seconds, threads=2)
            used = cpu_seconds(process_tree(server.pid)) - before
        finally:
            server.terminate()
            server.wait()
    figures["server_cpu_us_per_request"] = round(used / max(figures["requests"], 1) * 1e6, 1)
    return figures


def signature_us(calls: int = 5_000) -> float:
    signer = AnswerSigner(ec.generate_private_key(ec.SECP256R1()))
    payload = json.dumps({"transaction_id": "0" * 36, "result": "match", "attributes": {"full_name": "match"}}).encode()
    timings = []
    for _ in range(5):
        started = time.process_time()
        for _ in range(calls // 5):
            signer.signed_json(payload)
        timings.append((time.process_time() - started) / (calls // 5) * 1e6)
    return round(statistics.median(timings), 1)


def rate(rows: int, seconds: float) -> int:
    return round(rows / seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=int, default=10, help="Length of the HTTP run.")
    parser.add_argument("--skip", default="", help="Comma-separated parts to leave out.")
    arguments = parser.parse_args()
    skip = set(filter(None, arguments.skip.split(",")))
    results: dict[str, Any] = {"people": arguments.people}
    lines: list[tuple[str, str, str]] = []
    if not {"ingest", "read"} <= skip:
        rows = persons_table(arguments.people)
        with tempfile.TemporaryDirectory() as name:
            path = Path(name) / "ceiling.db"
            if "ingest" not in skip:
                for indexed in (False, True):
                    label = "register's indexes" if indexed else "primary key and unique PIN only"
                    sqlite_rate = rate(rows.num_rows, ingest_sqlite(rows, path, indexed=indexed))
                    postgresql_rate = rate(rows.num_rows, ingest_postgresql(rows, indexed=indexed))
                    results[f"ingest_{'indexed' if indexed else 'bare'}"] = {
                        "sqlite_rows_per_second": sqlite_rate,
                        "postgresql_rows_per_second": postgresql_rate,
                    }
                    lines.append((f"ingest persons, {label}", f"{sqlite_rate:,} rows/s", f"{postgresql_rate:,} rows/s"))
                    console.print(lines[-1])
            if "read" not in skip:
                if not path.exists():
                    ingest_sqlite(rows, path, indexed=True)
                    ingest_postgresql(rows, indexed=True)
                results["read"] = {
                    "sqlite_adbc_rows_per_second": rate(
                        rows.num_rows, read_adbc(adbc_sqlite.connect, str(path), rows.num_rows)
                    ),
                    "sqlite_python_rows_per_second": rate(rows.num_rows, read_sqlite3(path)),
                    "postgresql_adbc_rows_per_second": rate(
                        rows.num_rows, read_adbc(adbc_postgresql.connect, libpq(postgresql_url()), rows.num_rows)
                    ),
                    "parquet_zstd_encode_rows_per_second": rate(rows.num_rows, parquet_encode(rows)),
                }
                sqlite_lookup, postgresql_lookup = lookup_us(rows["pin"].to_pylist(), path, postgresql_url())
                results["lookup_us_per_pin"] = {"sqlite_cpu": sqlite_lookup, "postgresql_wall": postgresql_lookup}
                read = results["read"]
                lines.append(
                    (
                        "read persons (ADBC)",
                        f"{read['sqlite_adbc_rows_per_second']:,} rows/s",
                        f"{read['postgresql_adbc_rows_per_second']:,} rows/s",
                    )
                )
                lines.append(
                    (
                        "look up PINs, 1,000 per query",
                        f"{sqlite_lookup} µs CPU per PIN",
                        f"{postgresql_lookup} µs wall per PIN",
                    )
                )
                lines.append(
                    ("read persons (Python sqlite3, tuples)", f"{read['sqlite_python_rows_per_second']:,} rows/s", "-")
                )
                lines.append(
                    (
                        "encode persons as zstd Parquet (Arrow)",
                        f"{read['parquet_zstd_encode_rows_per_second']:,} rows/s",
                        "",
                    )
                )
    if "http" not in skip and shutil.which("wrk"):
        http = bare_http(arguments.seconds)
        results["bare_http"] = http
        lines.append(
            (
                "bare ASGI on uvicorn, 64 connections",
                f"{http['requests_per_second']:,.0f} req/s, p50 {http['p50_ms']} ms, p99 {http['p99_ms']} ms",
                f"{http['server_cpu_us_per_request']} µs CPU/request",
            )
        )
    if "signature" not in skip:
        results["es256_signature_cpu_us"] = signature_us()
        lines.append(
            ("ES256 signature of an answer (popreg's signer)", f"{results['es256_signature_cpu_us']} µs CPU", "")
        )

    table = Table(
        title=f"Ceilings of this machine ({platform.machine()}, {os.cpu_count()} cores, {arguments.people:,} persons)"
    )
    table.add_column("what")
    table.add_column("SQLite / figure", justify="right")
    table.add_column("PostgreSQL / figure", justify="right")
    for line in lines:
        table.add_row(*line)
    Console().print(table)
    load = os.getloadavg()
    print(
        json.dumps(
            {
                "benchmark": "ceilings",
                "machine": {
                    "cpus": os.cpu_count(),
                    "arch": platform.machine(),
                    "load_average": [round(x, 2) for x in load],
                },
                "results": results,
            }
        )
    )


if __name__ == "__main__":
    main()
