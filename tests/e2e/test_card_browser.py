"""Identity cards in a real browser: an official applies for a card, has it produced and issued, looks
at its front and back, and downloads its PDF. Debian's Chromium through Playwright, against the real
application served by uvicorn, on each database backend (the fixtures of tests/e2e/conftest.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from browser_builders import browser_sign_in
from builders import BA_DINH, add_official, register_over_http
from popreg.kit.database import Database

pytestmark = pytest.mark.browser
NAME = "Nguyễn Thị Minh Khai"


def test_an_official_issues_a_card_and_downloads_its_rendering(
    browser: Browser,
    console_url: str,
    database: Database,
    tmp_path: Path,
) -> None:
    add_official(database, username="officer", jurisdiction_code=BA_DINH)
    pin = register_over_http(console_url, full_name=NAME)
    page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    browser_sign_in(page, console_url)

    page.goto(f"{console_url}/console/persons/{pin}")
    section = page.get_by_role("region", name="Thẻ căn cước").first
    expect(section).to_contain_text("Chưa có thẻ căn cước")
    section.get_by_role("link", name="Đề nghị cấp thẻ").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Đề nghị cấp thẻ căn cước")
    expect(page.get_by_label("Cấp lần đầu")).to_be_checked()
    page.get_by_label("Căn cứ pháp lý").fill("Tờ khai CC01 số 125 ngày 02/01/2026")
    page.get_by_role("button", name="Ghi nhận đề nghị").click()
    expect(page.get_by_role("status")).to_contain_text("Đã ghi nhận đề nghị cấp thẻ căn cước")

    page.get_by_role("button", name="Đã sản xuất thẻ").click()
    expect(page.get_by_role("status")).to_contain_text("Đã ghi nhận thẻ đã được sản xuất")
    page.get_by_role("button", name="Đã trao thẻ").click()
    expect(page.get_by_role("status")).to_contain_text("Đã ghi nhận trao thẻ cho công dân")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Còn giá trị")
    front = page.get_by_role("img", name=re.compile("mặt trước"))
    expect(front).to_be_visible()
    expect(front).to_contain_text(pin)
    expect(page.get_by_role("img", name=re.compile("mặt sau"))).to_contain_text("IDVNM")
    page.screenshot(path=tmp_path / "card.png", full_page=True)

    with page.expect_download() as download_info:
        page.get_by_role("link", name="PDF, hai mặt").click()
    download = download_info.value
    assert download.suggested_filename == f"can-cuoc-{pin}-both.pdf"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    assert saved.read_bytes().startswith(b"%PDF")

    page.goto(f"{console_url}/console/persons/{pin}")
    expect(page.get_by_role("region", name="Thẻ căn cước").first).to_contain_text("Còn giá trị")
    history = page.get_by_role("region", name="Lịch sử thay đổi")
    expect(history.get_by_role("heading", name="Trao thẻ căn cước")).to_be_visible()
    page.screenshot(path=tmp_path / "person-with-card.png", full_page=True)

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{console_url}/console/persons/{pin}/cards/1")
    page.screenshot(path=tmp_path / "card-phone.png", full_page=True)
    page.close()
