"""HTTP API of reads and consents.

``reads_router``: ``POST /api/v1/persons/read`` for partners (eKYC), authenticated by a partner access
token. ``consents_router``: a person's consents and the list of who used their data, for officials
(session token), recorded at the counter on the citizen's behalf until the citizen portal exists.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from popreg.kit.http import NO_STORE, SessionDep
from popreg.officials.dependencies import CurrentOfficial
from popreg.registry.service import DEFAULT_PURPOSE
from popreg.sharing import consents, reads
from popreg.sharing.consents import ConsentIn, ConsentList, ConsentRead, ConsentRevokeIn, DataUsePage
from popreg.sharing.partner_http import partner_refusal, partner_token

reads_router = APIRouter(prefix="/api/v1", tags=["verification"])
consents_router = APIRouter(prefix="/api/v1", tags=["consents"])

ConsentId = Annotated[int, Path(ge=1, le=2_147_483_647)]
Purpose = Annotated[str, Query(max_length=120, description="Why the data is read; written to the access log.")]

_READ_ERRORS: dict[int | str, dict[str, Any]] = {
    "400": {"description": "Malformed JSON (INPUT_MALFORMED_JSON)."},
    "401": {"description": "No, invalid or expired access token (PARTNER_TOKEN_*)."},
    "403": {
        "description": "Suspended partner, outside the policy, or no live consent (PARTNER_SUSPENDED, POLICY_*, "
        "CONSENT_REQUIRED, CONSENT_REVOKED, CONSENT_EXPIRED)."
    },
    "404": {"description": "An agency read of a PIN nobody holds (PERSON_NOT_FOUND)."},
    "413": {"description": "Body over 1 MiB (INPUT_TOO_LARGE)."},
    "422": {
        "description": "Invalid input (INPUT_INVALID, INPUT_UNKNOWN_FIELD, PIN_INVALID_STRUCTURE, READ_FIELD_UNKNOWN), "
        "or an agency read without legal basis (LEGAL_BASIS_REQUIRED)."
    },
    "429": {"description": "Rate limit or daily quota reached (RATE_LIMITED, QUOTA_EXHAUSTED), with Retry-After."},
}


@reads_router.post(
    "/persons/read",
    operation_id="read_person",
    response_model=reads.SignedReadAnswer,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": reads.ReadIn.model_json_schema()}},
        }
    },
    responses=_READ_ERRORS,
    dependencies=[Depends(partner_token)],
)
async def read_person(request: Request) -> Response:
    """Read attributes of a person (eKYC), each with its provenance: `value`, `source` (the agency whose
    recorded change set it) and `last_updated`.

    Send `Authorization: Bearer <access token>` (scope `read`). You get only the attributes your
    policy allows, for a purpose of your policy. A **business** needs the person's live consent for
    your organisation, this `purpose` and every attribute asked for (`CONSENT_REQUIRED`,
    `CONSENT_REVOKED`, `CONSENT_EXPIRED`); a PIN nobody holds answers like a person without consent.
    An **agency** states the `legal_basis` of the reading (`LEGAL_BASIS_REQUIRED`).

    Every request, answered or refused, is written to the access log before the answer is sent, and
    the person can see it. The `transaction_id` of the answer (also in the `X-Transaction-Id` header
    and in `details.transaction_id` of a refusal) names the request in that log.
    """
    body = await request.body()
    try:
        answer = await run_in_threadpool(
            reads.read_person,
            request.app.state.database,
            request.app.state.partner_gate,
            authorization=request.headers.get("authorization"),
            body=body,
        )
    except reads.ReadRefused as refused:
        return partner_refusal(refused.error, refused.transaction_id)
    return Response(
        request.app.state.gateway.signer.signed_json(answer.model_dump_json().encode()),
        media_type="application/json",
        headers={**NO_STORE, "X-Transaction-Id": answer.transaction_id},
    )


@consents_router.post(
    "/persons/{pin}/consents", operation_id="give_consent", response_model=ConsentRead, status_code=201
)
def give_consent(pin: str, data: ConsentIn, session: SessionDep, official: CurrentOfficial) -> ConsentRead:
    """Record, on the citizen's behalf, a consent the citizen signed at the counter: which business
    partner may read which attributes, for which purpose, until when.

    Within your jurisdiction; auditors cannot. Refusals: `PARTNER_NOT_FOUND`, `READ_FIELD_UNKNOWN`,
    `CONSENT_EXPIRY_IN_PAST`, `CONSENT_EVIDENCE_REQUIRED`, `PERSON_DECEASED`, `JURISDICTION_DENIED`, ...
    """
    return consents.give_as_official(session, principal=official, pin=pin, data=data)


@consents_router.get("/persons/{pin}/consents", operation_id="list_consents", response_model=ConsentList)
def list_consents(
    pin: str, session: SessionDep, official: CurrentOfficial, purpose: Purpose = DEFAULT_PURPOSE
) -> ConsentList:
    """Every consent the person gave, newest first, with its state: `live`, `revoked` or `expired`."""
    return consents.consents_as_official(session, principal=official, pin=pin, purpose=purpose)


@consents_router.post(
    "/persons/{pin}/consents/{consent_id}/revoke", operation_id="revoke_consent", response_model=ConsentRead
)
def revoke_consent(
    pin: str, consent_id: ConsentId, data: ConsentRevokeIn, session: SessionDep, official: CurrentOfficial
) -> ConsentRead:
    """Record, on the citizen's behalf, that they withdraw a consent: the partner's next read is refused
    (`CONSENT_REVOKED`). Refusals: `CONSENT_NOT_FOUND`, `CONSENT_ALREADY_REVOKED`, `JURISDICTION_DENIED`."""
    return consents.revoke_as_official(session, principal=official, pin=pin, consent_id=consent_id, data=data)


@consents_router.get("/persons/{pin}/data-uses", operation_id="person_data_uses", response_model=DataUsePage)
def person_data_uses(
    pin: str,
    session: SessionDep,
    official: CurrentOfficial,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
    purpose: Purpose = DEFAULT_PURPOSE,
) -> DataUsePage:
    """Who used the person's data and why, newest first: every partner request about them (answered or
    refused, with its transaction id) and every official's reading, from the access log.

    Within your jurisdiction (auditors too). Looking is logged as well, so it is the first item.
    """
    return consents.data_uses_as_official(
        session, principal=official, pin=pin, page=page, page_size=page_size, purpose=purpose
    )
