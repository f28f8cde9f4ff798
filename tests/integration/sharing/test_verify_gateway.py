"""POST /api/v1/verify and /api/v1/verify/batch, on SQLite and PostgreSQL: answers, signatures, the
access log written before the answer, every refusal with its code, and what a partner can never learn."""

# ruff: noqa: F811 - the fixtures officer and person come from sharing_builders

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from joserfc import jws
from joserfc.jwk import KeySet
from sqlalchemy import select, text

from popreg.audit.models import AccessLogEntry
from popreg.audit.service import verify_log
from popreg.kit.database import Database
from sharing_builders import access_token, add_partner, admin_headers, bearer, officer, person  # noqa: F401 - fixtures

DEATH_EXTRACT = "Trích lục khai tử số 12/2026"
TODAY_CLAIMS = {"full_name": "Nguyễn Thị Minh Khai", "birth_date": "1990-05-12", "sex": "F"}


def verify(client: TestClient, token: str | None, **body: Any) -> Any:
    headers = {"Authorization": bearer(token)} if token else {}
    return client.post("/api/v1/verify", json=body, headers=headers)


def log_entry(database: Database, transaction_id: str) -> AccessLogEntry:
    with database.read_session() as session:
        return session.execute(
            select(AccessLogEntry).where(AccessLogEntry.transaction_id == transaction_id)
        ).scalar_one()


def error_of(response: Any) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]
    return error


@pytest.fixture
def partner_token(database: Database) -> str:
    add_partner(database, verify_fields=["full_name", "birth_date", "sex", "card_issued_on"])
    return access_token("vietbank")


def test_a_verification_answers_per_attribute_signs_the_answer_and_logs_it_first(
    client, database, person, partner_token
):
    response = verify(client, partner_token, pin=person, purpose="account-opening", claims=TODAY_CLAIMS)

    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["result"] == "match"
    assert answer["attributes"] == {"full_name": "match", "birth_date": "match", "sex": "match"}
    assert answer["person_status"] == "alive"
    assert answer["partner_id"] == "vietbank"
    assert response.headers["x-transaction-id"] == answer["transaction_id"]
    assert "Nguyễn" not in response.text.replace(json.dumps(TODAY_CLAIMS, ensure_ascii=False), "")
    sent = response.request.content
    assert answer["request_sha256"] == hashlib.sha256(sent).hexdigest()

    keys = KeySet.import_key_set(client.get("/api/v1/verify/jwks").json())
    signed = jws.deserialize_compact(answer.pop("signature"), keys, algorithms=["ES256"])
    assert json.loads(signed.payload) == answer
    assert signed.protected["typ"] == "popreg-answer+jwt"

    entry = log_entry(database, answer["transaction_id"])
    assert (entry.principal_kind, entry.principal_id, entry.action) == ("partner", "vietbank", "verify")
    assert (entry.person_pin, entry.result, entry.purpose) == (person, "match", "account-opening")
    assert entry.fields == "full_name,birth_date,sex"


def test_wrong_claims_and_an_unknown_pin_get_the_same_answer(client, person, partner_token):
    wrong = verify(
        client, partner_token, pin=person, purpose="account-opening", claims={"full_name": "Trần Văn Bình"}
    ).json()
    unknown_pin = "001" + person[3:6] + ("000001" if person[6:] != "000001" else "000002")
    unknown = verify(
        client, partner_token, pin=unknown_pin, purpose="account-opening", claims={"full_name": "Trần Văn Bình"}
    ).json()

    def shape(answer: dict[str, Any]) -> dict[str, Any]:
        return {
            key: value
            for key, value in answer.items()
            if key not in ("transaction_id", "answered_at", "signature", "request_sha256")
        }

    assert (
        shape(wrong)
        == shape(unknown)
        == {
            "partner_id": "vietbank",
            "mode": "normalised",
            "result": "no_match",
            "attributes": {"full_name": "no_match"},
        }
    )


