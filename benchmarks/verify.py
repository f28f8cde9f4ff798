"""Benchmark: the query-and-verify gateway on a register of N synthetic persons.

For each register (an SQLite file or a PostgreSQL URL already holding a synthetic population, e.g.
made by ``popreg synth --people 10000000 --seed 7 --into-db``), it:

1. registers a benchmark partner with a key and a generous policy, and gets an access token from
   ``POST /api/v1/oauth/token`` (client credentials, private_key_jwt), as an integrator would;
2. samples persons and writes request bodies: 80 % with the right name, date of birth and sex, 20 %
   with a wrong name;
3. serves the platform with ``popreg serve --workers W --no-access-log`` and drives it with ``wrk``
   (C, one thread per core) at 64 connections: single verifications, then batches of 1,000;
4. reads the CPU time of the server's processes and of wrk from /proc before and after, so the CPU
   cost per request is the server's own, and reports the server's resident memory;
5. measures, in one process without HTTP, the CPU per verification of the full path (token check,
   policy, register read, comparison, signature, durable log entry) against the bare one (register
   read and comparison only).

Every answer in these runs is authenticated, signed and logged before it is sent. Prints a table and
one JSON line. Usage::

    .venv/bin/python benchmarks/verify.py --databases sqlite:////data/verify-1m.db,sqlite:////data/verify-10m.db
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import msgspec
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select, text

from popreg.audit.group_commit import GroupCommitLog
from popreg.kit.clock import today_in_vietnam
from popreg.kit.database import Database
from popreg.kit.migrations import upgrade
from popreg.kit.settings import Settings
from popreg.registry.models import Person
from popreg.sharing import service
from popreg.sharing.credentials import client_assertion, generate_key_pair
from popreg.sharing.gate import PartnerGate
from popreg.sharing.gateway import Gateway, VerifyRequest, _verify_decoder
from popreg.sharing.lookup import FactsLookup
from popreg.sharing.models import PartnerKey
from popreg.sharing.rules import MatchMode, verify_claims
from popreg.sharing.schemas import PartnerCreate, PartnerKind, PolicyIn
from popreg.sharing.signing import AnswerSigner

console = Console(stderr=True)
PARTNER = "bench-bank"
SECRET = "benchmark-secret-key-of-at-least-32-chars"  # noqa: S105 - a throwaway benchmark register
CLK_TCK = os.sysconf("SC_CLK_TCK")


def prepare_partner(database: Database) -> dict[str, str]:
    """A partner allowed everything a bank may verify, with a quota no run reaches; its private key."""
    private, public = generate_key_pair("ES256")
    with database.unit_of_work() as session:
        existing = {partner.id for partner in service.get_all(session)}
        if PARTNER not in existing:
            service.create(
                session,
                actor=service.CLI_OPERATOR,
                data=PartnerCreate(id=PARTNER, name="Benchmark Bank", kind=PartnerKind.BUSINESS),
            )
        service.set_policy(
            session,
            actor=service.CLI_OPERATOR,
            partner_id=PARTNER,
            data=PolicyIn(
                operations=["verify"],
                verify_fields=["full_name", "birth_date", "sex"],
                read_fields=[],
                purposes=["account-opening"],
                daily_quota=1_000_000_000,
                rate_per_second=1_000_000.0,
                burst=1_000_000,
            ),
        )
        active = session.execute(
            select(PartnerKey.kid).where(PartnerKey.partner_id == PARTNER, PartnerKey.status == "active")
        ).scalars()
        for kid in list(active):  # a partner holds at most five active keys: each run brings its own
            service.retire_key(session, actor=service.CLI_OPERATOR, partner_id=PARTNER, kid=kid)
        service.add_key(session, actor=service.CLI_OPERATOR, partner_id=PARTNER, jwk=public)
    return private


def sample_bodies(database: Database, count: int, seed: int = 7) -> list[dict[str, Any]]:
    """Requests about persons picked at random: 80 % right claims, 20 % a wrong name."""
    randomiser = random.Random(seed)
    with database.read_session() as session:
        top = session.execute(select(func.max(Person.id))).scalar_one()
        ids = randomiser.sample(range(1, top + 1), min(count, top))
        rows = session.execute(
            select(Person.pin, Person.full_name, Person.birth_date, Person.birth_date_precision, Person.sex).where(
                Person.id.in_(ids)
            )
        ).all()
    bodies = []
    for pin, full_name, birth_date, precision, sex in rows:
        shown = {"year": birth_date.strftime("%Y"), "month": birth_date.strftime("%Y-%m")}.get(
            precision, birth_date.isoformat()
        )
        name = full_name if randomiser.random() < 0.8 else "Trần Văn Sai"
        bodies.append(
            {"pin": pin, "purpose": "account-opening", "claims": {"full_name": name, "birth_date": shown, "sex": sex}}
        )
    return bodies


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def process_tree(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, stack = [], [pid]
    while stack:
        current = stack.pop()
        found.append(current)
        stack.extend(children.get(current, []))
    return found


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (children are counted by their own pid)
    return total / CLK_TCK


def resident_mib(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


WRK_SCRIPT = """
local bodies = {}
local count = 0
local index = 0
init = function(args)
  for line in io.lines(args[1]) do
    count = count + 1
    bodies[count] = line
  end
  index = math.random(count)
