"""The officials' console over HTTP: sign-in, CSRF, forms, the person page, languages, refusals."""

from __future__ import annotations

import json
import re
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from builders import BA_DINH, HOAN_KIEM, PASSWORD, add_official, register, sign_in
from popreg.audit.models import AccessLogEntry
from popreg.kit.clock import in_vietnam
from popreg.kit.database import Database
from popreg.officials.rules import Role
from popreg.registry.models import Person, PersonEvent

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
NAME = "Trần Thị Ánh Nguyệt"
LEGAL_BASIS = "Trích lục khai sinh số 45/1995 ngày 10/03/1995"


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "the page has no CSRF field"
    return match.group(1)


def console_sign_in(
    client: TestClient,
    database: Database,
    *,
    username: str = "officer",
    role: Role = Role.COMMUNE_OFFICER,
    jurisdiction_code: str | None = BA_DINH,
    create: bool = True,
) -> str:
    """Sign in through the login form; returns the session's CSRF token for the forms."""
    if create:
        add_official(database, username=username, role=role, jurisdiction_code=jurisdiction_code)
    login = client.get("/console/login")
    response = client.post(
        "/console/login",
        data={"username": username, "password": PASSWORD, "csrf_token": csrf_of(login.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return csrf_of(client.get("/console").text)


def person_form(csrf: str, **overrides: str) -> dict[str, str]:
    form = {
        "csrf_token": csrf,
        "full_name": NAME,
        "birth_date": "1995-03-08",
        "sex": "F",
        "ethnicity_code": "01",
        "religion_code": "none",
        "nationality": "VNM",
        "birth_registration_unit_code": BA_DINH,
        "residence_address": "Số 5, phố Kim Mã",
        "residence_unit_code": BA_DINH,
        "legal_basis": LEGAL_BASIS,
    }
    form.update(overrides)
    return form


def register_through_form(client: TestClient, csrf: str, **overrides: str) -> str:
    response = client.post("/console/persons/new", data=person_form(csrf, **overrides), follow_redirects=False)
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    match = re.fullmatch(r"/console/persons/(\d{12})\?notice=registered", location)
    assert match, location
    return match.group(1)


def count(database: Database, model: Any) -> int:
    with database.unit_of_work() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def field_error(html: str, field: str) -> str:
    match = re.search(rf'<p class="field__error" id="field-{field}-error">([^<]*)</p>', html)
    assert match, f"no error next to {field}"
    return match.group(1)


# ---------------------------------------------------------------------------------------------
# Signing in and out


def test_a_page_without_a_session_redirects_to_the_login_and_comes_back_after_it(client, database):
    response = client.get("/console/persons?name=tran", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/console/login?next=%2Fconsole%2Fpersons%3Fname%3Dtran"

    add_official(database)
    login = client.get(response.headers["location"])
    assert 'name="next" value="/console/persons?name=tran"' in login.text
    signed_in = client.post(
        "/console/login",
        data={
            "username": "officer",
            "password": PASSWORD,
            "csrf_token": csrf_of(login.text),
            "next": "/console/persons?name=tran",
        },
        follow_redirects=False,
    )
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == "/console/persons?name=tran"
    cookie = signed_in.headers["set-cookie"]
    assert "popreg_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie


def test_after_login_only_console_pages_are_followed_never_another_site(client, database):
    add_official(database)
    login = client.get("/console/login")
    response = client.post(
        "/console/login",
        data={
            "username": "officer",
            "password": PASSWORD,
            "csrf_token": csrf_of(login.text),
            "next": "//evil.example/console",
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/console"


def test_a_wrong_password_and_an_unknown_username_get_the_same_message(client, database):
    add_official(database)
    answers = []
    for username in ("officer", "nobody"):
        login = client.get("/console/login")
        answers.append(
            client.post(
                "/console/login",
                data={"username": username, "password": "not the password", "csrf_token": csrf_of(login.text)},
            )
        )
    for answer in answers:
        assert answer.status_code == 401
        assert "Tên đăng nhập hoặc mật khẩu không đúng." in answer.text
        assert "popreg_session=" not in answer.headers.get("set-cookie", "")
    assert answers[0].text.count("không đúng") == answers[1].text.count("không đúng")


def test_five_wrong_passwords_lock_the_account_even_though_each_login_failed(client, database):
    add_official(database)
    for _ in range(5):
        login = client.get("/console/login")
        client.post(
            "/console/login",
            data={"username": "officer", "password": "wrong password", "csrf_token": csrf_of(login.text)},
        )
    login = client.get("/console/login")
    locked = client.post(
        "/console/login", data={"username": "officer", "password": PASSWORD, "csrf_token": csrf_of(login.text)}
    )
    assert locked.status_code == 401
    assert "tạm khóa 15 phút" in locked.text


def test_the_login_form_is_refused_without_its_own_token(client, database):
    add_official(database)
    response = client.post("/console/login", data={"username": "officer", "password": PASSWORD})
    assert response.status_code == 403
    assert "Biểu mẫu đã hết hạn" in response.text
    assert "popreg_session=" not in response.headers.get("set-cookie", "")


def test_signing_out_ends_the_session(client, database):
    csrf = console_sign_in(client, database)
    response = client.post("/console/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/console/login?logged_out=1"
    assert "Bạn đã đăng xuất" in client.get(response.headers["location"]).text
    assert client.get("/console", follow_redirects=False).status_code == 303


# ---------------------------------------------------------------------------------------------
# CSRF


def test_a_form_posted_without_the_session_csrf_token_is_refused_and_changes_nothing(client, database):
    csrf = console_sign_in(client, database)
    form = person_form(csrf)
    for token in (None, "forged-token"):
        data = {key: value for key, value in form.items() if key != "csrf_token"}
        if token:
            data["csrf_token"] = token
        response = client.post("/console/persons/new", data=data)
        assert response.status_code == 403
        assert "CSRF_INVALID" in response.text
        assert "Biểu mẫu đã hết hạn hoặc không được gửi từ cổng nghiệp vụ này" in response.text
    assert count(database, Person) == 0
    refused_logout = client.post("/console/logout", data={"csrf_token": "forged-token"}, follow_redirects=False)
    assert refused_logout.status_code == 403
    assert client.get("/console", follow_redirects=False).status_code == 200


# ---------------------------------------------------------------------------------------------
# Registering a person


def test_the_register_form_shows_each_problem_next_to_its_field_and_stores_nothing(client, database):
    csrf = console_sign_in(client, database)
    log_before = count(database, AccessLogEntry)

    shape = client.post("/console/persons/new", data=person_form(csrf, full_name="", sex="", birth_date="1990-05"))
    assert shape.status_code == 422
    assert field_error(shape.text, "full_name") == "Chưa nhập họ, chữ đệm và tên."
    assert field_error(shape.text, "sex") == "Chưa chọn giới tính."
    assert '<a href="#field-full_name">Chưa nhập họ, chữ đệm và tên.</a>' in shape.text
    assert '<a href="#field-sex">Chưa chọn giới tính.</a>' in shape.text
    assert 'id="field-birth_date" name="birth_date" type="text" value="1990-05"' in shape.text

    rule = client.post(
        "/console/persons/new", data=person_form(csrf, full_name="Trần Văn Bình", sex="M", birth_date="2999-01-01")
    )
    assert rule.status_code == 422
    assert field_error(rule.text, "birth_date") == "Ngày sinh ở tương lai."
    assert 'value="Trần Văn Bình"' in rule.text
    assert 'aria-invalid="true"' in rule.text

    unit = client.post("/console/persons/new", data=person_form(csrf, residence_unit_code="99999"))
    assert unit.status_code == 422
    assert "Mã này không phải một xã, phường" in field_error(unit.text, "residence_unit_code")

    assert count(database, Person) == 0
    assert count(database, PersonEvent) == 0
    assert count(database, AccessLogEntry) == log_before


def test_registering_through_the_form_opens_the_person_page_with_the_history_timeline(client, database):
    csrf = console_sign_in(client, database)
    pin = register_through_form(client, csrf)

    page = client.get(f"/console/persons/{pin}?notice=registered")
    assert page.status_code == 200
    text = page.text
    assert f"Đã đăng ký công dân và cấp số định danh cá nhân {pin}." in text
    assert f'<h1 class="page-title person-header__name">{NAME}</h1>' in text
    assert "Đăng ký công dân, cấp số định danh" in text
    assert "Đăng ký thường trú" in text
    assert LEGAL_BASIS in text
    assert "Cán bộ officer" in text
    assert "Công an Phường Ba Đình" in text
    assert "Ngày hiệu lực" in text and "08/03/1995" in text
    with database.unit_of_work() as session:
        recorded = session.scalars(select(PersonEvent.recorded_at)).first()
    assert recorded is not None
    assert in_vietnam(recorded).strftime("%d/%m/%Y %H:%M") in text
    assert "Phường Ba Đình, Thành phố Hà Nội" in text


def test_search_finds_a_person_without_accents_and_a_pin_opens_their_page(client, database):
    csrf = console_sign_in(client, database)
    pin = register_through_form(client, csrf)

    found = client.get("/console/persons", params={"name": "tran thi anh"})
    assert found.status_code == 200
    assert f'<a href="/console/persons/{pin}">{NAME}</a>' in found.text

    nobody = client.get("/console/persons", params={"name": "le van"})
    assert "Không tìm thấy công dân phù hợp" in nobody.text
    assert "Phường Ba Đình, Thành phố Hà Nội" in nobody.text

    by_pin = client.get("/console/persons", params={"name": pin}, follow_redirects=False)
    assert by_pin.status_code == 303
    assert by_pin.headers["location"] == f"/console/persons/{pin}"


def test_search_results_come_in_pages(client, database):
    headers = sign_in(client, database)
    for number in range(21):
        register(client, headers, full_name=f"Phạm Văn {chr(ord('A') + number)}", permanent_residence=None)
    console_sign_in(client, database, create=False)

    first = client.get("/console/persons", params={"name": "pham van"})
    assert first.text.count('<th scope="row"><a href="/console/persons/') == 20
    assert 'href="/console/persons?name=pham+van&amp;page=2" rel="next"' in first.text
    second = client.get("/console/persons", params={"name": "pham van", "page": 2})
    assert second.text.count('<th scope="row"><a href="/console/persons/') == 1
    assert 'rel="prev"' in second.text and 'rel="next"' not in second.text


def test_a_malformed_search_is_shown_next_to_its_field(client, database):
    console_sign_in(client, database)
    response = client.get("/console/persons", params={"birth_date": "12/05/1990"})
    assert response.status_code == 422
    assert "Ngày chưa đúng" in field_error(response.text, "birth_date")


# ---------------------------------------------------------------------------------------------
# Changing a person


def test_a_change_of_name_appears_in_the_timeline_with_before_and_after(client, database):
    csrf = console_sign_in(client, database)
    pin = register_through_form(client, csrf)
    form = client.get(f"/console/persons/{pin}/edit")
    version = re.search(r'name="expected_version" value="(\d+)"', form.text)
    assert version

    changed = client.post(
        f"/console/persons/{pin}/edit",
        data={
            "csrf_token": csrf,
            "full_name": "Trần Thị Ánh Nguyệt Minh",
            "sex": "F",
            "birth_date": "1995-03-08",
            "legal_basis": "Quyết định cải chính hộ tịch số 7/2026",
            "expected_version": version.group(1),
        },
        follow_redirects=False,
    )
    assert changed.status_code == 303
    assert changed.headers["location"] == f"/console/persons/{pin}?notice=changed"

    page = client.get(changed.headers["location"]).text
    assert "Đã lưu thay đổi vào hồ sơ." in page
    assert "Điều chỉnh thông tin" in page
    assert f'<td class="changes__before">{NAME}</td>' in page
    assert '<td class="changes__after">Trần Thị Ánh Nguyệt Minh</td>' in page
    assert "Quyết định cải chính hộ tịch số 7/2026" in page

    stale = client.post(
        f"/console/persons/{pin}/edit",
        data={
            "csrf_token": csrf,
            "full_name": "Trần Thị Minh",
            "legal_basis": "Quyết định số 8/2026",
            "expected_version": version.group(1),
        },
    )
    assert stale.status_code == 409
    assert "Hồ sơ đã được thay đổi sau khi bạn mở biểu mẫu" in stale.text
    assert 'value="Trần Thị Minh"' in stale.text


def test_recording_a_death_checks_the_date_and_then_closes_the_life_events(client, database):
    csrf = console_sign_in(client, database)
    pin = register_through_form(client, csrf)

    future = client.post(
        f"/console/persons/{pin}/death",
        data={"csrf_token": csrf, "death_date": "2999-01-01", "legal_basis": "Trích lục khai tử số 3/2026"},
    )
    assert future.status_code == 422
    assert field_error(future.text, "death_date") == "Ngày này ở tương lai."

    recorded = client.post(
        f"/console/persons/{pin}/death",
        data={"csrf_token": csrf, "death_date": "2024-02-03", "legal_basis": "Trích lục khai tử số 3/2024"},
        follow_redirects=False,
    )
    assert recorded.status_code == 303
    page = client.get(recorded.headers["location"]).text
    assert "Đã ghi nhận khai tử." in page
    assert "Khai tử" in page and "03/02/2024" in page
    assert f"/console/persons/{pin}/death" not in page
    assert f"/console/persons/{pin}/residences/new" not in page


def test_a_second_permanent_residence_needs_the_move_box_and_then_ends_the_first(client, database):
    csrf = console_sign_in(client, database)
    pin = register_through_form(client, csrf)
    move = {
        "csrf_token": csrf,
        "kind": "permanent",
        "address_line": "Số 9, phố Đội Cấn",
        "unit_code": BA_DINH,
        "unit_generation": "2025",
        "legal_basis": "Hồ sơ đăng ký thường trú số 5/2026",
    }

    elsewhere = client.post(f"/console/persons/{pin}/residences/new", data={**move, "unit_code": HOAN_KIEM})
    assert elsewhere.status_code == 403
    assert "nằm ngoài phạm vi quản lý của bạn" in elsewhere.text
    assert 'value="Số 9, phố Đội Cấn"' in elsewhere.text

    refused = client.post(f"/console/persons/{pin}/residences/new", data=move)
    assert refused.status_code == 409
    assert "Chuyển nơi thường trú" in refused.text

    moved = client.post(
        f"/console/persons/{pin}/residences/new", data={**move, "end_current": "on"}, follow_redirects=False
    )
    assert moved.status_code == 303
    page = client.get(moved.headers["location"]).text
    assert "Đã đăng ký cư trú." in page
    assert "Số 9, phố Đội Cấn" in page
    assert "Xóa đăng ký thường trú" in page
    assert page.count('<span class="tag tag--current">') == 1


def test_a_household_page_lists_its_members_with_links(client, database):
    headers = sign_in(client, database)
    head = register(client, headers, full_name="Trần Văn Hùng", sex="M", birth_date="1965")
    household = client.post(
        "/api/v1/households",
        headers=headers,
        json={
            "head_pin": head["pin"],
            "address_line": "Số 5, phố Kim Mã",
            "unit_code": BA_DINH,
            "legal_basis": "Quyết định số 1/2020",
        },
    )
    assert household.status_code == 201, household.text
    number = household.json()["number"]
    console_sign_in(client, database, create=False)

    page = client.get(f"/console/households/{number}")
    assert page.status_code == 200
    assert f'<a href="/console/persons/{head["pin"]}">Trần Văn Hùng</a>' in page.text
    assert "Chủ hộ" in page.text
    person_page = client.get(f"/console/persons/{head['pin']}").text
    assert f'href="/console/households/{number}"' in person_page


# ---------------------------------------------------------------------------------------------
# Languages


def test_english_is_chosen_with_lang_and_remembered_in_a_cookie(client, database):
    csrf = console_sign_in(client, database)
    english = client.get("/console", params={"lang": "en"})
    assert '<html lang="en">' in english.text
    assert "Welcome, Officer" in english.text
    assert "popreg_lang=en" in english.headers["set-cookie"]

    remembered = client.get("/console")
    assert "Welcome, Officer" in remembered.text
    refused = client.post("/console/persons/new", data=person_form(csrf, birth_date="2999-01-01"))
    assert field_error(refused.text, "birth_date") == "The date of birth is in the future."

    vietnamese = client.get("/console", params={"lang": "vi"})
    assert "Xin chào, Officer" in vietnamese.text


def test_vietnamese_is_the_default_language(client, database):
    page = client.get("/console/login")
    assert '<html lang="vi">' in page.text
    assert "Đăng nhập" in page.text


# ---------------------------------------------------------------------------------------------
# Refusals


def test_an_official_of_another_commune_gets_a_jurisdiction_page(client, database):
    csrf = console_sign_in(client, database)
    pin = register_through_form(client, csrf)

    with TestClient(client.app, raise_server_exceptions=False) as other:
        console_sign_in(other, database, username="hoankiem", jurisdiction_code=HOAN_KIEM)
        response = other.get(f"/console/persons/{pin}")
        assert response.status_code == 403
        assert response.headers["content-type"].startswith("text/html")
        assert "Ngoài phạm vi quản lý" in response.text
        assert "nằm ngoài phạm vi quản lý của bạn" in response.text
        assert NAME not in response.text
        assert "Hoankiem" in response.text  # the header still shows who is signed in
        assert other.get(f"/console/persons/{pin}/edit").status_code == 403


def test_the_api_keeps_answering_in_json(client, database):
    response = client.get("/api/v1/persons/001195000000")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "AUTH_REQUIRED"


def test_unknown_pages_and_persons_get_pages_not_json(client, database):
    console_sign_in(client, database)
    missing = client.get("/console/persons/001195000000")
    assert missing.status_code == 404
    assert "Không có công dân nào mang số định danh này" in missing.text
    malformed = client.get("/console/persons/12345")
    assert malformed.status_code == 422
    assert "gồm đúng 12 chữ số" in malformed.text
    assert client.get("/console/no-such-page").status_code == 404


def test_an_auditor_reads_a_person_but_sees_no_change_forms(client, database):
    csrf = console_sign_in(client, database)
    pin = register_through_form(client, csrf)

    with TestClient(client.app, raise_server_exceptions=False) as auditor:
        auditor_csrf = console_sign_in(auditor, database, username="auditor", role=Role.AUDITOR, jurisdiction_code=None)
        page = auditor.get(f"/console/persons/{pin}")
        assert page.status_code == 200
        assert "Đăng ký công dân, cấp số định danh" in page.text
        for action in ("/edit", "/death", "/residences/new"):
            assert f"/console/persons/{pin}{action}" not in page.text
        assert 'href="/console/persons/new"' not in page.text
        assert "Tài khoản của bạn chỉ được xem hồ sơ." in page.text

        form = auditor.get("/console/persons/new")
        assert form.status_code == 403
        assert "chỉ được xem, không được thay đổi" in form.text
        post = auditor.post(
            f"/console/persons/{pin}/edit",
            data={"csrf_token": auditor_csrf, "full_name": "X Y", "legal_basis": "Quyết định số 9"},
        )
        assert post.status_code == 403
    with database.unit_of_work() as session:
        assert session.scalar(select(Person.full_name)) == NAME


# ---------------------------------------------------------------------------------------------
# Messages


SOURCES_OF_USER_ERRORS = (
    "registry/service/[a-z]*.py",
    "registry/rules.py",
    "registry/pin.py",
    "officials/service.py",
    "officials/rules.py",
    "officials/dependencies.py",
    "kit/http.py",
    "kit/errors.py",
    "units/catalogue.py",
    "web/session.py",
)


@pytest.mark.parametrize("language", ["vi", "en"])
def test_every_error_code_shown_to_officials_has_a_message_in_each_language(language):
    source_root = Path(str(files("popreg")))
    codes: set[str] = set()
    for pattern in SOURCES_OF_USER_ERRORS:
        sources = sorted(source_root.glob(pattern))
        assert sources, f"{pattern} matches no source file"
        for source in sources:
            codes.update(re.findall(r'"([A-Z][A-Z0-9]+(?:_[A-Z0-9]+)+)"', source.read_text(encoding="utf-8")))
    catalogue = json.loads((source_root / "web" / "locales" / f"{language}.json").read_text(encoding="utf-8"))
    missing = sorted(code for code in codes if f"error.{code}" not in catalogue)
    assert "JURISDICTION_DENIED" in codes and "LEGAL_BASIS_REQUIRED" in codes
    assert not missing, f"no {language} message for {missing}"


def test_the_vietnamese_and_english_catalogues_have_the_same_keys():
    root = Path(str(files("popreg"))) / "web" / "locales"
    vietnamese = json.loads((root / "vi.json").read_text(encoding="utf-8"))
    english = json.loads((root / "en.json").read_text(encoding="utf-8"))
    assert set(vietnamese) == set(english)
    assert all(value.strip() for value in [*vietnamese.values(), *english.values()])
