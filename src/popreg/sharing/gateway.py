"""The query-and-verify hot path: ``POST /api/v1/verify`` and ``POST /api/v1/verify/batch``.

These two routes carry most of the platform's traffic (1.5 billion requests a quarter nationally), so
they are served by a plain ASGI handler in front of FastAPI instead of through its validation layer:
the request is decoded and validated by msgspec against the same contract the OpenAPI document
describes (unknown fields refused, the same ``INPUT_*`` codes), the partner is authenticated and
authorised by the :class:`~popreg.sharing.gate.PartnerGate`, the register is read through the batching
:class:`~popreg.sharing.lookup.FactsLookup`, and the answer is signed (JWS, ES256).

Every request, answered or refused, becomes an access-log entry, and the answer leaves only after the
group commit that made that entry durable: a partner never holds an answer the log does not show.
If the log cannot be written the partner gets ``ACCESS_LOG_UNAVAILABLE`` and no answer.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

import msgspec
import pyarrow as pa
from starlette.types import ASGIApp, Receive, Scope, Send

from popreg.audit.group_commit import GroupCommitLog
from popreg.audit.service import PendingEntry, new_transaction_id
from popreg.kit.clock import today_in_vietnam
from popreg.kit.errors import DomainError, InvalidInput
from popreg.kit.http import MAX_BODY_BYTES, error_body
from popreg.registry.pin import PIN_SHAPE, check_pin
from popreg.sharing.columns import verify_table
from popreg.sharing.gate import PartnerContext, PartnerGate
from popreg.sharing.lookup import FactsLookup
from popreg.sharing.partner_http import partner_token
from popreg.sharing.rules import VERIFIABLE_FIELDS, Claims, MatchMode, verify_claims
from popreg.sharing.signing import AnswerSigner

logger = logging.getLogger("popreg.sharing.gateway")

VERIFY_PATH = "/api/v1/verify"
BATCH_PATH = "/api/v1/verify/batch"
MAX_BATCH_ITEMS = 1000

ShortText = Annotated[str, msgspec.Meta(max_length=200)]
Purpose = Annotated[str, msgspec.Meta(min_length=1, max_length=60, description="A purpose code of the policy.")]


class ClaimsIn(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """What the partner claims about the person; give at least one attribute."""

    full_name: ShortText | None = None
    birth_date: Annotated[str, msgspec.Meta(max_length=10, description="YYYY, YYYY-MM or YYYY-MM-DD")] | None = None
    sex: Annotated[str, msgspec.Meta(max_length=10, description="M or F (also Nam, Nữ, male, female)")] | None = None
    nationality: Annotated[str, msgspec.Meta(max_length=3, description="ISO 3166-1 alpha-3, e.g. VNM")] | None = None
    permanent_commune_code: Annotated[str, msgspec.Meta(max_length=5)] | None = None
    permanent_address: Annotated[str, msgspec.Meta(max_length=300)] | None = None
    card_issued_on: Annotated[str, msgspec.Meta(max_length=10, description="YYYY-MM-DD")] | None = None

    def to_claims(self) -> Claims:
        return Claims(**msgspec.structs.asdict(self))


class VerifyRequest(msgspec.Struct, forbid_unknown_fields=True):
    """One verification: does the register agree with these claims about the person with this PIN?"""

    pin: Annotated[str, msgspec.Meta(max_length=20, description="The 12-digit personal identification number.")]
    purpose: Purpose
    claims: ClaimsIn
    mode: Literal["exact", "normalised", "fuzzy"] = "normalised"
    threshold: Annotated[float, msgspec.Meta(description="Fuzzy mode: the similarity that counts as a match.")] = 0.85
    legal_basis: Annotated[str, msgspec.Meta(max_length=300)] = ""
    reference: Annotated[str, msgspec.Meta(max_length=80, description="The partner's own id, echoed back.")] | None = (
        None
    )


class BatchItem(msgspec.Struct, forbid_unknown_fields=True):
    pin: Annotated[str, msgspec.Meta(max_length=20)]
    claims: ClaimsIn
    reference: Annotated[str, msgspec.Meta(max_length=80)] | None = None


class BatchRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Up to 1,000 verifications with one purpose and match mode, answered and signed together."""

    purpose: Purpose
    items: Annotated[list[BatchItem], msgspec.Meta(min_length=1, max_length=MAX_BATCH_ITEMS)]
    mode: Literal["exact", "normalised", "fuzzy"] = "normalised"
    threshold: float = 0.85
    legal_basis: Annotated[str, msgspec.Meta(max_length=300)] = ""