end
request = function()
  index = index % count + 1
  return wrk.format("POST", args_path, {["Content-Type"] = "application/json",
    ["Authorization"] = args_token}, bodies[index])
end
"""


def run_wrk(
    port: int, path: str, token: str, bodies_file: Path, *, connections: int, seconds: int, threads: int
) -> dict[str, Any]:
    script = bodies_file.with_suffix(".lua")
    script.write_text(
        WRK_SCRIPT.replace("args_path", json.dumps(path)).replace("args_token", json.dumps(f"Bearer {token}"))
    )
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "-s",
        str(script),
        f"http://127.0.0.1:{port}",
        "--",
        str(bodies_file),
    ]
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)  # noqa: S603 - our own command
    assert process.stdout is not None  # noqa: S101 - piped above
    output = process.stdout.read()
    _, _, usage = os.wait4(process.pid, 0)
    process.returncode = 0
    elapsed = time.monotonic() - started
    figures: dict[str, Any] = {
        "wall_seconds": round(elapsed, 1),
        "load_generator_cpu_share": round((usage.ru_utime + usage.ru_stime) / elapsed / (os.cpu_count() or 1), 2),
    }
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    figures["requests_per_second"] = float(rate.group(1)) if rate else 0.0
    for label in ("50", "90", "99"):
        found = re.search(rf"\s{label}%\s+([\d.]+)(us|ms|s)", output)
        if found:
            value = float(found.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[found.group(2)]
            figures[f"p{label}_ms"] = round(value, 2)
    total = re.search(r"(\d+) requests in", output)
    figures["requests"] = int(total.group(1)) if total else 0
    non_ok = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    figures["non_2xx"] = int(non_ok.group(1)) if non_ok else 0
    errors = re.search(r"Socket errors: (.*)", output)
    figures["socket_errors"] = errors.group(1) if errors else ""
    return figures


def serve(url: str, port: int, workers: int, folder: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "POPREG_DATABASE_URL": url,
        "POPREG_SECRET_KEY": SECRET,
        "POPREG_GATEWAY_WORKERS": str(workers),
    }
    process = subprocess.Popen(  # noqa: S603 - our own command line
        [
            str(Path(sys.executable).parent / "popreg"),
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--no-access-log",
        ],
        env=env,
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError("the server did not start")


def get_token(port: int, private: dict[str, str]) -> str:
    token_url = f"http://127.0.0.1:{port}/api/v1/oauth/token"
    response = httpx.post(
        token_url,
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": client_assertion(private, partner_id=PARTNER, token_url=token_url),
        },
    )
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


def http_figures(
    url: str, bodies: list[dict[str, Any]], private: dict[str, str], *, workers: int, seconds: int, folder: Path
) -> dict[str, Any]:
    port = free_port()
    singles = folder / "singles.jsonl"
    singles.write_text("\n".join(json.dumps(body, ensure_ascii=False) for body in bodies) + "\n")
    batches = folder / "batches.jsonl"
    with batches.open("w") as out:
        for start in range(0, min(len(bodies), 20_000), 1000):
            items = [{"pin": body["pin"], "claims": body["claims"]} for body in bodies[start : start + 1000]]
            out.write(json.dumps({"purpose": "account-opening", "items": items}, ensure_ascii=False) + "\n")
    server = serve(url, port, workers, folder)
    try:
        token = get_token(port, private)
        pids = process_tree(server.pid)
        run_wrk(port, "/api/v1/verify", token, singles, connections=64, seconds=3, threads=2)  # warm-up
        before = cpu_seconds(pids)
        single = run_wrk(port, "/api/v1/verify", token, singles, connections=64, seconds=seconds, threads=2)
        single["server_cpu_us_per_request"] = round((cpu_seconds(pids) - before) / max(single["requests"], 1) * 1e6, 1)
        before = cpu_seconds(pids)
        batch = run_wrk(port, "/api/v1/verify/batch", token, batches, connections=4, seconds=seconds, threads=2)
        batch["verifications_per_second"] = round(batch["requests_per_second"] * 1000)
        batch["server_cpu_us_per_verification"] = round(
            (cpu_seconds(pids) - before) / max(batch["requests"] * 1000, 1) * 1e6, 2
        )
        memory = resident_mib(process_tree(server.pid))
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    return {"single": single, "batch": batch, "server_rss_mib": round(memory, 1)}


def in_process_figures(url: str, bodies: list[dict[str, Any]], *, requests: int) -> dict[str, Any]:
    """CPU per verification in one process: the full path against the bare comparison."""
    settings = Settings(database_url=url, secret_key=SECRET)
    database = Database(url)
    gate = PartnerGate(database, settings)
    gate.refresh()
    from popreg.sharing.credentials import access_token_key, issue_access_token

    token, _ = issue_access_token(
        key=access_token_key(SECRET),
        partner_id=PARTNER,
        scope=("verify",),
        policy_version=0,
        lifetime_seconds=600,
        now=int(time.time()),
    )
    authorization = f"Bearer {token}"
    encoded = [msgspec.json.encode(body) for body in bodies]
    gateway = Gateway(
        gate=gate,
        signer=AnswerSigner.from_settings(settings),
        log=GroupCommitLog(url),
        lookup=FactsLookup(url),
        refresh_seconds=60,
    )
    gateway.start()
    today = today_in_vietnam()

    async def bare(body: bytes) -> bytes:
        request: VerifyRequest = _verify_decoder.decode(body)
        facts = await gateway.lookup.get((request.pin,))
        verdict = verify_claims(
            request.claims.to_claims(),
            facts.get(request.pin),
            mode=MatchMode(request.mode),
            threshold=0.85,
            today=today,
        )
        return msgspec.json.encode(verdict.attributes)

    async def full(body: bytes) -> bytes:
        return (await gateway.verify(body, authorization))[1]

    async def drive(call: Any) -> float:
        started = time.process_time()
        for start in range(0, requests, 64):
            await asyncio.gather(*(call(encoded[(start + i) % len(encoded)]) for i in range(64)))
        return (time.process_time() - started) / requests * 1e6

    async def measure() -> dict[str, float]:
        await drive(bare)
        figures = {"bare_cpu_us": [], "full_cpu_us": []}
        for _ in range(3):
            figures["bare_cpu_us"].append(await drive(bare))
            figures["full_cpu_us"].append(await drive(full))
        return {name: round(statistics.median(values), 1) for name, values in figures.items()}

    try:
        result = asyncio.run(measure())
    finally:
        gateway.close()
        database.dispose()
    result["full_to_bare"] = round(result["full_cpu_us"] / result["bare_cpu_us"], 2)
    return result


def bulk_claims_file(database: Database, rows: int, folder: Path) -> Path:
    """A Parquet file of ``rows`` claims (PIN, name, date of birth, sex) taken from the register in
    PIN order, every tenth with a wrong name, as a partner's own customer file would be."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    with database.read_session() as session:
        result = session.execute(
            select(Person.pin, Person.full_name, Person.birth_date, Person.sex).order_by(Person.pin).limit(rows)
        )
        pins, names, born, sexes = [], [], [], []
        for pin, name, birth_date, sex in result:
            pins.append(pin)
            names.append(name if len(pins) % 10 else "Trần Văn Sai")
            born.append(birth_date.isoformat())
            sexes.append(sex)
    path = folder / f"claims-{rows}.parquet"
    pq.write_table(pa.table({"pin": pins, "full_name": names, "birth_date": born, "sex": sexes}), path)
    return path


