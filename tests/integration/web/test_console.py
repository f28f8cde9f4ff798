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

from builders import BA_DINH, HA_NOI, HOAN_KIEM, PASSWORD, add_official, console_sign_in, csrf_of, register, sign_in
from popreg.audit.models import AccessLogEntry
from popreg.kit.clock import in_vietnam, today_in_vietnam
from popreg.kit.database import Database
from popreg.officials.rules import Role
from popreg.registry.models import Household, HouseholdMember, Person, PersonEvent, PersonRelation, Residence

NAME = "Trần Thị Ánh Nguyệt"
LEGAL_BASIS = "Trích lục khai sinh số 45/1995 ngày 10/03/1995"
FATHER = {"full_name": "Trần Văn Hùng", "sex": "M", "birth_date": "1965-04-02"}
UNKNOWN_PIN = "079099000000"  # well formed, but nobody registered in province 079 in these tests


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


def open_household_through_form(client: TestClient, csrf: str, head_pin: str, **overrides: str) -> str:
    form = {
        "csrf_token": csrf,
        "address_line": "Số 5, phố Kim Mã",
        "unit_code": BA_DINH,
        "unit_generation": "2025",
        "legal_basis": "Hồ sơ đăng ký thường trú số 12/2026",
        **overrides,
    }
    response = client.post(f"/console/persons/{head_pin}/households/new", data=form, follow_redirects=False)
    assert response.status_code == 303, response.text
    match = re.fullmatch(r"/console/households/(\d{5}-\d{6})\?notice=household_opened", response.headers["location"])
    assert match, response.headers["location"]
    return match.group(1)


def member_form(csrf: str, pin: str, **overrides: str) -> dict[str, str]:
    return {
        "csrf_token": csrf,
        "member_pin": pin,
        "relationship_to_head": "spouse",
        "legal_basis": "Giấy chứng nhận kết hôn số 3/2026",
        **overrides,
    }


def current_residence_ids(database: Database, pin: str) -> list[int]:
    with database.unit_of_work() as session:
        person_id = session.scalar(select(Person.id).where(Person.pin == pin))
        return list(
            session.scalars(select(Residence.id).where(Residence.person_id == person_id, Residence.valid_to.is_(None)))
        )


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
# Ending a residence


def test_ending_a_residence_checks_the_date_then_deregisters_it_from_that_day(client, database):
    csrf = console_sign_in(client, database)
    pin = register_through_form(client, csrf)
    [residence_id] = current_residence_ids(database, pin)
    end_url = f"/console/persons/{pin}/residences/{residence_id}/end"
    assert f'href="{end_url}"' in client.get(f"/console/persons/{pin}").text
    today = today_in_vietnam().isoformat()
    form = client.get(end_url)
    assert f'name="valid_to" type="date" value="{today}"' in form.text
    events_before = count(database, PersonEvent)

    future = client.post(
        end_url, data={"csrf_token": csrf, "valid_to": "2999-01-01", "legal_basis": "Quyết định xóa đăng ký số 4/2026"}
    )
    assert future.status_code == 422
    assert field_error(future.text, "valid_to") == "Ngày kết thúc phải từ ngày bắt đầu cư trú đến hôm nay."
    unfounded = client.post(end_url, data={"csrf_token": csrf, "valid_to": today, "legal_basis": ""})
    assert unfounded.status_code == 422
    assert field_error(unfounded.text, "legal_basis").startswith("Mọi thay đổi cần căn cứ pháp lý")
    assert current_residence_ids(database, pin) == [residence_id]
    assert count(database, PersonEvent) == events_before

    ended = client.post(
        end_url,
        data={"csrf_token": csrf, "valid_to": today, "legal_basis": "Quyết định xóa đăng ký số 4/2026"},
        follow_redirects=False,
    )
    assert ended.status_code == 303
    assert ended.headers["location"] == f"/console/persons/{pin}?notice=residence_ended"
    page = client.get(ended.headers["location"]).text
    assert "Đã xóa đăng ký cư trú." in page
    assert "Xóa đăng ký thường trú" in page and "Quyết định xóa đăng ký số 4/2026" in page
    assert '<span class="tag tag--ended">Đã kết thúc</span>' in page
    assert end_url not in page
    assert current_residence_ids(database, pin) == []
    assert client.get(end_url).status_code == 409


