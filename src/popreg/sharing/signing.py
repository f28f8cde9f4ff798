"""Signed answers: every verification answer is a JWS (RFC 7515) that a partner can keep as proof.

The algorithm is ES256 (ECDSA on P-256 with SHA-256, RFC 7518 §3.4): every JOSE library verifies it
and it is the cheapest widely supported asymmetric signature here (about 30 µs per answer, against
35 µs for Ed25519). A partner verifies with the public key published at ``GET /api/v1/verify/jwks``,
found by the ``kid`` in the JWS header.

The compact serialisation is built here rather than through a JOSE library because it sits on the
hottest path of the platform (one signature per answer, thousands per second); what it produces is
checked against joserfc in the tests.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from popreg.kit.settings import Settings

ANSWER_MEDIA_TYPE = "popreg-answer+jwt"
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _derived_development_key(secret: bytes) -> ec.EllipticCurvePrivateKey:
    """A P-256 key derived from the development secret, so that a development server keeps its key
    across restarts; the production profile refuses to start without ``POPREG_SIGNING_KEY``."""
    material = HKDF(algorithm=hashes.SHA256(), length=48, salt=None, info=b"popreg answer signing key").derive(secret)
    scalar = int.from_bytes(material, "big") % (_P256_ORDER - 1) + 1
    return ec.derive_private_key(scalar, ec.SECP256R1())


def public_jwk(key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    numbers = key.public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": b64url(numbers.x.to_bytes(32, "big")),
        "y": b64url(numbers.y.to_bytes(32, "big")),
    }


def jwk_thumbprint(jwk: dict[str, str]) -> str:
    """RFC 7638 thumbprint: SHA-256 over the required members in lexicographic order."""
    canonical = json.dumps({name: jwk[name] for name in ("crv", "kty", "x", "y")}, separators=(",", ":"))
    return b64url(hashlib.sha256(canonical.encode()).digest())


class AnswerSigner:
    """Signs answers with the platform's key; one instance per process, safe to share between threads."""

    def __init__(self, private_key: ec.EllipticCurvePrivateKey) -> None:
        if not isinstance(private_key.curve, ec.SECP256R1):
            raise ValueError("The answer signing key must be an EC key on P-256 (ES256).")
        self._key = private_key
        self._algorithm = ec.ECDSA(hashes.SHA256())
        jwk = public_jwk(private_key.public_key())
        self.kid = jwk_thumbprint(jwk)
        self._jwk = {**jwk, "kid": self.kid, "alg": "ES256", "use": "sig"}
        header = json.dumps({"alg": "ES256", "kid": self.kid, "typ": ANSWER_MEDIA_TYPE}, separators=(",", ":"))
        self._header = b64url(header.encode()).encode("ascii")

    @classmethod
    def from_settings(cls, settings: Settings) -> AnswerSigner:
        if settings.signing_key is not None and settings.signing_key.get_secret_value().strip():
            loaded = serialization.load_pem_private_key(settings.signing_key.get_secret_value().encode(), password=None)
            if not isinstance(loaded, ec.EllipticCurvePrivateKey):
                raise ValueError("POPREG_SIGNING_KEY must hold an EC P-256 private key in PEM.")
            return cls(loaded)
        return cls(_derived_development_key(settings.secret_key.get_secret_value().encode()))

    def sign(self, payload: bytes) -> str:
        """The compact JWS ``header.payload.signature`` over ``payload`` (already-encoded JSON)."""
        signing_input = self._header + b"." + base64.urlsafe_b64encode(payload).rstrip(b"=")
        r, s = decode_dss_signature(self._key.sign(signing_input, self._algorithm))
        return (
            (signing_input + b"." + base64.urlsafe_b64encode(r.to_bytes(32, "big") + s.to_bytes(32, "big")))
            .rstrip(b"=")
            .decode("ascii")
        )

    def signed_json(self, payload: bytes) -> bytes:
        """The JSON object ``payload`` with a last member ``signature``: the JWS over ``payload`` itself,
        so a partner verifies the signature and finds in its payload the answer without that member."""
        return payload[:-1] + b',"signature":"' + self.sign(payload).encode("ascii") + b'"}'

    def jwks(self) -> dict[str, Any]:
        """The JSON Web Key Set partners verify answers with (RFC 7517 §5)."""
        return {"keys": [dict(self._jwk)]}
