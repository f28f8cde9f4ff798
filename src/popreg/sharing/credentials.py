"""Partners' credentials: their public keys (JWK), the client assertions they sign, and our access tokens.

A partner proves who it is with OAuth 2.0 client credentials and ``private_key_jwt`` client
authentication (RFC 6749 §4.4, RFC 7523, OpenID Connect Core §9): it signs a short-lived JWT (the
*client assertion*) with a private key that never leaves the partner, and we verify it with the public
key an administrator registered. Only EC P-256 keys (``ES256``) and Ed25519 keys (``EdDSA``) are
accepted: both are small, fast and free of the padding and parameter pitfalls of RSA.

Access tokens are compact JWTs signed with HS256 under a key derived from ``POPREG_SECRET_KEY`` with a
fixed label, so every serving process verifies them without a database round trip. Changing the secret
key ends every token at once.

This module is pure (no database, no web framework): the token service and the gate build on it, and
integrators can use :func:`generate_key_pair` and :func:`client_assertion` to call the gateway.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import msgspec
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, OKPKey

from popreg.kit.errors import DomainError, InvalidInput

CLIENT_ASSERTION_TYPE: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
GRANT_TYPE: Final = "client_credentials"
# The key type and curve of each accepted key, and the names of the one signature scheme it may be used
# with: Ed25519 signatures are named "EdDSA" (RFC 8037) or, since RFC 9864, "Ed25519".
ACCEPTED_ALGORITHMS: Final = {("EC", "P-256"): ("ES256",), ("OKP", "Ed25519"): ("EdDSA", "Ed25519")}
ALGORITHMS: Final = {key_type: names[0] for key_type, names in ACCEPTED_ALGORITHMS.items()}
_ALGORITHM_NAMES: Final = frozenset(name for names in ACCEPTED_ALGORITHMS.values() for name in names)
MAX_ASSERTION_LIFETIME_SECONDS: Final = 300
CLOCK_LEEWAY_SECONDS: Final = 30
MAX_ASSERTION_BYTES: Final = 8192
MAX_JTI_LENGTH: Final = 128
ACCESS_TOKEN_ISSUER: Final = "popreg"  # noqa: S105 - the "iss" of our tokens, not a secret
_ACCESS_TOKEN_KEY_LABEL: Final = b"popreg/sharing/partner-access-token/v1"
# Our tokens always carry exactly this header, so a token with any other header (another algorithm,
# "none", an extra parameter) is refused before anything else is read.
_ACCESS_TOKEN_HEADER: Final = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"at+jwt"}').rstrip(b"=").decode()
_KID_CHARACTERS: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
MAX_KID_LENGTH: Final = 100

INVALID_CLIENT: Final = "invalid_client"
INVALID_REQUEST: Final = "invalid_request"
UNSUPPORTED_GRANT_TYPE: Final = "unsupported_grant_type"
INVALID_SCOPE: Final = "invalid_scope"


class TokenRefused(DomainError):
    """A refusal at the token endpoint, answered as RFC 6749 §5.2 says: ``error`` is the standard
    value (``invalid_client`` with status 401, the others with 400) and ``code`` our stable code."""

    def __init__(self, error: str, message: str, *, code: str) -> None:
        super().__init__(message, code=code)
        self.error = error
        self.status_code = 401 if error == INVALID_CLIENT else 400

    def to_oauth(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.message, "code": self.code}


# Public keys --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PublicKey:
    """A partner's public key as we store it: its key id, its algorithm and the public JWK only."""

    kid: str
    alg: str
    jwk: dict[str, str]