def test_a_residence_in_another_commune_is_ended_only_by_an_official_of_that_commune(client, database):
    csrf = console_sign_in(client, database)
    pin = register_through_form(client, csrf)
    hanoi = sign_in(client, database, username="hanoi", role=Role.PROVINCE_OFFICER, jurisdiction_code=HA_NOI)
    temporary = client.post(
        f"/api/v1/persons/{pin}/residences",
        headers=hanoi,
        json={
            "kind": "temporary",
            "address_line": "Số 2, phố Hàng Bài",
            "unit_code": HOAN_KIEM,
            "legal_basis": "Hồ sơ đăng ký tạm trú số 8/2026",
        },
    )
    assert temporary.status_code == 201, temporary.text
    [elsewhere] = [r["id"] for r in temporary.json()["residences"] if r["unit_code"] == HOAN_KIEM]
    events_before = count(database, PersonEvent)

    page = client.get(f"/console/persons/{pin}").text
    assert "Số 2, phố Hàng Bài" in page
    assert f"/residences/{elsewhere}/end" not in page
    refused = client.post(
        f"/console/persons/{pin}/residences/{elsewhere}/end",
        data={"csrf_token": csrf, "valid_to": today_in_vietnam().isoformat(), "legal_basis": "Quyết định số 5/2026"},
    )
    assert refused.status_code == 403
    assert "nằm ngoài phạm vi quản lý của bạn" in refused.text
    assert elsewhere in current_residence_ids(database, pin)
    assert count(database, PersonEvent) == events_before


# ---------------------------------------------------------------------------------------------
# Family relations


def test_a_father_is_linked_by_his_pin_and_shown_with_his_name_and_a_link(client, database):
    csrf = console_sign_in(client, database)
    father = register_through_form(client, csrf, **FATHER)
    child = register_through_form(client, csrf)
    assert f'href="/console/persons/{child}/relations/new"' in client.get(f"/console/persons/{child}").text
    assert client.get(f"/console/persons/{child}/relations/new").status_code == 200
    relation = {"csrf_token": csrf, "relation_kind": "father", "relative_pin": father, "legal_basis": LEGAL_BASIS}

    unknown = client.post(f"/console/persons/{child}/relations/new", data={**relation, "relative_pin": UNKNOWN_PIN})
    assert unknown.status_code == 404
    assert (
        field_error(unknown.text, "relative_pin") == "Không có công dân nào mang số định danh này trong cơ sở dữ liệu."
    )
    assert f'value="{UNKNOWN_PIN}"' in unknown.text
    unchosen = client.post(f"/console/persons/{child}/relations/new", data={**relation, "relation_kind": ""})
    assert unchosen.status_code == 422
    assert field_error(unchosen.text, "relation_kind") == "Chọn quan hệ trong danh sách."
    mother = client.post(f"/console/persons/{child}/relations/new", data={**relation, "relation_kind": "mother"})
    assert mother.status_code == 422
    assert field_error(mother.text, "relative_pin").startswith("Giới tính của người được ghi là cha hoặc mẹ")
    assert count(database, PersonRelation) == 0

    linked = client.post(f"/console/persons/{child}/relations/new", data=relation, follow_redirects=False)
    assert linked.status_code == 303
    assert linked.headers["location"] == f"/console/persons/{child}?notice=relation_added"
    page = client.get(linked.headers["location"]).text
    assert "Đã ghi nhận quan hệ gia đình." in page
    assert '<span class="relations__kind">Cha</span>' in page
    assert f'<a href="/console/persons/{father}">Trần Văn Hùng</a>' in page
    assert "Ghi nhận cha" in page
    assert count(database, PersonRelation) == 1


# ---------------------------------------------------------------------------------------------
# Households


