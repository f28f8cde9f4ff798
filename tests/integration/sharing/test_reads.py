"""Reading a person (eKYC) through ``POST /api/v1/persons/read``: consent for a business, legal basis for an
agency, provenance of every attribute, and an access-log entry for every request, answered or refused."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from joserfc import jws
from joserfc.jwk import KeySet
from sqlalchemy import select, update

from builders import register, sign_in
from popreg.audit.models import AccessLogEntry
from popreg.kit.clock import today_in_vietnam
from popreg.kit.database import Database
from popreg.registry.models import Person, PersonEvent
from popreg.sharing.consent_models import Consent
from popreg.sharing.schemas import PartnerKind
from sharing_builders import access_token, add_partner, bearer

UNKNOWN_PIN = "079099000000"  # well formed, but nobody registered in province 079 in these tests
PURPOSE = "account-opening"
BASIS = "Luật Bảo hiểm xã hội 2024, Điều 16"
READ_FIELDS = ["full_name", "birth_date", "sex", "permanent_address", "permanent_commune_code"]


def partner_headers(partner_id: str = "vietbank") -> dict[str, str]:
    return {"Authorization": bearer(access_token(partner_id))}


def read(client, pin: str, *, partner_id: str = "vietbank", fields: list[str] | None = None, **extra: Any) -> Any:
    body = {"pin": pin, "purpose": PURPOSE, "fields": fields or ["full_name", "birth_date"], **extra}
    return client.post("/api/v1/persons/read", json=body, headers=partner_headers(partner_id))


def read_entries(database: Database) -> list[AccessLogEntry]:
    with database.unit_of_work() as session:
        return list(session.scalars(select(AccessLogEntry).where(AccessLogEntry.action == "read").order_by("seq")))


def give_consent(client, headers, pin: str, **overrides: Any) -> dict[str, Any]:
    payload = {
        "partner_id": "vietbank",
        "purpose": PURPOSE,
        "fields": ["full_name", "birth_date"],
        "evidence": "Phiếu đồng ý số 15/2026",
        **overrides,
    }
    response = client.post(f"/api/v1/persons/{pin}/consents", json=payload, headers=headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def officer(client, database) -> dict[str, str]:
    return sign_in(client, database)


@pytest.fixture
def bank(database) -> str:
    add_partner(database, partner_id="vietbank", read_fields=READ_FIELDS)
    return "vietbank"


@pytest.fixture
def ministry(database) -> str:
    add_partner(database, partner_id="bhxh", kind=PartnerKind.AGENCY, read_fields=READ_FIELDS)
    return "bhxh"


def test_a_business_with_the_persons_consent_reads_the_consented_attributes_and_the_read_is_logged(
    client, database, officer, bank
):
    pin = register(client, officer)["pin"]
    give_consent(client, officer, pin)

    answer = read(client, pin)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body["attributes"]) == {"full_name", "birth_date"}
    assert body["attributes"]["full_name"]["value"] == "Nguyễn Thị Minh Khai"
    assert body["attributes"]["birth_date"]["value"] == "1990-05-12"
    assert answer.headers["x-transaction-id"] == body["transaction_id"]
    assert answer.headers["cache-control"] == "no-store"
    keys = KeySet.import_key_set(client.get("/api/v1/verify/jwks").json())
    signed = jws.deserialize_compact(body.pop("signature"), keys, algorithms=["ES256"])
    assert json.loads(signed.payload) == body

    (entry,) = read_entries(database)
    assert (entry.principal_kind, entry.principal_id, entry.person_pin) == ("partner", "vietbank", pin)
    assert (entry.fields, entry.purpose, entry.result) == ("full_name,birth_date", PURPOSE, "ok")
    assert entry.transaction_id == body["transaction_id"]


def test_a_business_without_consent_is_refused_and_the_refusal_is_logged(client, database, officer, bank):
    pin = register(client, officer)["pin"]
    refused = read(client, pin)
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error["code"] == "CONSENT_REQUIRED"
    assert error["details"]["transaction_id"] == refused.headers["x-transaction-id"]
    (entry,) = read_entries(database)
    assert (entry.person_pin, entry.result, entry.transaction_id) == (
        pin,
        "CONSENT_REQUIRED",
        refused.headers["x-transaction-id"],
    )


def test_a_business_cannot_tell_an_unknown_pin_from_a_person_without_consent(client, database, officer, bank):
    pin = register(client, officer)["pin"]
    known, unknown = read(client, pin), read(client, UNKNOWN_PIN)
    assert known.status_code == unknown.status_code == 403

    def without_transaction(response: Any) -> dict[str, Any]:
        error = dict(response.json()["error"])
        error["details"] = {k: v for k, v in error["details"].items() if k != "transaction_id"}
        return error

    assert without_transaction(known) == without_transaction(unknown)
    assert [entry.result for entry in read_entries(database)] == ["CONSENT_REQUIRED", "CONSENT_REQUIRED"]


def test_a_consent_for_fewer_attributes_or_another_purpose_does_not_cover_the_read(client, database, officer, bank):
    pin = register(client, officer)["pin"]
    give_consent(client, officer, pin, fields=["full_name"])
    assert read(client, pin).json()["error"]["code"] == "CONSENT_REQUIRED"
    assert read(client, pin, fields=["full_name"]).status_code == 200


def test_a_revoked_consent_refuses_the_next_read(client, database, officer, bank):
    pin = register(client, officer)["pin"]
    consent = give_consent(client, officer, pin)
    assert read(client, pin).status_code == 200
    revoked = client.post(
        f"/api/v1/persons/{pin}/consents/{consent['id']}/revoke", json={"evidence": "Đơn rút lại"}, headers=officer
    )
    assert revoked.status_code == 200, revoked.text
    refused = read(client, pin)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "CONSENT_REVOKED"
    assert [entry.result for entry in read_entries(database)] == ["ok", "CONSENT_REVOKED"]


def test_an_expired_consent_refuses_the_read(client, database, officer, bank):
    pin = register(client, officer)["pin"]
    give_consent(client, officer, pin, expires_on=today_in_vietnam().isoformat())
    assert read(client, pin).status_code == 200  # the last day still counts
    with database.unit_of_work() as session:
        session.execute(update(Consent).values(expires_on=today_in_vietnam() - timedelta(days=1)))
    refused = read(client, pin)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "CONSENT_EXPIRED"


def test_an_agency_reads_on_a_stated_legal_basis_and_is_refused_without_one(client, database, officer, ministry):
    pin = register(client, officer)["pin"]
    refused = read(client, pin, partner_id=ministry)
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "LEGAL_BASIS_REQUIRED"
    blank = read(client, pin, partner_id=ministry, legal_basis="   ")
    assert blank.json()["error"]["code"] == "LEGAL_BASIS_REQUIRED"

    answer = read(client, pin, partner_id=ministry, legal_basis=BASIS)
    assert answer.status_code == 200, answer.text
    assert answer.json()["attributes"]["full_name"]["value"] == "Nguyễn Thị Minh Khai"
    unknown = read(client, UNKNOWN_PIN, partner_id=ministry, legal_basis=BASIS)
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "PERSON_NOT_FOUND"

    entries = read_entries(database)
    assert [entry.result for entry in entries] == [
        "LEGAL_BASIS_REQUIRED",
        "LEGAL_BASIS_REQUIRED",
        "ok",
        "PERSON_NOT_FOUND",
    ]
    assert entries[2].legal_basis == BASIS


def test_an_attribute_outside_the_policy_is_refused_before_anything_else_and_logged(client, database, officer, bank):
    pin = register(client, officer)["pin"]
    give_consent(client, officer, pin)
    refused = read(client, pin, fields=["full_name", "religion_code"])
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error["code"] == "POLICY_FIELD_DENIED"
    assert error["details"]["fields"] == ["religion_code"]
    (entry,) = read_entries(database)
    assert (entry.result, entry.fields) == ("POLICY_FIELD_DENIED", "full_name,religion_code")


def test_each_attribute_carries_the_agency_and_time_of_the_change_that_set_it(client, database, officer, ministry):
    pin = register(client, officer, source_agency="tuphap:00004")["pin"]
    changed = client.patch(
        f"/api/v1/persons/{pin}",
        json={"full_name": "Nguyễn Thị Minh Khuê", "legal_basis": "Quyết định cải chính hộ tịch số 7/2026"},
        headers=officer,
    )
    assert changed.status_code == 200, changed.text

    answer = read(client, pin, partner_id=ministry, fields=READ_FIELDS, legal_basis=BASIS)
    assert answer.status_code == 200, answer.text
    attributes = answer.json()["attributes"]
    with database.unit_of_work() as session:
        person_id = session.scalar(select(Person.id).where(Person.pin == pin))
        events = {
            e.event_type: e for e in session.scalars(select(PersonEvent).where(PersonEvent.person_id == person_id))
        }
    registered, renamed = events["person.registered"], events["person.changed"]
    residence = events["residence.permanent_registered"]

    assert attributes["full_name"]["value"] == "Nguyễn Thị Minh Khuê"
    assert attributes["full_name"]["source"] == renamed.source_agency == "police:00004"
    assert attributes["full_name"]["last_updated"] == _iso(renamed.recorded_at)
    assert attributes["birth_date"]["source"] == "tuphap:00004"
    assert attributes["birth_date"]["last_updated"] == _iso(registered.recorded_at)
    assert attributes["sex"] == {"value": "F", "source": "tuphap:00004", "last_updated": _iso(registered.recorded_at)}
    assert attributes["permanent_address"]["value"] == "Số 12, ngõ 45, phố Đội Cấn"
    assert attributes["permanent_address"]["source"] == residence.source_agency
    assert attributes["permanent_address"]["last_updated"] == _iso(residence.recorded_at)
    assert attributes["permanent_commune_code"]["value"] == "00004"


def _iso(moment: Any) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def test_every_request_is_logged_even_when_it_is_refused_before_authentication(client, database, officer, bank):
    pin = register(client, officer)["pin"]
    token = partner_headers()
    cases = [
        (client.post("/api/v1/persons/read", content=b"{not json", headers=token), 400, "INPUT_MALFORMED_JSON"),
        (
            client.post(
                "/api/v1/persons/read",
                json={"pin": pin, "purpose": PURPOSE, "fields": ["full_name"], "colour": "blue"},
                headers=token,
            ),
            422,
            "INPUT_UNKNOWN_FIELD",
        ),
        (read(client, "12345"), 422, "PIN_INVALID_STRUCTURE"),
        (read(client, pin, fields=["blood_group"]), 422, "READ_FIELD_UNKNOWN"),
        (
            client.post("/api/v1/persons/read", json={"pin": pin, "purpose": PURPOSE, "fields": ["full_name"]}),
            401,
            "PARTNER_TOKEN_MISSING",
        ),
        (
            client.post(
                "/api/v1/persons/read",
                json={"pin": pin, "purpose": PURPOSE, "fields": ["full_name"]},
                headers={"Authorization": "Bearer forged.token.value"},
            ),
            401,
            "PARTNER_TOKEN_INVALID",
        ),
        (_read_with_purpose(client, pin, "marketing"), 403, "POLICY_PURPOSE_DENIED"),
    ]
    for response, status, code in cases:
        assert response.status_code == status, response.text
        assert response.json()["error"]["code"] == code
        assert response.json()["error"]["details"]["transaction_id"] == response.headers["x-transaction-id"]
    assert cases[4][0].headers["www-authenticate"].startswith("Bearer")

    entries = read_entries(database)
    assert [entry.result for entry in entries] == [code for _, _, code in cases]
    assert [entry.transaction_id for entry in entries] == [
        response.headers["x-transaction-id"] for response, _, _ in cases
    ]
    principals = [(entry.principal_kind, entry.principal_id) for entry in entries]
    assert principals[:4] == [("partner", "vietbank")] * 4  # a malformed request still names a good token's partner
    assert principals[4:6] == [("anonymous", "-")] * 2
    assert [entry.person_pin for entry in entries] == [None, pin, None, pin, pin, pin, pin]


def _read_with_purpose(client, pin: str, purpose: str) -> Any:
    body = {"pin": pin, "purpose": purpose, "fields": ["full_name"]}
    return client.post("/api/v1/persons/read", json=body, headers=partner_headers())


def test_a_partner_over_its_rate_is_told_when_to_retry(client, database, officer):
    add_partner(database, partner_id="slowbank", read_fields=READ_FIELDS, rate_per_second=0.01, burst=1)
    pin = register(client, officer)["pin"]
    first, second = read(client, pin, partner_id="slowbank"), read(client, pin, partner_id="slowbank")
    assert first.json()["error"]["code"] == "CONSENT_REQUIRED"
    assert second.status_code == 429
    assert second.json()["error"]["code"] == "RATE_LIMITED"
    assert int(second.headers["retry-after"]) >= 1
    assert [entry.result for entry in read_entries(database)] == ["CONSENT_REQUIRED", "RATE_LIMITED"]
