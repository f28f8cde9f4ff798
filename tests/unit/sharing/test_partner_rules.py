"""Pure rules of partners: policy validation, public keys (JWK), client assertion claims, access tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey

from popreg.kit.errors import DomainError
from popreg.sharing.credentials import (
    MAX_ASSERTION_LIFETIME_SECONDS,
    AccessClaims,
    TokenRefused,
    access_token_key,
    check_assertion_claims,
    client_assertion,
    generate_key_pair,
    issue_access_token,
    public_key_from_jwk,
    read_access_token,
    read_unverified_assertion,
    verify_assertion_signature,
)
from popreg.sharing.rules import VERIFIABLE_FIELDS
from popreg.sharing.schemas import PolicyIn
from popreg.sharing.service import READABLE_FIELDS, validate_policy

TOKEN_URL = "https://popreg.example/api/v1/oauth/token"
# RFC 9864 prefers the name "Ed25519" to "EdDSA"; both are accepted and tested here.
pytestmark = pytest.mark.filterwarnings("ignore:EdDSA is deprecated via RFC 9864")
KEY = access_token_key("unit-test-secret-key-of-32-characters!")


def policy(**changes: Any) -> PolicyIn:
    values: dict[str, Any] = {
        "operations": ["verify"],
        "verify_fields": ["full_name"],
        "read_fields": [],
        "purposes": ["account-opening"],
        "daily_quota": 10,
        "rate_per_second": 1.0,
        "burst": 1,
    }
    return PolicyIn(**{**values, **changes})


def code_of(call: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(DomainError) as raised:
        call(*args, **kwargs)
    return raised.value.code


# Policies


def test_a_policy_may_name_every_verifiable_and_readable_field():
    checked = validate_policy(
        policy(operations=["read", "verify"], verify_fields=list(VERIFIABLE_FIELDS), read_fields=list(READABLE_FIELDS))
    )

    assert checked.operations == ["verify", "read"]
    assert checked.verify_fields == list(VERIFIABLE_FIELDS)
    assert checked.read_fields == list(READABLE_FIELDS)


def test_a_policy_is_stored_without_repetitions_in_a_fixed_order():
    checked = validate_policy(
        policy(
            operations=["verify", "verify"],
            verify_fields=["sex", "full_name", "sex"],
            purposes=["tax", "account-opening", "tax"],
        )
    )

    assert (checked.operations, checked.verify_fields, checked.purposes) == (
        ["verify"],
        ["full_name", "sex"],
        ["account-opening", "tax"],
    )


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"operations": ["update"]}, "POLICY_OPERATION_UNKNOWN"),
        ({"verify_fields": ["ethnicity_code"]}, "POLICY_FIELD_UNKNOWN"),
        ({"read_fields": ["salary"]}, "POLICY_FIELD_UNKNOWN"),
        ({"purposes": ["Account-Opening"]}, "POLICY_PURPOSE_INVALID"),
        ({"purposes": ["x"]}, "POLICY_PURPOSE_INVALID"),
        ({"purposes": ["account opening"]}, "POLICY_PURPOSE_INVALID"),
        ({"purposes": ["-tax"]}, "POLICY_PURPOSE_INVALID"),
        ({"purposes": ["a" * 61]}, "POLICY_PURPOSE_INVALID"),
    ],
)
def test_a_policy_naming_what_does_not_exist_is_refused(changes, code):
    assert code_of(validate_policy, policy(**changes)) == code


@pytest.mark.parametrize("purpose", ["account-opening", "sim-registration", "law-enforcement", "health_insurance"])
def test_purposes_are_short_lower_case_codes(purpose):
    assert validate_policy(policy(purposes=[purpose])).purposes == [purpose]


# Public keys


@pytest.mark.parametrize("alg", ["ES256", "EdDSA", "Ed25519"])
def test_a_generated_public_key_is_accepted_with_its_algorithm(alg):
    private, public = generate_key_pair(alg)

    key = public_key_from_jwk(public)

    assert (key.kid, key.alg) == (private["kid"], alg)
    assert "d" in private and "d" not in key.jwk
    assert key.jwk["use"] == "sig"


def test_a_key_without_kid_gets_its_rfc7638_thumbprint():
    _private, public = generate_key_pair()
    kid = public.pop("kid")

    assert public_key_from_jwk(public).kid == kid  # generated keys use the thumbprint too


@pytest.mark.parametrize(
    ("jwk", "code"),
    [
        ("not a dict", "PARTNER_KEY_INVALID"),
        ({}, "PARTNER_KEY_INVALID"),
        ({"kty": 7}, "PARTNER_KEY_INVALID"),
        (generate_key_pair()[0], "PARTNER_KEY_PRIVATE"),
        ({"kty": "oct", "k": "c2VjcmV0"}, "PARTNER_KEY_PRIVATE"),
        ({"kty": "RSA", "n": "AQAB", "e": "AQAB"}, "PARTNER_KEY_TYPE_UNSUPPORTED"),
        ({"kty": "OKP", "crv": "X25519", "x": "AAAA"}, "PARTNER_KEY_TYPE_UNSUPPORTED"),
        ({**generate_key_pair()[1], "crv": "P-521"}, "PARTNER_KEY_TYPE_UNSUPPORTED"),
        ({**generate_key_pair("EdDSA")[1], "alg": "ES256"}, "PARTNER_KEY_TYPE_UNSUPPORTED"),
        ({**generate_key_pair()[1], "y": "AAAA"}, "PARTNER_KEY_INVALID"),
        ({**generate_key_pair()[1], "key_ops": ["sign"]}, "PARTNER_KEY_INVALID"),
        ({**generate_key_pair()[1], "kid": ""}, "PARTNER_KEY_INVALID"),
        ({**generate_key_pair()[1], "kid": "k" * 101}, "PARTNER_KEY_INVALID"),
    ],
)
def test_keys_that_are_private_unsupported_or_broken_are_refused(jwk, code):
    assert code_of(public_key_from_jwk, jwk) == code


def test_generating_an_unsupported_key_type_is_refused():
    assert code_of(generate_key_pair, "RS256") == "PARTNER_KEY_TYPE_UNSUPPORTED"


# Client assertions


@pytest.mark.parametrize("alg", ["ES256", "EdDSA", "Ed25519"])
def test_a_client_assertion_verifies_with_the_partners_public_key(alg):
    private, public = generate_key_pair(alg)
    assertion = client_assertion(private, partner_id="vietbank", token_url=TOKEN_URL, lifetime_seconds=90)

    unverified = read_unverified_assertion(assertion)
    claims = verify_assertion_signature(assertion, public_key_from_jwk(public))
    checked = check_assertion_claims(claims, partner_id="vietbank", audiences=[TOKEN_URL], now=time.time())

    assert (unverified.kid, unverified.alg, unverified.issuer) == (private["kid"], alg, "vietbank")
    assert claims["exp"] - claims["iat"] == 90
    assert checked.partner_id == "vietbank" and len(checked.jti) >= 24


def test_an_assertion_signed_by_another_key_does_not_verify():
    private, _public = generate_key_pair()
    _other_private, other_public = generate_key_pair()
    assertion = client_assertion(private, partner_id="vietbank", token_url=TOKEN_URL)

    with pytest.raises(TokenRefused) as refused:
        verify_assertion_signature(assertion, public_key_from_jwk(other_public))

    assert (refused.value.error, refused.value.code) == ("invalid_client", "PARTNER_ASSERTION_SIGNATURE_INVALID")
    assert refused.value.status_code == 401


def test_an_hmac_signed_assertion_is_refused_before_any_key_is_looked_up():
    forged = jwt.encode({"alg": "HS256", "kid": "k1"}, {"iss": "vietbank"}, OctKey.import_key("s" * 32))

    with pytest.raises(TokenRefused) as refused:
        read_unverified_assertion(forged)

    assert refused.value.code == "PARTNER_ASSERTION_MALFORMED"


def test_an_assertion_without_kid_is_malformed():
    private, _public = generate_key_pair()
    del private["kid"]
    header = base64.urlsafe_b64encode(json.dumps({"alg": "ES256"}).encode()).rstrip(b"=").decode()
    with_kid = client_assertion(private, partner_id="vietbank", token_url=TOKEN_URL)
    without_kid = f"{header}.{with_kid.split('.', 1)[1]}"

    with pytest.raises(TokenRefused) as refused:
        read_unverified_assertion(without_kid)

    assert refused.value.code == "PARTNER_ASSERTION_MALFORMED"


def claims(now: int, **changes: Any) -> dict[str, Any]:
    values = {"iss": "vietbank", "sub": "vietbank", "aud": TOKEN_URL, "iat": now, "exp": now + 60, "jti": "j-1"}
    return {name: value for name, value in {**values, **changes}.items() if value is not None}


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"iss": "mobitel"}, "PARTNER_ASSERTION_CLAIMS_INVALID"),
        ({"sub": None}, "PARTNER_ASSERTION_CLAIMS_INVALID"),
        ({"aud": "https://popreg.example/api/v1/oauth/token/"}, "PARTNER_ASSERTION_AUDIENCE_INVALID"),
        ({"aud": ["https://other.example"]}, "PARTNER_ASSERTION_AUDIENCE_INVALID"),
        ({"aud": 42}, "PARTNER_ASSERTION_AUDIENCE_INVALID"),
        ({"exp": 1_000 - 31}, "PARTNER_ASSERTION_EXPIRED"),
        ({"iat": 1_000 - 301, "exp": 1_000 + 1}, "PARTNER_ASSERTION_LIFETIME_TOO_LONG"),
        ({"exp": True}, "PARTNER_ASSERTION_CLAIMS_INVALID"),
        ({"iat": "1000"}, "PARTNER_ASSERTION_CLAIMS_INVALID"),
        ({"iat": 1_031, "exp": 1_060}, "PARTNER_ASSERTION_CLAIMS_INVALID"),
        ({"nbf": 1_031}, "PARTNER_ASSERTION_CLAIMS_INVALID"),
        ({"jti": ""}, "PARTNER_ASSERTION_CLAIMS_INVALID"),
        ({"jti": 17}, "PARTNER_ASSERTION_CLAIMS_INVALID"),
    ],
)
def test_assertion_claims_follow_rfc7523(changes, code):
    with pytest.raises(TokenRefused) as refused:
        check_assertion_claims(claims(1_000, **changes), partner_id="vietbank", audiences=[TOKEN_URL], now=1_000)

    assert (refused.value.error, refused.value.code) == ("invalid_client", code)


def test_clocks_may_differ_by_thirty_seconds():
    accepted = [
        claims(1_000, exp=1_000 - 29, iat=1_000 - 89),
        claims(1_000, iat=1_030, exp=1_090),
        claims(1_000, iat=1_000, exp=1_000 + MAX_ASSERTION_LIFETIME_SECONDS),
    ]

    for values in accepted:
        check_assertion_claims(values, partner_id="vietbank", audiences=[TOKEN_URL], now=1_000)


# Access tokens


def test_an_access_token_reads_back_its_claims():
    token, issued = issue_access_token(
        key=KEY, partner_id="vietbank", scope=["verify", "read"], policy_version=3, lifetime_seconds=600, now=1_000
    )

    assert read_access_token(token, KEY) == issued
    assert issued == AccessClaims(
        sub="vietbank", iat=1_000, exp=1_600, jti=issued.jti, scope="verify read", policy_version=3
    )


def test_an_access_token_is_a_standard_hs256_jwt():
    token, _issued = issue_access_token(
        key=KEY, partner_id="vietbank", scope=["verify"], policy_version=1, lifetime_seconds=600, now=1_000
    )

    decoded = jwt.decode(token, OctKey.import_key(KEY), algorithms=["HS256"])

    assert decoded.header == {"alg": "HS256", "typ": "at+jwt"}
    assert decoded.claims["sub"] == "vietbank" and decoded.claims["iss"] == "popreg"


def test_each_access_token_has_its_own_id():
    tokens = {
        issue_access_token(key=KEY, partner_id="p", scope=[], policy_version=1, lifetime_seconds=60, now=1)[1].jti
        for _ in range(50)
    }

    assert len(tokens) == 50


def altered_tokens(token: str) -> list[str]:
    header, payload, signature = token.split(".")
    forged_payload = (
        base64.urlsafe_b64encode(
            b'{"sub":"mobitel","iat":1,"exp":9999999999,"jti":"x","scope":"read","policy_version":1}'
        )
        .rstrip(b"=")
        .decode()
    )
    none_header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"at+jwt"}').rstrip(b"=").decode()
    spaced_header = base64.urlsafe_b64encode(b'{"alg": "HS256","typ":"at+jwt"}').rstrip(b"=").decode()
    return [
        f"{header}.{forged_payload}.{signature}",
        f"{none_header}.{payload}.",
        f"{spaced_header}.{payload}.{signature}",
        f"{header}.{payload}.{signature}A",
        f"{header}.{payload}.{signature.upper()}",
        f"{header}.{payload}.{'é' * len(signature)}",
        f"{header}.{payload}",
        f"{header}.{payload}.{signature}.extra",
        "",
    ]


def test_an_altered_access_token_is_not_read():
    token, _issued = issue_access_token(
        key=KEY, partner_id="vietbank", scope=["verify"], policy_version=1, lifetime_seconds=600, now=1_000
    )

    assert [read_access_token(value, KEY) for value in altered_tokens(token)] == [None] * len(altered_tokens(token))


def test_an_access_token_signed_under_another_secret_is_not_read():
    token, _issued = issue_access_token(
        key=access_token_key("another-secret"), partner_id="v", scope=[], policy_version=1, lifetime_seconds=60, now=1
    )

    assert read_access_token(token, KEY) is None


def test_a_correctly_signed_token_with_claims_of_the_wrong_shape_is_not_read():
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"at+jwt"}').rstrip(b"=").decode()
    payload = base64.urlsafe_b64encode(b'{"sub":42,"iat":1,"exp":2,"jti":"x","scope":"","policy_version":1}')
    signing_input = f"{header}.{payload.rstrip(b'=').decode()}"
    signature = base64.urlsafe_b64encode(hmac.new(KEY, signing_input.encode(), hashlib.sha256).digest())
    token = f"{signing_input}.{signature.rstrip(b'=').decode()}"

    assert read_access_token(token, KEY) is None
