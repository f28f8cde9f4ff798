"""Running ``popreg audit verify`` as an operator would: a separate process on the test database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from popreg.kit.database import Database


@pytest.fixture
def audit_verify(database: Database) -> Callable[[], tuple[int, dict[str, Any]]]:
    """``popreg audit verify`` against the test database: its exit code and its JSON report."""

    def run() -> tuple[int, dict[str, Any]]:
        env = {**os.environ, "POPREG_DATABASE_URL": database.url}
        result = subprocess.run(
            [sys.executable, "-m", "popreg", "audit", "verify"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        return result.returncode, json.loads(result.stdout)

    return run
