"""Identity cards in the officials' console over HTTP: the person page's section, the forms of each
step, the card's pictures and files, the offline check page, refusals and messages."""

from __future__ import annotations

import json
import re
from importlib.resources import files
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from builders import BA_DINH, HOAN_KIEM, console_sign_in, register, sign_in
from popreg.cards.models import Card
from popreg.kit.database import Database
from popreg.officials.rules import Role

CARD_PAGE = re.compile(r"/console/persons/(\d{12})/cards/(\d+)\?notice=card_applied")
APPLICATION = "Tờ khai CC01 số 7 ngày 05/01/2026"


@pytest.fixture
def person_pin(client: TestClient, database: Database) -> str:
    """A person registered through the API by another official of Ba Đình."""
    headers = sign_in(client, database, username="registrar")
    pin: str = register(client, headers)["pin"]
    client.cookies.clear()
    return pin


def apply_through_form(client: TestClient, csrf: str, pin: str) -> int:
    response = client.post(
        f"/console/persons/{pin}/cards/new",
        data={"csrf_token": csrf, "kind": "first", "legal_basis": APPLICATION},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    match = CARD_PAGE.fullmatch(response.headers["location"])
    assert match and match.group(1) == pin
    return int(match.group(2))


def test_the_person_page_shows_the_card_section_and_says_a_card_is_missing_from_14(client, database, person_pin):
    console_sign_in(client, database)

    page = client.get(f"/console/persons/{person_pin}")

    assert page.status_code == 200
    assert "Thẻ căn cước" in page.text
    assert "Chưa có thẻ căn cước" in page.text
    assert "phải có thẻ căn cước (Luật Căn cước 2023, Điều 19)" in page.text
    assert f'href="/console/persons/{person_pin}/cards/new"' in page.text


def test_an_official_applies_produces_and_issues_a_card_and_gets_its_files(client, database, person_pin):
    csrf = console_sign_in(client, database)
    card_id = apply_through_form(client, csrf, person_pin)
    page = client.get(f"/console/persons/{person_pin}/cards/{card_id}?notice=card_applied")
    assert "Đã ghi nhận đề nghị cấp thẻ căn cước." in page.text
    assert "Thẻ chưa được sản xuất" in page.text

    for action in ("produce", "issue"):
        done = client.post(
            f"/console/persons/{person_pin}/cards/{card_id}/{action}",
            data={"csrf_token": csrf},
            follow_redirects=False,
        )
        assert done.status_code == 303, done.text

    page = client.get(f"/console/persons/{person_pin}/cards/{card_id}")
    assert "Còn giá trị" in page.text
    assert page.text.count("<svg ") == 2 and person_pin in page.text
    assert "IDVNM" in page.text
    pdf_link = re.search(r'href="([^"]+render\.pdf[^"]+)"', page.text)
    assert pdf_link
    pdf = client.get(pdf_link.group(1).replace("&amp;", "&"))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-disposition"].startswith("attachment;")
    person_page = client.get(f"/console/persons/{person_pin}")
    assert "Trao thẻ căn cước" in person_page.text  # the history timeline names the step
    assert "phải có thẻ căn cước" not in person_page.text


def test_a_refused_step_comes_back_with_the_reason_and_stores_nothing(client, database, person_pin):
    csrf = console_sign_in(client, database)
    card_id = apply_through_form(client, csrf, person_pin)

    again = client.post(
        f"/console/persons/{person_pin}/cards/new",
        data={"csrf_token": csrf, "kind": "first", "legal_basis": APPLICATION},
    )
    issue_first = client.post(f"/console/persons/{person_pin}/cards/{card_id}/issue", data={"csrf_token": csrf})
    no_basis = client.post(
        f"/console/persons/{person_pin}/cards/{card_id}/cancel", data={"csrf_token": csrf, "reason": "withdrawn"}
    )

    assert again.status_code == 409 and "đề nghị chưa hoàn tất" in again.text
    assert issue_first.status_code == 409 and "không cho phép bước này" in issue_first.text
    assert no_basis.status_code == 422 and 'id="field-cancel_legal_basis-error"' in no_basis.text
    with database.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(Card)) == 1
        assert session.scalar(select(Card.status)) == "applied"


def test_forms_need_the_session_csrf_token_and_auditors_see_no_forms(client, database, person_pin):
    csrf = console_sign_in(client, database)
    card_id = apply_through_form(client, csrf, person_pin)
    forged = client.post(f"/console/persons/{person_pin}/cards/{card_id}/produce", data={"csrf_token": "forged"})
    assert forged.status_code == 403
    client.cookies.clear()

    console_sign_in(client, database, username="auditor", role=Role.AUDITOR, jurisdiction_code=None)
    page = client.get(f"/console/persons/{person_pin}/cards/{card_id}")
    assert page.status_code == 200 and "/produce" not in page.text
    assert client.get(f"/console/persons/{person_pin}/cards/new").status_code == 403


def test_an_official_elsewhere_gets_the_jurisdiction_page(client, database, person_pin):
    console_sign_in(client, database, username="hoankiem", jurisdiction_code=HOAN_KIEM)

    page = client.get(f"/console/persons/{person_pin}/cards/new")

    assert page.status_code == 403
    assert "JURISDICTION_DENIED" in page.text


def test_the_check_page_compares_a_pasted_mrz_with_the_register(client, database, person_pin):
    headers = sign_in(client, database, username="issuer", jurisdiction_code=BA_DINH)
    card = client.post(
        f"/api/v1/persons/{person_pin}/cards", json={"kind": "first", "legal_basis": APPLICATION}, headers=headers
    ).json()
    for action in ("produce", "issue"):
        client.post(f"/api/v1/persons/{person_pin}/cards/{card['id']}/{action}", json={}, headers=headers)
    lines = client.get(f"/api/v1/persons/{person_pin}/cards/valid/mrz", headers=headers).json()["lines"]
    csrf = console_sign_in(client, database, username="checker", jurisdiction_code=HOAN_KIEM)

    form = client.get("/console/cards/check")
    result = client.post("/console/cards/check", data={"csrf_token": csrf, "source": "mrz", "text": "\n".join(lines)})
    empty = client.post("/console/cards/check", data={"csrf_token": csrf, "source": "qr", "text": ""})
    unreadable = client.post("/console/cards/check", data={"csrf_token": csrf, "source": "qr", "text": "hello"})

    assert form.status_code == 200 and "Kiểm tra thẻ căn cước" in form.text
    assert result.status_code == 200
    assert "Còn giá trị" in result.text and "Mọi trường khớp với Cơ sở dữ liệu." in result.text
    assert result.text.count(">Khớp<") == 5
    assert empty.status_code == 422 and "Chưa nhập nội dung" in empty.text
    assert unreadable.status_code == 422 and "Không đọc được số định danh" in unreadable.text


CARD_SOURCES = ("cards/rules.py", "cards/service.py", "cards/checks.py")


@pytest.mark.parametrize("language", ["vi", "en"])
def test_every_card_error_code_has_a_message_in_each_language(language):
    root = Path(str(files("popreg")))
    codes = set()
    for name in CARD_SOURCES:
        codes.update(re.findall(r'code="([A-Z][A-Z0-9_]+)"', (root / name).read_text(encoding="utf-8")))
    catalogue = json.loads((root / "web" / "locales" / f"{language}.json").read_text(encoding="utf-8"))
    assert {"CARD_RENEWAL_NOT_DUE", "CARD_TRANSITION_INVALID", "CARD_NOT_FOUND"} <= codes
    assert sorted(code for code in codes if f"error.{code}" not in catalogue) == []
