"""The review of likely duplicates in a real browser: an official opens a cluster, compares the two
records side by side, merges them, and the retired PIN's page leads to the record kept.

Debian's Chromium driven by Playwright against the real application served by uvicorn, on each
database backend. The cluster is written directly through the ORM models, as a run of
``popreg match dedupe`` stores it. Without Chromium the test is skipped, except where ``CI`` is set.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, expect, sync_playwright

from builders import BA_DINH, PASSWORD, add_official, register_over_http
from duplicate_builders import MERGE_BASIS, add_cluster, candidate_statuses
from popreg.app import create_app
from popreg.kit.database import Database
from popreg.kit.settings import Settings

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
NAME = "Nguyễn Thị Minh Khai"


@pytest.fixture
def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        reason = "Debian's Chromium is not installed (apt-get install chromium); the browser test needs it"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def console_url(settings: Settings, database: Database) -> Iterator[str]:
    """The real application, served by uvicorn in a background thread."""
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, database), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, name="duplicates-console-server", daemon=True)
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


def test_an_official_opens_a_cluster_compares_the_records_and_merges_them(
    browser: Browser, console_url: str, database: Database, tmp_path: Path
) -> None:
    add_official(database, username="officer", jurisdiction_code=BA_DINH)
    kept = register_over_http(console_url)
    duplicate = register_over_http(console_url, permanent_residence=None, ethnicity_code="02")
    run_id, cluster_id = add_cluster(database, [kept, duplicate], probabilities=[0.99, 0.98])
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{console_url}/console")
    page.get_by_label("Tên đăng nhập").fill("officer")
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Xin chào, Officer")

    page.get_by_role("navigation", name="Điều hướng chính").get_by_role("link", name="Hồ sơ nghi trùng").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Hồ sơ nghi trùng lặp")
    page.get_by_role("link", name=f"Cụm {cluster_id} (lượt {run_id})").click()
    comparison = page.get_by_test_id("cluster-comparison")
    expect(comparison).to_contain_text(kept)
    expect(comparison).to_contain_text(duplicate)
    # The records differ in ethnicity only: that row, and no other, is marked.
    expect(comparison.locator("tr[data-differs]")).to_have_count(1)
    expect(comparison.locator("tr[data-differs]")).to_contain_text("Dân tộc")
    page.screenshot(path=tmp_path / "cluster.png", full_page=True)

    page.get_by_role("group", name="Hồ sơ được giữ").get_by_label(f"{NAME} · {kept}").check()
    page.get_by_role("group", name="Hồ sơ trùng bị hủy").get_by_label(f"{NAME} · {duplicate}").check()
    page.get_by_label("Căn cứ pháp lý").fill(MERGE_BASIS)
    page.get_by_role("button", name="Hợp nhất hồ sơ").click()

    expect(page.get_by_role("status")).to_contain_text("Đã hợp nhất hồ sơ")
    expect(page.get_by_role("button", name="Hợp nhất hồ sơ")).to_have_count(0)
    assert {status for status, _ in candidate_statuses(database, run_id, cluster_id).values()} == {"merged"}
    page.goto(f"{console_url}/console/persons/{duplicate}")
    expect(page.get_by_test_id("merged-into")).to_contain_text(kept)
    page.get_by_test_id("merged-into").get_by_role("link").click()
    expect(page).to_have_url(re.compile(rf"/console/persons/{kept}$"))
    expect(page.locator(".person-header__pin")).to_have_text(kept)
    page.screenshot(path=tmp_path / "kept.png", full_page=True)