def bulk_figures(url: str, claims: Path, private: dict[str, str], folder: Path) -> dict[str, Any]:
    """Submit the file to a served platform and wait for the job: seconds from upload to completion."""
    port = free_port()
    server = serve(url, port, 1, folder)
    try:
        token = get_token(port, private)
        headers = {"Authorization": f"Bearer {token}"}
        started = time.monotonic()
        with claims.open("rb") as upload:
            submitted = httpx.post(
                f"http://127.0.0.1:{port}/api/v1/verify/bulk",
                headers=headers,
                data={"purpose": "account-opening"},
                files={"file": (claims.name, upload, "application/octet-stream")},
                timeout=600,
            )
        submitted.raise_for_status()
        job_id = submitted.json()["job_id"]
        status: dict[str, Any] = {}
        while time.monotonic() - started < 3600:
            status = httpx.get(f"http://127.0.0.1:{port}/api/v1/verify/bulk/{job_id}", headers=headers).json()
            if status["status"] in ("completed", "failed"):
                break
            time.sleep(0.5)
        seconds = time.monotonic() - started
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
    return {
        "rows": status.get("rows_total"),
        "status": status.get("status"),
        "seconds": round(seconds, 1),
        "rows_per_second": round((status.get("rows_total") or 0) / seconds),
        "counts": status.get("counts"),
    }