def public_key_from_jwk(candidate: Mapping[str, Any]) -> PublicKey:
    """Check a partner's JWK and keep only its public part.

    Refused: anything that is not a JWK object (``PARTNER_KEY_INVALID``), a private key
    (``PARTNER_KEY_PRIVATE``: the private key must never leave the partner), and any key other than
    EC P-256 or Ed25519, including RSA and shared secrets (``PARTNER_KEY_TYPE_UNSUPPORTED``). The key id
    is the JWK's ``kid``, or its RFC 7638 thumbprint when it has none.
    """
    if not isinstance(candidate, Mapping) or not isinstance(candidate.get("kty"), str):
        raise InvalidInput("The key must be a JWK: a JSON object with a 'kty' member.", code="PARTNER_KEY_INVALID")
    if any(member in candidate for member in ("d", "p", "q", "dp", "dq", "qi", "k")):
        raise InvalidInput(
            "This JWK holds private or secret key material. Send only the public key; the private key "
            "must stay with the partner.",
            code="PARTNER_KEY_PRIVATE",
        )
    kty, crv = str(candidate["kty"]), str(candidate.get("crv", ""))
    alg = ALGORITHMS.get((kty, crv))
    if alg is None:
        raise InvalidInput(
            f"Unsupported key type {f'{kty} {crv}'.strip()[:40]}: use an EC P-256 key (ES256) or an Ed25519 "
            "key (EdDSA).",
            code="PARTNER_KEY_TYPE_UNSUPPORTED",
        )
    declared_alg = candidate.get("alg")
    if declared_alg is not None and declared_alg not in ACCEPTED_ALGORITHMS[(kty, crv)]:
        raise InvalidInput(
            f"A {kty} {crv} key signs with {alg}, but the JWK declares alg {declared_alg}.",
            code="PARTNER_KEY_TYPE_UNSUPPORTED",
        )
    if candidate.get("use", "sig") != "sig":
        raise InvalidInput("The key must be a signing key ('use': 'sig').", code="PARTNER_KEY_INVALID")
    operations = candidate.get("key_ops")
    if operations is not None and (not isinstance(operations, list) or "verify" not in operations):
        raise InvalidInput("The key's 'key_ops' must allow 'verify'.", code="PARTNER_KEY_INVALID")
    try:
        key = ECKey.import_key(dict(candidate)) if kty == "EC" else OKPKey.import_key(dict(candidate))
        public = {name: str(value) for name, value in key.as_dict(private=False).items()}
        thumbprint = key.thumbprint()
    except (JoseError, ValueError, TypeError, KeyError) as error:
        raise InvalidInput(
            f"The JWK is not a valid {kty} {crv} public key: {error}.", code="PARTNER_KEY_INVALID"
        ) from None
    kid = candidate.get("kid", thumbprint)
    if not isinstance(kid, str) or not 0 < len(kid) <= MAX_KID_LENGTH or not set(kid) <= _KID_CHARACTERS:
        raise InvalidInput(
            f"A key id ('kid') has 1 to {MAX_KID_LENGTH} letters, digits, '.', '_' or '-'.", code="PARTNER_KEY_INVALID"
        )
    alg = str(declared_alg or alg)
    public.update(kid=kid, alg=alg, use="sig")
    return PublicKey(kid=kid, alg=alg, jwk=public)


def generate_key_pair(alg: str = "ES256") -> tuple[dict[str, str], dict[str, str]]:
    """A new key pair for a partner: ``(private_jwk, public_jwk)``, with the thumbprint as key id.
    ``alg`` is ES256 (EC P-256), or EdDSA or Ed25519 (two names of Ed25519 signatures).

    The partner keeps the private JWK secret; the administrator registers the public one.
    """
    key: ECKey | OKPKey
    if alg == "ES256":
        key = ECKey.generate_key("P-256", auto_kid=True)
    elif alg in ("EdDSA", "Ed25519"):
        key = OKPKey.generate_key("Ed25519", auto_kid=True)
    else:
        raise InvalidInput("Generate an ES256 or EdDSA key.", code="PARTNER_KEY_TYPE_UNSUPPORTED")
    private = {name: str(value) for name, value in key.as_dict(private=True).items()}
    private.update(alg=alg, use="sig")
    public = {name: str(value) for name, value in key.as_dict(private=False).items()}
    public.update(alg=alg, use="sig")
    return private, public


# Client assertions --------------------------------------------------------------------------------------


def client_assertion(
    private_jwk: Mapping[str, Any], *, partner_id: str, token_url: str, lifetime_seconds: int = 60
) -> str:
    """A client assertion (RFC 7523 §3) for one token request: ``iss`` and ``sub`` the partner,
    ``aud`` the token endpoint URL, a fresh ``jti``, and ``exp`` ``lifetime_seconds`` after ``iat``
    (at most 300 seconds). Each assertion may be used once."""
    kty, crv = private_jwk.get("kty"), private_jwk.get("crv")
    names = ACCEPTED_ALGORITHMS.get((str(kty), str(crv)), ())
    if not names:
        raise InvalidInput("Sign with an EC P-256 or Ed25519 private JWK.", code="PARTNER_KEY_TYPE_UNSUPPORTED")
    declared = private_jwk.get("alg")
    alg = declared if isinstance(declared, str) and declared in names else names[0]
    key = ECKey.import_key(dict(private_jwk)) if kty == "EC" else OKPKey.import_key(dict(private_jwk))
    now = int(time.time())
    claims = {
        "iss": partner_id,
        "sub": partner_id,
        "aud": token_url,
        "iat": now,
        "exp": now + lifetime_seconds,
        "jti": secrets.token_urlsafe(24),
    }
    header = {"alg": alg, "kid": str(private_jwk.get("kid") or key.thumbprint())}
    return jwt.encode(header, claims, key, algorithms=[alg])


