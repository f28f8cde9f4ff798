"""Reading a person (eKYC): a partner receives the attributes its policy allows, each with its provenance.

A business reads only with the person's live consent for that partner, purpose and attributes; an
agency reads on a legal basis it states in the request. The checks run in an order that leaks
nothing: the shape of the input (which says nothing about the register), the partner's token, its
policy, then the consent or legal basis, and only then the person. A business asking about a PIN
nobody holds is refused exactly like one asking about a person who never consented.

Every request, answered or refused, is written to the access log before the partner gets the
answer. An answer is logged in the transaction that read the register; a refusal is logged in a
transaction of its own, committed after the refused request was rolled back, so that a refusal can
never roll back its own log entry.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from popreg.audit.service import PendingEntry, append_entries, new_transaction_id
from popreg.kit.clock import today_in_vietnam, utc_now
from popreg.kit.database import Database
from popreg.kit.errors import DomainError, InvalidInput
from popreg.registry import service as registry
from popreg.registry.pin import PIN_SHAPE
from popreg.sharing import consents
from popreg.sharing.gate import PartnerContext, PartnerGate

READ_ACTION = "read"
_ANONYMOUS = ("anonymous", "-")
FieldName = Annotated[str, StringConstraints(min_length=1, max_length=40)]


class ReadIn(BaseModel):
    """Which attributes of which person the partner reads, and why."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    pin: str = Field(
        max_length=20, description="The 12-digit personal identification number.", examples=["001190012345"]
    )
    purpose: str = Field(
        min_length=1,
        max_length=consents.MAX_PURPOSE_LENGTH,
        description="A purpose code of your policy; for a business, the purpose the person consented to.",
        examples=["account-opening"],
    )
    fields: list[FieldName] = Field(
        min_length=1,
        max_length=len(registry.READABLE_FIELDS),
        description=f"The attributes to read, each allowed by your policy: {', '.join(registry.READABLE_FIELDS)}.",
        examples=[["full_name", "birth_date", "permanent_address"]],
    )
    legal_basis: str | None = Field(
        default=None,
        max_length=300,
        description="Required of an agency: the law, decree or decision that entitles it to this reading.",
        examples=["Luật Bảo hiểm xã hội 2024, Điều 16"],
    )


class AttributeRead(BaseModel):
    """An attribute's value with where it comes from."""

    value: str | None = Field(description="As the register holds it now; null when it holds none.")
    source: str = Field(description="The agency whose recorded change set the value (or that registered the person).")
    last_updated: datetime = Field(description="When that change was recorded (UTC).")


class ReadAnswer(BaseModel):
    transaction_id: str = Field(description="The id of this request in the access log; quote it in any query.")
    partner_id: str
    pin: str
    purpose: str
    answered_at: datetime
    attributes: dict[str, AttributeRead]


class SignedReadAnswer(ReadAnswer):
    """The answer as sent: with ``signature``, a compact JWS (ES256) whose payload is the answer without
    that member, verifiable with ``GET /api/v1/verify/jwks`` like a verification answer."""

    signature: str


class ReadRefused(Exception):
    """A refused read, already written to the access log under ``transaction_id``."""

    def __init__(self, error: DomainError, transaction_id: str) -> None:
        super().__init__(error.code)
        self.error = error
        self.transaction_id = transaction_id


@dataclass(slots=True)
class _Entry:
    """The access-log entry of one read, filled in as far as the request got."""

    transaction_id: str
    principal: tuple[str, str] = _ANONYMOUS
    pin: str | None = None
    fields: tuple[str, ...] = ()
    purpose: str = ""
    legal_basis: str = ""

    def pending(self, result: str) -> PendingEntry:
        return PendingEntry(
            principal_kind=self.principal[0],
            principal_id=self.principal[1][:120],
            action=READ_ACTION,
            person_pin=self.pin if self.pin is not None and PIN_SHAPE.fullmatch(self.pin) else None,
            fields=self.fields,
            purpose=self.purpose[:120],
            legal_basis=self.legal_basis,
            result=result,
            transaction_id=self.transaction_id,
        )


def read_person(database: Database, gate: PartnerGate, *, authorization: str | None, body: bytes) -> ReadAnswer:
    """Answer one read request, or raise :class:`ReadRefused` once its refusal is logged.

    Blocking (database and policy checks): run it in a worker thread.
    """
    entry = _Entry(transaction_id=new_transaction_id())
    try:
        try:
            request = _parse(body, entry)
        except DomainError:
            _name_the_caller(gate, authorization, entry)
            raise
        context = gate.authenticate(authorization)
        entry.principal = ("partner", context.partner_id)
        gate.authorise(context, operation=READ_ACTION, fields=request.fields, purpose=request.purpose)
        return _answer(database, context, request, entry)
    except DomainError as error:
        with database.unit_of_work() as session:
            append_entries(session, [entry.pending(error.code)])
        raise ReadRefused(error, entry.transaction_id) from error