def test_a_deceased_person_answers_as_such_once_the_claims_match(client, officer, person, partner_token):
    died = client.post(
        f"/api/v1/persons/{person}/life-status",
        json={"status": "deceased", "date": "2025-12-01", "legal_basis": DEATH_EXTRACT},
        headers=officer,
    )
    assert died.status_code == 200, died.text

    matched = verify(client, partner_token, pin=person, purpose="account-opening", claims=TODAY_CLAIMS).json()
    wrong = verify(client, partner_token, pin=person, purpose="account-opening", claims={"sex": "M"}).json()

    assert (matched["result"], matched["person_status"]) == ("match", "deceased")
    assert "person_status" not in wrong


def test_a_cancelled_card_answers_as_cancelled(client, officer, person, partner_token):
    applied = client.post(
        f"/api/v1/persons/{person}/cards", json={"kind": "first", "legal_basis": "Tờ khai CC01"}, headers=officer
    ).json()
    for step in ("produce", "issue"):
        done = client.post(f"/api/v1/persons/{person}/cards/{applied['id']}/{step}", json={}, headers=officer)
        assert done.status_code == 200, done.text
    issued_on = done.json()["issued_on"]
    valid = verify(client, partner_token, pin=person, purpose="account-opening", claims={"card_issued_on": issued_on})
    cancelled = client.post(
        f"/api/v1/persons/{person}/cards/{applied['id']}/cancel",
        json={"reason": "lost", "legal_basis": "Đơn báo mất thẻ số 7/2026"},
        headers=officer,
    )
    assert cancelled.status_code == 200, cancelled.text
    after = verify(client, partner_token, pin=person, purpose="account-opening", claims={"card_issued_on": issued_on})

    assert (valid.json()["result"], valid.json()["card_status"]) == ("match", "valid")
    assert after.json()["card_status"] == "cancelled"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b'{"pin": "0010', 400, "INPUT_MALFORMED_JSON"),
        (
            b'{"pin": "001090000001", "purpose": "account-opening", "claims": {"shoe_size": "42"}}',
            422,
            "INPUT_UNKNOWN_FIELD",
        ),
        (
            b'{"pin": "001090000001", "purpose": "account-opening", "claims": {}, "extra": 1}',
            422,
            "INPUT_UNKNOWN_FIELD",
        ),
        (b'{"pin": 1, "purpose": "account-opening", "claims": {"sex": "F"}}', 422, "INPUT_INVALID"),
        (b'{"purpose": "account-opening", "claims": {"sex": "F"}}', 422, "INPUT_INVALID"),
        (b'{"pin": "0010900", "purpose": "account-opening", "claims": {"sex": "F"}}', 422, "PIN_INVALID_STRUCTURE"),
        (b'{"pin": "001090000001", "purpose": "account-opening", "claims": {}}', 422, "VERIFY_NO_CLAIMS"),
        (
            b'{"pin": "001090000001", "purpose": "account-opening", "claims": {"birth_date": "12/05/1990"}}',
            422,
            "VERIFY_INVALID_DATE",
        ),
        (
            b'{"pin": "001090000001", "purpose": "account-opening", "claims": {"sex": "F"}, '
            b'"mode": "fuzzy", "threshold": 1.5}',
            422,
            "VERIFY_INVALID_THRESHOLD",
        ),
        (
            b'{"pin": "001090000001", "purpose": "account-opening", "claims": {"sex": "F"}, "mode": "loose"}',
            422,
            "INPUT_INVALID",
        ),
        (b'{"pin": "001090000001", "purpose": "marketing", "claims": {"sex": "F"}}', 403, "POLICY_PURPOSE_DENIED"),
        (
            b'{"pin": "001090000001", "purpose": "account-opening", "claims": {"nationality": "VNM"}}',
            403,
            "POLICY_FIELD_DENIED",
        ),
    ],
)
def test_bad_requests_get_their_code_and_are_logged(client, database, partner_token, body, status, code):
    response = client.post(
        "/api/v1/verify",
        content=body,
        headers={"Authorization": bearer(partner_token), "Content-Type": "application/json"},
    )

    assert response.status_code == status, response.text
    error = error_of(response)
    assert error["code"] == code
    assert error["message"]
    entry = log_entry(database, error["details"]["transaction_id"])
    assert (entry.principal_id, entry.result) == ("vietbank", code)


