"""Verifying a whole table of claims at once: the rules of :mod:`popreg.sharing.rules`, column-wise.

Every rule of :func:`~popreg.sharing.rules.verify_claims` (match modes, refusals, statuses, the
answer for an unknown PIN) is applied here to whole columns with Arrow compute, NumPy and
``rapidfuzz.process.cpdist``, never with a Python loop per row, so that a batch of a thousand claims
or a bulk file of millions costs microseconds per row. The answers are the same, row by row, as the
per-claim rules give (a property test holds the two together).

Names and addresses are folded word by word: each distinct word of a batch is folded once by
:mod:`popreg.kit.text` itself (and remembered), and Arrow splits and rejoins the words, so the
column-wise fold is the register's fold by construction, in every script.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from popreg.cards.rules import CardState, CardStatus
from popreg.kit.errors import InvalidInput
from popreg.kit.text import canonical, fold
from popreg.sharing.rules import (
    MATCH,
    MAX_LENGTH,
    NO_MATCH,
    SEX_WORDS,
    SIMILARITY_FIELDS,
    VERIFIABLE_FIELDS,
    MatchMode,
    check_threshold,
)

Column: TypeAlias = Any  # an Arrow Array (pyarrow is checked as Any: see the mypy settings)

INVALID = "invalid"
"""The result of a row refused as malformed; ``error_code`` and ``error_field`` say why."""

_PIN = r"^[0-9]{12}$"
_PARTIAL_DATE = r"^(?P<year>[0-9]{4})(?:-(?P<month>[0-9]{2})(?:-(?P<day>[0-9]{2}))?)?$"
_FULL_DATE = r"^(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})$"
# Arrow scalars made once: a Python value handed to a compute function is converted on every call,
# which costs more than the function itself on a batch of a thousand rows.
_EMPTY = pa.scalar("", pa.string())
_ZERO_TEXT = pa.scalar("0", pa.string())
_NULL_TEXT = pa.scalar(None, pa.string())
_FALSE = pa.scalar(False)
_ZERO = pa.scalar(0, pa.int64())
_NEVER = pa.scalar(np.iinfo(np.int32).max, pa.int32())
_DAY = pa.scalar("day", pa.string())
_MONTH = pa.scalar("month", pa.string())
_MATCH = pa.scalar(MATCH, pa.string())
_NO_MATCH = pa.scalar(NO_MATCH, pa.string())
_INVALID = pa.scalar("invalid", pa.string())
_SEX_KEYS = pa.array(list(SEX_WORDS), pa.string())
_SEX_VALUES = pa.array(list(SEX_WORDS.values()), pa.string())


# ---------------------------------------------------------------------------------------------
# Text


MAX_CACHED_WORDS = 2_000_000
"""Words whose folded and canonical forms are kept (a few hundred thousand cover the register's
names and addresses; past the bound, new words are transformed without being kept)."""
_FOLDED_WORDS: dict[str, str] = {}
_CANONICAL_WORDS: dict[str, str] = {}


def _per_distinct(transform: Callable[[Column], Column], values: Column) -> Column:
    """Apply a text transform once per distinct value (names and addresses repeat a great deal)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    encoded = pc.dictionary_encode(values)
    return pc.take(transform(encoded.dictionary), encoded.indices)


