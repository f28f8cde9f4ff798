"""The README's first command: `popreg demo` builds a synthetic register and serves it."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from popreg.demo import DEMO_OFFICIALS


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def request(url: str, body: dict | None = None, headers: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    call = urllib.request.Request(  # noqa: S310 - a local test server
        url, data=data, headers={"Content-Type": "application/json", **(headers or {})}
    )
    with urllib.request.urlopen(call, timeout=10) as response:  # noqa: S310 - a local test server
        return response.status, json.loads(response.read())


def test_the_demo_builds_a_synthetic_register_and_serves_console_and_api(tmp_path: Path):
    port = free_port()
    database = tmp_path / "demo.db"
    env = {**os.environ, "POPREG_DATABASE_URL": "sqlite:///unused.db"}
    process = subprocess.Popen(
        [sys.executable, "-m", "popreg", "demo", "--people", "3000", "--db", str(database), "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                status, health = request(f"http://127.0.0.1:{port}/health")
                break
            except OSError:
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                time.sleep(0.3)
        else:
            raise AssertionError("the demo did not start serving within two minutes")
        assert (status, health["database"]) == (200, "sqlite")
        admin = next(o for o in DEMO_OFFICIALS if o.username == "admin")
        _, token = request(
            f"http://127.0.0.1:{port}/api/v1/auth/token", {"username": admin.username, "password": admin.password}
        )
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        _, found = request(f"http://127.0.0.1:{port}/api/v1/persons?name=nguyen&page_size=5", headers=headers)
        assert len(found["items"]) == 5
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/console/login", timeout=10) as page:  # noqa: S310
            assert page.status == 200
            assert "password" in page.read().decode()  # the sign-in form
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
    assert database.exists()
