"""The review queue in a real browser: social insurance sends a number it observed before another agency
set a different one, the update is queued, and an official of the person's commune opens the queue,
reads what the agency sent and accepts it: the register then holds the social insurance's number. Debian's
Chromium through Playwright, against the real application served by uvicorn, on each database backend.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from browser_builders import browser_sign_in
from builders import BA_DINH, add_official, register_over_http
from popreg.kit.database import Database
from popreg.sync.models import PersonIdentifier
from sync_builders import add_agency, update_body

pytestmark = pytest.mark.browser


def test_an_official_resolves_a_queued_conflict(
    browser: Browser,
    console_url: str,
    database: Database,
    tmp_path: Path,
) -> None:
    add_official(database, username="officer", jurisdiction_code=BA_DINH)
    pin = register_over_http(console_url, full_name="Đỗ Văn Hùng", sex="M", birth_date="1950-02-03")
    vssid = add_agency(database, "vssid", write_fields=["social_insurance_number"])
    bhxh = add_agency(database, "bhxh", write_fields=["social_insurance_number"])
    with httpx.Client(base_url=console_url, timeout=20) as api:
        first = api.post(
            "/api/v1/sync/updates",
            json=update_body(
                pin, "v-1", social_insurance_number="1111111111", observed_at=datetime.now(UTC).isoformat()
            ),
            headers=vssid,
        )
        stale = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
        queued = api.post(
            "/api/v1/sync/updates",
            json=update_body(pin, "b-1", social_insurance_number="0123456789", observed_at=stale),
            headers=bhxh,
        )
    assert first.json()["outcome"] == "applied", first.text
    assert (queued.status_code, queued.json()["code"]) == (202, "SYNC_CONFLICT_NEWER_VALUE"), queued.text

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    browser_sign_in(page, console_url)
    page.get_by_role("link", name="Cập nhật từ cơ quan cần xử lý").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Cập nhật từ cơ quan cần xử lý")
    row = page.get_by_role("row", name=pin)
    expect(row).to_contain_text("bhxh")
    expect(row).to_contain_text("Cơ sở dữ liệu đã nhận giá trị mới hơn từ nguồn khác")
    page.screenshot(path=tmp_path / "reviews.png", full_page=True)
    row.get_by_role("link", name=pin).click()

    expect(page.get_by_role("heading", level=1)).to_have_text(f"Cập nhật số {queued.json()['update_id']}")
    expect(page.get_by_text("0123456789")).to_be_visible()
    page.get_by_label("Ghi chú").fill("Đã đối chiếu sổ BHXH của công dân")
    page.screenshot(path=tmp_path / "review.png", full_page=True)
    page.get_by_role("button", name="Chấp nhận và áp dụng").click()

    expect(page.get_by_role("status")).to_contain_text("Cập nhật đã được áp dụng")
    expect(page.get_by_text("Không có cập nhật nào chờ ở đây.")).to_be_visible()
    page.get_by_role("link", name="Đã chấp nhận").click()
    expect(page.get_by_role("row", name=pin)).to_contain_text("bhxh")
    page.close()
    with database.unit_of_work() as session:
        held = session.scalar(
            select(PersonIdentifier.value).where(PersonIdentifier.scheme == "social_insurance_number")
        )
    assert held == "0123456789"
