"""The data-quality dashboard in a real browser: a national official opens it from the main navigation,
reads the four headline measures with their counts and trend lines, and goes down to one province.
Debian's Chromium through Playwright, against the application served by uvicorn, on each backend.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import update

from browser_builders import browser_sign_in
from builders import add_official
from popreg.kit.database import Database
from popreg.officials.rules import Role
from popreg.quality import service
from popreg.registry.models import Person
from quality_builders import AS_OF, build_known_register

pytestmark = pytest.mark.browser


def test_a_national_official_reads_the_quality_dashboard_and_one_province(
    browser: Browser,
    console_url: str,
    database: Database,
    tmp_path: Path,
) -> None:
    persons = build_known_register(database)
    add_official(database, username="officer", role=Role.NATIONAL_ADMIN, jurisdiction_code=None)
    for completed in (None, "year_only_1", "year_only_2"):
        if completed:
            with database.unit_of_work() as session:
                session.execute(
                    update(Person).where(Person.id == persons[completed].id).values(birth_date_precision="day")
                )
        with database.unit_of_work() as session:
            service.take_snapshot(session, taken_by="test", as_of=AS_OF)

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    browser_sign_in(page, console_url)
    page.get_by_role("navigation", name="Điều hướng chính").get_by_role("link", name="Chất lượng dữ liệu").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Chất lượng dữ liệu – Việt Nam")
    expect(page.locator("#quality-source")).to_contain_text("Số liệu của lần đo 3")

    complete = page.locator('.quality-headline[data-measure="complete"]')
    expect(complete).to_contain_text("Đủ")
    # Officials completed two year-only dates of birth between the snapshots: 5, 6, then 7 of 9.
    expect(complete).to_contain_text("77,8 %")
    expect(complete).to_contain_text("7 trên 9")
    # Three snapshots: every headline draws its trend as a line a screen reader can also read.
    expect(complete.get_by_role("img")).to_have_accessible_name("Trong 3 lần đo gần nhất: từ 55,6 % đến 77,8 %.")

    measures = page.get_by_role("region", name="Tất cả chỉ số – Việt Nam")
    expect(measures.get_by_role("row", name="Ngày sinh đủ ngày, tháng, năm")).to_contain_text("100,0 %")
    expect(measures.get_by_role("row", name="Hồ sơ nghi trùng chờ xử lý")).to_contain_text("22,2 %")
    page.screenshot(path=tmp_path / "quality-national.png", full_page=True)

    provinces = page.get_by_role("region", name="Các tỉnh, thành phố")
    expect(provinces.get_by_role("row")).to_have_count(3)  # the header and two provinces
    provinces.get_by_role("link", name="Thành phố Hồ Chí Minh").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Chất lượng dữ liệu – Thành phố Hồ Chí Minh")
    expect(page.locator('.quality-headline[data-measure="complete"]')).to_contain_text("0 trên 1")
    expect(page.get_by_role("link", name="Chất lượng dữ liệu").last).to_be_visible()
    page.screenshot(path=tmp_path / "quality-province.png", full_page=True)

    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=tmp_path / "quality-phone.png", full_page=True)
    page.close()
