"""The review of likely duplicates in the officials' console over HTTP, on SQLite and PostgreSQL: the
list, a cluster side by side with differences marked, merge and dismissal forms with CSRF, refusals
shown next to their field, and the page of a retired PIN."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from builders import console_sign_in, register, sign_in
from duplicate_builders import MERGE_BASIS, add_cluster, candidate_statuses
from popreg.kit.database import Database
from popreg.officials.rules import Role


@pytest.fixture
def cluster(client: TestClient, database: Database) -> tuple[int, str, str, str]:
    """A cluster of two records of Ba Đình that differ in ethnicity, registered by another official."""
    headers = sign_in(client, database, username="registrar")
    first: str = register(client, headers)["pin"]
    second: str = register(client, headers, permanent_residence=None, ethnicity_code="02")["pin"]
    client.cookies.clear()
    run_id, cluster_id = add_cluster(database, [first, second])
    return run_id, cluster_id, first, second


def test_the_list_and_the_cluster_page_show_the_records_side_by_side_with_differences_marked(client, database, cluster):
    run_id, cluster_id, first, second = cluster
    console_sign_in(client, database)

    listing = client.get("/console/duplicates")
    page = client.get(f"/console/duplicates/{run_id}/{cluster_id}")

    assert listing.status_code == 200
    assert f'href="/console/duplicates/{run_id}/{cluster_id}"' in listing.text
    assert 'href="/console/duplicates"' in listing.text  # the navigation link
    assert page.status_code == 200
    assert first in page.text and second in page.text
    assert page.text.count('data-differs="true"') == 1
    assert "<mark>" in page.text


def test_an_official_merges_through_the_form_and_the_retired_pin_page_leads_to_the_record_kept(
    client, database, cluster
):
    run_id, cluster_id, first, second = cluster
    csrf = console_sign_in(client, database)

    forged = client.post(
        f"/console/duplicates/{run_id}/{cluster_id}/merge",
        data={"csrf_token": "forged", "surviving_pin": first, "retired_pin": second, "legal_basis": MERGE_BASIS},
        follow_redirects=False,
    )
    response = client.post(
        f"/console/duplicates/{run_id}/{cluster_id}/merge",
        data={"csrf_token": csrf, "surviving_pin": first, "retired_pin": second, "legal_basis": MERGE_BASIS},
        follow_redirects=False,
    )

    assert forged.status_code == 403
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"/console/duplicates/{run_id}/{cluster_id}?notice=merged"
    assert {status for status, _ in candidate_statuses(database, run_id, cluster_id).values()} == {"merged"}
    retired_page = client.get(f"/console/persons/{second}")
    assert retired_page.status_code == 200
    assert f'href="/console/persons/{first}"' in retired_page.text
    assert 'data-testid="merged-into"' in retired_page.text


def test_a_refused_merge_comes_back_with_the_reason_and_stores_nothing(client, database, cluster):
    run_id, cluster_id, first, _second = cluster
    csrf = console_sign_in(client, database, username="officer")

    same = client.post(
        f"/console/duplicates/{run_id}/{cluster_id}/merge",
        data={"csrf_token": csrf, "surviving_pin": first, "retired_pin": first, "legal_basis": MERGE_BASIS},
    )
    no_reason = client.post(f"/console/duplicates/{run_id}/{cluster_id}/dismiss", data={"csrf_token": csrf})

    assert same.status_code == 422
    assert 'id="field-retired_pin-error"' in same.text
    assert no_reason.status_code == 422
    assert 'id="field-reason-error"' in no_reason.text
    assert {status for status, _ in candidate_statuses(database, run_id, cluster_id).values()} == {"open"}


def test_dismissal_through_the_form_closes_the_cluster(client, database, cluster):
    run_id, cluster_id, _first, _second = cluster
    csrf = console_sign_in(client, database)

    response = client.post(
        f"/console/duplicates/{run_id}/{cluster_id}/dismiss",
        data={"csrf_token": csrf, "reason": "Khác cha mẹ: trích lục 12/1990 và 47/1990"},
        follow_redirects=False,
    )

    assert response.status_code == 303
    assert {status for status, _ in candidate_statuses(database, run_id, cluster_id).values()} == {"dismissed"}
    assert f"/console/duplicates/{run_id}/{cluster_id}" not in client.get("/console/duplicates").text


def test_an_auditor_sees_the_cluster_without_the_forms(client, database, cluster):
    run_id, cluster_id, _first, _second = cluster
    console_sign_in(client, database, username="auditor", role=Role.AUDITOR, jurisdiction_code=None)

    page = client.get(f"/console/duplicates/{run_id}/{cluster_id}")

    assert page.status_code == 200
    assert "/merge" not in page.text