class VerifyAnswer(msgspec.Struct, omit_defaults=True):
    """The signed answer. It never contains register data: only whether each claim matches."""

    transaction_id: str
    partner_id: str
    request_sha256: str
    answered_at: str
    mode: str
    result: Literal["match", "no_match"]
    attributes: dict[str, str]
    scores: dict[str, float] | None = None
    person_status: str | None = None
    card_status: str | None = None
    reference: str | None = None


class BatchItemAnswer(msgspec.Struct, omit_defaults=True):
    result: Literal["match", "no_match"]
    attributes: dict[str, str]
    scores: dict[str, float] | None = None
    person_status: str | None = None
    card_status: str | None = None
    reference: str | None = None
    error: dict[str, str] | None = None


class BatchAnswer(msgspec.Struct, omit_defaults=True):
    transaction_id: str
    partner_id: str
    request_sha256: str
    answered_at: str
    mode: str
    results: list[BatchItemAnswer]


class SignedAnswer(msgspec.Struct):
    """Only for the OpenAPI document: every answer also carries ``signature``, a compact JWS (ES256)
    whose payload is the answer without that member; verify it with ``GET /api/v1/verify/jwks``."""

    signature: str


Body = TypeVar("Body", VerifyRequest, BatchRequest)
Headers = tuple[tuple[bytes, bytes], ...]
Reply = tuple[int, bytes, Headers]
"""An HTTP answer of the hot path: status, JSON body, extra headers."""

_verify_decoder = msgspec.json.Decoder(VerifyRequest)
_batch_decoder = msgspec.json.Decoder(BatchRequest)
_encoder = msgspec.json.Encoder()


@dataclass(frozen=True, slots=True)
class _Refusal:
    status: int
    code: str
    message: str
    details: dict[str, Any] | None = None
    headers: tuple[tuple[bytes, bytes], ...] = ()


class _Refused(Exception):
    def __init__(self, refusal: _Refusal) -> None:
        super().__init__(refusal.code)
        self.refusal = refusal


def _from_domain(error: DomainError) -> _Refusal:
    headers: tuple[tuple[bytes, bytes], ...] = ()
    if error.status_code == 429 and "retry_after_seconds" in error.details:
        headers = ((b"retry-after", str(error.details["retry_after_seconds"]).encode()),)
    elif error.status_code == 401:
        headers = ((b"www-authenticate", b'Bearer realm="popreg"'),)
    return _Refusal(error.status_code, error.code, error.message, error.details or None, headers)


_AT = re.compile(r"\s*-\s*at\s*`\$\.?([^`]*)`\s*$")


def _decode_refusal(error: msgspec.DecodeError) -> _Refusal:
    """msgspec's errors in the same codes and shape as the rest of the API (``INPUT_*``)."""
    if not isinstance(error, msgspec.ValidationError):
        return _Refusal(400, "INPUT_MALFORMED_JSON", "The request body is not valid JSON.")
    text = str(error)
    located = _AT.search(text)
    field = located.group(1).replace("[", ".").replace("]", "") if located else ""
    problem = _AT.sub("", text)
    if problem.startswith("Object contains unknown field"):
        unknown = problem.split("`")[1] if "`" in problem else ""
        name = f"{field}.{unknown}" if field else unknown
        return _Refusal(
            422,
            "INPUT_UNKNOWN_FIELD",
            f"Unknown field: {name}.",
            {"problems": [{"field": name, "problem": problem, "type": "extra_forbidden"}]},
        )
    return _Refusal(
        422,
        "INPUT_INVALID",
        "The request does not have the expected fields or values.",
        {"problems": [{"field": field, "problem": problem}]},
    )