def test_a_household_is_opened_from_the_head_s_page_at_their_address(client, database):
    csrf = console_sign_in(client, database)
    head = register_through_form(client, csrf, **FATHER)
    assert f'href="/console/persons/{head}/households/new"' in client.get(f"/console/persons/{head}").text
    form = client.get(f"/console/persons/{head}/households/new").text
    assert 'value="Số 5, phố Kim Mã"' in form
    assert "Đơn vị: Phường Ba Đình, Thành phố Hà Nội" in form

    nowhere = client.post(
        f"/console/persons/{head}/households/new",
        data={"csrf_token": csrf, "address_line": "Số 5, phố Kim Mã", "unit_code": "99999", "legal_basis": "Số 1/2026"},
    )
    assert nowhere.status_code == 422
    assert "Mã này không phải một xã, phường" in field_error(nowhere.text, "unit_code")
    assert 'value="99999"' in nowhere.text
    assert count(database, Household) == 0
    assert count(database, HouseholdMember) == 0

    number = open_household_through_form(client, csrf, head)
    page = client.get(f"/console/households/{number}?notice=household_opened").text
    assert f"Đã lập hộ gia đình số {number}." in page
    assert f'<dd><a href="/console/persons/{head}">Trần Văn Hùng</a>' in page
    assert "Chủ hộ" in page
    head_page = client.get(f"/console/persons/{head}").text
    assert f'href="/console/households/{number}"' in head_page
    assert f"/console/persons/{head}/households/new" not in head_page
    assert "Nhập hộ" in head_page


def test_a_member_joins_a_household_by_pin_and_later_leaves_it(client, database):
    csrf = console_sign_in(client, database)
    head = register_through_form(client, csrf, **FATHER)
    spouse = register_through_form(client, csrf, full_name="Lê Thị Hoa", birth_date="1968-09-10")
    number = open_household_through_form(client, csrf, head)
    members_url = f"/console/households/{number}/members"

    unknown = client.post(members_url, data=member_form(csrf, UNKNOWN_PIN))
    assert unknown.status_code == 404
    assert field_error(unknown.text, "member_pin") == "Không có công dân nào mang số định danh này trong cơ sở dữ liệu."
    unchosen = client.post(members_url, data=member_form(csrf, spouse, relationship_to_head=""))
    assert unchosen.status_code == 422
    assert field_error(unchosen.text, "relationship_to_head") == "Chọn quan hệ với chủ hộ trong danh sách."
    assert f'value="{spouse}"' in unchosen.text
    assert count(database, HouseholdMember) == 1

    joined = client.post(members_url, data=member_form(csrf, spouse), follow_redirects=False)
    assert joined.status_code == 303
    assert joined.headers["location"] == f"/console/households/{number}?notice=member_added"
    page = client.get(joined.headers["location"]).text
    assert "Đã thêm thành viên vào hộ." in page
    assert f'<a href="/console/persons/{spouse}">Lê Thị Hoa</a>' in page
    assert "<td>Vợ, chồng</td>" in page
    # The spouse's page names the head of their household.
    assert f'<a href="/console/persons/{head}">Trần Văn Hùng</a>' in client.get(f"/console/persons/{spouse}").text
    leave_url = f"/console/households/{number}/members/{spouse}/leave"
    assert f'href="{leave_url}"' in page
    assert f"/members/{head}/leave" not in page

    assert f'name="left_on" type="date" value="{today_in_vietnam().isoformat()}"' in client.get(leave_url).text
    unfounded = client.post(leave_url, data={"csrf_token": csrf, "left_on": "", "legal_basis": ""})
    assert unfounded.status_code == 422
    assert field_error(unfounded.text, "legal_basis").startswith("Mọi thay đổi cần căn cứ pháp lý")
    head_leaving = client.post(
        f"/console/households/{number}/members/{head}/leave", data={"csrf_token": csrf, "legal_basis": "Số 2/2026"}
    )
    assert head_leaving.status_code == 409
    assert "Chủ hộ không thể rời hộ khi hộ còn tồn tại" in head_leaving.text
    with database.unit_of_work() as session:
        assert session.scalars(select(HouseholdMember.left_on)).all() == [None, None]

    left = client.post(
        leave_url, data={"csrf_token": csrf, "legal_basis": "Quyết định tách hộ số 9/2026"}, follow_redirects=False
    )
    assert left.status_code == 303
    assert left.headers["location"] == f"/console/households/{number}?notice=member_left"
    page = client.get(left.headers["location"]).text
    assert "Đã ghi nhận thành viên rời hộ." in page
    assert '<span class="tag tag--ended">Đã rời hộ</span>' in page
    assert leave_url not in page
    spouse_page = client.get(f"/console/persons/{spouse}").text
    assert "Rời hộ" in spouse_page and "Quyết định tách hộ số 9/2026" in spouse_page