def test_requests_without_a_valid_token_are_refused_and_logged_as_anonymous(client, database, person):
    missing = verify(client, None, pin=person, purpose="account-opening", claims={"sex": "F"})
    forged = verify(client, "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl", pin=person, purpose="x", claims={})
    expired = verify(
        client,
        access_token("vietbank", issued_seconds_ago=3600, lifetime_seconds=600),
        pin=person,
        purpose="x",
        claims={},
    )

    assert [r.status_code for r in (missing, forged, expired)] == [401, 401, 401]
    assert [error_of(r)["code"] for r in (missing, forged, expired)] == [
        "PARTNER_TOKEN_MISSING",
        "PARTNER_TOKEN_INVALID",
        "PARTNER_TOKEN_EXPIRED",
    ]
    assert missing.headers["www-authenticate"].startswith("Bearer")
    entry = log_entry(database, error_of(missing)["details"]["transaction_id"])
    assert (entry.principal_kind, entry.result) == ("anonymous", "PARTNER_TOKEN_MISSING")


def test_a_refusal_by_policy_is_the_same_for_a_pin_that_exists_and_one_that_does_not(client, person, partner_token):
    claims = {"nationality": "VNM"}
    known = verify(client, partner_token, pin=person, purpose="account-opening", claims=claims)
    unknown = verify(client, partner_token, pin="001190999999", purpose="account-opening", claims=claims)

    def without_id(response: Any) -> dict[str, Any]:
        error = error_of(response)
        error["details"].pop("transaction_id")
        return {"status": response.status_code, **error}

    assert without_id(known) == without_id(unknown)


def test_an_oversized_body_and_a_wrong_method_are_refused(client, database, partner_token):
    huge = client.post(
        "/api/v1/verify",
        content=b'{"pin": "' + b"1" * 1_100_000 + b'"}',
        headers={"Authorization": bearer(partner_token), "Content-Type": "application/json"},
    )
    wrong_method = client.get("/api/v1/verify")

    assert (huge.status_code, error_of(huge)["code"]) == (413, "INPUT_TOO_LARGE")
    assert log_entry(database, error_of(huge)["details"]["transaction_id"]).result == "INPUT_TOO_LARGE"
    assert (wrong_method.status_code, error_of(wrong_method)["code"]) == (405, "METHOD_NOT_ALLOWED")


def test_a_suspended_partner_is_refused(client, database, person, partner_token):
    admin = admin_headers(client, database)
    suspended = client.post("/api/v1/partners/vietbank/suspend", json={"reason": "Hợp đồng hết hạn"}, headers=admin)
    assert suspended.status_code == 200, suspended.text

    response = verify(client, partner_token, pin=person, purpose="account-opening", claims={"sex": "F"})

    assert (response.status_code, error_of(response)["code"]) == (403, "PARTNER_SUSPENDED")


def test_the_daily_quota_and_the_rate_limit_answer_429(client, database, person):
    add_partner(database, partner_id="smallbank", daily_quota=2, rate_per_second=1000.0, burst=1000)
    add_partner(database, partner_id="slowbank", daily_quota=1000, rate_per_second=0.01, burst=1)
    small, slow = access_token("smallbank"), access_token("slowbank")
    claims = {"sex": "F"}

    quota = [verify(client, small, pin=person, purpose="account-opening", claims=claims) for _ in range(3)]
    rate = [verify(client, slow, pin=person, purpose="account-opening", claims=claims) for _ in range(2)]

    assert [r.status_code for r in quota] == [200, 200, 429]
    assert error_of(quota[2])["code"] == "QUOTA_EXHAUSTED"
    assert [r.status_code for r in rate] == [200, 429]
    assert error_of(rate[1])["code"] == "RATE_LIMITED"
    assert int(rate[1].headers["retry-after"]) >= 1


