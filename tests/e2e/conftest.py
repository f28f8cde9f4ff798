"""Fixtures of the browser tests: Debian's Chromium (``/usr/bin/chromium``) driven by Playwright, against
the real application served by uvicorn on a free localhost port, on each database backend (the
``database`` fixture). Playwright never downloads a browser here. Without Chromium a browser test is
skipped with the reason, except where ``CI`` is set: there it fails."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from playwright.sync_api import Browser, sync_playwright

from browser_builders import CHROMIUM_ARGS, free_port
from popreg.app import create_app
from popreg.kit.database import Database
from popreg.kit.settings import Settings


@pytest.fixture
def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        reason = "Debian's Chromium is not installed (apt-get install chromium); the browser test needs it"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return path


@pytest.fixture
def console_url(settings: Settings, database: Database) -> Iterator[str]:
    """The real application, served by uvicorn in a background thread."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, database), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, name="console-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the console server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def browser(chromium: str) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()
