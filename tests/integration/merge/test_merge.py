"""Merging a duplicate record into the record kept, on SQLite and PostgreSQL: both histories kept,
what follows the person moved, the retired PIN redirected (chains included), cards cancelled, the
verification gateway and changes refusing the retired PIN, and every refusal with its code."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from builders import BA_DINH, SAIGON_WARD, register, sign_in
from duplicate_builders import MERGE_BASIS
from popreg.audit.models import AccessLogEntry
from popreg.cards.models import Card
from popreg.kit.database import Database
from popreg.officials.rules import Role
from popreg.registry.merge_models import PersonMerge
from popreg.registry.models import PersonEvent
from popreg.sharing.facts import fetch_facts, fetch_facts_table
from sharing_builders import access_token, add_partner, bearer

CLAIMS = {"full_name": "Nguyễn Thị Minh Khai", "birth_date": "1990-05-12", "sex": "F"}


def merge(client: TestClient, headers: dict[str, str], retired: str, surviving: str, **extra: Any) -> Any:
    body = {"retired_pin": retired, "surviving_pin": surviving, "legal_basis": MERGE_BASIS, **extra}
    return client.post("/api/v1/merges", json=body, headers=headers)


def error_code(response: Any) -> str:
    code: str = response.json()["error"]["code"]
    return code


def events_of(client: TestClient, headers: dict[str, str], pin: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/persons/{pin}/history", headers=headers)
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()["events"]
    return events


def stored_rows(database: Database) -> tuple[int, int]:
    """How many history events and merges the register holds (a refusal must change neither)."""
    with database.read_session() as session:
        events = session.execute(select(func.count()).select_from(PersonEvent)).scalar_one()
        merges = session.execute(select(func.count()).select_from(PersonMerge)).scalar_one()
        return int(events), int(merges)


@pytest.fixture
def officer(client: TestClient, database: Database) -> dict[str, str]:
    return sign_in(client, database)


@pytest.fixture
def pair(client: TestClient, officer: dict[str, str]) -> tuple[str, str]:
    """Two records of one person: the first (to retire) with a permanent residence, the second without."""
    retired: str = register(client, officer)["pin"]
    surviving: str = register(client, officer, permanent_residence=None)["pin"]
    return retired, surviving


def test_a_merge_keeps_both_histories_and_moves_residence_household_and_family_to_the_survivor(
    client, database, officer, pair
):
    retired, surviving = pair
    household = client.post(
        "/api/v1/households",
        json={"head_pin": retired, "address_line": "Số 12, phố Đội Cấn", "unit_code": BA_DINH, "legal_basis": "CT01"},
        headers=officer,
    )
    assert household.status_code == 201, household.text
    number = household.json()["number"]
    child = register(client, officer, full_name="Trần Văn An", birth_date="2015-03-02", sex="M", mother_pin=retired)
    retired_events_before = events_of(client, officer, retired)

    response = merge(client, officer, retired, surviving)

    assert response.status_code == 201, response.text
    assert response.json()["retired_pin"] == retired
    assert response.json()["surviving_pin"] == surviving
    kept = client.get(f"/api/v1/persons/{surviving}", headers=officer).json()
    assert [(r["kind"], r["valid_to"]) for r in kept["residences"]] == [("permanent", None)]
    assert kept["household"] == {"number": number, "relationship_to_head": "head", "head_pin": surviving}
    child_record = client.get(f"/api/v1/persons/{child['pin']}", headers=officer).json()
    assert [(r["kind"], r["relative_pin"]) for r in child_record["relations"]] == [("mother", surviving)]
    # The retired record's history is whole, and ends with the merge; the survivor's records it too.
    retired_events = events_of(client, officer, retired)
    assert retired_events[: len(retired_events_before)] == retired_events_before
    assert retired_events[-1]["event_type"] == "person.merged_into"
    assert retired_events[-1]["changes"]["merged_into"] == [None, surviving]
    assert retired_events[-1]["changes"]["life_status"] == ["alive", "merged"]
    assert retired_events[-1]["legal_basis"] == MERGE_BASIS
    surviving_events = events_of(client, officer, surviving)
    assert surviving_events[-1]["event_type"] == "person.merged_from"
    assert surviving_events[-1]["changes"]["merged_from"] == [None, [retired]]
    assert events_of(client, officer, child["pin"])[-1]["event_type"] == "relation.relative_merged"
    # Replaying the retired record's history gives the retired record, without what moved away.
    today = retired_events[-1]["effective_date"]
    as_of = client.get(f"/api/v1/persons/{retired}/as-of", params={"date": today}, headers=officer).json()
    assert as_of["state"]["life_status"] == "merged"
    assert as_of["state"]["residences"] == []
    assert as_of["state"]["relations"] == []
    with database.read_session() as session:
        logged = session.execute(
            select(AccessLogEntry.person_pin).where(AccessLogEntry.action == "person.merge")
        ).scalars()
        assert sorted(logged) == sorted([retired, surviving])


def test_the_retired_pin_redirects_permanently_to_the_surviving_record(client, officer, pair):
    retired, surviving = pair
    assert merge(client, officer, retired, surviving).status_code == 201

    response = client.get(f"/api/v1/persons/{retired}?purpose=audit", headers=officer, follow_redirects=False)

    assert response.status_code == 308
    assert response.headers["location"] == f"/api/v1/persons/{surviving}?purpose=audit"
    assert response.json()["error"]["code"] == "PERSON_MERGED"
    assert response.json()["error"]["details"]["merged_into"] == surviving
    followed = client.get(f"/api/v1/persons/{retired}", headers=officer)
    assert followed.status_code == 200
    assert followed.json()["pin"] == surviving


def test_a_chain_of_merges_redirects_the_first_pin_to_the_last_survivor(client, officer, pair):
    first, second = pair
    third: str = register(client, officer, permanent_residence=None)["pin"]
    assert merge(client, officer, first, second).status_code == 201
    assert merge(client, officer, second, third).status_code == 201

    response = client.get(f"/api/v1/persons/{first}", headers=officer, follow_redirects=False)

    assert response.status_code == 308
    assert response.headers["location"] == f"/api/v1/persons/{third}"
    # Merging into a retired record is refused with the record to use instead.
    fourth: str = register(client, officer, permanent_residence=None)["pin"]
    into_retired = merge(client, officer, fourth, first)
    assert into_retired.status_code == 409
    assert error_code(into_retired) == "MERGE_SURVIVOR_RETIRED"
    assert into_retired.json()["error"]["details"]["merged_into"] == third


def test_the_survivors_own_permanent_residence_wins_and_the_retired_one_is_ended(client, officer):
    retired: str = register(client, officer)["pin"]
    surviving: str = register(client, officer)["pin"]

    assert merge(client, officer, retired, surviving).status_code == 201

    kept = client.get(f"/api/v1/persons/{surviving}", headers=officer).json()
    assert len([r for r in kept["residences"] if r["valid_to"] is None]) == 1
    ended = events_of(client, officer, retired)[-1]["changes"]
    residence_change = next(value for key, value in ended.items() if key.startswith("residences."))
    assert residence_change[0]["valid_to"] is None
    assert residence_change[1]["valid_to"] is not None


def test_the_retired_records_identity_card_is_cancelled(client, database, officer, pair):
    retired, surviving = pair
    applied = client.post(
        f"/api/v1/persons/{retired}/cards", json={"kind": "first", "legal_basis": "Tờ khai CC01 số 1"}, headers=officer
    )
    assert applied.status_code == 201, applied.text
    card_id = applied.json()["id"]
    for action in ("produce", "issue"):
        step = client.post(f"/api/v1/persons/{retired}/cards/{card_id}/{action}", json={}, headers=officer)
        assert step.status_code == 200, step.text

    assert merge(client, officer, retired, surviving).status_code == 201

    with database.read_session() as session:
        card = session.get(Card, card_id)
        assert card is not None
        assert (card.status, card.cancel_reason) == ("cancelled", "merged")


def test_a_retired_pin_never_verifies_and_answers_like_an_unknown_pin(client, database, officer, pair):
    retired, surviving = pair
    add_partner(database, verify_fields=["full_name", "birth_date", "sex"])
    token = access_token("vietbank")
    before = client.post(
        "/api/v1/verify",
        json={"pin": retired, "purpose": "account-opening", "claims": CLAIMS},
        headers={"Authorization": bearer(token)},
    )
    assert before.json()["result"] == "match"
    assert merge(client, officer, retired, surviving).status_code == 201

    answers = [
        client.post(
            "/api/v1/verify",
            json={"pin": pin, "purpose": "account-opening", "claims": CLAIMS},
            headers={"Authorization": bearer(token)},
        ).json()
        for pin in (retired, "001190000000")
    ]

    assert [answer["result"] for answer in answers] == ["no_match", "no_match"]
    assert answers[0]["attributes"] == answers[1]["attributes"]
    assert answers[0].get("person_status") is None
    with database.engine.connect() as connection:
        assert set(fetch_facts(connection, [retired, surviving])) == {surviving}
        table = fetch_facts_table(connection, [retired, surviving])
        assert table["pin"].to_pylist() == [surviving]


def test_changes_to_a_retired_record_are_refused(client, officer, pair):
    retired, surviving = pair
    assert merge(client, officer, retired, surviving).status_code == 201

    changes = [
        client.patch(
            f"/api/v1/persons/{retired}", json={"religion_code": "none", "legal_basis": "Tờ khai CT01"}, headers=officer
        ),
        client.post(
            f"/api/v1/persons/{retired}/life-status",
            json={"status": "deceased", "date": "2026-01-02", "legal_basis": "Trích lục khai tử 1"},
            headers=officer,
        ),
        client.post(
            f"/api/v1/persons/{retired}/residences",
            json={"kind": "temporary", "address_line": "Số 3 phố Huế", "unit_code": BA_DINH, "legal_basis": "CT02"},
            headers=officer,
        ),
    ]

    assert [(response.status_code, error_code(response)) for response in changes] == [(409, "PERSON_MERGED")] * 3


def test_only_the_merge_procedure_retires_a_record(client, officer, pair):
    retired, _ = pair

    response = client.post(
        f"/api/v1/persons/{retired}/life-status",
        json={"status": "merged", "date": "2026-01-02", "legal_basis": "Quyết định 1"},
        headers=officer,
    )

    assert response.status_code == 409
    assert error_code(response) == "LIFE_STATUS_TRANSITION_INVALID"


@pytest.mark.parametrize(
    ("surviving_overrides", "extra", "status", "code"),
    [
        ({"sex": "M", "full_name": "Nguyễn Văn Minh"}, {}, 409, "MERGE_IDENTITY_DIFFERS"),
        ({"birth_date": "1991-05-12"}, {}, 409, "MERGE_IDENTITY_DIFFERS"),
        ({}, {"legal_basis": ""}, 422, "LEGAL_BASIS_REQUIRED"),
    ],
)
def test_a_merge_of_records_that_cannot_be_one_person_is_refused_and_stores_nothing(
    client, database, officer, surviving_overrides, extra, status, code
):
    retired: str = register(client, officer)["pin"]
    surviving: str = register(client, officer, permanent_residence=None, **surviving_overrides)["pin"]
    before = stored_rows(database)

    response = merge(client, officer, retired, surviving, **extra)

    assert response.status_code == status, response.text
    assert error_code(response) == code
    assert stored_rows(database) == before
    assert client.get(f"/api/v1/persons/{retired}", headers=officer).json()["life_status"] == "alive"


def test_an_explicit_override_merges_records_whose_year_of_birth_differs(client, officer):
    retired: str = register(client, officer)["pin"]
    surviving: str = register(client, officer, permanent_residence=None, birth_date="1990")["pin"]
    other: str = register(client, officer, permanent_residence=None, birth_date="1991-05-12")["pin"]

    compatible = merge(client, officer, retired, surviving)
    overridden = merge(client, officer, other, surviving, allow_identity_differences=True)

    assert compatible.status_code == 201, compatible.text
    assert overridden.status_code == 201, overridden.text


def test_a_merge_of_a_record_into_itself_or_of_a_retired_record_is_refused(client, officer, pair):
    retired, surviving = pair
    itself = merge(client, officer, retired, retired)
    assert (itself.status_code, error_code(itself)) == (422, "MERGE_SAME_PERSON")
    assert merge(client, officer, retired, surviving).status_code == 201

    again = merge(client, officer, retired, surviving)

    assert (again.status_code, error_code(again)) == (409, "MERGE_ALREADY_RETIRED")
    assert again.json()["error"]["details"]["merged_into"] == surviving


def test_unknown_and_malformed_pins_are_refused_with_the_field_at_fault(client, officer, pair):
    retired, _ = pair

    unknown = merge(client, officer, retired, "001190999999")
    malformed = merge(client, officer, "12ab", retired)

    assert (unknown.status_code, error_code(unknown)) == (404, "PERSON_NOT_FOUND")
    assert unknown.json()["error"]["details"]["field"] == "surviving_pin"
    assert (malformed.status_code, error_code(malformed)) == (422, "PIN_INVALID_STRUCTURE")
    assert malformed.json()["error"]["details"]["field"] == "retired_pin"


def test_a_merge_needs_both_records_in_the_officials_jurisdiction_and_a_role_that_writes(
    client, database, officer, pair
):
    retired, surviving = pair
    elsewhere = sign_in(client, database, username="saigon", jurisdiction_code=SAIGON_WARD)
    auditor = sign_in(client, database, username="auditor", role=Role.AUDITOR, jurisdiction_code=None)
    before = stored_rows(database)

    outside = merge(client, elsewhere, retired, surviving)
    read_only = merge(client, auditor, retired, surviving)

    assert (outside.status_code, error_code(outside)) == (403, "JURISDICTION_DENIED")
    assert (read_only.status_code, error_code(read_only)) == (403, "ROLE_READ_ONLY")
    assert stored_rows(database) == before


def test_a_retired_household_head_is_not_merged_into_a_member_of_another_household(client, officer, pair):
    retired, surviving = pair
    for head in (retired, surviving):
        opened = client.post(
            "/api/v1/households",
            json={"head_pin": head, "address_line": "Số 12, phố Đội Cấn", "unit_code": BA_DINH, "legal_basis": "CT01"},
            headers=officer,
        )
        assert opened.status_code == 201, opened.text

    response = merge(client, officer, retired, surviving)

    assert (response.status_code, error_code(response)) == (409, "MERGE_HOUSEHOLD_CONFLICT")


def test_a_deceased_record_is_not_merged_into_a_living_one(client, officer, pair):
    retired, surviving = pair
    died = client.post(
        f"/api/v1/persons/{retired}/life-status",
        json={"status": "deceased", "date": "2026-01-02", "legal_basis": "Trích lục khai tử 1"},
        headers=officer,
    )
    assert died.status_code == 200, died.text

    response = merge(client, officer, retired, surviving)

    assert (response.status_code, error_code(response)) == (409, "MERGE_LIFE_STATUS_DIFFERS")


def test_a_marriage_follows_the_person_on_both_sides_and_a_second_one_is_not_created(client, officer, pair):
    retired, surviving = pair
    spouse: str = register(client, officer, full_name="Lê Văn Bình", sex="M", birth_date="1988-02-01")["pin"]
    married = client.post(
        f"/api/v1/persons/{retired}/relations",
        json={
            "kind": "spouse",
            "relative_pin": spouse,
            "valid_from": "2015-06-01",
            "legal_basis": "Giấy kết hôn 3/2015",
        },
        headers=officer,
    )
    assert married.status_code == 201, married.text

    assert merge(client, officer, retired, surviving).status_code == 201

    kept = client.get(f"/api/v1/persons/{surviving}", headers=officer).json()
    partner = client.get(f"/api/v1/persons/{spouse}", headers=officer).json()
    assert [(r["kind"], r["relative_pin"], r["valid_to"]) for r in kept["relations"]] == [("spouse", spouse, None)]
    assert [(r["kind"], r["relative_pin"], r["valid_to"]) for r in partner["relations"]] == [
        ("spouse", surviving, None)
    ]


def test_when_both_records_are_married_the_survivors_marriage_stays_and_the_other_ties_end(client, officer, pair):
    retired, surviving = pair
    spouses = []
    for holder, name in ((retired, "Lê Văn Bình"), (surviving, "Phạm Văn Cường")):
        spouse: str = register(client, officer, full_name=name, sex="M", birth_date="1988-02-01")["pin"]
        married = client.post(
            f"/api/v1/persons/{holder}/relations",
            json={"kind": "spouse", "relative_pin": spouse, "legal_basis": "Giấy chứng nhận kết hôn"},
            headers=officer,
        )
        assert married.status_code == 201, married.text
        spouses.append(spouse)

    assert merge(client, officer, retired, surviving).status_code == 201

    kept = client.get(f"/api/v1/persons/{surviving}", headers=officer).json()
    first_spouse = client.get(f"/api/v1/persons/{spouses[0]}", headers=officer).json()
    assert [(r["relative_pin"], r["valid_to"] is None) for r in kept["relations"]] == [(spouses[1], True)]
    assert [(r["relative_pin"], r["valid_to"] is None) for r in first_spouse["relations"]] == [(retired, False)]