def test_a_household_form_is_refused_without_the_csrf_token_and_outside_the_jurisdiction(client, database):
    csrf = console_sign_in(client, database)
    head = register_through_form(client, csrf, **FATHER)
    spouse = register_through_form(client, csrf, full_name="Lê Thị Hoa", birth_date="1968-09-10")
    number = open_household_through_form(client, csrf, head)

    forged = client.post(f"/console/households/{number}/members", data=member_form("forged-token", spouse))
    assert forged.status_code == 403
    assert "CSRF_INVALID" in forged.text

    with TestClient(client.app, raise_server_exceptions=False) as other:
        other_csrf = console_sign_in(other, database, username="hoankiem", jurisdiction_code=HOAN_KIEM)
        outside = other.post(f"/console/households/{number}/members", data=member_form(other_csrf, spouse))
        assert outside.status_code == 403
        assert "Ngoài phạm vi quản lý" in outside.text
        assert "Trần Văn Hùng" not in outside.text
        assert other.get(f"/console/persons/{head}/households/new").status_code == 403
    assert count(database, HouseholdMember) == 1


def test_an_auditor_reads_a_household_but_sees_no_forms(client, database):
    csrf = console_sign_in(client, database)
    head = register_through_form(client, csrf, **FATHER)
    number = open_household_through_form(client, csrf, head)

    with TestClient(client.app, raise_server_exceptions=False) as auditor:
        auditor_csrf = console_sign_in(auditor, database, username="auditor", role=Role.AUDITOR, jurisdiction_code=None)
        page = auditor.get(f"/console/households/{number}")
        assert page.status_code == 200
        assert "Trần Văn Hùng" in page.text
        assert "/members" not in page.text
        refused = auditor.post(f"/console/households/{number}/members", data=member_form(auditor_csrf, head))
        assert refused.status_code == 403
        assert "chỉ được xem, không được thay đổi" in refused.text


# ---------------------------------------------------------------------------------------------
# A birth registered abroad


def test_a_birth_registered_abroad_gives_the_pin_the_country_code(client, database):
    csrf = console_sign_in(client, database)
    abroad = {"birth_registration_place": "abroad"}

    for code in ("", "099"):
        refused = client.post(
            "/console/persons/new", data=person_form(csrf, **abroad, birth_registration_country_code=code)
        )
        assert refused.status_code == 422
        assert field_error(refused.text, "birth_registration_country_code") == (
            "Mã quốc gia nơi đăng ký khai sinh là số từ 101 đến 295."
        )
    homeless = client.post(
        "/console/persons/new",
        data=person_form(
            csrf, **abroad, birth_registration_country_code="124", residence_address="", residence_unit_code=""
        ),
    )
    assert homeless.status_code == 403
    assert "nằm ngoài phạm vi quản lý của bạn" in homeless.text
    assert count(database, Person) == 0

    # The commune the form starts with is left behind once "abroad" is chosen.
    pin = register_through_form(client, csrf, **abroad, birth_registration_country_code="124")
    assert pin.startswith("124195")  # country 124, a woman born in the 1900s, year 95
    page = client.get(f"/console/persons/{pin}").text
    assert "Ở nước ngoài (mã quốc gia 124)" in page
    form = client.get("/console/persons/new").text
    assert 'name="birth_registration_place" type="radio" value="abroad"' in form


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
        for action in ("/edit", "/death", "/residences/new", "/relations/new", "/households/new"):
            assert f"/console/persons/{pin}{action}" not in page.text
        assert "/end" not in page.text
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
