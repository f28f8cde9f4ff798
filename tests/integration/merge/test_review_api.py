"""The review of likely duplicates through the API, on SQLite and PostgreSQL: clusters listed within the
official's jurisdiction, a cluster side by side, merging two members, dismissing with a reason, refusals."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from builders import HA_NOI, SAIGON_WARD, register, sign_in
from duplicate_builders import MERGE_BASIS, add_cluster, candidate_statuses
from popreg.audit.models import AccessLogEntry
from popreg.kit.database import Database
from popreg.officials.rules import Role

REASON = "Cha mẹ và nơi đăng ký khai sinh khác nhau: trích lục 12/1990 và 47/1990"


def error_code(response: Any) -> str:
    code: str = response.json()["error"]["code"]
    return code


def listed(client: TestClient, headers: dict[str, str]) -> list[tuple[int, str]]:
    response = client.get("/api/v1/duplicates", headers=headers)
    assert response.status_code == 200, response.text
    return [(item["run_id"], item["cluster_id"]) for item in response.json()["items"]]


@pytest.fixture
def admin(client: TestClient, database: Database) -> dict[str, str]:
    return sign_in(client, database, username="admin", role=Role.NATIONAL_ADMIN, jurisdiction_code=None)


@pytest.fixture
def officer(client: TestClient, database: Database) -> dict[str, str]:
    return sign_in(client, database)


@pytest.fixture
def hanoi_pair(client: TestClient, officer: dict[str, str]) -> tuple[str, str]:
    first: str = register(client, officer)["pin"]
    second: str = register(client, officer, permanent_residence=None, ethnicity_code="02")["pin"]
    return first, second


def saigon_person(client: TestClient, headers: dict[str, str]) -> str:
    pin: str = register(
        client,
        headers,
        birth_registration_unit_code=SAIGON_WARD,
        permanent_residence={"address_line": "Số 5 đường Lê Lợi", "unit_code": SAIGON_WARD},
    )["pin"]
    return pin


def test_officials_see_the_open_clusters_of_their_jurisdiction_only(client, database, admin, officer, hanoi_pair):
    hanoi = add_cluster(database, hanoi_pair)
    saigon = add_cluster(database, [saigon_person(client, admin), saigon_person(client, admin)], cluster_id="c-2")
    add_cluster(database, hanoi_pair, cluster_id="c-3", run_status="running")
    province = sign_in(client, database, username="province", role=Role.PROVINCE_OFFICER, jurisdiction_code=HA_NOI)
    saigon_officer = sign_in(client, database, username="saigon", jurisdiction_code=SAIGON_WARD)

    assert listed(client, officer) == [hanoi]
    assert listed(client, province) == [hanoi]
    assert listed(client, saigon_officer) == [saigon]
    assert sorted(listed(client, admin)) == sorted([hanoi, saigon])
    outside = client.get(f"/api/v1/duplicates/{hanoi[0]}/{hanoi[1]}", headers=saigon_officer)
    assert (outside.status_code, error_code(outside)) == (403, "JURISDICTION_DENIED")


def test_a_cluster_shows_its_members_side_by_side_with_their_differences_and_logs_each_read(
    client, database, officer, hanoi_pair
):
    run_id, cluster_id = add_cluster(database, hanoi_pair, probabilities=[0.99, 0.95])

    response = client.get(f"/api/v1/duplicates/{run_id}/{cluster_id}", headers=officer)

    assert response.status_code == 200, response.text
    cluster = response.json()
    assert cluster["open"] is True
    assert [member["person"]["pin"] for member in cluster["members"]] == list(hanoi_pair)
    assert [member["match_probability"] for member in cluster["members"]] == [0.99, 0.95]
    assert cluster["differing_fields"] == ["ethnicity_code"]
    with database.read_session() as session:
        logged = session.execute(
            select(AccessLogEntry.person_pin).where(AccessLogEntry.action == "duplicate.review")
        ).scalars()
        assert sorted(logged) == sorted(hanoi_pair)


def test_merging_two_members_closes_the_cluster_and_redirects_the_retired_pin(client, database, officer, hanoi_pair):
    retired, surviving = hanoi_pair
    run_id, cluster_id = add_cluster(database, hanoi_pair)

    response = client.post(
        f"/api/v1/duplicates/{run_id}/{cluster_id}/merge",
        json={"retired_pin": retired, "surviving_pin": surviving, "legal_basis": MERGE_BASIS},
        headers=officer,
    )

    assert response.status_code == 200, response.text
    assert response.json()["merge"]["surviving_pin"] == surviving
    assert response.json()["cluster"]["open"] is False
    assert candidate_statuses(database, run_id, cluster_id) == {
        retired: ("merged", "official:officer"),
        surviving: ("merged", "official:officer"),
    }
    assert listed(client, officer) == []
    redirect = client.get(f"/api/v1/persons/{retired}", headers=officer, follow_redirects=False)
    assert redirect.headers["location"] == f"/api/v1/persons/{surviving}"
    again = client.post(
        f"/api/v1/duplicates/{run_id}/{cluster_id}/merge",
        json={"retired_pin": retired, "surviving_pin": surviving, "legal_basis": MERGE_BASIS},
        headers=officer,
    )
    assert (again.status_code, error_code(again)) == (409, "DUPLICATE_CLUSTER_CLOSED")


def test_a_cluster_of_three_stays_open_for_the_survivor_and_the_third_member(client, database, officer, hanoi_pair):
    retired, surviving = hanoi_pair
    third: str = register(client, officer, permanent_residence=None)["pin"]
    run_id, cluster_id = add_cluster(database, [retired, surviving, third])

    response = client.post(
        f"/api/v1/duplicates/{run_id}/{cluster_id}/merge",
        json={"retired_pin": retired, "surviving_pin": surviving, "legal_basis": MERGE_BASIS},
        headers=officer,
    )

    assert response.status_code == 200, response.text
    statuses = candidate_statuses(database, run_id, cluster_id)
    assert {pin: status for pin, (status, _) in statuses.items()} == {
        retired: "merged",
        surviving: "open",
        third: "open",
    }
    assert listed(client, officer) == [(run_id, cluster_id)]
    cluster = client.get(f"/api/v1/duplicates/{run_id}/{cluster_id}", headers=officer).json()
    by_pin = {member["person"]["pin"]: member for member in cluster["members"]}
    assert by_pin[retired]["merged_into"] == surviving
    assert by_pin[surviving]["status"] == "open"


def test_a_merge_outside_the_review_still_closes_the_retired_records_candidates(client, database, officer, hanoi_pair):
    retired, surviving = hanoi_pair
    run_id, cluster_id = add_cluster(database, hanoi_pair)

    merged = client.post(
        "/api/v1/merges",
        json={"retired_pin": retired, "surviving_pin": surviving, "legal_basis": MERGE_BASIS},
        headers=officer,
    )

    assert merged.status_code == 201, merged.text
    assert {status for status, _ in candidate_statuses(database, run_id, cluster_id).values()} == {"merged"}


def test_dismissing_a_cluster_records_the_reason_in_each_members_history(client, database, officer, hanoi_pair):
    run_id, cluster_id = add_cluster(database, hanoi_pair)

    without_reason = client.post(
        f"/api/v1/duplicates/{run_id}/{cluster_id}/dismiss", json={"reason": " "}, headers=officer
    )
    response = client.post(
        f"/api/v1/duplicates/{run_id}/{cluster_id}/dismiss", json={"reason": REASON}, headers=officer
    )

    assert (without_reason.status_code, error_code(without_reason)) == (422, "DUPLICATE_DISMISS_REASON_REQUIRED")
    assert response.status_code == 200, response.text
    assert response.json()["open"] is False
    assert candidate_statuses(database, run_id, cluster_id) == dict.fromkeys(
        hanoi_pair, ("dismissed", "official:officer")
    )
    for pin, other in (hanoi_pair, hanoi_pair[::-1]):
        last = client.get(f"/api/v1/persons/{pin}/history", headers=officer).json()["events"][-1]
        assert last["event_type"] == "duplicate.dismissed"
        assert last["legal_basis"] == REASON
        assert last["changes"] == {"not_duplicate_of": [None, other]}
    again = client.post(f"/api/v1/duplicates/{run_id}/{cluster_id}/dismiss", json={"reason": REASON}, headers=officer)
    assert (again.status_code, error_code(again)) == (409, "DUPLICATE_CLUSTER_CLOSED")
    assert listed(client, officer) == []


def test_review_refusals_have_stable_codes_and_change_nothing(client, database, officer, hanoi_pair):
    retired, surviving = hanoi_pair
    stranger: str = register(client, officer, permanent_residence=None)["pin"]
    run_id, cluster_id = add_cluster(database, hanoi_pair)
    auditor = sign_in(client, database, username="auditor", role=Role.AUDITOR, jurisdiction_code=None)

    not_member = client.post(
        f"/api/v1/duplicates/{run_id}/{cluster_id}/merge",
        json={"retired_pin": stranger, "surviving_pin": surviving, "legal_basis": MERGE_BASIS},
        headers=officer,
    )
    unknown = client.get(f"/api/v1/duplicates/{run_id}/nope", headers=officer)
    read_only = client.post(
        f"/api/v1/duplicates/{run_id}/{cluster_id}/dismiss", json={"reason": REASON}, headers=auditor
    )
    malformed = client.get("/api/v1/duplicates/0/c-1", headers=officer)
    extra_field = client.post(
        f"/api/v1/duplicates/{run_id}/{cluster_id}/dismiss", json={"reason": REASON, "force": True}, headers=officer
    )

    assert (not_member.status_code, error_code(not_member)) == (422, "DUPLICATE_NOT_IN_CLUSTER")
    assert not_member.json()["error"]["details"]["field"] == "retired_pin"
    assert (unknown.status_code, error_code(unknown)) == (404, "DUPLICATE_CLUSTER_NOT_FOUND")
    assert (read_only.status_code, error_code(read_only)) == (403, "ROLE_READ_ONLY")
    assert malformed.status_code == 422
    assert extra_field.status_code == 422
    assert {status for status, _ in candidate_statuses(database, run_id, cluster_id).values()} == {"open"}
    assert client.get(f"/api/v1/persons/{retired}", headers=officer).json()["life_status"] == "alive"