def _require_pin_shape(pin: str) -> None:
    """A PIN that cannot exist is an input error (its shape says nothing about the register)."""
    if PIN_SHAPE.fullmatch(pin):
        return
    check = check_pin(pin)
    first = check.errors[0] if check.errors else None
    raise InvalidInput(
        first.message if first else "The PIN is not valid.",
        code=first.code.value if first else "PIN_INVALID_STRUCTURE",
        details={"field": "pin"},
    )


def _threshold(value: float) -> float:
    if not 0 < value <= 1:
        raise InvalidInput(
            "The fuzzy threshold must be greater than 0 and at most 1.",
            code="VERIFY_INVALID_THRESHOLD",
            details={"field": "threshold"},
        )
    return value


class Gateway:
    """Everything the hot path needs, created once per process and started with the application."""

    def __init__(
        self,
        *,
        gate: PartnerGate,
        signer: AnswerSigner,
        log: GroupCommitLog,
        lookup: FactsLookup,
        refresh_seconds: float,
    ) -> None:
        self.gate = gate
        self.signer = signer
        self.log = log
        self.lookup = lookup
        self.refresh_seconds = refresh_seconds
        self._stopping = threading.Event()
        self._refresher: threading.Thread | None = None

    def start(self) -> None:
        """Start the log writer, the register reader and the policy refresher of this process, with
        every partner's policy loaded, so no request waits for the database to learn one."""
        self.log.start()
        self.lookup.start()
        try:
            self.gate.refresh()
        except Exception:
            logger.exception("partner policies could not be loaded at start; they load on first use")
        if self._refresher is None:
            self._stopping.clear()
            self._refresher = threading.Thread(target=self._refresh_policies, name="popreg-policies", daemon=True)
            self._refresher.start()

    def close(self) -> None:
        """Stop taking work; every request already accepted is logged before the log writer stops."""
        self._stopping.set()
        if self._refresher is not None:
            self._refresher.join(timeout=10)
            self._refresher = None
        self.lookup.close()
        self.log.close()
        try:
            self.gate.refresh()  # hand this process's last quota counts to the others
        except Exception:
            logger.exception("quota counts of this process could not be saved at shutdown")

    def _refresh_policies(self) -> None:
        """Policies, suspensions and quota counts reach this process within ``refresh_seconds``."""
        while not self._stopping.wait(self.refresh_seconds):
            try:
                self.gate.refresh()
            except Exception:
                logger.exception("partner policies could not be refreshed; the previous ones stay in force")

    def _open(
        self, entry: _EntryDraft, authorization: str | None, decoder: msgspec.json.Decoder[Body], body: bytes
    ) -> tuple[PartnerContext, Body]:
        """Authenticate the partner, then decode and validate the body: the first steps of every hot
        request, in that order, so that a caller without a valid token learns nothing of the contract."""
        context = self.gate.authenticate(authorization)
        entry.principal = ("partner", context.partner_id)
        try:
            return context, decoder.decode(body)
        except msgspec.DecodeError as error:
            raise _Refused(_decode_refusal(error)) from None

    async def verify(self, body: bytes, authorization: str | None) -> Reply:
        transaction_id = new_transaction_id()
        entry = _EntryDraft(transaction_id=transaction_id, action="verify")
        try:
            context, request = self._open(entry, authorization, _verify_decoder, body)
            entry.pin, entry.purpose, entry.legal_basis = request.pin, request.purpose, request.legal_basis
            claims = request.claims.to_claims()
            entry.fields = claims.claimed_fields()
            _require_pin_shape(request.pin)
            threshold = _threshold(request.threshold)
            self.gate.authorise(context, operation="verify", fields=entry.fields, purpose=request.purpose)
            facts = await self.lookup.get((request.pin,))
            verdict = verify_claims(
                claims,
                facts.get(request.pin),
                mode=MatchMode(request.mode),
                threshold=threshold,
                today=today_in_vietnam(),
            )
        except _Refused as refused:
            return await self.refuse(entry, refused.refusal)
        except DomainError as error:
            return await self.refuse(entry, _from_domain(error))
        answer = VerifyAnswer(
            transaction_id=transaction_id,
            partner_id=context.partner_id,
            request_sha256=hashlib.sha256(body).hexdigest(),
            answered_at=_now(),
            mode=request.mode,
            result=verdict.result,  # type: ignore[arg-type]
            attributes=verdict.attributes,
            scores=verdict.scores or None,
            person_status=verdict.person_status,
            card_status=verdict.card_status,
            reference=request.reference,
        )
        entry.result = verdict.result
        return await self._answer(entry, _encoder.encode(answer))

    async def verify_batch(self, body: bytes, authorization: str | None) -> Reply:
        transaction_id = new_transaction_id()
        entry = _EntryDraft(transaction_id=transaction_id, action="verify.batch")
        try:
            context, request = self._open(entry, authorization, _batch_decoder, body)
            entry.purpose, entry.legal_basis = request.purpose, request.legal_basis
            claims = _claim_columns(request)
            entry.fields = tuple(claims)
            threshold = _threshold(request.threshold)
            self.gate.authorise(
                context, operation="verify", fields=entry.fields, purpose=request.purpose, cost=len(request.items)
            )
            pins = [item.pin for item in request.items]
            facts = await self.lookup.table([pin for pin in pins if PIN_SHAPE.fullmatch(pin)], fields=entry.fields)
            results, items = _verify_items(request, pins, claims, facts, threshold=threshold)
        except _Refused as refused:
            return await self.refuse(entry, refused.refusal)
        except DomainError as error:
            return await self.refuse(entry, _from_domain(error))
        entry.items = items
        entry.result = "ok"
        answer = BatchAnswer(
            transaction_id=transaction_id,
            partner_id=context.partner_id,
            request_sha256=hashlib.sha256(body).hexdigest(),
            answered_at=_now(),
            mode=request.mode,
            results=results,
        )
        return await self._answer(entry, _encoder.encode(answer))

    async def _answer(self, entry: _EntryDraft, payload: bytes) -> Reply:
        body = self.signer.signed_json(payload)
        if not await self._log(entry):
            return _unavailable(entry.transaction_id)
        return 200, body, ((b"x-transaction-id", entry.transaction_id.encode("ascii")),)

    async def refuse(self, entry: _EntryDraft, refusal: _Refusal) -> Reply:
        entry.result = refusal.code
        if not await self._log(entry):
            return _unavailable(entry.transaction_id)
        details = dict(refusal.details or {})
        details["transaction_id"] = entry.transaction_id
        body = _encoder.encode(error_body(refusal.code, refusal.message, details))
        headers = ((b"x-transaction-id", entry.transaction_id.encode("ascii")), *refusal.headers)
        return refusal.status, body, headers

    async def _log(self, entry: _EntryDraft) -> bool:
        try:
            await self.log.append(entry.pending())
        except Exception:
            logger.exception("access log unavailable; the answer is withheld")
            return False
        return True