def count_persons(database: Database) -> int:
    with database.read_session() as session:
        return int(session.execute(text("SELECT count(*) FROM persons")).scalar_one())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--databases", required=True, help="Comma-separated URLs of registers to measure.")
    parser.add_argument("--workers", default="1,2", help="Server processes to try, comma-separated.")
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--sample", type=int, default=20_000)
    parser.add_argument("--in-process-requests", type=int, default=20_000)
    parser.add_argument("--bulk-rows", type=int, default=0, help="Also verify a file of this many rows as a job.")
    parser.add_argument("--only-bulk", action="store_true", help="Skip the single and batch measurements.")
    arguments = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed (Debian package 'wrk').")
    results: list[dict[str, Any]] = []
    for url in arguments.databases.split(","):
        database = Database(url)
        upgrade(database)
        persons = count_persons(database)
        console.print(f"[bold]{url.split('@')[-1]}[/bold]: {persons:,} persons")
        private = prepare_partner(database)
        bodies = sample_bodies(database, arguments.sample)
        if arguments.bulk_rows:
            with tempfile.TemporaryDirectory() as folder:
                claims = bulk_claims_file(database, arguments.bulk_rows, Path(folder))
                bulk = bulk_figures(url, claims, private, Path(folder))
            console.print(f"  bulk: {bulk}")
            results.append({"backend": url.split(":")[0].split("+")[0], "persons": persons, "bulk": bulk})
        database.dispose()
        if arguments.only_bulk:
            continue
        in_process = in_process_figures(url, bodies, requests=arguments.in_process_requests)
        console.print(f"  in process: {in_process}")
        for workers in (int(value) for value in arguments.workers.split(",")):
            with tempfile.TemporaryDirectory() as folder:
                figures = http_figures(
                    url, bodies, private, workers=workers, seconds=arguments.seconds, folder=Path(folder)
                )
            console.print(f"  {workers} worker(s): {figures}")
            results.append(
                {
                    "backend": url.split(":")[0].split("+")[0],
                    "persons": persons,
                    "workers": workers,
                    **figures,
                    "in_process": in_process,
                }
            )
    table = Table(title=f"Verification gateway ({platform.machine()}, {os.cpu_count()} cores)")
    for column in (
        "backend",
        "persons",
        "workers",
        "verify req/s",
        "p50 ms",
        "p99 ms",
        "server CPU µs/req",
        "batch verif/s",
        "RSS MiB",
        "full/bare CPU",
    ):
        table.add_column(column, justify="right")
    for row in results:
        if "bulk" in row:
            continue
        single, batch = row["single"], row["batch"]
        table.add_row(
            row["backend"],
            f"{row['persons']:,}",
            str(row["workers"]),
            f"{single['requests_per_second']:,.0f}",
            str(single.get("p50_ms")),
            str(single.get("p99_ms")),
            str(single["server_cpu_us_per_request"]),
            f"{batch['verifications_per_second']:,}",
            str(row["server_rss_mib"]),
            f"{row['in_process']['full_cpu_us']} / {row['in_process']['bare_cpu_us']} = "
            f"{row['in_process']['full_to_bare']}",
        )
    Console().print(table)
    print(json.dumps({"benchmark": "verify", "machine": platform.node(), "results": results}))  # noqa: T201


if __name__ == "__main__":
    main()
