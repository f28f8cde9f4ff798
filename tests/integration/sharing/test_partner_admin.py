"""Partners' administration through the API, on SQLite and PostgreSQL: registering partners, their
policies, keys and suspension; who may do it; every change in the access log; refusals change nothing."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from builders import HA_NOI, sign_in
from popreg.audit.models import AccessLogEntry
from popreg.officials.rules import Role
from popreg.sharing.credentials import generate_key_pair
from popreg.sharing.models import Partner, PartnerKey, PartnerPolicy
from sharing_builders import admin_headers, policy_payload


@pytest.fixture
def api(client: TestClient) -> TestClient:
    return client


@pytest.fixture
def admin(api: TestClient, database: Any) -> dict[str, str]:
    return admin_headers(api, database)


def create(api: TestClient, headers: dict[str, str], partner_id: str = "vietbank", **extra: Any) -> Any:
    body = {"id": partner_id, "name": "Ngân hàng Việt", "kind": "business", **extra}
    return api.post("/api/v1/partners", json=body, headers=headers)


def log_actions(database: Any) -> list[tuple[str, str, str, str]]:
    with database.unit_of_work() as session:
        rows = session.execute(
            select(
                AccessLogEntry.principal_kind, AccessLogEntry.principal_id, AccessLogEntry.action, AccessLogEntry.fields
            ).order_by(AccessLogEntry.seq)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


def test_a_registered_partner_starts_active_with_a_policy_that_allows_nothing(api, admin, database):
    response = create(api, admin)

    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["id"], body["kind"], body["status"]) == ("vietbank", "business", "active")
    assert body["policy"]["operations"] == [] and body["policy"]["daily_quota"] == 0
    assert body["policy"]["version"] == 1 and body["keys"] == []
    assert ("official", "admin", "partner.create", "partner=vietbank,kind=business") in log_actions(database)


def test_partners_are_listed_and_read_one_by_one(api, admin):
    create(api, admin, "vietbank")
    create(api, admin, "mobitel", kind="business")
    create(api, admin, "bhxh", kind="agency")

    listed = api.get("/api/v1/partners", headers=admin)
    one = api.get("/api/v1/partners/bhxh", headers=admin)
    missing = api.get("/api/v1/partners/nobody", headers=admin)

    assert [item["id"] for item in listed.json()["items"]] == ["bhxh", "mobitel", "vietbank"]
    assert one.json()["kind"] == "agency"
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "PARTNER_NOT_FOUND"


@pytest.mark.parametrize(
    ("role", "jurisdiction"),
    [(Role.COMMUNE_OFFICER, "00004"), (Role.PROVINCE_OFFICER, HA_NOI), (Role.AUDITOR, None)],
)
def test_only_a_national_administrator_manages_partners(api, admin, database, role, jurisdiction):
    create(api, admin, "vietbank")
    headers = sign_in(api, database, username="someone", role=role, jurisdiction_code=jurisdiction)

    attempts = [
        create(api, headers, "other"),
        api.get("/api/v1/partners", headers=headers),
        api.put("/api/v1/partners/vietbank/policy", json=policy_payload(), headers=headers),
        api.post("/api/v1/partners/vietbank/suspend", json={"reason": "test"}, headers=headers),
    ]

    assert {(r.status_code, r.json()["error"]["code"]) for r in attempts} == {(403, "NATIONAL_ADMIN_REQUIRED")}
    with database.unit_of_work() as session:
        assert session.scalars(select(Partner.id)).all() == ["vietbank"]
        assert session.get(PartnerPolicy, "vietbank").version == 1


def test_partner_administration_needs_a_signed_in_official(api):
    response = api.get("/api/v1/partners")

    assert response.status_code == 401 and response.json()["error"]["code"] == "AUTH_REQUIRED"


@pytest.mark.parametrize("partner_id", ["VietBank", "v", "1bank", "viet bank", "viet_bank", "x" * 41])
def test_a_partner_id_is_a_short_lower_case_slug(api, admin, database, partner_id):
    response = create(api, admin, partner_id)

    assert response.status_code == 422
    assert response.json()["error"]["code"] in {"PARTNER_ID_INVALID", "INPUT_INVALID"}
    with database.unit_of_work() as session:
        assert session.scalars(select(Partner)).all() == []


def test_a_partner_id_is_registered_once(api, admin):
    create(api, admin)

    again = create(api, admin)

    assert again.status_code == 409 and again.json()["error"]["code"] == "PARTNER_EXISTS"


def test_setting_the_policy_replaces_it_and_increments_its_version(api, admin, database):
    create(api, admin)
    payload = policy_payload(
        operations=["read", "verify", "verify"],
        verify_fields=["sex", "full_name"],
        purposes=["sim-registration", "account-opening", "account-opening"],
        daily_quota=50_000,
        rate_per_second=20.5,
        burst=40,
    )

    response = api.put("/api/v1/partners/vietbank/policy", json=payload, headers=admin)

    assert response.status_code == 200, response.text
    policy = response.json()["policy"]
    assert policy["operations"] == ["verify", "read"]
    assert policy["verify_fields"] == ["full_name", "sex"]
    assert policy["purposes"] == ["account-opening", "sim-registration"]
    assert (policy["daily_quota"], policy["rate_per_second"], policy["burst"], policy["version"]) == (
        50_000,
        20.5,
        40,
        2,
    )
    assert ("official", "admin", "partner.policy", "partner=vietbank,version=2") in log_actions(database)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"operations": ["verify", "delete"]}, "POLICY_OPERATION_UNKNOWN"),
        ({"verify_fields": ["full_name", "salary"]}, "POLICY_FIELD_UNKNOWN"),
        ({"read_fields": ["password"]}, "POLICY_FIELD_UNKNOWN"),
        ({"purposes": ["Account Opening"]}, "POLICY_PURPOSE_INVALID"),
        ({"daily_quota": -1}, "INPUT_INVALID"),
        ({"rate_per_second": 0}, "INPUT_INVALID"),
        ({"burst": 0}, "INPUT_INVALID"),
        ({"expected_version": 7}, "VERSION_CONFLICT"),
        ({"surprise": True}, "INPUT_UNKNOWN_FIELD"),
    ],
)
def test_an_invalid_policy_is_refused_and_the_old_one_stays(api, admin, database, change, code):
    create(api, admin)

    response = api.put("/api/v1/partners/vietbank/policy", json=policy_payload(**change), headers=admin)

    assert response.json()["error"]["code"] == code
    assert response.status_code in (409, 422)
    with database.unit_of_work() as session:
        policy = session.get(PartnerPolicy, "vietbank")
        assert (policy.version, policy.operations) == (1, [])


def test_the_policy_of_an_unknown_partner_cannot_be_set(api, admin):
    response = api.put("/api/v1/partners/nobody/policy", json=policy_payload(), headers=admin)

    assert response.status_code == 404 and response.json()["error"]["code"] == "PARTNER_NOT_FOUND"


@pytest.mark.parametrize("alg", ["ES256", "EdDSA"])
def test_a_public_key_is_registered_with_its_kid_and_algorithm(api, admin, database, alg):
    create(api, admin)
    _private, public = generate_key_pair(alg)

    response = api.post("/api/v1/partners/vietbank/keys", json={"jwk": public}, headers=admin)

    assert response.status_code == 201, response.text
    [key] = response.json()["keys"]
    assert (key["kid"], key["alg"], key["status"], key["retired_at"]) == (public["kid"], alg, "active", None)
    assert "d" not in key["jwk"]
    assert ("official", "admin", "partner.key.add", f"partner=vietbank,kid={public['kid']},alg={alg}") in log_actions(
        database
    )


def test_a_key_without_kid_is_named_by_its_thumbprint(api, admin):
    create(api, admin)
    _private, public = generate_key_pair()
    del public["kid"]

    response = api.post("/api/v1/partners/vietbank/keys", json={"jwk": public}, headers=admin)

    assert response.status_code == 201, response.text
    assert len(response.json()["keys"][0]["kid"]) == 43  # base64url of a SHA-256 digest


RSA_PUBLIC = {"kty": "RSA", "n": "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1Wl", "e": "AQAB"}


@pytest.mark.parametrize(
    ("jwk", "code"),
    [
        (generate_key_pair()[0], "PARTNER_KEY_PRIVATE"),
        (generate_key_pair("EdDSA")[0], "PARTNER_KEY_PRIVATE"),
        ({"kty": "oct", "k": "c2VjcmV0"}, "PARTNER_KEY_PRIVATE"),
        (RSA_PUBLIC, "PARTNER_KEY_TYPE_UNSUPPORTED"),
        ({**generate_key_pair()[1], "crv": "P-384"}, "PARTNER_KEY_TYPE_UNSUPPORTED"),
        ({**generate_key_pair()[1], "alg": "ES384"}, "PARTNER_KEY_TYPE_UNSUPPORTED"),
        ({**generate_key_pair()[1], "x": "bm90IGEgcG9pbnQ"}, "PARTNER_KEY_INVALID"),
        ({**generate_key_pair()[1], "use": "enc"}, "PARTNER_KEY_INVALID"),
        ({**generate_key_pair()[1], "kid": "has spaces/and slashes"}, "PARTNER_KEY_INVALID"),
        ({"crv": "P-256"}, "PARTNER_KEY_INVALID"),
    ],
)
def test_private_unsupported_or_broken_keys_are_refused(api, admin, database, jwk, code):
    create(api, admin)

    response = api.post("/api/v1/partners/vietbank/keys", json={"jwk": jwk}, headers=admin)

    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == code
    with database.unit_of_work() as session:
        assert session.scalars(select(PartnerKey)).all() == []


def test_a_key_id_is_never_reused_and_five_active_keys_are_the_most(api, admin):
    create(api, admin)
    first = generate_key_pair()[1]
    assert api.post("/api/v1/partners/vietbank/keys", json={"jwk": first}, headers=admin).status_code == 201
    for _ in range(4):
        added = api.post("/api/v1/partners/vietbank/keys", json={"jwk": generate_key_pair()[1]}, headers=admin)
        assert added.status_code == 201

    reused = api.post("/api/v1/partners/vietbank/keys", json={"jwk": first}, headers=admin)
    sixth = api.post("/api/v1/partners/vietbank/keys", json={"jwk": generate_key_pair()[1]}, headers=admin)
    api.post(f"/api/v1/partners/vietbank/keys/{first['kid']}/retire", headers=admin)
    after_retiring = api.post("/api/v1/partners/vietbank/keys", json={"jwk": generate_key_pair()[1]}, headers=admin)

    assert reused.status_code == 409 and reused.json()["error"]["code"] == "PARTNER_KEY_EXISTS"
    assert sixth.status_code == 409 and sixth.json()["error"]["code"] == "PARTNER_KEY_LIMIT"
    assert after_retiring.status_code == 201


def test_a_retired_key_stays_listed_with_the_time_it_was_retired(api, admin, database):
    create(api, admin)
    public = generate_key_pair()[1]
    api.post("/api/v1/partners/vietbank/keys", json={"jwk": public}, headers=admin)

    retired = api.post(f"/api/v1/partners/vietbank/keys/{public['kid']}/retire", headers=admin)
    again = api.post(f"/api/v1/partners/vietbank/keys/{public['kid']}/retire", headers=admin)
    unknown = api.post("/api/v1/partners/vietbank/keys/nokey/retire", headers=admin)

    assert retired.status_code == 200 and retired.json()["status"] == "retired"
    assert retired.json()["retired_at"] is not None
    assert again.status_code == 409 and again.json()["error"]["code"] == "PARTNER_KEY_ALREADY_RETIRED"
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "PARTNER_KEY_NOT_FOUND"
    assert ("official", "admin", "partner.key.retire", f"partner=vietbank,kid={public['kid']}") in log_actions(database)


def test_suspension_keeps_its_reason_until_the_partner_is_resumed(api, admin, database):
    create(api, admin)

    suspended = api.post("/api/v1/partners/vietbank/suspend", json={"reason": "Hợp đồng hết hạn"}, headers=admin)
    twice = api.post("/api/v1/partners/vietbank/suspend", json={"reason": "again"}, headers=admin)
    resumed = api.post("/api/v1/partners/vietbank/resume", headers=admin)
    resumed_twice = api.post("/api/v1/partners/vietbank/resume", headers=admin)

    assert (suspended.json()["status"], suspended.json()["suspension_reason"]) == ("suspended", "Hợp đồng hết hạn")
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "PARTNER_ALREADY_SUSPENDED"
    assert (resumed.json()["status"], resumed.json()["suspension_reason"]) == ("active", None)
    assert resumed_twice.status_code == 409 and resumed_twice.json()["error"]["code"] == "PARTNER_NOT_SUSPENDED"
    with database.unit_of_work() as session:
        entry = session.scalars(select(AccessLogEntry).where(AccessLogEntry.action == "partner.suspend")).one()
        assert (entry.principal_id, entry.legal_basis) == ("admin", "Hợp đồng hết hạn")
    assert [action for _kind, _id, action, _fields in log_actions(database) if action.startswith("partner.")] == [
        "partner.create",
        "partner.suspend",
        "partner.resume",
    ]


def test_a_suspension_needs_a_reason(api, admin):
    create(api, admin)

    blank = api.post("/api/v1/partners/vietbank/suspend", json={"reason": "   "}, headers=admin)
    missing = api.post("/api/v1/partners/vietbank/suspend", json={}, headers=admin)

    assert blank.json()["error"]["code"] == "PARTNER_SUSPENSION_REASON_REQUIRED"
    assert missing.json()["error"]["code"] == "INPUT_INVALID"
