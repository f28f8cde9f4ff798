"""Rules of the inbound sync channel (seed system S3). Pure: no database, no web.

Other agencies keep the register live: social insurance (BHXH) and health insurance link their numbers
to the citizen, the tax department its tax code, the traffic police the driving licence, hospitals
report deaths, and residence changes arrive from the agencies that registered them. Each agency writes
only the fields its policy lists (``write_fields``), on a legal basis, and says when it observed the
values: a value the register received from someone else after that moment is not overwritten blindly
but queued for an official.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

import msgspec
from pydantic import ValidationError

from popreg.kit.errors import InvalidInput

IDENTIFIER_SCHEMES: Final = (
    "social_insurance_number",
    "health_insurance_card_number",
    "tax_code",
    "driving_licence_number",
)
"""Numbers other agencies give a person, which the register links (``person_identifiers``)."""
REGISTER_FIELDS: Final = ("full_name", "death_date", "permanent_residence", "temporary_residence")
"""Fields of the register itself, written through the registry's use cases (history, events, cards)."""
WRITABLE_FIELDS: Final = IDENTIFIER_SCHEMES + REGISTER_FIELDS

_IDENTIFIER_SHAPES: Final = {
    # Mã số BHXH: 10 digits.
    "social_insurance_number": (re.compile(r"[0-9]{10}"), "10 digits"),
    # Mã thẻ BHYT: 2 letters (beneficiary group), a benefit level 1-5, a 2-digit province, the 10-digit
    # BHXH number; since 2021 the card may carry the BHXH number alone.
    "health_insurance_card_number": (
        re.compile(r"[A-Z]{2}[1-5][0-9]{12}|[0-9]{10}"),
        "15 characters such as DN4010123456789, or the 10-digit social insurance number",
    ),
    # Mã số thuế: 10 digits, 13 for a dependent unit (10-3), or the 12-digit PIN (personal, from 07/2025).
    "tax_code": (re.compile(r"[0-9]{10}(-[0-9]{3})?|[0-9]{12}"), "10 digits, 10-3 digits, or a 12-digit PIN"),
    # Số giấy phép lái xe: 12 digits.
    "driving_licence_number": (re.compile(r"[0-9]{12}"), "12 digits"),
}

ACCEPT_PROBABILITY: Final = 0.95
"""A demographic match is applied when the best candidate reaches this probability ..."""
AMBIGUOUS_PROBABILITY: Final = 0.50
"""... and no other candidate reaches this one; a best candidate below it is no match at all."""


class Outcome(StrEnum):
    APPLIED = "applied"
    QUEUED = "queued"
    REJECTED = "rejected"


class ReviewStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class Queued(Exception):
    """An update an official must look at: ``code`` says why (a conflict or an uncertain match)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code)
        self.code = code
        self.message = message


def body_hash(update: Mapping[str, Any]) -> str:
    """The fingerprint of an update as sent, independent of key order and spacing: a resend with the
    same key must have the same fingerprint, or it is refused (``SYNC_IDEMPOTENCY_KEY_REUSED``)."""
    return hashlib.sha256(msgspec.json.encode(update, order="sorted")).hexdigest()


def denied_fields(fields: Iterable[str], writable: frozenset[str]) -> list[str]:
    """The fields of an update its agency's policy does not let it write."""
    return sorted(set(fields) - writable)


def check_field_names(fields: Iterable[str]) -> None:
    unknown = sorted(set(fields) - set(WRITABLE_FIELDS))
    if unknown:
        raise InvalidInput(
            f"The sync channel writes only: {', '.join(WRITABLE_FIELDS)}; "
            f"not {', '.join(name[:40] for name in unknown)}.",
            code="SYNC_FIELD_UNKNOWN",
            details={"fields": [name[:40] for name in unknown[:10]]},
        )


def invalid_value(field: str, why: str) -> InvalidInput:
    return InvalidInput(f"The value of {field} {why}.", code="SYNC_INVALID_VALUE", details={"field": field})


def normalise_identifier(scheme: str, value: object) -> str:
    """An identifier as stored: trimmed, upper-case, checked against its agency's format."""
    if not isinstance(value, str):
        raise invalid_value(scheme, "must be text")
    shape, described = _IDENTIFIER_SHAPES[scheme]
    cleaned = value.strip().upper()
    if not shape.fullmatch(cleaned):
        raise invalid_value(scheme, f"is not {described}")
    return cleaned


def pydantic_problem(field: str, error: ValidationError) -> InvalidInput:
    """A registry schema's refusal of a field's value, in the sync channel's code."""
    first = error.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in first.get("loc", ()))
    return InvalidInput(
        f"The value of {field} is not valid ({where or 'value'}: {first.get('msg', '')}).",
        code="SYNC_INVALID_VALUE",
        details={"field": field, "problem": where},
    )


@dataclass(frozen=True, slots=True)
class MatchDecision:
    """What the candidates of a demographic match allow: apply to ``person_id``, queue, or reject."""

    outcome: Outcome
    person_id: int | None
    code: str | None


def decide_match(probabilities: Sequence[tuple[int, float]]) -> MatchDecision:
    """A clear single candidate (best >= :data:`ACCEPT_PROBABILITY`, every other below
    :data:`AMBIGUOUS_PROBABILITY`) is the person; no candidate reaching :data:`AMBIGUOUS_PROBABILITY`
    means the register does not know them; anything between goes to an official with the candidates."""
    ranked = sorted(probabilities, key=lambda candidate: -candidate[1])
    if not ranked or ranked[0][1] < AMBIGUOUS_PROBABILITY:
        return MatchDecision(Outcome.REJECTED, None, "SYNC_NO_MATCH")
    best_id, best = ranked[0]
    runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
    if best >= ACCEPT_PROBABILITY and runner_up < AMBIGUOUS_PROBABILITY:
        return MatchDecision(Outcome.APPLIED, best_id, None)
    return MatchDecision(Outcome.QUEUED, None, "SYNC_MATCH_UNCERTAIN")


def contradictions(writes: Iterable[tuple[int, int, str, str]]) -> set[int]:
    """The updates of one batch that set one field of one person to different values.

    ``writes`` are ``(update index, person id, field, canonical value)``; neither update can win
    without an official (which one is right?), so every update involved is queued.
    """
    values: defaultdict[tuple[int, str], set[str]] = defaultdict(set)
    indices: defaultdict[tuple[int, str], set[int]] = defaultdict(set)
    for index, person_id, field, value in writes:
        values[(person_id, field)].add(value)
        indices[(person_id, field)].add(index)
    return {index for key, seen in values.items() if len(seen) > 1 for index in indices[key]}


def canonical_value(value: Any) -> str:
    """A field's value as text that compares equal for equal values (for contradiction checks)."""
    if isinstance(value, str):
        return value.strip().upper()
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
