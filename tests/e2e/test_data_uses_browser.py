"""Consents and data uses in a real browser: an official opens a person, records the consent the citizen
signed at the counter, a bank then reads the person through the API, and the official sees that read in
the list of who used the person's data. Debian's Chromium through Playwright, against the real
application served by uvicorn, on each database backend (the fixtures of tests/e2e/conftest.py).
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from browser_builders import browser_sign_in
from builders import BA_DINH, add_official, register_over_http
from popreg.kit.database import Database
from sharing_builders import access_token, add_partner, bearer

pytestmark = pytest.mark.browser
NAME = "Phạm Thị Thu Hà"


def test_an_official_records_a_consent_and_sees_the_banks_read_among_the_data_uses(
    browser: Browser,
    console_url: str,
    database: Database,
    tmp_path: Path,
) -> None:
    add_official(database, username="officer", jurisdiction_code=BA_DINH)
    add_partner(database, partner_id="vietbank", read_fields=["full_name", "birth_date", "permanent_address"])
    pin = register_over_http(console_url, full_name=NAME)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    browser_sign_in(page, console_url)

    page.goto(f"{console_url}/console/persons/{pin}")
    section = page.get_by_role("region", name="Đồng ý chia sẻ dữ liệu").first
    expect(section).to_contain_text("Công dân chưa đồng ý chia sẻ dữ liệu với doanh nghiệp nào.")
    section.get_by_role("link", name="Ghi nhận sự đồng ý").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Ghi nhận sự đồng ý chia sẻ dữ liệu")
    page.get_by_label("Doanh nghiệp").select_option("vietbank")
    page.get_by_label("Mục đích").fill("account-opening")
    page.get_by_label("Họ, chữ đệm và tên").check()
    page.get_by_label("Ngày, tháng, năm sinh").check()
    page.get_by_label("Căn cứ", exact=True).fill("Phiếu đồng ý chia sẻ dữ liệu số 15/2026 ngày 02/01/2026")
    page.get_by_role("button", name="Ghi nhận sự đồng ý").click()
    expect(page.get_by_role("status")).to_contain_text("Đã ghi nhận sự đồng ý của công dân.")
    expect(page.get_by_role("row", name="Vietbank")).to_contain_text("Còn hiệu lực")
    page.screenshot(path=tmp_path / "consents.png", full_page=True)

    with httpx.Client(base_url=console_url, timeout=20) as api:
        answer = api.post(
            "/api/v1/persons/read",
            json={"pin": pin, "purpose": "account-opening", "fields": ["full_name", "birth_date"]},
            headers={"Authorization": bearer(access_token("vietbank"))},
        )
    assert answer.status_code == 200, answer.text
    assert answer.json()["attributes"]["full_name"]["value"] == NAME

    page.goto(f"{console_url}/console/persons/{pin}")
    section = page.get_by_role("region", name="Đồng ý chia sẻ dữ liệu").first
    expect(section.get_by_role("row", name="Vietbank")).to_contain_text("Còn hiệu lực")
    section.scroll_into_view_if_needed()
    page.screenshot(path=tmp_path / "person-consents.png")
    section.get_by_role("link", name="Ai đã sử dụng dữ liệu").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ai đã sử dụng dữ liệu")
    bank_read = page.get_by_role("row", name="Vietbank")
    expect(bank_read).to_contain_text("Đọc thông tin (eKYC)")
    expect(bank_read).to_contain_text("account-opening")
    expect(bank_read).to_contain_text("Được chấp nhận")
    expect(bank_read).to_contain_text(answer.json()["transaction_id"])
    expect(page.get_by_role("row", name="officer").first).to_contain_text("Cán bộ")
    page.screenshot(path=tmp_path / "data-uses.png", full_page=True)

    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=tmp_path / "data-uses-phone.png", full_page=True)
    page.close()
