"""HTTP API of the sync channel.

``updates_router``: ``POST /api/v1/sync/updates`` and ``/updates/batch`` for agencies, authenticated by
the partner access token of ``/api/v1/verify`` (scope ``sync``). ``reviews_router``: the review queue
for officials (session token), within their jurisdiction.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from popreg.audit.service import PendingEntry, append_entries, new_transaction_id
from popreg.kit.database import Database
from popreg.kit.errors import DomainError, InvalidInput
from popreg.kit.http import NO_STORE, SessionDep, error_body
from popreg.officials.dependencies import CurrentOfficial
from popreg.registry.pin import PIN_SHAPE
from popreg.sharing.gate import PartnerGate
from popreg.sharing.partner_http import partner_refusal, partner_token
from popreg.sync import resolve, service
from popreg.sync.rules import Outcome, ReviewStatus
from popreg.sync.schemas import (
    AcceptIn,
    BatchIn,
    BatchOutcome,
    RejectIn,
    ReviewPage,
    ReviewRead,
    UpdateIn,
    UpdateOutcome,
)

updates_router = APIRouter(prefix="/api/v1/sync", tags=["sync"])
reviews_router = APIRouter(prefix="/api/v1/sync", tags=["sync"])

SYNC_OPERATION = "sync"
# The HTTP status of a rejected single update, by its code (422 for every other code).
_REJECTION_STATUS = {
    "SYNC_FIELD_DENIED": 403,
    "SYNC_PERSON_NOT_FOUND": 404,
    "SYNC_NO_MATCH": 404,
    "SYNC_IDEMPOTENCY_KEY_REUSED": 409,
}
_ERRORS: dict[int | str, dict[str, Any]] = {
    "400": {"description": "Malformed JSON (INPUT_MALFORMED_JSON)."},
    "401": {"description": "No, invalid or expired access token (PARTNER_TOKEN_*)."},
    "403": {"description": "Suspended partner or no sync in the policy (PARTNER_SUSPENDED, POLICY_OPERATION_DENIED)."},
    "413": {"description": "Body over 1 MiB (INPUT_TOO_LARGE)."},
    "422": {"description": "Not an update, or not a batch of 1 to 1,000 updates (INPUT_INVALID)."},
    "429": {"description": "Rate limit or daily quota reached (RATE_LIMITED, QUOTA_EXHAUSTED), with Retry-After."},
}


def _inlined(schema: dict[str, Any]) -> dict[str, Any]:
    """A model's JSON schema with its nested models written in place (the route reads its body itself,
    so the OpenAPI document has no components of its own for them)."""
    definitions = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            reference = node.get("$ref")
            if isinstance(reference, str) and reference.startswith("#/$defs/"):
                return inline(definitions[reference.removeprefix("#/$defs/")])
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(value) for value in node]
        return node

    inlined: dict[str, Any] = inline(schema)
    return inlined


def handle(
    database: Database, gate: PartnerGate, *, authorization: str | None, updates: list[Any], action: str
) -> tuple[list[UpdateOutcome], str]:
    """Authenticate the agency, apply its updates in one transaction with their access-log entry, and
    return the outcomes with the entry's transaction id. A refused request is logged in a transaction of
    its own and raised. Blocking: run it in a worker thread."""
    transaction_id = new_transaction_id()
    principal = ("anonymous", "-")
    try:
        context = gate.authenticate(authorization)
        principal = ("partner", context.partner_id)
        gate.authorise(context, operation=SYNC_OPERATION, fields=(), purpose=None, cost=max(1, len(updates)))
        agency = service.Agency(partner_id=context.partner_id, write_fields=context.policy.write_fields)
        try:
            return _receive(database, agency, principal, action, transaction_id, updates), transaction_id
        except IntegrityError:
            # Another request stored the same key (or linked the same number) first: run again, which
            # answers from what that request stored.
            return _receive(database, agency, principal, action, transaction_id, updates), transaction_id
    except DomainError as error:
        with database.unit_of_work() as session:
            append_entries(session, [_entry(principal, action, transaction_id, updates, [], result=error.code)])
        raise _Refused(error, transaction_id) from error


def _receive(
    database: Database,
    agency: service.Agency,
    principal: tuple[str, str],
    action: str,
    transaction_id: str,
    updates: list[Any],
) -> list[UpdateOutcome]:
    with database.unit_of_work() as session:
        outcomes = service.receive(session, agency=agency, updates=updates)
        append_entries(session, [_entry(principal, action, transaction_id, updates, outcomes)])
    return outcomes


class _Refused(Exception):
    def __init__(self, error: DomainError, transaction_id: str) -> None:
        super().__init__(error.code)
        self.error = error
        self.transaction_id = transaction_id


def _entry(
    principal: tuple[str, str],
    action: str,
    transaction_id: str,
    updates: list[Any],
    outcomes: list[UpdateOutcome],
    *,
    result: str = "ok",
) -> PendingEntry:
    pins = [_pin_of(update) for update in updates]
    fields = sorted({str(name)[:40] for update in updates if isinstance(update, dict) for name in _fields_of(update)})
    items: list[tuple[str | None, str]] = []
    if outcomes and action != SYNC_OPERATION:
        items = [
            (pin, (outcome.code or outcome.outcome.value)[:40]) for pin, outcome in zip(pins, outcomes, strict=True)
        ]
    if outcomes and action == SYNC_OPERATION:
        result = (outcomes[0].code or outcomes[0].outcome.value)[:40]
    first = updates[0] if updates and isinstance(updates[0], dict) else {}
    legal_basis = first.get("legal_basis") if isinstance(first.get("legal_basis"), str) else ""
    return PendingEntry(
        principal_kind=principal[0],
        principal_id=principal[1][:120],
        action=action,
        person_pin=pins[0] if action == SYNC_OPERATION and pins else None,
        fields=fields[:20],
        purpose="sync",
        legal_basis=str(legal_basis)[:300],
        result=result[:40],
        transaction_id=transaction_id,
        items=items,
    )


def _pin_of(update: Any) -> str | None:
    person = update.get("person") if isinstance(update, dict) else None
    pin = person.get("pin") if isinstance(person, dict) else None
    return pin if isinstance(pin, str) and PIN_SHAPE.fullmatch(pin) else None


def _fields_of(update: dict[str, Any]) -> list[Any]:
    fields = update.get("fields")
    return list(fields)[:10] if isinstance(fields, dict) else []


def _body(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        raise DomainError("The request body is not valid JSON.", code="INPUT_MALFORMED_JSON") from None


async def _run(request: Request, updates: list[Any], action: str) -> list[UpdateOutcome] | Response:
    try:
        outcomes, transaction_id = await run_in_threadpool(
            handle,
            request.app.state.database,
            request.app.state.partner_gate,
            authorization=request.headers.get("authorization"),
            updates=updates,
            action=action,
        )
    except _Refused as refused:
        return partner_refusal(refused.error, refused.transaction_id)
    request.state.sync_transaction_id = transaction_id
    return outcomes


@updates_router.post(
    "/updates",
    operation_id="sync_update",
    response_model=UpdateOutcome,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _inlined(UpdateIn.model_json_schema())}},
        }
    },
    responses={
        **_ERRORS,
        "202": {"description": "Queued for an official (outcome queued).", "model": UpdateOutcome},
        "404": {"description": "Rejected: SYNC_PERSON_NOT_FOUND, SYNC_NO_MATCH."},
        "409": {"description": "Rejected: SYNC_IDEMPOTENCY_KEY_REUSED."},
    },
    dependencies=[Depends(partner_token)],
)
async def sync_update(request: Request) -> Response:
    """Send one update about one person: identifiers your agency holds (social insurance number,
    health-insurance card number, tax code, driving licence number), a death, a move, a name.

    Answers `200` with outcome `applied`, `202` with outcome `queued` (an official will decide), or
    an error whose `code` says why it was rejected (`SYNC_FIELD_DENIED`, `SYNC_INVALID_VALUE`,
    `SYNC_PERSON_NOT_FOUND`, ...). Send it again with the same `idempotency_key` as often as you like:
    you get the first answer, and the register changed once. See docs/sync.md.
    """
    try:
        body = _body(await request.body())
    except DomainError as error:
        return partner_refusal(error, new_transaction_id())
    if not isinstance(body, dict):
        return partner_refusal(
            InvalidInput("The body is one update: a JSON object.", code="INPUT_INVALID"), new_transaction_id()
        )
    result = await _run(request, [body], SYNC_OPERATION)
    if isinstance(result, Response):
        return result
    (outcome,) = result
    headers = {**NO_STORE, "X-Transaction-Id": request.state.sync_transaction_id}
    if outcome.outcome is Outcome.REJECTED:
        details = {"idempotency_key": outcome.idempotency_key, "update_id": outcome.update_id, "outcome": "rejected"}
        status = _REJECTION_STATUS.get(outcome.code or "", 422)
        body = error_body(
            outcome.code or "SYNC_UPDATE_INVALID", outcome.message or "", {**details, "replayed": outcome.replayed}
        )
        return JSONResponse(body, status_code=status, headers=headers)
    status = 202 if outcome.outcome is Outcome.QUEUED else 200
    return JSONResponse(outcome.model_dump(mode="json"), status_code=status, headers=headers)


@updates_router.post(
    "/updates/batch",
    operation_id="sync_updates_batch",
    response_model=BatchOutcome,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _inlined(BatchIn.model_json_schema())}},
        }
    },
    responses=_ERRORS,
    dependencies=[Depends(partner_token)],
)
async def sync_updates_batch(request: Request) -> Response:
    """Send up to 1,000 updates in one transaction: one outcome per update, in the order sent
    (`applied`, `queued` or `rejected` with its `code`). A batch resent after a timeout has no second
    effect: every update is answered from its idempotency key."""
    try:
        batch = BatchIn.model_validate(_body(await request.body()))
    except DomainError as error:
        return partner_refusal(error, new_transaction_id())
    except ValidationError as error:
        problems = [
            {"field": ".".join(str(part) for part in problem.get("loc", ())), "problem": str(problem.get("msg", ""))}
            for problem in error.errors(include_url=False, include_input=False)[:10]
        ]
        invalid = InvalidInput(
            'The body is {"updates": [...]} with 1 to 1,000 updates.',
            code="INPUT_INVALID",
            details={"problems": problems},
        )
        return partner_refusal(invalid, new_transaction_id())
    result = await _run(request, batch.updates, "sync.batch")
    if isinstance(result, Response):
        return result
    counts = {outcome: sum(1 for item in result if item.outcome is outcome) for outcome in Outcome}
    answer = BatchOutcome(
        items=result, applied=counts[Outcome.APPLIED], queued=counts[Outcome.QUEUED], rejected=counts[Outcome.REJECTED]
    )
    return Response(
        answer.model_dump_json(),
        media_type="application/json",
        headers={**NO_STORE, "X-Transaction-Id": request.state.sync_transaction_id},
    )


# The review queue (officials) ---------------------------------------------------------------------------

ReviewId = Annotated[int, Path(ge=1, le=2_147_483_647)]


@reviews_router.get("/reviews", operation_id="list_sync_reviews", response_model=ReviewPage)
def list_reviews(
    session: SessionDep,
    official: CurrentOfficial,
    status: ReviewStatus = ReviewStatus.PENDING,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> ReviewPage:
    """The updates agencies sent that wait for an official (or were resolved), within your jurisdiction,
    oldest first: what was sent, why it was queued (`reason_code`), and the candidates of an uncertain
    match with their probability."""
    return resolve.get_all(session, principal=official, status=status, page=page, page_size=page_size)


@reviews_router.get("/reviews/{review_id}", operation_id="get_sync_review", response_model=ReviewRead)
def get_review(review_id: ReviewId, session: SessionDep, official: CurrentOfficial) -> ReviewRead:
    """One queued update (`SYNC_REVIEW_NOT_FOUND`, `JURISDICTION_DENIED`)."""
    return resolve.views(session, [resolve.get(session, principal=official, review_id=review_id)])[0]


@reviews_router.post("/reviews/{review_id}/accept", operation_id="accept_sync_review", response_model=ReviewRead)
def accept_review(review_id: ReviewId, data: AcceptIn, session: SessionDep, official: CurrentOfficial) -> ReviewRead:
    """Apply the update as the agency sent it, to its person or to the candidate you name in `pin`.
    Recorded in the person's history and the access log. Refusals: `SYNC_REVIEW_RESOLVED`,
    `SYNC_CANDIDATE_UNKNOWN`, `SYNC_PERSON_REQUIRED`, `JURISDICTION_DENIED`, and the register's own."""
    return resolve.accept(session, principal=official, review_id=review_id, data=data)


@reviews_router.post("/reviews/{review_id}/reject", operation_id="reject_sync_review", response_model=ReviewRead)
def reject_review(review_id: ReviewId, data: RejectIn, session: SessionDep, official: CurrentOfficial) -> ReviewRead:
    """Keep the register as it is, with your reason (recorded in the person's history and the access log)."""
    return resolve.reject(session, principal=official, review_id=review_id, data=data)