_ITEM_ERRORS = {
    "PIN_INVALID_STRUCTURE": "A personal identification number is exactly 12 digits 0-9.",
    "VERIFY_NO_CLAIMS": "Claim at least one attribute: " + ", ".join(VERIFIABLE_FIELDS) + ".",
    "VERIFY_INVALID_DATE": "The claimed {field} is not a date of the form YYYY-MM-DD (a date of birth may "
    "also be YYYY or YYYY-MM).",
    "VERIFY_INVALID_VALUE": "The claimed {field} is not a value the register can hold.",
}


def _claim_columns(request: BatchRequest) -> dict[str, list[str | None]]:
    """The batch's claims column by column, keeping only the attributes some item claims (a blank
    value claims nothing, as in a single verification)."""
    columns: dict[str, list[str | None]] = {}
    for name in VERIFIABLE_FIELDS:
        values = [getattr(item.claims, name) for item in request.items]
        if any(value is not None and value.strip() for value in values):
            columns[name] = values
    return columns


def _verify_items(
    request: BatchRequest,
    pins: list[str],
    claims: dict[str, list[str | None]],
    facts: pa.Table,
    *,
    threshold: float,
) -> tuple[list[BatchItemAnswer], list[tuple[str | None, str]]]:
    """The whole batch column-wise (:func:`popreg.sharing.columns.verify_table`): each item is
    answered like a single verification, and a malformed PIN or claim refuses that item, not the batch."""
    table = pa.table({"pin": pa.array(pins, pa.string()), **{n: pa.array(v, pa.string()) for n, v in claims.items()}})
    verified = verify_table(table, facts, mode=MatchMode(request.mode), threshold=threshold, today=today_in_vietnam())
    column = {name: verified[name].to_pylist() for name in verified.column_names}
    claimed = [name for name in claims if f"{name}_result" in column]
    scored = [name for name in claimed if f"{name}_score" in column]
    results: list[BatchItemAnswer] = []
    items: list[tuple[str | None, str]] = []
    for row, item in enumerate(request.items):
        pin = item.pin if PIN_SHAPE.fullmatch(item.pin) else None
        code = column["error_code"][row]
        if code is not None:
            field = column["error_field"][row]
            message = _ITEM_ERRORS.get(code, "The item is not valid.").format(field=(field or "").replace("_", " "))
            error = {"code": code, "message": message, **({"field": field} if field else {})}
            results.append(BatchItemAnswer(result="no_match", attributes={}, reference=item.reference, error=error))
            items.append((pin, code))
            continue
        result = column["result"][row]
        scores = {name: column[f"{name}_score"][row] for name in scored if column[f"{name}_score"][row] is not None}
        results.append(
            BatchItemAnswer(
                result=result,
                attributes={
                    name: column[f"{name}_result"][row] for name in claimed if column[f"{name}_result"][row] is not None
                },
                scores=scores or None,
                person_status=column["person_status"][row],
                card_status=column["card_status"][row],
                reference=item.reference,
            )
        )
        items.append((pin, result))
    return results, items