def _parse(body: bytes, entry: _Entry) -> ReadIn:
    """The request as typed, or the input error that refuses it (``INPUT_*``, ``PIN_INVALID_STRUCTURE``,
    ``READ_FIELD_UNKNOWN``). What could be read is noted in ``entry`` for the access log."""
    try:
        request = ReadIn.model_validate_json(body)
    except ValidationError as error:
        _note_what_was_readable(body, entry)
        raise _input_error(error) from None
    entry.pin, entry.purpose = request.pin, request.purpose
    entry.fields = tuple(request.fields)
    entry.legal_basis = request.legal_basis or ""
    if not PIN_SHAPE.fullmatch(request.pin):
        raise InvalidInput(
            "A personal identification number has exactly 12 digits.",
            code="PIN_INVALID_STRUCTURE",
            details={"field": "pin"},
        )
    unknown = [field for field in request.fields if field not in registry.READABLE_FIELDS]
    if unknown:
        raise InvalidInput(
            f"The register shares only these attributes: {', '.join(registry.READABLE_FIELDS)}.",
            code="READ_FIELD_UNKNOWN",
            details={"field": "fields", "unknown": unknown[:10]},
        )
    fields = list(dict.fromkeys(request.fields))
    entry.fields = tuple(fields)
    return request.model_copy(update={"fields": fields})


def _answer(database: Database, context: PartnerContext, request: ReadIn, entry: _Entry) -> ReadAnswer:
    agency = context.kind == "agency"
    if agency and not (request.legal_basis or "").strip():
        raise InvalidInput(
            "An agency reads on a legal basis: name the law, decree or decision that entitles it to this "
            "reading in legal_basis.",
            code="LEGAL_BASIS_REQUIRED",
            details={"field": "legal_basis"},
        )
    with database.unit_of_work() as session:
        if not agency:
            consents.require_consent(
                session,
                pin=request.pin,
                partner_id=context.partner_id,
                purpose=request.purpose,
                fields=request.fields,
                today=today_in_vietnam(),
            )
        values = registry.field_provenance(session, pin=request.pin, fields=request.fields)
        append_entries(session, [entry.pending("ok")])
    return ReadAnswer(
        transaction_id=entry.transaction_id,
        partner_id=context.partner_id,
        pin=request.pin,
        purpose=request.purpose,
        answered_at=utc_now(),
        attributes={
            name: AttributeRead(value=value.value, source=value.source, last_updated=value.last_updated)
            for name, value in values.items()
        },
    )


def _name_the_caller(gate: PartnerGate, authorization: str | None, entry: _Entry) -> None:
    """Who sent a malformed request, for the log only: the answer stays the input error."""
    try:
        entry.principal = ("partner", gate.authenticate(authorization).partner_id)
    except DomainError:
        entry.principal = _ANONYMOUS


def _note_what_was_readable(body: bytes, entry: _Entry) -> None:
    """From a request refused for its shape, what it named as text: the PIN, purpose and fields."""
    try:
        raw: Any = json.loads(body)
    except ValueError:
        return
    if not isinstance(raw, dict):
        return
    pin, purpose, fields = raw.get("pin"), raw.get("purpose"), raw.get("fields")
    entry.pin = pin if isinstance(pin, str) else None
    entry.purpose = purpose if isinstance(purpose, str) else ""
    if isinstance(fields, list):
        entry.fields = tuple(field[:40] for field in fields[:20] if isinstance(field, str))


def _input_error(error: ValidationError) -> DomainError:
    """pydantic's errors in the codes and shape of the rest of the API (``INPUT_*``)."""
    problems = []
    for item in error.errors(include_url=False, include_input=False):
        kind = str(item.get("type", ""))
        if kind == "json_invalid":
            return DomainError("The request body is not valid JSON.", code="INPUT_MALFORMED_JSON")
        field = ".".join(str(part) for part in item.get("loc", ()))
        problems.append({"field": field, "problem": str(item.get("msg", "")), "type": kind})
    unknown = [problem["field"] for problem in problems if problem["type"] == "extra_forbidden"]
    if unknown:
        return InvalidInput(f"Unknown field: {unknown[0]}.", code="INPUT_UNKNOWN_FIELD", details={"problems": problems})
    return InvalidInput(
        "The request does not have the expected fields or values.",
        code="INPUT_INVALID",
        details={"problems": problems},
    )