def test_a_batch_answers_each_item_and_logs_every_person_under_one_signed_transaction(
    client, database, person, partner_token
):
    body = {
        "purpose": "account-opening",
        "items": [
            {"pin": person, "claims": TODAY_CLAIMS, "reference": "a"},
            {"pin": person, "claims": {"sex": "M"}, "reference": "b"},
            {"pin": "12345", "claims": {"sex": "M"}, "reference": "c"},
            {"pin": person, "claims": {"birth_date": "1990-13-45"}, "reference": "d"},
        ],
    }
    response = client.post("/api/v1/verify/batch", json=body, headers={"Authorization": bearer(partner_token)})

    assert response.status_code == 200, response.text
    answer = response.json()
    results = {item["reference"]: item for item in answer["results"]}
    assert results["a"]["result"] == "match"
    assert results["b"]["attributes"] == {"sex": "no_match"}
    assert results["c"]["error"]["code"] == "PIN_INVALID_STRUCTURE"
    assert results["d"]["error"]["code"] == "VERIFY_INVALID_DATE"
    keys = KeySet.import_key_set(client.get("/api/v1/verify/jwks").json())
    signature = answer.pop("signature")
    assert json.loads(jws.deserialize_compact(signature, keys, algorithms=["ES256"]).payload) == answer
    entry = log_entry(database, answer["transaction_id"])
    assert (entry.action, entry.item_count) == ("verify.batch", 4)
    with database.read_session() as session:
        items = session.execute(
            text("SELECT person_pin, result FROM access_log_item WHERE seq = :seq ORDER BY position"),
            {"seq": entry.seq},
        ).all()
        assert verify_log(session).intact
    assert [tuple(row) for row in items] == [
        (person, "match"),
        (person, "no_match"),
        (None, "PIN_INVALID_STRUCTURE"),
        (person, "VERIFY_INVALID_DATE"),
    ]


def test_a_batch_over_a_thousand_items_is_refused(client, partner_token):
    items = [{"pin": "001090000001", "claims": {"sex": "F"}}] * 1001
    response = client.post(
        "/api/v1/verify/batch",
        json={"purpose": "account-opening", "items": items},
        headers={"Authorization": bearer(partner_token)},
    )

    assert (response.status_code, error_of(response)["code"]) == (422, "INPUT_INVALID")


def test_no_answer_is_given_when_the_access_log_cannot_be_written(client, database, person, partner_token):
    with database.unit_of_work() as session:
        session.execute(text("ALTER TABLE access_log RENAME TO access_log_elsewhere"))
    try:
        response = verify(client, partner_token, pin=person, purpose="account-opening", claims=TODAY_CLAIMS)
    finally:
        with database.unit_of_work() as session:
            session.execute(text("ALTER TABLE access_log_elsewhere RENAME TO access_log"))

    assert (response.status_code, error_of(response)["code"]) == (503, "ACCESS_LOG_UNAVAILABLE")
    assert "result" not in response.json()


def test_the_openapi_document_describes_the_hot_routes(client):
    document = client.get("/openapi.json").json()

    verify_operation = document["paths"]["/api/v1/verify"]["post"]
    assert verify_operation["operationId"] == "verify_claims"
    schema_ref = verify_operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    request_schema = document["components"]["schemas"][schema_ref.rsplit("/", 1)[1]]
    assert set(request_schema["required"]) == {"pin", "purpose", "claims"}
    assert "/api/v1/verify/batch" in document["paths"]
    assert "PartnerToken" in document["components"]["securitySchemes"]