class _EntryDraft:
    """The access-log entry of one request, filled in as far as the request got."""

    __slots__ = ("action", "fields", "items", "legal_basis", "pin", "principal", "purpose", "result", "transaction_id")

    def __init__(self, *, transaction_id: str, action: str) -> None:
        self.transaction_id = transaction_id
        self.action = action
        self.principal = ("anonymous", "-")
        self.pin: str | None = None
        self.fields: tuple[str, ...] = ()
        self.purpose = ""
        self.legal_basis = ""
        self.result = ""
        self.items: list[tuple[str | None, str]] = []

    def pending(self) -> PendingEntry:
        pin = self.pin if self.pin is not None and PIN_SHAPE.fullmatch(self.pin) else None
        return PendingEntry(
            principal_kind=self.principal[0],
            principal_id=self.principal[1],
            action=self.action,
            person_pin=pin,
            fields=self.fields,
            purpose=self.purpose[:120],
            legal_basis=self.legal_basis,
            result=self.result,
            transaction_id=self.transaction_id,
            items=self.items,
        )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _unavailable(transaction_id: str) -> Reply:
    body = _encoder.encode(
        error_body(
            "ACCESS_LOG_UNAVAILABLE",
            "The access log cannot be written, so no answer is given; retry shortly.",
            {"transaction_id": transaction_id},
        )
    )
    return 503, body, ((b"retry-after", b"5"),)


