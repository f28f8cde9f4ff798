"""What every HTTP route that a partner calls with its access token shares: the token's security scheme
in the OpenAPI document, the partner gate, and how a refusal is answered and logged.

Each route authenticates the partner itself (the security scheme only documents the token), so that a
request without a token is refused, and logged, by the same code as every other refusal. A refusal
answers the usual error body, never cached, with ``Retry-After`` when a rate or quota was reached and
``WWW-Authenticate`` when the token is missing or invalid; a refusal that was written to the access log
names its entry (``X-Transaction-Id`` and ``details.transaction_id``).
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBearer
from starlette.concurrency import run_in_threadpool

from popreg.audit.service import PendingEntry, append_entries
from popreg.kit.database import Database
from popreg.kit.errors import DomainError
from popreg.kit.http import NO_STORE, error_body
from popreg.sharing.gate import PartnerContext, PartnerGate

partner_token = HTTPBearer(
    auto_error=False,
    scheme_name="PartnerToken",
    bearerFormat="JWT",
    description="An access token from POST /api/v1/oauth/token (client credentials, private_key_jwt).",
)
"""Only for the OpenAPI document (``dependencies=[Depends(partner_token)]``): it never refuses. The
verification routes answered in front of FastAPI refer to it by its ``scheme_name``."""


def partner_token_scheme() -> dict[str, Any]:
    """The security scheme of :data:`partner_token` as the OpenAPI document writes it."""
    scheme: dict[str, Any] = jsonable_encoder(partner_token.model, by_alias=True, exclude_none=True)
    return scheme


def partner_gate(request: Request) -> PartnerGate:
    gate: PartnerGate = request.app.state.partner_gate
    return gate


def authenticated_partner(request: Request) -> PartnerContext:
    """The partner of the request's access token (``PARTNER_TOKEN_*`` 401 if there is none valid)."""
    return partner_gate(request).authenticate(request.headers.get("authorization"))


def partner_refusal(error: DomainError, transaction_id: str | None = None) -> JSONResponse:
    """The answer to a refused partner request; ``transaction_id`` names its access-log entry, if any."""
    headers = dict(NO_STORE)
    details = dict(error.details)
    if transaction_id is not None:
        headers["X-Transaction-Id"] = transaction_id
        details["transaction_id"] = transaction_id
    if error.status_code == 429 and "retry_after_seconds" in error.details:
        headers["Retry-After"] = str(error.details["retry_after_seconds"])
    elif error.status_code == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="popreg"'
    return JSONResponse(error_body(error.code, error.message, details), status_code=error.status_code, headers=headers)


async def logged_partner_refusal(
    database: Database,
    error: DomainError,
    *,
    transaction_id: str,
    principal: tuple[str, str],
    action: str,
    purpose: str,
) -> JSONResponse:
    """Write a refused request to the access log, in a transaction of its own, then answer the refusal
    naming that entry. The entry says who asked (``anonymous`` before the token was found valid), what
    for, and the refusal's code."""
    await run_in_threadpool(
        _log_refusal,
        database,
        transaction_id=transaction_id,
        principal=principal,
        action=action,
        purpose=purpose,
        code=error.code,
    )
    return partner_refusal(error, transaction_id)


def _log_refusal(
    database: Database, *, transaction_id: str, principal: tuple[str, str], action: str, purpose: str, code: str
) -> None:
    with database.unit_of_work() as session:
        append_entries(
            session,
            [
                PendingEntry(
                    principal_kind=principal[0],
                    principal_id=principal[1][:120],
                    action=action,
                    person_pin=None,
                    purpose=purpose[:120],
                    result=code[:40],
                    transaction_id=transaction_id,
                )
            ],
        )
