"""The register's HTTP API, on SQLite and PostgreSQL."""

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from builders import BA_DINH, HA_NOI, HOAN_KIEM, SAIGON_WARD, person_payload, register, sign_in
from popreg.audit.models import AccessLogEntry
from popreg.kit.clock import today_in_vietnam
from popreg.officials.rules import Role
from popreg.registry.models import Person, PersonEvent
from popreg.registry.pin import Sex, check_pin


def count(database, model) -> int:
    with database.read_session() as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def test_registration_issues_a_pin_consistent_with_birth_province_year_and_sex(client, database):
    headers = sign_in(client, database)
    person = register(client, headers, birth_date="2026-01-02", sex="M")
    pin = person["pin"]
    assert pin[:3] == "001"  # Hà Nội, where the birth was registered
    assert pin[3] == "2" and pin[4:6] == "26"  # male born in the 2000s, year 26
    assert check_pin(pin, birth_date=date(2026, 1, 2), sex=Sex.MALE).valid
    assert person["household"] is None
    assert person["residences"][0]["unit_name"] == "Phường Ba Đình"


def test_registration_writes_the_person_and_the_history_event_in_the_same_transaction(client, database):
    headers = sign_in(client, database)
    person = register(client, headers)
    with database.read_session() as session:
        stored = session.execute(select(Person).where(Person.pin == person["pin"])).scalar_one()
        events = session.execute(select(PersonEvent).where(PersonEvent.person_id == stored.id)).scalars().all()
    assert [event.event_type for event in events] == ["person.registered", "residence.permanent_registered"]
    assert events[0].changes["full_name"] == [None, "Nguyễn Thị Minh Khai"]
    assert events[0].actor == "official:officer"
    assert events[0].legal_basis == "Trích lục khai sinh số 123/1990"


def test_pins_issued_in_the_same_prefix_are_distinct_and_not_sequential(client, database):
    headers = sign_in(client, database)
    pins = [
        register(client, headers, full_name=f"Trần Văn {name}", sex="M")["pin"]
        for name in ("An", "Bình", "Cường", "Dũng", "Em")
    ]
    assert len(set(pins)) == 5
    assert len({pin[:6] for pin in pins}) == 1
    serials = sorted(int(pin[6:]) for pin in pins)
    assert any(b - a > 1 for a, b in zip(serials, serials[1:], strict=False))


def test_the_full_name_is_kept_as_registered_and_found_without_accents(client, database):
    headers = sign_in(client, database)
    register(client, headers, full_name="  Trần   Thị Ánh Nguyệt ")
    register(client, headers, full_name="Trần Văn Bảo")
    found = client.get("/api/v1/persons", params={"name": "tran thi anh"}, headers=headers).json()
    assert [item["full_name"] for item in found["items"]] == ["Trần Thị Ánh Nguyệt"]
    upper = client.get("/api/v1/persons", params={"name": "TRẦN THỊ ÁNH"}, headers=headers).json()
    assert upper["items"] == found["items"]


def test_search_by_partial_date_of_birth_and_pagination(client, database):
    headers = sign_in(client, database)
    for day in range(1, 6):
        register(client, headers, full_name="Lê Văn Tám", sex="M", birth_date=f"1985-03-{day:02d}")
    register(client, headers, full_name="Lê Văn Tám", sex="M", birth_date="1986-03-01")
    first = client.get(
        "/api/v1/persons", params={"name": "le van tam", "birth_date": "1985", "page_size": 3}, headers=headers
    ).json()
    second = client.get(
        "/api/v1/persons",
        params={"name": "le van tam", "birth_date": "1985", "page_size": 3, "page": 2},
        headers=headers,
    ).json()
    assert first["has_next"] and not second["has_next"]
    assert len(first["items"]) + len(second["items"]) == 5


def test_partial_dates_of_birth_keep_their_precision(client, database):
    headers = sign_in(client, database)
    person = register(client, headers, birth_date="1948")
    assert person["birth_date"] == "1948"
    assert person["birth_date_precision"] == "year"
    monthly = register(client, headers, birth_date="1950-07")
    assert (monthly["birth_date"], monthly["birth_date_precision"]) == ("1950-07", "month")


