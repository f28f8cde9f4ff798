"""The partners' token endpoint (OAuth 2.0 client credentials with private_key_jwt), on SQLite and
PostgreSQL: a good assertion gets a token; every bad one gets an RFC 6749 error with our code, is
logged, and stores nothing; keys rotate without downtime."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from popreg.audit.models import AccessLogEntry
from popreg.kit.settings import Settings
from popreg.sharing import service
from popreg.sharing.credentials import access_token_key, client_assertion, read_access_token
from popreg.sharing.gate import PartnerGate
from popreg.sharing.models import UsedClientAssertion
from sharing_builders import (
    TOKEN_URL,
    add_key,
    add_partner,
    bearer,
    request_token,
    signed_assertion,
    token_form,
)

# RFC 9864 prefers the name "Ed25519" to "EdDSA"; both are accepted and tested here.
pytestmark = pytest.mark.filterwarnings("ignore:EdDSA is deprecated via RFC 9864")
RFC_ERRORS = {"invalid_client", "invalid_request", "unsupported_grant_type", "invalid_scope"}


@pytest.fixture
def api(client: TestClient) -> TestClient:
    return client


def post_token(api: TestClient, form: dict[str, str]) -> Any:
    return api.post("/api/v1/oauth/token", data=form)


def token_log(database: Any) -> list[tuple[str, str, str]]:
    with database.unit_of_work() as session:
        rows = session.execute(
            select(AccessLogEntry.principal_kind, AccessLogEntry.principal_id, AccessLogEntry.result)
            .where(AccessLogEntry.action == "token")
            .order_by(AccessLogEntry.seq)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


def used_assertions(database: Any) -> int:
    with database.unit_of_work() as session:
        return len(session.scalars(select(UsedClientAssertion)).all())


def assert_refused(response: Any, *, status: int, error: str, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] in RFC_ERRORS
    assert (body["error"], body["code"]) == (error, code)
    assert body["error_description"]
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("alg", ["ES256", "EdDSA"])
def test_a_valid_client_assertion_gets_a_bearer_token_for_the_policys_operations(api, database, settings, alg):
    keys = add_partner(database, alg=alg)

    response = request_token(api, keys)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == settings.access_token_minutes * 60
    assert body["scope"] == "verify read"
    assert response.headers["cache-control"] == "no-store"
    context = PartnerGate(database, settings).authenticate(bearer(body["access_token"]))
    assert (context.partner_id, context.kind, context.scope) == ("vietbank", "business", frozenset({"verify", "read"}))
    assert token_log(database) == [("partner", "vietbank", "ok")]
    assert used_assertions(database) == 1


def test_the_access_token_carries_the_partner_expiry_jti_scope_and_policy_version(api, database, settings):
    keys = add_partner(database)
    before = int(time.time())

    body = request_token(api, keys, scope="verify").json()

    claims = read_access_token(body["access_token"], access_token_key(settings.secret_key.get_secret_value()))
    assert claims is not None
    assert (claims.sub, claims.scope, claims.policy_version) == ("vietbank", "verify", 2)
    assert before <= claims.iat <= before + 5 and claims.exp == claims.iat + settings.access_token_minutes * 60
    assert len(claims.jti) >= 16


def test_a_scope_outside_the_policy_is_refused(api, database):
    keys = add_partner(database, operations=["verify"])

    response = request_token(api, keys, scope="verify read")

    assert_refused(response, status=400, error="invalid_scope", code="TOKEN_SCOPE_INVALID")
    assert used_assertions(database) == 0


def test_a_replayed_client_assertion_is_refused(api, database):
    keys = add_partner(database)
    assertion = client_assertion(keys.private_jwk, partner_id="vietbank", token_url=TOKEN_URL)

    first = post_token(api, token_form(assertion))
    replay = post_token(api, token_form(assertion))

    assert first.status_code == 200, first.text
    assert_refused(replay, status=401, error="invalid_client", code="PARTNER_ASSERTION_REPLAYED")
    assert token_log(database) == [("partner", "vietbank", "ok"), ("partner", "vietbank", "PARTNER_ASSERTION_REPLAYED")]


def test_the_same_jti_is_refused_even_in_a_new_assertion(api, database):
    keys = add_partner(database)

    first = post_token(api, token_form(signed_assertion(keys, jti="order-1")))
    again = post_token(api, token_form(signed_assertion(keys, jti="order-1", iat=int(time.time()) + 1)))

    assert first.status_code == 200
    assert_refused(again, status=401, error="invalid_client", code="PARTNER_ASSERTION_REPLAYED")


def test_two_partners_may_use_the_same_jti(api, database):
    bank = add_partner(database, partner_id="vietbank")
    telecom = add_partner(database, partner_id="mobitel")

    first = post_token(api, token_form(signed_assertion(bank, jti="shared")))
    second = post_token(api, token_form(signed_assertion(telecom, jti="shared")))

    assert (first.status_code, second.status_code) == (200, 200)


@pytest.mark.parametrize(
    ("claims", "code"),
    [
        (lambda now: {"iat": now - 180, "exp": now - 120}, "PARTNER_ASSERTION_EXPIRED"),
        (lambda now: {"iat": now, "exp": now + 301}, "PARTNER_ASSERTION_LIFETIME_TOO_LONG"),
        (lambda now: {"aud": "https://elsewhere.example/token"}, "PARTNER_ASSERTION_AUDIENCE_INVALID"),
        (lambda now: {"aud": None}, "PARTNER_ASSERTION_AUDIENCE_INVALID"),
        (lambda now: {"sub": "mobitel"}, "PARTNER_ASSERTION_CLAIMS_INVALID"),
        (lambda now: {"jti": None}, "PARTNER_ASSERTION_CLAIMS_INVALID"),
        (lambda now: {"jti": "x" * 129}, "PARTNER_ASSERTION_CLAIMS_INVALID"),
        (lambda now: {"iat": None}, "PARTNER_ASSERTION_CLAIMS_INVALID"),
        (lambda now: {"exp": "tomorrow"}, "PARTNER_ASSERTION_CLAIMS_INVALID"),
        (lambda now: {"iat": now + 120, "exp": now + 180}, "PARTNER_ASSERTION_CLAIMS_INVALID"),
        (lambda now: {"iss": "nobody", "sub": "nobody"}, "PARTNER_UNKNOWN"),
    ],
    ids=[
        "expired",
        "lives-too-long",
        "other-audience",
        "no-audience",
        "sub-differs",
        "no-jti",
        "jti-too-long",
        "no-iat",
        "exp-not-a-number",
        "issued-in-future",
        "unknown-partner",
    ],
)
def test_an_assertion_breaking_a_claim_rule_is_refused_as_invalid_client(api, database, claims, code):
    keys = add_partner(database)

    response = post_token(api, token_form(signed_assertion(keys, **claims(int(time.time())))))

    assert_refused(response, status=401, error="invalid_client", code=code)
    assert used_assertions(database) == 0
    assert len(token_log(database)) == 1 and token_log(database)[0][2] == code


def test_an_assertion_naming_a_list_of_audiences_with_the_token_endpoint_is_accepted(api, database):
    keys = add_partner(database)

    response = post_token(api, token_form(signed_assertion(keys, aud=["https://other.example", TOKEN_URL])))

    assert response.status_code == 200, response.text


def test_an_assertion_signed_by_another_key_with_the_partners_kid_is_refused(api, database):
    keys = add_partner(database)
    impostor = add_partner(database, partner_id="mobitel")
    forged = signed_assertion(
        type(keys)(partner_id="vietbank", private_jwk={**impostor.private_jwk, "kid": keys.kid}, public_jwk={})
    )

    response = post_token(api, token_form(forged))

    assert_refused(response, status=401, error="invalid_client", code="PARTNER_ASSERTION_SIGNATURE_INVALID")
    assert token_log(database) == [("anonymous", "vietbank", "PARTNER_ASSERTION_SIGNATURE_INVALID")]


def test_an_assertion_with_an_unknown_kid_is_refused(api, database):
    keys = add_partner(database)

    response = post_token(api, token_form(signed_assertion(keys, header={"kid": "not-registered"})))

    assert_refused(response, status=401, error="invalid_client", code="PARTNER_KEY_UNKNOWN")


def test_an_assertion_whose_alg_differs_from_the_keys_is_refused(api, database):
    keys = add_partner(database, alg="ES256")
    eddsa = add_key(database, "vietbank", alg="EdDSA")
    mixed = signed_assertion(type(keys)("vietbank", {**eddsa.private_jwk, "kid": keys.kid}, {}))

    response = post_token(api, token_form(mixed))

    assert_refused(response, status=401, error="invalid_client", code="PARTNER_ASSERTION_SIGNATURE_INVALID")


@pytest.mark.parametrize(
    "assertion",
    ["", "not-a-jwt", "a.b.c", "eyJhbGciOiJub25lIn0.eyJpc3MiOiJ2aWV0YmFuayJ9.", "é" * 10, "x" * 9000],
)
def test_a_malformed_assertion_is_refused_without_a_server_error(api, database, assertion):
    add_partner(database)

    response = post_token(api, token_form(assertion))

    assert response.status_code in (400, 401), response.text
    assert response.json()["code"] in {"PARTNER_ASSERTION_MALFORMED", "TOKEN_REQUEST_INVALID"}
    assert token_log(database)[0][0] == "anonymous"


@pytest.mark.parametrize(
    ("form", "status", "error", "code"),
    [
        ({"grant_type": None}, 400, "invalid_request", "TOKEN_REQUEST_INVALID"),
        ({"grant_type": "password"}, 400, "unsupported_grant_type", "TOKEN_GRANT_UNSUPPORTED"),
        ({"grant_type": "authorization_code"}, 400, "unsupported_grant_type", "TOKEN_GRANT_UNSUPPORTED"),
        ({"client_assertion_type": None}, 400, "invalid_request", "TOKEN_REQUEST_INVALID"),
        ({"client_assertion_type": "urn:other"}, 400, "invalid_request", "TOKEN_REQUEST_INVALID"),
        ({"client_assertion": None}, 400, "invalid_request", "TOKEN_REQUEST_INVALID"),
        ({"client_id": "mobitel"}, 401, "invalid_client", "PARTNER_ASSERTION_CLAIMS_INVALID"),
    ],
)
def test_a_request_missing_or_misnaming_a_parameter_gets_an_rfc_error(api, database, form, status, error, code):
    keys = add_partner(database)
    assertion = client_assertion(keys.private_jwk, partner_id="vietbank", token_url=TOKEN_URL)

    response = post_token(api, token_form(assertion, **form))

    assert_refused(response, status=status, error=error, code=code)
    assert used_assertions(database) == 0


def test_a_json_body_is_not_a_token_request(api, database):
    keys = add_partner(database)
    assertion = client_assertion(keys.private_jwk, partner_id="vietbank", token_url=TOKEN_URL)

    response = api.post("/api/v1/oauth/token", json=token_form(assertion))

    assert_refused(response, status=400, error="invalid_request", code="TOKEN_REQUEST_INVALID")


def test_a_suspended_partner_gets_no_token(api, database):
    keys = add_partner(database)
    with database.unit_of_work() as session:
        service.suspend(session, actor=service.CLI_OPERATOR, partner_id="vietbank", reason="audit")

    response = request_token(api, keys)

    assert_refused(response, status=401, error="invalid_client", code="PARTNER_SUSPENDED")
    assert used_assertions(database) == 0


def test_keys_rotate_without_downtime(api, database, settings: Settings):
    gate = PartnerGate(database, settings)
    old = add_partner(database)
    old_token = request_token(api, old).json()["access_token"]

    new = add_key(database, "vietbank")  # both keys work while the clients move over
    assert request_token(api, old).status_code == 200
    assert request_token(api, new).status_code == 200
    with database.unit_of_work() as session:
        service.retire_key(session, actor=service.CLI_OPERATOR, partner_id="vietbank", kid=old.kid)

    refused = request_token(api, old)
    still_working = request_token(api, new)

    assert_refused(refused, status=401, error="invalid_client", code="PARTNER_KEY_RETIRED")
    assert still_working.status_code == 200
    # A token issued with the old key before it was retired stays valid until it expires.
    assert gate.authenticate(bearer(old_token)).partner_id == "vietbank"
