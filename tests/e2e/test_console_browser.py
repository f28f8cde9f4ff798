"""The officials' console in a real browser: Debian's Chromium driven by Playwright against the real
application served by uvicorn on a free localhost port.

Runs on each database backend (the ``database`` fixture), with the fixtures of tests/e2e/conftest.py.
Chromium is the system one (``/usr/bin/chromium``); Playwright never downloads a browser here. Without
Chromium the test is skipped with the reason, except where ``CI`` is set: there it fails.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from browser_builders import browser_sign_in
from builders import BA_DINH, add_official
from popreg.kit.database import Database

pytestmark = pytest.mark.browser

NAME = "Trần Thị Ánh Nguyệt"


def test_an_official_registers_a_person_finds_them_without_accents_and_reads_their_history(
    browser: Browser, console_url: str, database: Database, tmp_path: Path
) -> None:
    add_official(database, username="officer", jurisdiction_code=BA_DINH)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    browser_sign_in(page, console_url)
    page.screenshot(path=tmp_path / "home.png", full_page=True)

    page.get_by_role("navigation", name="Điều hướng chính").get_by_role("link", name="Đăng ký công dân").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Đăng ký công dân mới")
    # Sent without a name nor a sex: the form comes back with the problems listed and focused.
    page.get_by_role("button", name="Đăng ký và cấp số định danh").click()
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("Chưa nhập họ, chữ đệm và tên.")
    expect(summary).to_contain_text("Chưa chọn giới tính.")
    expect(summary).to_be_focused()
    page.screenshot(path=tmp_path / "register-errors.png", full_page=True)

    page.get_by_label("Họ, chữ đệm và tên").fill(NAME)
    page.get_by_label("Ngày, tháng, năm sinh").fill("1995-03-08")
    page.get_by_label("Nữ", exact=True).check()
    page.get_by_label("Địa chỉ thường trú").fill("Số 5, phố Kim Mã")
    page.get_by_label("Xã, phường thường trú (mã)").fill(BA_DINH)
    page.get_by_label("Căn cứ pháp lý").fill("Trích lục khai sinh số 45/1995 ngày 10/03/1995, UBND phường Ba Đình")
    page.get_by_role("button", name="Đăng ký và cấp số định danh").click()

    expect(page.get_by_role("status")).to_contain_text("Đã đăng ký công dân và cấp số định danh cá nhân")
    pin = page.locator(".person-header__pin").inner_text().strip()
    assert re.fullmatch(r"001\d{9}", pin), pin

    page.get_by_role("navigation", name="Điều hướng chính").get_by_role("link", name="Tra cứu công dân").click()
    page.get_by_label("Họ tên hoặc số định danh").fill("tran thi anh")
    page.get_by_role("button", name="Tìm kiếm").click()
    result = page.get_by_role("link", name=NAME)
    expect(result).to_be_visible()
    page.screenshot(path=tmp_path / "search.png", full_page=True)
    result.click()

    expect(page).to_have_url(re.compile(rf"/console/persons/{pin}$"))
    history = page.get_by_role("region", name="Lịch sử thay đổi")
    expect(history.get_by_role("heading", name="Đăng ký công dân, cấp số định danh")).to_be_visible()
    expect(history.get_by_role("heading", name="Đăng ký thường trú")).to_be_visible()
    expect(history).to_contain_text("Trích lục khai sinh số 45/1995")
    expect(history).to_contain_text("Cán bộ officer")
    page.screenshot(path=tmp_path / "person.png", full_page=True)

    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=tmp_path / "person-phone.png", full_page=True)
    page.close()


def _register(page: Page, console_url: str, *, full_name: str, birth_date: str, sex: str) -> str:
    """Register a person through the form, living at the officer's commune; returns the PIN issued."""
    page.goto(f"{console_url}/console/persons/new")
    page.get_by_label("Họ, chữ đệm và tên").fill(full_name)
    page.get_by_label("Ngày, tháng, năm sinh").fill(birth_date)
    page.get_by_label(sex, exact=True).check()
    page.get_by_label("Địa chỉ thường trú").fill("Số 5, phố Kim Mã")
    page.get_by_label("Xã, phường thường trú (mã)").fill(BA_DINH)
    page.get_by_label("Căn cứ pháp lý").fill("Trích lục khai sinh số 45/1965, UBND phường Ba Đình")
    page.get_by_role("button", name="Đăng ký và cấp số định danh").click()
    expect(page.get_by_role("status")).to_contain_text("Đã đăng ký công dân và cấp số định danh cá nhân")
    return page.locator(".person-header__pin").inner_text().strip()


def test_an_official_opens_a_household_with_a_head_and_adds_the_spouse(
    browser: Browser, console_url: str, database: Database, tmp_path: Path
) -> None:
    add_official(database, username="officer", jurisdiction_code=BA_DINH)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    browser_sign_in(page, console_url)
    head = _register(page, console_url, full_name="Trần Văn Hùng", birth_date="1965-04-02", sex="Nam")
    spouse = _register(page, console_url, full_name="Lê Thị Hoa", birth_date="1968-09-10", sex="Nữ")

    page.goto(f"{console_url}/console/persons/{head}")
    page.get_by_role("link", name="Lập hộ mới (làm chủ hộ)").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Lập hộ gia đình mới")
    # The form starts at the head's permanent address, with the commune's name beside its code.
    expect(page.get_by_label("Địa chỉ (số nhà, đường phố, thôn, tổ)")).to_have_value("Số 5, phố Kim Mã")
    expect(page.locator("#field-unit_code-unit")).to_have_text("Đơn vị: Phường Ba Đình, Thành phố Hà Nội")
    page.get_by_label("Căn cứ pháp lý").fill("Hồ sơ đăng ký thường trú số 12/2026")
    page.get_by_role("button", name="Lập hộ", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Đã lập hộ gia đình số 00004-")

    page.get_by_label("Số định danh của thành viên").fill(spouse)
    page.get_by_label("Quan hệ với chủ hộ").select_option("spouse")
    page.get_by_label("Căn cứ pháp lý").fill("Giấy chứng nhận kết hôn số 3/1990")
    page.get_by_role("button", name="Thêm vào hộ").click()

    expect(page.get_by_role("status")).to_contain_text("Đã thêm thành viên vào hộ.")
    members = page.get_by_role("table")
    expect(members.get_by_role("row", name="Trần Văn Hùng")).to_contain_text("Chủ hộ")
    expect(members.get_by_role("row", name="Lê Thị Hoa")).to_contain_text("Vợ, chồng")
    expect(members.get_by_role("link", name="Rời hộ")).to_have_count(1)
    expect(page.get_by_role("definition").filter(has_text=head)).to_contain_text("Trần Văn Hùng")
    page.screenshot(path=tmp_path / "household.png", full_page=True)

    page.get_by_role("link", name="Lê Thị Hoa", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Lê Thị Hoa")
    household = page.get_by_role("region", name="Hộ gia đình")
    expect(household).to_contain_text("Vợ, chồng")
    expect(household.get_by_role("link", name="Trần Văn Hùng")).to_be_visible()
    page.screenshot(path=tmp_path / "spouse.png", full_page=True)
    page.close()
