"""Comparing what a partner claims about a person with what the register holds. Pure: no database, no web.

A partner (a bank, a telecom, a ministry) that already knows a person's PIN asks whether its claims
about that person (name, date of birth, sex, ...) agree with the register. The answer says match or
no match per claimed attribute and overall, and never returns register data. Three match modes, the
caller's choice per request (as Aadhaar's authentication lets the caller choose):

* **exact**: the value as registered, after Unicode NFC and white-space trimming (so a name typed on a
  keyboard that sends decomposed letters still matches); a date of birth at the register's precision.
* **normalised**: accent-, case- and spacing-insensitive (:func:`popreg.kit.text.fold`, which also
  makes the old and new tone placements and đ/d agree), names also in foreign order (family name
  last), commune codes as 5-digit codes, dates at the coarser of the two precisions, sex as M/F,
  Nam/Nữ or male/female.
* **fuzzy**: normalised, plus a name or address similar enough (a threshold in (0, 1], default
  :data:`DEFAULT_THRESHOLD`) and a date of birth with its day and month swapped.

An unknown PIN answers exactly like a known PIN whose every claim is wrong, so a verification never
reveals whether a PIN exists; the person's life status and the card's status are only told once every
claim matched, that is once the partner has shown it knows the person.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from rapidfuzz import fuzz
from rapidfuzz.distance import OSA

from popreg.cards.rules import CardStatus, state_of
from popreg.kit.errors import InvalidInput
from popreg.kit.text import canonical, fold

VERIFIABLE_FIELDS = (
    "full_name",
    "birth_date",
    "sex",
    "nationality",
    "permanent_commune_code",
    "permanent_address",
    "card_issued_on",
)
SIMILARITY_FIELDS = ("full_name", "permanent_address")
"""The attributes compared by similarity in fuzzy mode; the only ones that carry a score."""
DEFAULT_THRESHOLD = 0.85
"""The fuzzy similarity that counts as a match when the caller names none. With the name measure
below it allows one typing error in a folded name of 7 to 13 characters (spaces count), two in 14 to
19, three in 20 to 26."""
MAX_LENGTH = {"full_name": 200, "permanent_address": 300}
"""The longest claimed name and address (those the register itself can hold)."""

MATCH = "match"
NO_MATCH = "no_match"
PRECISION_RANK = {"year": 1, "month": 2, "day": 3}
SEX_WORDS = {"m": "M", "nam": "M", "male": "M", "f": "F", "nu": "F", "female": "F"}
"""Accepted spellings of sex, folded: M/F, Vietnamese Nam/Nữ (also Nu), English male/female."""

_PARTIAL_DATE = re.compile(r"([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?")
_FULL_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_COMMUNE_CODE = re.compile(r"[0-9]{1,5}")
_NATIONALITY = re.compile(r"[A-Za-z]{3}")


class MatchMode(StrEnum):
    EXACT = "exact"
    NORMALISED = "normalised"
    FUZZY = "fuzzy"


@dataclass(frozen=True, slots=True)
class CardFact:
    """A card of the person that was handed over (its date of issue is known)."""

    issued_on: date
    expiry_date: date | None
    status: str  # a cards.rules.CardStatus value


@dataclass(frozen=True, slots=True)
class RegisterFacts:
    """What the register holds about one person, for comparison only; never returned to a partner.

    ``permanent_commune_code`` is the current (2025) commune of the current permanent residence and
    ``permanent_address`` its address line (house, lane, street), both ``None`` without one.
    """

    pin: str
    full_name: str
    birth_date: date
    birth_date_precision: str  # "day" | "month" | "year"
    sex: str
    nationality: str
    life_status: str
    permanent_commune_code: str | None
    permanent_address: str | None
    cards: tuple[CardFact, ...]


@dataclass(frozen=True, slots=True)
class Claims:
    """What the partner claims; every attribute optional, at least one given. A blank value (empty
    or only white space) claims nothing, as an empty cell of a bulk file does."""

    full_name: str | None = None
    birth_date: str | None = None  # "YYYY", "YYYY-MM" or "YYYY-MM-DD"
    sex: str | None = None
    nationality: str | None = None
    permanent_commune_code: str | None = None
    permanent_address: str | None = None
    card_issued_on: str | None = None  # "YYYY-MM-DD"

    def claimed_fields(self) -> tuple[str, ...]:
        """The attributes given a value, in the order of :data:`VERIFIABLE_FIELDS`."""
        return tuple(name for name in VERIFIABLE_FIELDS if _given(getattr(self, name)))

    @classmethod
    def from_mapping(cls, values: Mapping[str, object]) -> Claims:
        """Claims from a JSON object or a file's row; a name outside :data:`VERIFIABLE_FIELDS` is refused."""
        unknown = sorted(set(values) - set(VERIFIABLE_FIELDS))
        if unknown:
            raise InvalidInput(
                f"Only these attributes can be verified: {', '.join(VERIFIABLE_FIELDS)}; not {', '.join(unknown)}.",
                code="VERIFY_UNKNOWN_FIELD",
                details={"field": unknown[0], "fields": unknown},
            )
        given: dict[str, str | None] = {}
        for name, value in values.items():
            if value is not None and not isinstance(value, str):
                raise _invalid_value(name, "must be text")
            given[name] = value
        return cls(**given)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The answer to one verification.

    ``result`` is ``match`` only when every claimed attribute matches. ``scores`` (fuzzy mode only)
    gives, for a claimed name or address, its similarity when it matched and 0 when it did not: a
    partner is never told how close a wrong claim came, which would let it home in on the register's
    value by trial.
    """

    result: str
    attributes: dict[str, str]
    scores: dict[str, float]
    person_status: str | None
    card_status: str | None


@dataclass(frozen=True, slots=True)
class PartialDate:
    """A date known to the year, the month or the day (month and day are 0 where unknown)."""

    year: int
    month: int
    day: int
    precision: str

    @classmethod
    def of(cls, value: date, precision: str) -> PartialDate:
        rank = PRECISION_RANK[precision]
        return cls(value.year, value.month if rank >= 2 else 0, value.day if rank >= 3 else 0, precision)


# ---------------------------------------------------------------------------------------------
# Input


def _given(value: str | None) -> bool:
    return value is not None and value.strip() != ""


def _invalid_value(field: str, why: str) -> InvalidInput:
    return InvalidInput(
        f"The claimed {field.replace('_', ' ')} {why}.", code="VERIFY_INVALID_VALUE", details={"field": field}
    )


def _invalid_date(field: str, shape: str) -> InvalidInput:
    return InvalidInput(
        f"The claimed {field.replace('_', ' ')} is not a date that exists, written {shape}.",
        code="VERIFY_INVALID_DATE",
        details={"field": field},
    )


def _days_in_month(year: int, month: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def parse_partial_date(value: str, field: str = "birth_date") -> PartialDate:
    """``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD`` (surrounding white space ignored); the date must exist."""
    found = _PARTIAL_DATE.fullmatch(value.strip())
    if found is None:
        raise _invalid_date(field, "YYYY, YYYY-MM or YYYY-MM-DD")
    year = int(found.group(1))
    month = int(found.group(2)) if found.group(2) else 0
    day = int(found.group(3)) if found.group(3) else 0
    precision = "day" if found.group(3) else "month" if found.group(2) else "year"
    if year < 1 or (precision != "year" and not 1 <= month <= 12):
        raise _invalid_date(field, "YYYY, YYYY-MM or YYYY-MM-DD")
    if precision == "day" and not 1 <= day <= _days_in_month(year, month):
        raise _invalid_date(field, "YYYY, YYYY-MM or YYYY-MM-DD")
    return PartialDate(year, month, day, precision)


def parse_full_date(value: str, field: str = "card_issued_on") -> date:
    """``YYYY-MM-DD`` (surrounding white space ignored); the date must exist."""
    found = _FULL_DATE.fullmatch(value.strip())
    if found is None:
        raise _invalid_date(field, "YYYY-MM-DD")
    year, month, day = (int(part) for part in found.groups())
    if year < 1 or not 1 <= month <= 12 or not 1 <= day <= _days_in_month(year, month):
        raise _invalid_date(field, "YYYY-MM-DD")
    return date(year, month, day)


def check_threshold(threshold: float) -> float:
    """A fuzzy threshold is a similarity greater than 0 and at most 1."""
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or math.isnan(threshold):
        valid = False
    else:
        valid = 0 < threshold <= 1
    if not valid:
        raise InvalidInput(
            "The fuzzy threshold must be a number greater than 0 and at most 1 (for example 0.85).",
            code="VERIFY_INVALID_THRESHOLD",
            details={"field": "threshold"},
        )
    return float(threshold)


@dataclass(frozen=True, slots=True)
class _Parsed:
    """Claims checked and parsed: text values as given, dates and sex parsed."""

    values: dict[str, str]
    birth_date: PartialDate | None
    card_issued_on: date | None
    sex: str | None


def check_claims(claims: Claims) -> tuple[str, ...]:
    """The claimed attributes, after refusing malformed claims (the first at fault, in field order).

    Refusals do not depend on the register, so they say nothing about whether the PIN exists.
    """
    return tuple(_parse(claims).values)


def _parse(claims: Claims) -> _Parsed:
    values = {name: getattr(claims, name) for name in claims.claimed_fields()}
    if not values:
        raise InvalidInput(
            f"Claim at least one attribute: {', '.join(VERIFIABLE_FIELDS)}.", code="VERIFY_NO_CLAIMS", details={}
        )
    birth = card = sex = None
    for name, value in values.items():
        if name in MAX_LENGTH and len(value) > MAX_LENGTH[name]:
            raise _invalid_value(name, f"is longer than {MAX_LENGTH[name]} characters")
        if name == "birth_date":
            birth = parse_partial_date(value)
        elif name == "card_issued_on":
            card = parse_full_date(value)
        elif name == "sex":
            sex = SEX_WORDS.get(fold(value))
            if sex is None:
                raise _invalid_value(name, "is not M or F (also Nam, Nữ, male, female)")
        elif name == "nationality" and _NATIONALITY.fullmatch(value.strip()) is None:
            raise _invalid_value(name, "is not a three-letter ISO 3166-1 code such as VNM")
        elif name == "permanent_commune_code" and _COMMUNE_CODE.fullmatch(value.strip()) is None:
            raise _invalid_value(name, "is not a commune code (up to 5 digits)")
    return _Parsed(values=values, birth_date=birth, card_issued_on=card, sex=sex)


# ---------------------------------------------------------------------------------------------
# Comparison of one attribute


def foreign_order(folded_name: str) -> str:
    """A folded name with its first word, the family name, moved to the end ("van an nguyen"), as
    foreign forms and systems that put the given name first write Vietnamese names."""
    family, _, rest = folded_name.partition(" ")
    return f"{rest} {family}" if rest else folded_name


def name_similarity(claimed_folded: str, registered_folded: str) -> float:
    """How alike two folded names are: 1 minus the optimal-string-alignment distance (insertions,
    deletions, substitutions and swaps of adjacent letters, one edit each) over the longer length.

    Chosen over Jaro-Winkler, which rewards a common beginning: in Vietnamese the beginning is the
    family name (Nguyễn alone is about four names in ten) and the middle name (Văn, Thị), which say
    little, while the given name at the end tells people apart ("nguyen van an" against "nguyen van
    binh" scores 0.945 with Jaro-Winkler, 0.80 here). Token ratios count a substitution as two edits
    over the summed length and are as lenient (0.857). The registered name is also compared in
    foreign order; the better of the two counts.
    """
    return max(
        OSA.normalized_similarity(claimed_folded, registered_folded),
        OSA.normalized_similarity(claimed_folded, foreign_order(registered_folded)),
    )


def address_similarity(claimed_folded: str, registered_folded: str) -> float:
    """How alike two folded addresses are: the Indel ratio of their words sorted alphabetically, so
    that the same components in another order ("ngõ 45, số 12") agree and a left-out word such as
    "số" or "phố" costs little."""
    return float(fuzz.token_sort_ratio(claimed_folded, registered_folded)) / 100.0


def _match_text(claimed: str, registered: str | None, mode: MatchMode) -> bool:
    if registered is None:
        return False
    if mode is MatchMode.EXACT:
        return canonical(claimed) == canonical(registered)
    return fold(claimed) == fold(registered)


def _match_name(claimed: str, registered: str, mode: MatchMode, threshold: float) -> tuple[bool, float]:
    if mode is MatchMode.EXACT:
        return canonical(claimed) == canonical(registered), 0.0
    claim, held = fold(claimed), fold(registered)
    if claim in (held, foreign_order(held)):
        return True, 1.0
    if mode is MatchMode.NORMALISED:
        return False, 0.0
    similarity = name_similarity(claim, held)
    return (True, similarity) if similarity >= threshold else (False, 0.0)


def _match_address(claimed: str, registered: str | None, mode: MatchMode, threshold: float) -> tuple[bool, float]:
    if registered is None:
        return False, 0.0
    if mode is MatchMode.EXACT:
        return canonical(claimed) == canonical(registered), 0.0
    claim, held = fold(claimed), fold(registered)
    if claim == held:
        return True, 1.0
    if mode is MatchMode.NORMALISED:
        return False, 0.0
    similarity = address_similarity(claim, held)
    return (True, similarity) if similarity >= threshold else (False, 0.0)


def _match_birth_date(claimed: PartialDate, facts: RegisterFacts, mode: MatchMode) -> bool:
    held = PartialDate.of(facts.birth_date, facts.birth_date_precision)
    if mode is MatchMode.EXACT:
        return claimed == held
    rank = min(PRECISION_RANK[claimed.precision], PRECISION_RANK[held.precision])
    same = (
        claimed.year == held.year
        and (rank < 2 or claimed.month == held.month)
        and (rank < 3 or claimed.day == held.day)
    )
    if same or mode is MatchMode.NORMALISED:
        return same
    # Fuzzy: day and month swapped (12/05 written for 05/12), when both dates are known to the day.
    return rank == 3 and claimed.year == held.year and claimed.month == held.day and claimed.day == held.month


def _match_commune(claimed: str, registered: str | None, mode: MatchMode) -> bool:
    if registered is None:
        return False
    if mode is MatchMode.EXACT:
        return canonical(claimed) == canonical(registered)
    return claimed.strip().zfill(5) == registered.strip().zfill(5)


def _matching_card(issued_on: date, cards: tuple[CardFact, ...]) -> CardFact | None:
    """The card handed over on that day; should two share the day, the one not cancelled."""
    same_day = [card for card in cards if card.issued_on == issued_on]
    if not same_day:
        return None
    return min(same_day, key=lambda card: card.status == CardStatus.CANCELLED)


# ---------------------------------------------------------------------------------------------
# Verification


def verify_claims(
    claims: Claims, facts: RegisterFacts | None, *, mode: MatchMode, threshold: float = DEFAULT_THRESHOLD, today: date
) -> Verdict:
    """Compare the claims with the register's facts of the person (``None``: no such PIN).

    Raises ``VERIFY_NO_CLAIMS``, ``VERIFY_INVALID_DATE``, ``VERIFY_INVALID_VALUE`` or
    ``VERIFY_INVALID_THRESHOLD`` for malformed input, before and whatever the register holds.
    """
    mode = MatchMode(mode)
    threshold = check_threshold(threshold)
    parsed = _parse(claims)
    claimed = tuple(parsed.values)
    scored = [name for name in claimed if name in SIMILARITY_FIELDS] if mode is MatchMode.FUZZY else []
    if facts is None:
        return Verdict(
            result=NO_MATCH,
            attributes=dict.fromkeys(claimed, NO_MATCH),
            scores=dict.fromkeys(scored, 0.0),
            person_status=None,
            card_status=None,
        )
    matched: dict[str, bool] = {}
    scores: dict[str, float] = {}
    card: CardFact | None = None
    for name, value in parsed.values.items():
        if name == "full_name":
            matched[name], scores[name] = _match_name(value, facts.full_name, mode, threshold)
        elif name == "permanent_address":
            matched[name], scores[name] = _match_address(value, facts.permanent_address, mode, threshold)
        elif name == "birth_date":
            assert parsed.birth_date is not None  # noqa: S101 - parsed with the claims
            matched[name] = _match_birth_date(parsed.birth_date, facts, mode)
        elif name == "sex":
            matched[name] = _match_text(value, facts.sex, mode) if mode is MatchMode.EXACT else parsed.sex == facts.sex
        elif name == "nationality":
            matched[name] = _match_text(value, facts.nationality, mode)
        elif name == "permanent_commune_code":
            matched[name] = _match_commune(value, facts.permanent_commune_code, mode)
        else:
            assert parsed.card_issued_on is not None  # noqa: S101 - parsed with the claims
            card = _matching_card(parsed.card_issued_on, facts.cards)
            matched[name] = card is not None
    overall = all(matched.values())
    card_status = None
    if overall and card is not None:
        card_status = state_of(CardStatus(card.status), card.expiry_date, today).value
    return Verdict(
        result=MATCH if overall else NO_MATCH,
        attributes={name: MATCH if ok else NO_MATCH for name, ok in matched.items()},
        scores={name: scores[name] for name in scored},
        person_status=facts.life_status if overall else None,
        card_status=card_status,
    )
