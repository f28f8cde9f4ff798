"""A verification server killed with SIGKILL under load: every answer it gave is in the access log."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from sqlalchemy import select

from popreg.audit.models import AccessLogEntry
from popreg.audit.service import verify_log
from popreg.kit.database import Database
from sharing_builders import TEST_KEY, access_token, add_partner, bearer


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _serve(database: Database, port: int, folder: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "POPREG_PROFILE": "test",
        "POPREG_DATABASE_URL": database.url,
        "POPREG_SECRET_KEY": TEST_KEY,
        "POPREG_PIN_KEY": TEST_KEY,
    }
    process = subprocess.Popen(  # noqa: S603 - our own command line
        [sys.executable, "-m", "popreg", "serve", "--port", str(port)],
        env=env,
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            assert process.poll() is None, "the server stopped before it served"
            time.sleep(0.2)
    process.kill()
    raise AssertionError("the server did not start within a minute")


def test_every_answer_given_before_a_kill_is_in_the_access_log(database: Database, tmp_path: Path):
    add_partner(database, daily_quota=1_000_000, rate_per_second=100_000.0, burst=100_000)
    token = access_token("vietbank")
    port = _free_port()
    process = _serve(database, port, tmp_path)
    answered: list[tuple[int, str]] = []
    stop = threading.Event()
    lock = threading.Lock()

    def load(worker: int) -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            sequence = 0
            while not stop.is_set():
                sequence += 1
                claims = {"sex": "F"} if sequence % 5 else {"shoe_size": "42"}  # some refused, also answered
                try:
                    response = http.post(
                        "/api/v1/verify",
                        json={"pin": f"0011{worker:02d}{sequence:06d}", "purpose": "account-opening", "claims": claims},
                        headers={"Authorization": bearer(token)},
                    )
                except httpx.HTTPError:
                    return
                with lock:
                    answered.append((response.status_code, response.headers["x-transaction-id"]))

    workers = [threading.Thread(target=load, args=(number,)) for number in range(8)]
    for worker in workers:
        worker.start()
    try:
        deadline = time.monotonic() + 30
        while len(answered) < 300 and time.monotonic() < deadline:
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        stop.set()
        if process.poll() is None:
            process.kill()
        for worker in workers:
            worker.join(timeout=15)

    assert len(answered) >= 300
    assert {status for status, _ in answered} == {200, 422}
    with database.read_session() as session:
        logged = set(session.execute(select(AccessLogEntry.transaction_id)).scalars())
        assert verify_log(session).intact
    missing = [transaction for _, transaction in answered if transaction not in logged]
    assert missing == []
