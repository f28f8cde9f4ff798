"""The review of likely duplicates in a real browser: an official opens a cluster, compares the two
records side by side, merges them, and the retired PIN's page leads to the record kept.

Debian's Chromium driven by Playwright against the real application served by uvicorn, on each
database backend (the fixtures of tests/e2e/conftest.py). The cluster is written directly through the
ORM models, as a run of ``popreg match dedupe`` stores it. Without Chromium the test is skipped, except
where ``CI`` is set.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from browser_builders import browser_sign_in
from builders import BA_DINH, add_official, register_over_http
from duplicate_builders import MERGE_BASIS, add_cluster, candidate_statuses
from popreg.kit.database import Database

pytestmark = pytest.mark.browser

NAME = "Nguyễn Thị Minh Khai"


def test_an_official_opens_a_cluster_compares_the_records_and_merges_them(
    browser: Browser, console_url: str, database: Database, tmp_path: Path
) -> None:
    add_official(database, username="officer", jurisdiction_code=BA_DINH)
    kept = register_over_http(console_url)
    duplicate = register_over_http(console_url, permanent_residence=None, ethnicity_code="02")
    run_id, cluster_id = add_cluster(database, [kept, duplicate], probabilities=[0.99, 0.98])
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    browser_sign_in(page, console_url)

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