class GatewayRoutes:
    """ASGI middleware: answers the two hot routes itself and passes everything else to FastAPI."""

    def __init__(self, app: ASGIApp, *, gateway: Gateway, max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.gateway = gateway
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in (VERIFY_PATH, BATCH_PATH):
            await self.app(scope, receive, send)
            return
        if scope["method"] != "POST":
            await _send(send, 405, _error_body("METHOD_NOT_ALLOWED", "Use POST."), ((b"allow", b"POST"),))
            return
        authorization: str | None = None
        declared: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
            elif name == b"content-length":
                declared = value
        body = await self._read_body(receive, declared)
        if body is None:
            status, payload, headers = await self.gateway.refuse(
                _EntryDraft(transaction_id=new_transaction_id(), action=_action(scope["path"])),
                _Refusal(413, "INPUT_TOO_LARGE", f"The request body is over {self.max_body_bytes} bytes."),
            )
        elif scope["path"] == VERIFY_PATH:
            status, payload, headers = await self.gateway.verify(body, authorization)
        else:
            status, payload, headers = await self.gateway.verify_batch(body, authorization)
        await _send(send, status, payload, headers)

    async def _read_body(self, receive: Receive, declared: bytes | None) -> bytes | None:
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body_bytes):
            return None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


def _action(path: str) -> str:
    return "verify" if path == VERIFY_PATH else "verify.batch"


def _error_body(code: str, message: str) -> bytes:
    return _encoder.encode(error_body(code, message))


async def _send(send: Send, status: int, body: bytes, headers: tuple[tuple[bytes, bytes], ...]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode("ascii")),
                (b"cache-control", b"no-store"),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def openapi_paths() -> tuple[dict[str, Any], dict[str, Any]]:
    """The two hot routes in OpenAPI form (paths, component schemas), generated from the same msgspec
    types that validate the requests, so the document cannot drift from what is enforced."""
    (verify_in, batch_in, verify_out, batch_out, signed), components = msgspec.json.schema_components(
        [VerifyRequest, BatchRequest, VerifyAnswer, BatchAnswer, SignedAnswer],
        ref_template="#/components/schemas/{name}",
    )
    errors = {
        "400": {"description": "Malformed JSON (INPUT_MALFORMED_JSON)."},
        "401": {"description": "No, invalid or expired access token (PARTNER_TOKEN_*)."},
        "403": {"description": "Suspended partner or outside the policy (PARTNER_SUSPENDED, POLICY_*)."},
        "413": {"description": "Body over 1 MiB (INPUT_TOO_LARGE)."},
        "422": {"description": "Invalid input (INPUT_INVALID, INPUT_UNKNOWN_FIELD, PIN_*, VERIFY_*)."},
        "429": {"description": "Rate limit or daily quota reached (RATE_LIMITED, QUOTA_EXHAUSTED)."},
        "503": {"description": "The access log cannot be written; no answer is given (ACCESS_LOG_UNAVAILABLE)."},
    }

    def operation(operation_id: str, summary: str, description: str, body: Any, answer: Any) -> dict[str, Any]:
        return {
            "post": {
                "operationId": operation_id,
                "tags": ["verification"],
                "summary": summary,
                "description": description,
                "security": [{partner_token.scheme_name: []}],
                "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
                "responses": {
                    "200": {
                        "description": "The signed answer.",
                        "content": {"application/json": {"schema": {"allOf": [answer, signed]}}},
                    },
                    **errors,
                },
            }
        }

    paths = {
        VERIFY_PATH: operation(
            "verify_claims",
            "Verify what a person claims against the register",
            "Answers match or no_match per claimed attribute and overall, never register data. Person and "
            "card status are told only when every claim matched. An unknown PIN answers exactly like wrong "
            "claims. The answer is signed (JWS ES256) and logged before it is sent.",
            verify_in,
            verify_out,
        ),
        BATCH_PATH: operation(
            "verify_claims_batch",
            "Verify up to 1,000 persons in one request",
            "Each item is answered like a single verification; a malformed item is refused on its own "
            "(its `error`) without refusing the batch. One signature covers the whole answer.",
            batch_in,
            batch_out,
        ),
    }
    return paths, components
