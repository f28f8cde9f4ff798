"""Public keys of the verification answers (the hot routes themselves are in ``gateway.py``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

router = APIRouter(prefix="/api/v1/verify", tags=["verification"])


@router.get("/jwks", operation_id="answer_signing_keys")
def answer_signing_keys(request: Request) -> dict[str, Any]:
    """The JSON Web Key Set (RFC 7517) to verify the `signature` of every verification answer with:
    pick the key whose `kid` is in the JWS header. Cache it, and fetch it again when an answer names a
    `kid` you do not hold."""
    keys: dict[str, Any] = request.app.state.gateway.signer.jwks()
    return keys
