"""Consents after a merge of duplicate records, on SQLite and PostgreSQL: a consent is the citizen's, so
the consents given under a retired PIN count for the surviving PIN (a business's read, the officials'
list and console, withdrawal), chains of merges included, while the consent rows stay as given and
the retired PIN itself stays closed to partners."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from builders import console_sign_in, register, sign_in
from duplicate_builders import MERGE_BASIS
from popreg.audit.models import AccessLogEntry
from popreg.kit.database import Database
from popreg.sharing.consent_models import Consent
from sharing_builders import access_token, add_partner, bearer

PURPOSE = "account-opening"
FORM = "Phiếu đồng ý chia sẻ dữ liệu số 15/2026 ngày 02/01/2026"
WITHDRAWAL = "Đơn rút lại sự đồng ý ngày 05/02/2026"


@pytest.fixture
def officer(client: TestClient, database: Database) -> dict[str, str]:
    add_partner(database, partner_id="vietbank", read_fields=["full_name", "birth_date", "sex"])
    add_partner(database, partner_id="fecredit", read_fields=["full_name", "birth_date", "sex"])
    return sign_in(client, database)


def record(client: TestClient, officer: dict[str, str], **overrides: Any) -> str:
    """A record of the same person (the builders' default identity); returns its PIN."""
    pin: str = register(client, officer, **overrides)["pin"]
    return pin


def give(client: TestClient, officer: dict[str, str], pin: str, partner_id: str = "vietbank") -> int:
    body = {"partner_id": partner_id, "purpose": PURPOSE, "fields": ["full_name", "birth_date"], "evidence": FORM}
    response = client.post(f"/api/v1/persons/{pin}/consents", json=body, headers=officer)
    assert response.status_code == 201, response.text
    consent_id: int = response.json()["id"]
    return consent_id


def merge(client: TestClient, officer: dict[str, str], retired: str, surviving: str) -> None:
    body = {"retired_pin": retired, "surviving_pin": surviving, "legal_basis": MERGE_BASIS}
    response = client.post("/api/v1/merges", json=body, headers=officer)
    assert response.status_code == 201, response.text


def read(client: TestClient, pin: str, partner_id: str = "vietbank") -> Any:
    body = {"pin": pin, "purpose": PURPOSE, "fields": ["full_name", "birth_date"]}
    headers = {"Authorization": bearer(access_token(partner_id))}
    return client.post("/api/v1/persons/read", json=body, headers=headers)


def error_code(response: Any) -> str:
    code: str = response.json()["error"]["code"]
    return code


def stored_pins(database: Database) -> dict[int, str]:
    with database.read_session() as session:
        return {row.id: row.person_pin for row in session.execute(select(Consent.id, Consent.person_pin))}


def test_a_business_reads_the_surviving_pin_on_the_consent_given_under_the_retired_pin(client, database, officer):
    retired = record(client, officer)
    surviving = record(client, officer, permanent_residence=None)
    consent_id = give(client, officer, retired)
    assert error_code(read(client, surviving)) == "CONSENT_REQUIRED"

    merge(client, officer, retired, surviving)
    answer = read(client, surviving)

    assert answer.status_code == 200, answer.text
    assert answer.json()["pin"] == surviving
    assert answer.json()["attributes"]["full_name"]["value"] == "Nguyễn Thị Minh Khai"
    # The consent row is as the citizen gave it; the retired PIN stays closed to partners.
    assert stored_pins(database) == {consent_id: retired}
    assert read(client, retired).status_code == 409
    assert error_code(read(client, retired)) == "PERSON_MERGED"
    # A partner without consent under either PIN is still refused.
    assert error_code(read(client, surviving, partner_id="fecredit")) == "CONSENT_REQUIRED"


def test_consents_follow_a_chain_of_merges_to_the_last_survivor(client, officer):
    first = record(client, officer)
    second = record(client, officer, permanent_residence=None)
    last = record(client, officer, permanent_residence=None)
    give(client, officer, first)

    merge(client, officer, first, second)
    merge(client, officer, second, last)

    assert read(client, last).status_code == 200


def test_the_consent_list_of_the_surviving_pin_shows_the_consents_given_under_the_retired_pin_marked(
    client, database, officer
):
    retired = record(client, officer)
    surviving = record(client, officer, permanent_residence=None)
    own = give(client, officer, surviving, partner_id="fecredit")
    inherited = give(client, officer, retired)
    merge(client, officer, retired, surviving)

    listed = client.get(f"/api/v1/persons/{surviving}/consents", headers=officer)

    assert listed.status_code == 200, listed.text
    assert listed.json()["pin"] == surviving
    shown = {item["id"]: (item["pin"], item["given_under_pin"]) for item in listed.json()["consents"]}
    assert shown == {own: (surviving, None), inherited: (surviving, retired)}
    # The console marks it too.
    console_sign_in(client, database, username="counter")
    page = client.get(f"/console/persons/{surviving}/consents", params={"lang": "en"})
    assert page.status_code == 200
    assert f"Given under PIN {retired}, a duplicate record merged into this one" in page.text


def test_a_consent_given_under_the_retired_pin_is_withdrawn_through_the_surviving_pin(client, database, officer):
    retired = record(client, officer)
    surviving = record(client, officer, permanent_residence=None)
    consent_id = give(client, officer, retired)
    merge(client, officer, retired, surviving)

    withdrawn = client.post(
        f"/api/v1/persons/{surviving}/consents/{consent_id}/revoke", json={"evidence": WITHDRAWAL}, headers=officer
    )

    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["state"] == "revoked"
    assert (withdrawn.json()["pin"], withdrawn.json()["given_under_pin"]) == (surviving, retired)
    assert error_code(read(client, surviving)) == "CONSENT_REVOKED"
    assert stored_pins(database) == {consent_id: retired}
    with database.read_session() as session:
        logged = session.scalars(select(AccessLogEntry.person_pin).where(AccessLogEntry.action == "consent.revoke"))
        assert list(logged) == [surviving]


def test_the_console_withdraws_through_the_surviving_pin_and_returns_to_its_consents(client, database, officer):
    retired = record(client, officer)
    surviving = record(client, officer, permanent_residence=None)
    consent_id = give(client, officer, retired)
    merge(client, officer, retired, surviving)
    csrf = console_sign_in(client, database, username="counter")

    response = client.post(
        f"/console/persons/{surviving}/consents/{consent_id}/revoke",
        data={"csrf_token": csrf, "evidence": WITHDRAWAL},
        follow_redirects=False,
    )

    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"/console/persons/{surviving}/consents?notice=consent_revoked"
    assert error_code(read(client, surviving)) == "CONSENT_REVOKED"


def test_another_persons_consent_is_not_found_through_an_unrelated_pin(client, officer):
    retired = record(client, officer)
    surviving = record(client, officer, permanent_residence=None)
    stranger = record(client, officer, full_name="Trần Văn Bình", birth_date="1985-02-03", sex="M")
    consent_id = give(client, officer, retired)
    merge(client, officer, retired, surviving)

    response = client.post(
        f"/api/v1/persons/{stranger}/consents/{consent_id}/revoke", json={"evidence": WITHDRAWAL}, headers=officer
    )
    listed = client.get(f"/api/v1/persons/{stranger}/consents", headers=officer)

    assert response.status_code == 404
    assert error_code(response) == "CONSENT_NOT_FOUND"
    assert listed.json()["consents"] == []
    assert error_code(read(client, stranger)) == "CONSENT_REQUIRED"


def test_who_used_my_data_on_the_surviving_pin_includes_the_uses_of_the_retired_pin_marked_as_such(
    client, database, officer
):
    retired = record(client, officer)
    surviving = record(client, officer, permanent_residence=None)
    give(client, officer, retired)
    assert read(client, retired).status_code == 200  # a bank's read before the duplicate was found

    merge(client, officer, retired, surviving)
    uses = client.get(f"/api/v1/persons/{surviving}/data-uses", headers=officer)

    assert uses.status_code == 200, uses.text
    bank_reads = [item for item in uses.json()["items"] if item["principal_id"] == "vietbank"]
    assert [(item["operation"], item["recorded_under_pin"]) for item in bank_reads] == [("read", retired)]
    assert all(item["recorded_under_pin"] in (None, retired) for item in uses.json()["items"])
    console_sign_in(client, database, username="counter")
    page = client.get(f"/console/persons/{surviving}/data-uses")
    assert page.status_code == 200
    assert f"số định danh {retired}" in page.text or f"Under PIN {retired}" in page.text