def _word_by_word(values: Column, transform: Callable[[str], str], known: dict[str, str]) -> Column:
    """``transform`` applied to each white-space-separated word, the results joined by one space
    (empty results dropped). For :func:`~popreg.kit.text.fold` and :func:`~popreg.kit.text.canonical`
    this equals transforming the whole value, since neither lets a character affect another across
    white space; each distinct word is transformed once, by the register's own function, and kept.
    """
    words = pc.utf8_split_whitespace(values)
    flat = pc.list_flatten(words)
    owners = pc.list_parent_indices(words)
    encoded = pc.dictionary_encode(flat)
    distinct = encoded.dictionary.to_pylist()
    results = []
    for word in distinct:
        result = known.get(word)
        if result is None:
            result = transform(word)
            if len(known) < MAX_CACHED_WORDS:
                known[word] = result
        results.append(result)
    transformed = pc.take(pa.array(results, pa.string()), encoded.indices)
    kept = pc.not_equal(transformed, _EMPTY)
    transformed, owners = pc.filter(transformed, kept), pc.filter(owners, kept)
    offsets = np.zeros(len(values) + 1, dtype=np.int32)
    np.cumsum(np.bincount(owners.to_numpy(zero_copy_only=False), minlength=len(values)), out=offsets[1:])
    joined = pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), transformed), " ")
    return pc.if_else(pc.is_valid(values), joined, _NULL_TEXT)


def canonical_values(values: Column) -> Column:
    """:func:`popreg.kit.text.canonical` of every value (null stays null)."""
    return _per_distinct(lambda distinct: _word_by_word(distinct, canonical, _CANONICAL_WORDS), values)


def folded_values(values: Column) -> Column:
    """:func:`popreg.kit.text.fold` of every value (null stays null)."""
    return _per_distinct(lambda distinct: _word_by_word(distinct, fold, _FOLDED_WORDS), values)


def foreign_order_values(folded: Column) -> Column:
    """:func:`popreg.sharing.rules.foreign_order` of every folded name."""
    return pc.replace_substring_regex(folded, pattern=r"^([^ ]*) (.*)$", replacement=r"\2 \1", max_replacements=1)


# ---------------------------------------------------------------------------------------------
# Dates


def _days_in_month(year: np.ndarray, month: np.ndarray) -> np.ndarray:
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    days = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)[np.clip(month, 1, 12) - 1]
    return np.where((month == 2) & leap, 29, days)


