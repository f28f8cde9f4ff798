"""Who used a person's data: partners' requests (answered or refused) and officials' readings, newest
first, for officials who may read the person (API and console)."""

from __future__ import annotations

from typing import Any

import pytest
from test_consents import console_sign_in

from builders import HOAN_KIEM, register, sign_in
from popreg.officials.rules import Role
from popreg.sharing import consents
from sharing_builders import access_token, add_partner, bearer

PURPOSE = "account-opening"


@pytest.fixture
def officer(client, database) -> dict[str, str]:
    add_partner(database, partner_id="vietbank")
    return sign_in(client, database)


def partner_read(client, pin: str) -> Any:
    return client.post(
        "/api/v1/persons/read",
        json={"pin": pin, "purpose": PURPOSE, "fields": ["full_name", "birth_date"]},
        headers={"Authorization": bearer(access_token("vietbank"))},
    )


def test_the_data_uses_list_a_partners_read_and_an_officials_reading_newest_first(client, database, officer):
    pin = register(client, officer)["pin"]
    consent = {
        "partner_id": "vietbank",
        "purpose": PURPOSE,
        "fields": ["full_name", "birth_date"],
        "evidence": "Phiếu 15",
    }
    assert client.post(f"/api/v1/persons/{pin}/consents", json=consent, headers=officer).status_code == 201
    answered = partner_read(client, pin)
    assert answered.status_code == 200, answered.text
    assert client.get(f"/api/v1/persons/{pin}", headers=officer).status_code == 200

    uses = client.get(f"/api/v1/persons/{pin}/data-uses", headers=officer)
    assert uses.status_code == 200, uses.text
    items = uses.json()["items"]
    assert [item["operation"] for item in items[:4]] == ["person.data_uses", "person.read", "read", "consent.give"]
    looked, official, bank = items[0], items[1], items[2]
    assert (looked["principal_kind"], looked["who"]) == ("official", "officer")
    assert (official["principal_kind"], official["who"], official["fields"]) == ("official", "officer", ["*"])
    assert (bank["who"], bank["partner_kind"], bank["principal_id"]) == ("Vietbank", "business", "vietbank")
    assert (bank["fields"], bank["purpose"], bank["result"]) == (["full_name", "birth_date"], PURPOSE, "ok")
    assert bank["transaction_id"] == answered.json()["transaction_id"]


def test_a_refused_partner_request_is_listed_with_its_reason(client, database, officer):
    pin = register(client, officer)["pin"]
    refused = partner_read(client, pin)
    assert refused.status_code == 403
    with database.unit_of_work() as session:
        page = consents.data_uses(session, pin=pin)
    bank = next(item for item in page.items if item.principal_kind == "partner")
    assert (bank.operation, bank.result, bank.transaction_id) == (
        "read",
        "CONSENT_REQUIRED",
        refused.headers["x-transaction-id"],
    )


def test_the_data_uses_are_paginated_newest_first(client, database, officer):
    pin = register(client, officer)["pin"]
    for _ in range(3):
        partner_read(client, pin)
    with database.unit_of_work() as session:
        first = consents.data_uses(session, pin=pin, page=1, page_size=2)
        second = consents.data_uses(session, pin=pin, page=2, page_size=2)
    assert first.has_next and not second.has_next
    seqs = [item.seq for item in first.items + second.items]
    assert seqs == sorted(seqs, reverse=True) and len(set(seqs)) == 3
    answer = client.get(f"/api/v1/persons/{pin}/data-uses", params={"page_size": 2}, headers=officer).json()
    assert (len(answer["items"]), answer["page_size"], answer["has_next"]) == (2, 2, True)


def test_only_officials_who_may_read_the_person_see_who_used_the_data(client, database, officer):
    pin = register(client, officer)["pin"]
    elsewhere = sign_in(client, database, username="hoankiem", jurisdiction_code=HOAN_KIEM)
    refused = client.get(f"/api/v1/persons/{pin}/data-uses", headers=elsewhere)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "JURISDICTION_DENIED"
    assert client.get(f"/api/v1/persons/{pin}/data-uses").status_code == 401

    auditor = sign_in(client, database, username="auditor", role=Role.AUDITOR, jurisdiction_code=None)
    seen = client.get(f"/api/v1/persons/{pin}/data-uses", headers=auditor)
    assert seen.status_code == 200
    assert seen.json()["items"][0]["who"] == "auditor"


def test_the_console_lists_who_used_the_data_with_refusals_marked(client, database, officer):
    pin = register(client, officer)["pin"]
    partner_read(client, pin)
    console_sign_in(client, database)
    page = client.get(f"/console/persons/{pin}/data-uses")
    assert page.status_code == 200
    assert "Ai đã sử dụng dữ liệu" in page.text
    assert "Vietbank" in page.text and "Doanh nghiệp" in page.text
    assert "Đọc thông tin (eKYC)" in page.text and "Bị từ chối" in page.text
    assert "Công dân chưa đồng ý cho doanh nghiệp này" in page.text
    english = client.get(f"/console/persons/{pin}/data-uses", params={"lang": "en"})
    assert "Read data (eKYC)" in english.text and "Refused" in english.text