@dataclass(frozen=True, slots=True)
class UnverifiedAssertion:
    """What a client assertion says before its signature is checked: enough to find the key."""

    kid: str
    alg: str
    issuer: str


@dataclass(frozen=True, slots=True)
class AssertionClaims:
    """The checked claims of a client assertion."""

    partner_id: str
    jti: str
    expires_at: int


def read_unverified_assertion(assertion: str) -> UnverifiedAssertion:
    """The key id, algorithm and issuer of a compact JWS, read without trusting them."""
    malformed = TokenRefused(
        INVALID_CLIENT,
        "client_assertion is not a compact JWS (three base64url parts) with a JSON header and claims.",
        code="PARTNER_ASSERTION_MALFORMED",
    )
    if len(assertion) > MAX_ASSERTION_BYTES:
        raise malformed
    try:
        compact = jws.extract_compact(assertion.encode("ascii"))
        header = compact.headers()
        claims = json.loads(compact.payload)
    except (JoseError, ValueError, UnicodeError, TypeError):
        raise malformed from None
    if not isinstance(claims, dict):
        raise malformed
    kid, alg, issuer = header.get("kid"), header.get("alg"), claims.get("iss")
    if not isinstance(kid, str) or not kid:
        raise TokenRefused(
            INVALID_CLIENT,
            "The client assertion's header must name its key ('kid').",
            code="PARTNER_ASSERTION_MALFORMED",
        )
    if alg not in _ALGORITHM_NAMES:
        raise TokenRefused(
            INVALID_CLIENT,
            f"The client assertion must be signed with ES256, EdDSA or Ed25519, not {str(alg)[:20]!r}.",
            code="PARTNER_ASSERTION_MALFORMED",
        )
    if not isinstance(issuer, str) or not issuer:
        raise TokenRefused(
            INVALID_CLIENT,
            "The client assertion needs 'iss' and 'sub': your partner id.",
            code="PARTNER_ASSERTION_CLAIMS_INVALID",
        )
    return UnverifiedAssertion(kid=kid, alg=str(alg), issuer=issuer)


def verify_assertion_signature(assertion: str, key: PublicKey) -> dict[str, Any]:
    """The assertion's claims, if it is signed by ``key`` with the key's own signature scheme."""
    try:
        jwk: dict[str, str | list[str]] = dict(key.jwk)
        public = ECKey.import_key(jwk) if jwk["kty"] == "EC" else OKPKey.import_key(jwk)
        token = jwt.decode(assertion, public, algorithms=ACCEPTED_ALGORITHMS[(key.jwk["kty"], key.jwk["crv"])])
    except (JoseError, ValueError, TypeError, KeyError):
        raise TokenRefused(
            INVALID_CLIENT,
            f"The client assertion's signature does not verify with key {key.kid}.",
            code="PARTNER_ASSERTION_SIGNATURE_INVALID",
        ) from None
    return dict(token.claims)


def _number(claims: Mapping[str, Any], name: str) -> int:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TokenRefused(
            INVALID_CLIENT,
            f"The client assertion needs '{name}' as seconds since 1970 (a JSON number).",
            code="PARTNER_ASSERTION_CLAIMS_INVALID",
        )
    return int(value)


