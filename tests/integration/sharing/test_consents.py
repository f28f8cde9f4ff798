"""Consents: recorded, listed and withdrawn by an official on the citizen's behalf (API and console), and
the rule a business's read is held to (``require_consent``)."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from builders import BA_DINH, HOAN_KIEM, PASSWORD, add_official, register, sign_in
from popreg.audit.models import AccessLogEntry
from popreg.kit.clock import today_in_vietnam
from popreg.kit.database import Database
from popreg.kit.errors import DomainError
from popreg.officials.rules import Role
from popreg.sharing import consents
from popreg.sharing.consent_models import Consent
from popreg.sharing.consents import ConsentIn
from sharing_builders import add_partner

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
FORM = "Phiếu đồng ý chia sẻ dữ liệu số 15/2026 ngày 02/01/2026"


def consent_payload(**overrides: object) -> dict[str, object]:
    payload: dict[str, object] = {
        "partner_id": "vietbank",
        "purpose": "account-opening",
        "fields": ["full_name", "birth_date"],
        "evidence": FORM,
    }
    payload.update(overrides)
    return payload


def consent_count(database: Database) -> int:
    with database.unit_of_work() as session:
        return int(session.scalar(select(func.count()).select_from(Consent)) or 0)


def log_actions(database: Database, pin: str) -> list[str]:
    with database.unit_of_work() as session:
        return list(
            session.scalars(select(AccessLogEntry.action).where(AccessLogEntry.person_pin == pin).order_by("seq"))
        )


@pytest.fixture
def headers(client, database) -> dict[str, str]:
    add_partner(database, partner_id="vietbank", kind="business")
    return sign_in(client, database)


def test_an_official_records_lists_and_withdraws_a_consent_on_the_citizens_behalf(client, database, headers):
    pin = register(client, headers)["pin"]

    given = client.post(f"/api/v1/persons/{pin}/consents", json=consent_payload(), headers=headers)
    assert given.status_code == 201, given.text
    consent = given.json()
    assert consent["state"] == "live"
    assert consent["fields"] == ["full_name", "birth_date"]
    assert consent["recorded_by"] == "official:officer"
    assert consent["partner_kind"] == "business"

    listed = client.get(f"/api/v1/persons/{pin}/consents", headers=headers)
    assert [item["id"] for item in listed.json()["consents"]] == [consent["id"]]

    revoked = client.post(
        f"/api/v1/persons/{pin}/consents/{consent['id']}/revoke",
        json={"evidence": "Đơn rút lại sự đồng ý ngày 05/02/2026"},
        headers=headers,
    )
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["state"] == "revoked"
    assert revoked.json()["revocation_evidence"] == "Đơn rút lại sự đồng ý ngày 05/02/2026"
    again = client.post(
        f"/api/v1/persons/{pin}/consents/{consent['id']}/revoke", json={"evidence": "again"}, headers=headers
    )
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "CONSENT_ALREADY_REVOKED"
    assert log_actions(database, pin)[-3:] == ["consent.give", "consent.list", "consent.revoke"]


@pytest.mark.parametrize(
    ("overrides", "status", "code"),
    [
        ({"partner_id": "nobank"}, 404, "PARTNER_NOT_FOUND"),
        ({"fields": ["full_name", "blood_group"]}, 422, "READ_FIELD_UNKNOWN"),
        ({"purpose": "Account Opening!"}, 422, "CONSENT_PURPOSE_INVALID"),
        ({"expires_on": "2001-01-01"}, 422, "CONSENT_EXPIRY_IN_PAST"),
        ({"evidence": ""}, 422, "INPUT_INVALID"),
        ({"fields": []}, 422, "INPUT_INVALID"),
    ],
)
def test_a_consent_that_cannot_hold_is_refused_and_nothing_is_stored(
    client, database, headers, overrides, status, code
):
    pin = register(client, headers)["pin"]
    refused = client.post(f"/api/v1/persons/{pin}/consents", json=consent_payload(**overrides), headers=headers)
    assert refused.status_code == status, refused.text
    assert refused.json()["error"]["code"] == code
    assert consent_count(database) == 0


def test_a_deceased_person_cannot_consent(client, database, headers):
    pin = register(client, headers)["pin"]
    died = client.post(
        f"/api/v1/persons/{pin}/life-status",
        json={"status": "deceased", "date": today_in_vietnam().isoformat(), "legal_basis": "Trích lục khai tử số 1"},
        headers=headers,
    )
    assert died.status_code == 200, died.text
    refused = client.post(f"/api/v1/persons/{pin}/consents", json=consent_payload(), headers=headers)
    assert refused.json()["error"]["code"] == "PERSON_DECEASED"


def test_consents_stay_within_the_officials_jurisdiction_and_auditors_only_read_them(client, database, headers):
    pin = register(client, headers)["pin"]
    elsewhere = sign_in(client, database, username="hoankiem", jurisdiction_code=HOAN_KIEM)
    for response in (
        client.post(f"/api/v1/persons/{pin}/consents", json=consent_payload(), headers=elsewhere),
        client.get(f"/api/v1/persons/{pin}/consents", headers=elsewhere),
    ):
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "JURISDICTION_DENIED"

    auditor = sign_in(client, database, username="auditor", role=Role.AUDITOR, jurisdiction_code=None)
    assert client.get(f"/api/v1/persons/{pin}/consents", headers=auditor).status_code == 200
    refused = client.post(f"/api/v1/persons/{pin}/consents", json=consent_payload(), headers=auditor)
    assert refused.json()["error"]["code"] == "ROLE_READ_ONLY"
    assert consent_count(database) == 0


def _give(database: Database, pin: str, **overrides: object) -> int:
    data = ConsentIn.model_validate(consent_payload(**overrides))
    with database.unit_of_work() as session:
        consent = consents.give(session, pin=pin, data=data, recorded_by="official:officer", today=today_in_vietnam())
        return consent.id


def _refusal(database: Database, pin: str, *, fields: tuple[str, ...], today: date, purpose: str = "account-opening"):
    with database.unit_of_work() as session:
        try:
            consents.require_consent(
                session, pin=pin, partner_id="vietbank", purpose=purpose, fields=fields, today=today
            )
        except DomainError as error:
            return error.code
    return None


def test_a_read_is_allowed_only_within_live_consents_for_that_partner_and_purpose(client, database, headers):
    pin = register(client, headers)["pin"]
    today = today_in_vietnam()
    _give(database, pin, fields=["full_name"])
    _give(database, pin, fields=["birth_date"], expires_on=(today + timedelta(days=30)).isoformat())

    assert _refusal(database, pin, fields=("full_name", "birth_date"), today=today) is None  # they add up
    assert _refusal(database, pin, fields=("full_name", "sex"), today=today) == "CONSENT_REQUIRED"
    assert _refusal(database, pin, fields=("full_name",), today=today, purpose="credit_scoring") == "CONSENT_REQUIRED"
    assert _refusal(database, pin, fields=("birth_date",), today=today + timedelta(days=31)) == "CONSENT_EXPIRED"
    assert _refusal(database, "079099000000", fields=("full_name",), today=today) == "CONSENT_REQUIRED"


def test_a_withdrawn_consent_refuses_the_next_read_until_a_new_one_is_given(client, database, headers):
    pin = register(client, headers)["pin"]
    today = today_in_vietnam()
    consent_id = _give(database, pin)
    with database.unit_of_work() as session:
        consents.revoke(
            session,
            pin=pin,
            consent_id=consent_id,
            data=consents.ConsentRevokeIn(evidence="Đơn rút lại"),
            revoked_by="official:officer",
        )
    assert _refusal(database, pin, fields=("full_name",), today=today) == "CONSENT_REVOKED"
    _give(database, pin)
    assert _refusal(database, pin, fields=("full_name",), today=today) is None


# ---------------------------------------------------------------------------------------------
# The console


def console_sign_in(client, database) -> str:
    add_official(database, username="counter", jurisdiction_code=BA_DINH)
    login = client.get("/console/login")
    response = client.post(
        "/console/login",
        data={"username": "counter", "password": PASSWORD, "csrf_token": CSRF.search(login.text).group(1)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return CSRF.search(client.get("/console").text).group(1)


def test_the_console_records_and_withdraws_a_consent_and_shows_it_on_the_person_page(client, database, headers):
    pin = register(client, headers)["pin"]
    csrf = console_sign_in(client, database)

    form = client.get(f"/console/persons/{pin}/consents/new")
    assert form.status_code == 200
    assert "Vietbank (vietbank)" in form.text
    refused = client.post(
        f"/console/persons/{pin}/consents/new",
        data={"csrf_token": csrf, "partner_id": "vietbank", "purpose": "account-opening", "evidence": FORM},
    )
    assert refused.status_code == 422
    assert 'id="field-fields-error"' in refused.text
    assert consent_count(database) == 0

    given = client.post(
        f"/console/persons/{pin}/consents/new",
        data={
            "csrf_token": csrf,
            "partner_id": "vietbank",
            "purpose": "account-opening",
            "fields": ["full_name", "permanent_address"],
            "evidence": FORM,
        },
        follow_redirects=False,
    )
    assert given.status_code == 303, given.text
    assert given.headers["location"] == f"/console/persons/{pin}/consents?notice=consent_given"
    listed = client.get(given.headers["location"])
    assert "Đã ghi nhận sự đồng ý của công dân." in listed.text
    assert "Địa chỉ thường trú" in listed.text and "Còn hiệu lực" in listed.text

    person_page = client.get(f"/console/persons/{pin}")
    assert "Đồng ý chia sẻ dữ liệu" in person_page.text
    assert f"/console/persons/{pin}/data-uses" in person_page.text
    consent_id = re.search(rf"/console/persons/{pin}/consents/(\d+)/revoke", person_page.text).group(1)

    without_grounds = client.post(f"/console/persons/{pin}/consents/{consent_id}/revoke", data={"csrf_token": csrf})
    assert without_grounds.status_code == 422
    withdrawn = client.post(
        f"/console/persons/{pin}/consents/{consent_id}/revoke",
        data={"csrf_token": csrf, "evidence": "Đơn rút lại sự đồng ý ngày 05/02/2026"},
        follow_redirects=False,
    )
    assert withdrawn.status_code == 303
    assert "Đã rút lại" in client.get(f"/console/persons/{pin}/consents").text
    english = client.get(f"/console/persons/{pin}/consents", params={"lang": "en"})
    assert "Withdrawn" in english.text