def _days_since_epoch(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Proleptic Gregorian day number (1970-01-01 = 0) of valid dates (H. Hinnant's days_from_civil)."""
    y = year - (month <= 2)
    era = np.floor_divide(y, 400)
    year_of_era = y - era * 400
    day_of_year = (153 * (month + np.where(month > 2, -3, 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    result: np.ndarray = era * 146097 + day_of_era - 719468
    return result


def _date_parts(text: Column, pattern: str) -> dict[str, np.ndarray]:
    """Of every value: ``formed`` (matches ``pattern``), ``year``, ``month`` and ``day`` as numbers
    (0 where not written) and ``month_given``, ``day_given`` (written, even as "00")."""
    parts = pc.extract_regex(text, pattern=pattern)
    found: dict[str, np.ndarray] = {"formed": _bool(pc.is_valid(parts))}
    for name in ("year", "month", "day"):
        digits = pc.fill_null(pc.struct_field(parts, name), _EMPTY)
        given = pc.not_equal(digits, _EMPTY)
        found[f"{name}_given"] = _bool(given)
        number = pc.cast(pc.if_else(given, digits, _ZERO_TEXT), pa.int64())
        found[name] = np.asarray(number.to_numpy(zero_copy_only=False), dtype=np.int64)
    return found


def _parse_partial_dates(text: Column) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`popreg.sharing.rules.parse_partial_date` of every value: (valid, year, month, day,
    precision as 1 year, 2 month, 3 day)."""
    parts = _date_parts(text, _PARTIAL_DATE)
    year, month, day = parts["year"], parts["month"], parts["day"]
    rank = np.where(parts["day_given"], 3, np.where(parts["month_given"], 2, 1))
    valid = parts["formed"] & (year >= 1)
    valid &= (rank < 2) | ((month >= 1) & (month <= 12))
    valid &= (rank < 3) | ((day >= 1) & (day <= _days_in_month(year, month)))
    return valid, year, month, day, rank


def _parse_full_dates(text: Column) -> tuple[np.ndarray, np.ndarray]:
    """:func:`popreg.sharing.rules.parse_full_date` of every value: (valid, days since 1970-01-01)."""
    parts = _date_parts(text, _FULL_DATE)
    year, month, day = parts["year"], parts["month"], parts["day"]
    valid = parts["formed"] & (year >= 1) & (month >= 1) & (month <= 12)
    valid &= (day >= 1) & (day <= _days_in_month(year, month))
    days = _days_since_epoch(np.where(valid, year, 1970), np.where(valid, month, 1), np.where(valid, day, 1))
    return valid, days


# ---------------------------------------------------------------------------------------------
# The table


class _Rows:
    """The claims table as NumPy masks and Arrow columns, with the first refusal of each row."""

    def __init__(self, claims: pa.Table) -> None:
        self.count = claims.num_rows
        self.error_code = np.full(self.count, None, dtype=object)
        self.error_field = np.full(self.count, None, dtype=object)
        self.fields = [name for name in VERIFIABLE_FIELDS if name in claims.column_names]
        self.raw: dict[str, Column] = {}
        self.trimmed: dict[str, Column] = {}
        self.claimed: dict[str, np.ndarray] = {}
        for name in self.fields:
            column = claims[name]
            column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
            values = pc.cast(column, pa.string())
            trimmed = pc.utf8_trim_whitespace(values)
            self.raw[name] = values
            self.trimmed[name] = trimmed
            self.claimed[name] = pc.fill_null(pc.not_equal(trimmed, _EMPTY), _FALSE).to_numpy(zero_copy_only=False)

    def refuse(self, failed: np.ndarray, *, code: str, field: str | None) -> None:
        first = failed & (self.error_code == None)  # noqa: E711 - element-wise comparison
        self.error_code[first] = code
        self.error_field[first] = field

    @property
    def valid(self) -> np.ndarray:
        result: np.ndarray = self.error_code == None  # noqa: E711 - element-wise comparison
        return result


def _strings(values: np.ndarray) -> Column:
    return pa.array(values, pa.string())


def _labels(answered: np.ndarray, matched: np.ndarray) -> Column:
    """``match`` / ``no_match`` where ``answered``, null elsewhere."""
    labels = pc.if_else(pa.array(matched), _MATCH, _NO_MATCH)
    return pc.if_else(pa.array(answered), labels, _NULL_TEXT)


def _bool(column: Column) -> np.ndarray:
    result: np.ndarray = pc.fill_null(column, _FALSE).to_numpy(zero_copy_only=False)
    return result


def _rotated_where(folded_names: Column, rows: np.ndarray) -> Column:
    """The foreign order of the names of ``rows`` (null elsewhere: the rest need not be compared)."""
    where = np.nonzero(rows)[0]
    blank = pa.nulls(len(rows), pa.string())
    if len(where) == 0:
        return blank
    return pc.replace_with_mask(blank, pa.array(rows), foreign_order_values(pc.take(folded_names, pa.array(where))))


def _similarities(scorer: Any, claimed: Column, held: Column, rows: np.ndarray) -> np.ndarray:
    """``scorer`` over the pairs of ``rows`` (0 elsewhere)."""
    scores = np.zeros(len(rows), dtype=np.float64)
    where = np.nonzero(rows)[0]
    if len(where):
        picked = pa.array(where)
        left = pc.fill_null(pc.take(claimed, picked), _EMPTY).to_pylist()
        right = pc.fill_null(pc.take(held, picked), _EMPTY).to_pylist()
        scores[where] = process.cpdist(left, right, scorer=scorer, dtype=np.float64, workers=1)
    return scores


def _choose_cards(
    cards: Column, claimed_days: np.ndarray, looked_up: np.ndarray, today: date
) -> tuple[np.ndarray, np.ndarray]:
    """For each row, whether a card was issued on the claimed day, and that card's state on ``today``
    (the card not cancelled first, as :func:`popreg.sharing.rules._matching_card` chooses)."""
    count = len(claimed_days)
    found = np.zeros(count, dtype=bool)
    state = np.full(count, None, dtype=object)
    if count == 0:
        return found, state
    parents = pc.list_parent_indices(cards).to_numpy(zero_copy_only=False)
    flat = pc.list_flatten(cards)
    if len(flat) == 0:
        return found, state
    issued = pc.cast(pc.struct_field(flat, "issued_on"), pa.int32()).to_numpy(zero_copy_only=False)
    same_day = looked_up[parents] & (issued == claimed_days[parents])
    candidates = np.nonzero(same_day)[0]
    if len(candidates) == 0:
        return found, state
    status = pc.struct_field(flat, "status").to_numpy(zero_copy_only=False).astype(object)
    cancelled = status == CardStatus.CANCELLED.value
    order = np.lexsort((candidates, cancelled[candidates], parents[candidates]))
    ranked = candidates[order]
    owners, first = np.unique(parents[ranked], return_index=True)
    chosen = ranked[first]
    expiry_column = pc.struct_field(flat, "expiry_date")
    expiry = pc.fill_null(pc.cast(expiry_column, pa.int32()), _NEVER).to_numpy(zero_copy_only=False)
    today_days = (today - date(1970, 1, 1)).days
    chosen_status = status[chosen]
    chosen_state = np.select(
        [
            chosen_status == CardStatus.CANCELLED.value,
            chosen_status == CardStatus.APPLIED.value,
            chosen_status == CardStatus.PRODUCED.value,
            expiry[chosen] < today_days,
        ],
        [CardState.CANCELLED.value, CardState.APPLIED.value, CardState.NOT_ISSUED.value, CardState.EXPIRED.value],
        default=CardState.VALID.value,
    )
    found[owners] = True
    state[owners] = chosen_state
    return found, state


def verify_table(claims: pa.Table, facts: pa.Table, *, mode: MatchMode, threshold: float, today: date) -> pa.Table:
    """Verify every row of ``claims`` (``pin`` and any of :data:`~popreg.sharing.rules.VERIFIABLE_FIELDS`,
    as text; an empty cell claims nothing) against ``facts`` (:data:`popreg.sharing.facts.FACTS_SCHEMA`,
    any order, PINs not found there are unknown).

    Returns one row per claim, in order: ``pin``, ``result`` (``match``, ``no_match`` or ``invalid``),
    ``error_code`` and ``error_field`` (for an invalid row: a malformed PIN is ``PIN_INVALID_STRUCTURE``,
    the rest as :func:`~popreg.sharing.rules.verify_claims` refuses), ``<field>_result`` for each
    claimed column, ``<field>_score`` for names and addresses in fuzzy mode, ``person_status`` and
    ``card_status``. Raises ``VERIFY_UNKNOWN_FIELD`` for a column that is not a claim, and
    ``VERIFY_INVALID_THRESHOLD``.
    """
    mode = MatchMode(mode)
    threshold = check_threshold(threshold)
    unknown = sorted(set(claims.column_names) - {"pin", *VERIFIABLE_FIELDS})
    if unknown or "pin" not in claims.column_names:
        raise InvalidInput(
            f"A claims table has a pin column and any of {', '.join(VERIFIABLE_FIELDS)}; "
            f"not {', '.join(unknown) or 'without pin'}.",
            code="VERIFY_UNKNOWN_FIELD",
            details={"field": unknown[0] if unknown else "pin", "fields": unknown},
        )
    rows = _Rows(claims)
    count = rows.count
    pin_column = claims["pin"]
    pins = pc.cast(pin_column.combine_chunks() if isinstance(pin_column, pa.ChunkedArray) else pin_column, pa.string())

    # Refusals, in the order the per-claim rules find them.
    rows.refuse(~_bool(pc.match_substring_regex(pins, _PIN)), code="PIN_INVALID_STRUCTURE", field="pin")
    any_claim = np.zeros(count, dtype=bool)
    for name in rows.fields:
        any_claim |= rows.claimed[name]
    rows.refuse(~any_claim, code="VERIFY_NO_CLAIMS", field=None)
    parsed: dict[str, Any] = {}
    for name in rows.fields:
        claimed, trimmed = rows.claimed[name], rows.trimmed[name]
        if name in MAX_LENGTH:
            too_long = _bool(pc.greater(pc.utf8_length(rows.raw[name]), pa.scalar(MAX_LENGTH[name], pa.int32())))
            rows.refuse(claimed & too_long, code="VERIFY_INVALID_VALUE", field=name)
        if name == "birth_date":
            parsed[name] = _parse_partial_dates(trimmed)
            rows.refuse(claimed & ~parsed[name][0], code="VERIFY_INVALID_DATE", field=name)
        elif name == "card_issued_on":
            parsed[name] = _parse_full_dates(trimmed)
            rows.refuse(claimed & ~parsed[name][0], code="VERIFY_INVALID_DATE", field=name)
        elif name == "sex":
            parsed[name] = pc.take(_SEX_VALUES, pc.index_in(folded_values(rows.raw[name]), value_set=_SEX_KEYS))
            rows.refuse(claimed & ~_bool(pc.is_valid(parsed[name])), code="VERIFY_INVALID_VALUE", field=name)
        elif name == "nationality":
            formed = _bool(pc.match_substring_regex(trimmed, r"^[A-Za-z]{3}$"))
            rows.refuse(claimed & ~formed, code="VERIFY_INVALID_VALUE", field=name)
        elif name == "permanent_commune_code":
            formed = _bool(pc.match_substring_regex(trimmed, r"^[0-9]{1,5}$"))
            rows.refuse(claimed & ~formed, code="VERIFY_INVALID_VALUE", field=name)
    valid = rows.valid

    # The register's facts of each row's person (null where unknown).
    position = pc.index_in(pins, value_set=facts["pin"])
    found = _bool(pc.is_valid(position)) & valid
    held = {name: pc.take(facts[name], position) for name in facts.column_names}
    held = {
        name: column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
        for name, column in held.items()
    }

    matched: dict[str, np.ndarray] = {}
    scores: dict[str, np.ndarray] = {}
    card_state = np.full(count, None, dtype=object)
    exact = mode is MatchMode.EXACT
    for name in rows.fields:
        asked = rows.claimed[name] & found
        raw = rows.raw[name]
        if name == "full_name":
            if exact:
                matched[name] = asked & _bool(pc.equal(canonical_values(raw), canonical_values(held[name])))
            else:
                claim, registered = folded_values(raw), folded_values(held[name])
                same = asked & _bool(pc.equal(claim, registered))
                rotated = _rotated_where(registered, asked & ~same)
                equal = same | (asked & _bool(pc.equal(claim, rotated)))
                matched[name], scores[name] = equal, equal.astype(np.float64)
                if mode is MatchMode.FUZZY:
                    rest = asked & ~equal
                    similar = np.maximum(
                        _similarities(OSA.normalized_similarity, claim, registered, rest),
                        _similarities(OSA.normalized_similarity, claim, rotated, rest),
                    )
                    close = rest & (similar >= threshold)
                    matched[name] = equal | close
                    scores[name] = np.where(equal, 1.0, np.where(close, similar, 0.0))
        elif name == "permanent_address":
            registered_address = held["permanent_address"]
            asked &= _bool(pc.is_valid(registered_address))
            if exact:
                matched[name] = asked & _bool(pc.equal(canonical_values(raw), canonical_values(registered_address)))
            else:
                claim, registered = folded_values(raw), folded_values(registered_address)
                equal = asked & _bool(pc.equal(claim, registered))
                matched[name], scores[name] = equal, equal.astype(np.float64)
                if mode is MatchMode.FUZZY:
                    rest = asked & ~equal
                    similar = _similarities(fuzz.token_sort_ratio, claim, registered, rest) / 100.0
                    close = rest & (similar >= threshold)
                    matched[name] = equal | close
                    scores[name] = np.where(equal, 1.0, np.where(close, similar, 0.0))
        elif name == "birth_date":
            _, year, month, day, rank = parsed[name]
            born = held["birth_date"]
            held_year = np.asarray(pc.fill_null(pc.year(born), _ZERO).to_numpy(zero_copy_only=False), dtype=np.int64)
            held_month = np.asarray(pc.fill_null(pc.month(born), _ZERO).to_numpy(zero_copy_only=False), dtype=np.int64)
            held_day = np.asarray(pc.fill_null(pc.day(born), _ZERO).to_numpy(zero_copy_only=False), dtype=np.int64)
            precision = held["birth_date_precision"]
            held_rank = np.select(
                [_bool(pc.equal(precision, _DAY)), _bool(pc.equal(precision, _MONTH))], [3, 2], default=1
            )
            if exact:
                common = rank
                same = asked & (rank == held_rank)
            else:
                common = np.minimum(rank, held_rank)
                same = asked
            same = (
                same & (year == held_year) & ((common < 2) | (month == held_month)) & ((common < 3) | (day == held_day))
            )
            if mode is MatchMode.FUZZY:
                swapped = asked & (common == 3) & (year == held_year) & (month == held_day) & (day == held_month)
                same = same | swapped
            matched[name] = same
        elif name == "sex":
            registered_sex = held["sex"]
            if exact:
                matched[name] = asked & _bool(pc.equal(canonical_values(raw), canonical_values(registered_sex)))
            else:
                matched[name] = asked & _bool(pc.equal(parsed[name], registered_sex))
        elif name == "nationality":
            if exact:
                matched[name] = asked & _bool(pc.equal(canonical_values(raw), canonical_values(held[name])))
            else:
                matched[name] = asked & _bool(pc.equal(folded_values(raw), folded_values(held[name])))
        elif name == "permanent_commune_code":
            registered_code = held["permanent_commune_code"]
            if exact:
                matched[name] = asked & _bool(pc.equal(canonical_values(raw), canonical_values(registered_code)))
            else:
                claim_code = pc.utf8_lpad(rows.trimmed[name], width=5, padding="0")
                held_code = pc.utf8_lpad(pc.utf8_trim_whitespace(registered_code), width=5, padding="0")
                matched[name] = asked & _bool(pc.equal(claim_code, held_code))
        else:
            _, days = parsed[name]
            matched[name], card_state = _choose_cards(held["cards"], days, asked, today)

    overall = valid.copy()
    for name in rows.fields:
        overall &= ~rows.claimed[name] | matched[name]
    result = pc.if_else(pa.array(valid), pc.if_else(pa.array(overall), _MATCH, _NO_MATCH), _INVALID)
    columns: dict[str, Column] = {
        "pin": pins,
        "result": result,
        "error_code": _strings(rows.error_code),
        "error_field": _strings(rows.error_field),
    }
    for name in rows.fields:
        answered = valid & rows.claimed[name]
        columns[f"{name}_result"] = _labels(answered, matched[name])
    if mode is MatchMode.FUZZY:
        for name in rows.fields:
            if name in SIMILARITY_FIELDS:
                answered = valid & rows.claimed[name]
                columns[f"{name}_score"] = pa.array(np.where(answered, scores[name], 0.0), pa.float64(), mask=~answered)
    life = held["life_status"]
    columns["person_status"] = pc.if_else(pa.array(overall), life, _NULL_TEXT)
    card_answered = overall & (rows.claimed["card_issued_on"] if "card_issued_on" in rows.fields else False)
    columns["card_status"] = pa.array(card_state, pa.string(), mask=~card_answered)
    return pa.table(columns)