def check_assertion_claims(
    claims: Mapping[str, Any], *, partner_id: str, audiences: Sequence[str], now: float
) -> AssertionClaims:
    """The rules of RFC 7523 §3 as we apply them.

    ``iss`` and ``sub`` are the partner id; ``aud`` (a string or a list) contains the token endpoint's
    URL; ``exp`` is in the future and at most 300 seconds after ``iat``; ``iat`` and ``nbf`` are not in
    the future; ``jti`` is a string of at most 128 characters. Clocks may differ by 30 seconds.
    """
    if claims.get("iss") != partner_id or claims.get("sub") != partner_id:
        raise TokenRefused(
            INVALID_CLIENT,
            "The client assertion's 'iss' and 'sub' must both be your partner id.",
            code="PARTNER_ASSERTION_CLAIMS_INVALID",
        )
    audience = claims.get("aud")
    named = [audience] if isinstance(audience, str) else audience if isinstance(audience, list) else []
    if not any(isinstance(value, str) and value in audiences for value in named):
        raise TokenRefused(
            INVALID_CLIENT,
            f"The client assertion's 'aud' must be the token endpoint's URL: {audiences[0]}.",
            code="PARTNER_ASSERTION_AUDIENCE_INVALID",
        )
    expires, issued = _number(claims, "exp"), _number(claims, "iat")
    if expires <= now - CLOCK_LEEWAY_SECONDS:
        raise TokenRefused(INVALID_CLIENT, "The client assertion has expired.", code="PARTNER_ASSERTION_EXPIRED")
    if expires - issued > MAX_ASSERTION_LIFETIME_SECONDS:
        raise TokenRefused(
            INVALID_CLIENT,
            f"A client assertion may live at most {MAX_ASSERTION_LIFETIME_SECONDS} seconds ('exp' - 'iat').",
            code="PARTNER_ASSERTION_LIFETIME_TOO_LONG",
        )
    not_before = _number(claims, "nbf") if "nbf" in claims else issued
    if max(issued, not_before) > now + CLOCK_LEEWAY_SECONDS:
        raise TokenRefused(
            INVALID_CLIENT,
            "The client assertion is dated in the future ('iat' or 'nbf'): check the client's clock.",
            code="PARTNER_ASSERTION_CLAIMS_INVALID",
        )
    jti = claims.get("jti")
    if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_LENGTH:
        raise TokenRefused(
            INVALID_CLIENT,
            f"The client assertion needs a unique 'jti' of 1 to {MAX_JTI_LENGTH} characters.",
            code="PARTNER_ASSERTION_CLAIMS_INVALID",
        )
    return AssertionClaims(partner_id=partner_id, jti=jti, expires_at=expires)


# Access tokens ------------------------------------------------------------------------------------------


class AccessClaims(msgspec.Struct, frozen=True):
    """The claims of our access tokens. ``scope`` is space-separated operations."""

    sub: str
    iat: int
    exp: int
    jti: str
    scope: str
    policy_version: int
    iss: str = ACCESS_TOKEN_ISSUER


_claims_decoder = msgspec.json.Decoder(AccessClaims)
_claims_encoder = msgspec.json.Encoder()


def access_token_key(secret_key: str) -> bytes:
    """The HS256 key of access tokens: HMAC-SHA256 of a fixed label under the platform's secret key,
    so the secret itself never signs anything and other uses of it cannot forge tokens."""
    return hmac.new(secret_key.encode(), _ACCESS_TOKEN_KEY_LABEL, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _signature(key: bytes, signing_input: str) -> str:
    return _b64(hmac.new(key, signing_input.encode("ascii"), hashlib.sha256).digest())


def issue_access_token(
    *, key: bytes, partner_id: str, scope: Sequence[str], policy_version: int, lifetime_seconds: int, now: int
) -> tuple[str, AccessClaims]:
    """A compact JWT (HS256) for the partner, valid ``lifetime_seconds``; with its claims."""
    claims = AccessClaims(
        sub=partner_id,
        iat=now,
        exp=now + lifetime_seconds,
        jti=secrets.token_urlsafe(16),
        scope=" ".join(scope),
        policy_version=policy_version,
    )
    signing_input = f"{_ACCESS_TOKEN_HEADER}.{_b64(_claims_encoder.encode(claims))}"
    return f"{signing_input}.{_signature(key, signing_input)}", claims


def read_access_token(token: str, key: bytes) -> AccessClaims | None:
    """The claims of one of our access tokens, or None when it is not one (any other header, a signature
    that does not match, claims of the wrong shape). Expiry is the caller's check."""
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != _ACCESS_TOKEN_HEADER:
        return None
    try:
        expected = _signature(key, f"{parts[0]}.{parts[1]}").encode("ascii")
        if not hmac.compare_digest(expected, parts[2].encode("ascii")):
            return None
        payload = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        return _claims_decoder.decode(payload)
    except (UnicodeError, ValueError, msgspec.DecodeError):
        return None