@pytest.mark.parametrize(
    ("overrides", "code", "status"),
    [
        ({"birth_date": (today_in_vietnam() + timedelta(days=400)).isoformat()}, "BIRTH_DATE_IN_FUTURE", 422),
        ({"birth_date": "1990-02-30"}, "DATE_INVALID", 422),
        ({"birth_date": "12/05/1990"}, "DATE_INVALID", 422),
        ({"birth_registration_unit_code": "99999"}, "UNIT_UNKNOWN", 422),
        ({"permanent_residence": {"address_line": "Số 1", "unit_code": "12345"}}, "UNIT_UNKNOWN", 422),
        ({"legal_basis": ""}, "LEGAL_BASIS_REQUIRED", 422),
        ({"ethnicity_code": "99"}, "ETHNICITY_UNKNOWN", 422),
        ({"full_name": "Nguyen 2"}, "NAME_INVALID", 422),
        ({"sex": "X"}, "INPUT_INVALID", 422),
        ({"nickname": "Bé"}, "INPUT_UNKNOWN_FIELD", 422),
        (
            {"birth_registration_country_code": "999", "birth_registration_unit_code": None},
            "BIRTH_REGISTRATION_COUNTRY_INVALID",
            422,
        ),
        ({"father_pin": "001090000001"}, "PERSON_NOT_FOUND", 404),
        ({"father_pin": "12ab"}, "PIN_INVALID_STRUCTURE", 422),
    ],
)
def test_bad_registrations_are_refused_with_a_stable_code_and_store_nothing(client, database, overrides, code, status):
    headers = sign_in(client, database)
    response = client.post("/api/v1/persons", json=person_payload(**overrides), headers=headers)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]
    assert count(database, Person) == 0
    assert count(database, PersonEvent) == 0


def test_a_child_cannot_be_born_before_a_parent(client, database):
    headers = sign_in(client, database)
    father = register(client, headers, full_name="Phạm Văn Cha", sex="M", birth_date="2000-01-01")
    response = client.post(
        "/api/v1/persons", json=person_payload(birth_date="1999-06-01", father_pin=father["pin"]), headers=headers
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "RELATION_PARENT_NOT_OLDER"
    assert count(database, Person) == 1


def test_parents_are_linked_at_registration(client, database):
    headers = sign_in(client, database)
    father = register(client, headers, full_name="Phạm Văn Cha", sex="M", birth_date="1980-01-01")
    mother = register(client, headers, full_name="Lê Thị Mẹ", sex="F", birth_date="1982-01-01")
    child = register(
        client,
        headers,
        full_name="Phạm Minh Con",
        sex="M",
        birth_date="2020-05-05",
        father_pin=father["pin"],
        mother_pin=mother["pin"],
    )
    kinds = {(r["kind"], r["relative_pin"]) for r in child["relations"]}
    assert kinds == {("father", father["pin"]), ("mother", mother["pin"])}
    wrong = client.post("/api/v1/persons", json=person_payload(mother_pin=father["pin"]), headers=headers)
    assert wrong.json()["error"]["code"] == "RELATION_PARENT_SEX_MISMATCH"


def test_a_birth_registered_abroad_carries_the_country_code(client, database):
    headers = sign_in(client, database, role=Role.NATIONAL_ADMIN, jurisdiction_code=None)
    person = register(
        client,
        headers,
        birth_registration_unit_code=None,
        birth_registration_country_code="234",
        permanent_residence=None,
    )
    assert person["pin"].startswith("234")


def test_a_second_permanent_residence_is_refused_but_a_move_ends_the_first(client, database):
    headers = sign_in(client, database, role=Role.PROVINCE_OFFICER, jurisdiction_code=HA_NOI)
    person = register(client, headers)
    pin = person["pin"]
    second = {"address_line": "Số 5 phố Hàng Bạc", "unit_code": HOAN_KIEM, "legal_basis": "Đơn đăng ký 01/2026"}
    refused = client.post(f"/api/v1/persons/{pin}/residences", json=second, headers=headers)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "RESIDENCE_PERMANENT_EXISTS"
    moved = client.post(f"/api/v1/persons/{pin}/residences", json={**second, "end_current": True}, headers=headers)
    assert moved.status_code == 201, moved.text
    residences = moved.json()["residences"]
    current = [r for r in residences if r["valid_to"] is None]
    assert [r["unit_code"] for r in current] == [HOAN_KIEM]
    assert len(residences) == 2


def test_a_residence_recorded_on_pre_reform_units_resolves_to_the_current_commune(client, database):
    headers = sign_in(client, database, role=Role.PROVINCE_OFFICER, jurisdiction_code=HA_NOI)
    # 00001 is Phường Phúc Xá of quận Ba Đình before July 2025; it became part of phường Hồng Hà.
    person = register(
        client,
        headers,
        permanent_residence={"address_line": "Số 3 Phúc Xá", "unit_code": "00001", "unit_generation": "pre2025"},
    )
    residence = person["residences"][0]
    assert residence["unit_generation"] == "pre2025"
    assert residence["province_code"] == HA_NOI
    assert residence["commune_code"] is not None and residence["commune_code"] != "00001"


def test_recording_a_death_is_final_and_blocks_new_residences(client, database):
    headers = sign_in(client, database)
    pin = register(client, headers)["pin"]
    died = client.post(
        f"/api/v1/persons/{pin}/life-status",
        json={"status": "deceased", "date": "2025-12-01", "legal_basis": "Trích lục khai tử 7/2025"},
        headers=headers,
    )
    assert died.status_code == 200, died.text
    assert died.json()["life_status"] == "deceased"
    again = client.post(
        f"/api/v1/persons/{pin}/life-status",
        json={"status": "deceased", "date": "2025-12-02", "legal_basis": "Trích lục khai tử 8/2025"},
        headers=headers,
    )
    assert again.json()["error"]["code"] == "PERSON_ALREADY_DECEASED"
    residence = client.post(
        f"/api/v1/persons/{pin}/residences",
        json={"kind": "temporary", "address_line": "Số 9", "unit_code": BA_DINH, "legal_basis": "Đơn 2"},
        headers=headers,
    )
    assert residence.json()["error"]["code"] == "PERSON_DECEASED"


def test_a_death_before_birth_is_refused(client, database):
    headers = sign_in(client, database)
    pin = register(client, headers)["pin"]
    response = client.post(
        f"/api/v1/persons/{pin}/life-status",
        json={"date": "1980-01-01", "legal_basis": "Trích lục khai tử 1"},
        headers=headers,
    )
    assert response.json()["error"]["code"] == "DATE_BEFORE_BIRTH"


def test_a_change_needs_a_legal_basis_and_is_recorded_with_before_and_after(client, database):
    headers = sign_in(client, database)
    person = register(client, headers)
    pin, version = person["pin"], person["version"]
    refused = client.patch(f"/api/v1/persons/{pin}", json={"full_name": "Nguyễn Thị Minh Khuê"}, headers=headers)
    assert refused.json()["error"]["code"] == "LEGAL_BASIS_REQUIRED"
    changed = client.patch(
        f"/api/v1/persons/{pin}",
        json={
            "full_name": "Nguyễn Thị Minh Khuê",
            "legal_basis": "Quyết định cải chính 5/2026",
            "expected_version": version,
        },
        headers=headers,
    )
    assert changed.status_code == 200, changed.text
    events = client.get(f"/api/v1/persons/{pin}/history", headers=headers).json()["events"]
    assert events[-1]["event_type"] == "person.changed"
    assert events[-1]["changes"]["full_name"] == ["Nguyễn Thị Minh Khai", "Nguyễn Thị Minh Khuê"]
    assert changed.json()["version"] == version + 1
    stale = client.patch(
        f"/api/v1/persons/{pin}",
        json={"religion_code": "buddhism", "legal_basis": "Đơn 6/2026", "expected_version": version},
        headers=headers,
    )
    assert stale.status_code == 409
    assert stale.json()["error"]["code"] == "VERSION_CONFLICT"


def test_a_correction_that_contradicts_the_pin_is_refused(client, database):
    headers = sign_in(client, database)
    pin = register(client, headers, sex="F")["pin"]
    response = client.patch(
        f"/api/v1/persons/{pin}", json={"sex": "M", "legal_basis": "Quyết định 9/2026"}, headers=headers
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "PIN_WOULD_BECOME_INCONSISTENT"
    assert client.get(f"/api/v1/persons/{pin}", headers=headers).json()["sex"] == "F"


def test_the_register_answers_what_it_said_on_a_past_date(client, database):
    headers = sign_in(client, database)
    pin = register(client, headers)["pin"]
    client.patch(
        f"/api/v1/persons/{pin}",
        json={"full_name": "Nguyễn Thị Minh Khuê", "legal_basis": "QĐ 5/2026", "effective_date": "2026-01-15"},
        headers=headers,
    )
    today = today_in_vietnam()
    recorded = client.get(f"/api/v1/persons/{pin}/as-of", params={"date": today.isoformat()}, headers=headers).json()
    assert recorded["existed"]
    assert recorded["state"]["full_name"] == "Nguyễn Thị Minh Khuê"
    assert recorded["state"]["residences"][0]["unit_code"] == BA_DINH
    before = client.get(
        f"/api/v1/persons/{pin}/as-of", params={"date": (today - timedelta(days=30)).isoformat()}, headers=headers
    ).json()
    assert before["existed"] is False and before["state"] == {}
    effective = client.get(
        f"/api/v1/persons/{pin}/as-of", params={"date": "2026-01-10", "axis": "effective"}, headers=headers
    ).json()
    assert effective["state"]["full_name"] == "Nguyễn Thị Minh Khai"


def test_households_have_one_head_and_members_belong_to_one_household(client, database):
    headers = sign_in(client, database)
    head = register(client, headers, full_name="Hoàng Văn Chủ", sex="M", birth_date="1970-01-01")["pin"]
    wife = register(client, headers, full_name="Đỗ Thị Vợ", sex="F", birth_date="1972-01-01")["pin"]
    created = client.post(
        "/api/v1/households",
        json={"head_pin": head, "address_line": "Số 7 Đội Cấn", "unit_code": BA_DINH, "legal_basis": "Đơn 1"},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    number = created.json()["number"]
    added = client.post(
        f"/api/v1/households/{number}/members",
        json={"pin": wife, "relationship_to_head": "spouse", "legal_basis": "Đơn 2"},
        headers=headers,
    )
    assert [m["relationship_to_head"] for m in added.json()["members"]] == ["head", "spouse"]
    other = client.post(
        "/api/v1/households",
        json={"head_pin": wife, "address_line": "Số 8 Đội Cấn", "unit_code": BA_DINH, "legal_basis": "Đơn 3"},
        headers=headers,
    )
    assert other.json()["error"]["code"] == "HOUSEHOLD_MEMBER_ELSEWHERE"
    left = client.post(
        f"/api/v1/households/{number}/members/{wife}/leave", json={"legal_basis": "Đơn 4"}, headers=headers
    )
    assert left.status_code == 200
    assert client.get(f"/api/v1/persons/{wife}", headers=headers).json()["household"] is None


def test_a_spouse_link_is_recorded_on_both_persons(client, database):
    headers = sign_in(client, database)
    husband = register(client, headers, full_name="Vũ Văn Chồng", sex="M", birth_date="1990-01-01")["pin"]
    wife = register(client, headers, full_name="Bùi Thị Vợ", sex="F", birth_date="1991-01-01")["pin"]
    response = client.post(
        f"/api/v1/persons/{husband}/relations",
        json={"kind": "spouse", "relative_pin": wife, "legal_basis": "Giấy chứng nhận kết hôn 3"},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    wife_view = client.get(f"/api/v1/persons/{wife}", headers=headers).json()
    assert [(r["kind"], r["relative_pin"]) for r in wife_view["relations"]] == [("spouse", husband)]


def test_a_commune_officer_cannot_read_or_change_residents_of_another_commune(client, database):
    headers = sign_in(client, database)
    pin = register(client, headers)["pin"]
    saigon = sign_in(client, database, username="saigon", jurisdiction_code=SAIGON_WARD)
    read = client.get(f"/api/v1/persons/{pin}", headers=saigon)
    assert read.status_code == 403
    assert read.json()["error"]["code"] == "JURISDICTION_DENIED"
    change = client.patch(
        f"/api/v1/persons/{pin}", json={"religion_code": "islam", "legal_basis": "Đơn"}, headers=saigon
    )
    assert change.status_code == 403
    found = client.get("/api/v1/persons", params={"name": "nguyen"}, headers=saigon).json()
    assert found["items"] == []
    outside = client.post("/api/v1/persons", json=person_payload(), headers=saigon)
    assert outside.json()["error"]["code"] == "JURISDICTION_DENIED"
    assert count(database, Person) == 1


def test_an_auditor_reads_but_cannot_change(client, database):
    headers = sign_in(client, database)
    pin = register(client, headers)["pin"]
    auditor = sign_in(client, database, username="auditor", role=Role.AUDITOR, jurisdiction_code=None)
    assert client.get(f"/api/v1/persons/{pin}", headers=auditor).status_code == 200
    change = client.patch(
        f"/api/v1/persons/{pin}", json={"religion_code": "islam", "legal_basis": "Đơn 1"}, headers=auditor
    )
    assert change.status_code == 403
    assert change.json()["error"]["code"] == "ROLE_READ_ONLY"


def test_every_read_of_a_person_is_written_to_the_access_log(client, database):
    headers = sign_in(client, database)
    pin = register(client, headers)["pin"]
    client.get(f"/api/v1/persons/{pin}", params={"purpose": "residence_check"}, headers=headers)
    client.get(f"/api/v1/persons/{pin}/history", headers=headers)
    with database.read_session() as session:
        entries = (
            session.execute(select(AccessLogEntry).where(AccessLogEntry.person_pin == pin).order_by(AccessLogEntry.seq))
            .scalars()
            .all()
        )
    assert [(e.action, e.purpose, e.principal_id) for e in entries] == [
        ("person.read", "residence_check", "officer"),
        ("person.history", "official_duty", "officer"),
    ]


def test_unknown_and_malformed_pins_get_distinct_errors(client, database):
    headers = sign_in(client, database)
    assert client.get("/api/v1/persons/001090000001", headers=headers).json()["error"]["code"] == "PERSON_NOT_FOUND"
    malformed = client.get("/api/v1/persons/12345", headers=headers)
    assert malformed.status_code == 422
    assert malformed.json()["error"]["code"] == "PIN_INVALID_STRUCTURE"


def test_a_member_cannot_leave_a_household_before_joining_it_or_in_the_future(client, database):
    headers = sign_in(client, database)
    head = register(client, headers, full_name="Hoàng Văn Chủ", sex="M", birth_date="1970-01-01")["pin"]
    son = register(client, headers, full_name="Hoàng Văn Con", sex="M", birth_date="2000-01-01")["pin"]
    number = client.post(
        "/api/v1/households",
        json={"head_pin": head, "address_line": "Số 7 Đội Cấn", "unit_code": BA_DINH, "legal_basis": "Đơn 1"},
        headers=headers,
    ).json()["number"]
    client.post(
        f"/api/v1/households/{number}/members",
        json={"pin": son, "relationship_to_head": "child", "legal_basis": "Đơn 2"},
        headers=headers,
    )
    for left_on in ("1999-01-01", (today_in_vietnam() + timedelta(days=3)).isoformat()):
        refused = client.post(
            f"/api/v1/households/{number}/members/{son}/leave",
            json={"left_on": left_on, "legal_basis": "Đơn 3"},
            headers=headers,
        )
        assert refused.status_code == 422
        assert refused.json()["error"]["code"] == "DATE_INVALID"
    assert client.get(f"/api/v1/persons/{son}", headers=headers).json()["household"]["number"] == number
