"""Column-wise validation of imported person records (Arrow compute, no Python loop per row).

The rules are those of the API (:mod:`popreg.registry.rules` and :mod:`popreg.registry.pin`),
applied to whole columns. Each row gets the first rule it breaks, with the column and a stable code;
rows that break none come out normalised, ready to load.

Input columns (after any renaming): ``pin``, ``full_name``, ``birth_date`` (``YYYY-MM-DD``,
``YYYY-MM`` or ``YYYY``), ``sex`` (``M``/``F``, also ``Nam``/``Nữ``) are required; ``ethnicity_code``,
``religion_code`` (default ``none``), ``nationality`` (default ``VNM``), ``birth_registration_unit_code``,
``origin_unit_code`` (+ ``origin_unit_generation``), ``life_status`` (default ``alive``),
``life_status_date``, and a permanent residence ``address_line`` + ``unit_code`` (+ ``unit_generation``,
default ``2025``) are optional.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeAlias

import pyarrow as pa
import pyarrow.compute as pc

from popreg.registry.pin import ABROAD_CODES, LEGACY_PROVINCE_CODES
from popreg.registry.reference import ethnic_groups, religions
from popreg.registry.rules import EARLIEST_BIRTH_YEAR, LifeStatus
from popreg.units.catalogue import UnitGeneration, UnitLevel, get_unit, to_current

REQUIRED_COLUMNS = ("pin", "full_name", "birth_date", "sex")
OPTIONAL_COLUMNS = (
    "ethnicity_code",
    "religion_code",
    "nationality",
    "birth_registration_unit_code",
    "origin_unit_code",
    "origin_unit_generation",
    "life_status",
    "life_status_date",
    "address_line",
    "unit_code",
    "unit_generation",
)
KNOWN_COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
REGISTRATION_CODES = pa.array(sorted(LEGACY_PROVINCE_CODES) + [f"{code:03d}" for code in ABROAD_CODES])

# An Arrow Array or ChunkedArray (pyarrow is checked as Any: see the mypy settings).
Column: TypeAlias = Any


@dataclass(frozen=True, slots=True)
class ValidatedBatch:
    """The rows that passed (normalised) and one rejection row per refused input row."""

    valid: pa.Table
    rejects: pa.Table


def fold_column(values: Column) -> Column:
    """:func:`popreg.kit.text.fold` for a whole column: no diacritics, đ as d, lower case,
    punctuation as a space, single spaces."""
    text = pc.replace_substring(pc.replace_substring(values, "đ", "d"), "Đ", "D")
    text = pc.replace_substring_regex(pc.utf8_normalize(text, form="NFD"), pattern=r"\p{M}", replacement="")
    text = pc.utf8_lower(pc.utf8_normalize(text, form="NFC"))
    text = pc.replace_substring_regex(text, pattern=r"[^\p{L}\p{N}\s]|_", replacement=" ")
    return pc.utf8_trim_whitespace(pc.replace_substring_regex(text, pattern=r"\s+", replacement=" "))


def canonical_column(values: Column) -> Column:
    """:func:`popreg.kit.text.canonical` for a whole column: NFC and single spaces."""
    text = pc.utf8_normalize(values, form="NFC")
    return pc.utf8_trim_whitespace(pc.replace_substring_regex(text, pattern=r"\s+", replacement=" "))


def split_names(full_names: Column) -> tuple[Column, Column, Column]:
    """Family (first word), middle (the words between) and given name (last word) of canonical
    names; a one-word name is a given name only (see :func:`popreg.kit.text.split_full_name`)."""
    words = pc.add(pc.count_substring(full_names, " "), 1)
    given = pc.replace_substring_regex(full_names, pattern=r"^.* ", replacement="")
    family = pc.if_else(
        pc.greater(words, 1), pc.replace_substring_regex(full_names, pattern=r" .*$", replacement=""), ""
    )
    inner = pc.replace_substring_regex(
        pc.replace_substring_regex(full_names, pattern=r"^\S+ ", replacement=""), pattern=r" \S+$", replacement=""
    )
    middle = pc.if_else(pc.greater(words, 2), inner, "")
    return family, middle, given


class _Rejections:
    """Collects the first failing rule of each row."""

    def __init__(self, rows: int) -> None:
        self.code = pa.nulls(rows, pa.string())
        self.column = pa.nulls(rows, pa.string())
        self.value = pa.nulls(rows, pa.string())

    def add(self, failed: Column, *, code: str, column: str, value: Column | None = None) -> None:
        failed = pc.and_kleene(pc.fill_null(failed, False), pc.is_null(self.code))
        self.code = pc.if_else(failed, code, self.code)
        self.column = pc.if_else(failed, column, self.column)
        if value is not None:
            self.value = pc.if_else(failed, pc.cast(value, pa.string()), self.value)

    @property
    def ok(self) -> Column:
        return pc.is_null(self.code)


def _per_distinct(transform: Callable[[Column], Column], values: Column) -> Column:
    """Apply a costly text transform once per distinct value (names repeat a great deal)."""
    encoded = (
        pc.dictionary_encode(values).combine_chunks()
        if isinstance(values, pa.ChunkedArray)
        else (pc.dictionary_encode(values))
    )
    return pc.take(transform(encoded.dictionary), encoded.indices)


def _text(table: pa.Table, name: str) -> Column:
    """A column as trimmed text, empty strings as null; an absent optional column is all null."""
    if name not in table.column_names:
        return pa.nulls(table.num_rows, pa.string())
    values = pc.utf8_trim_whitespace(pc.cast(table[name], pa.string()))
    return pc.if_else(pc.equal(values, ""), None, values)


def _parse_partial_dates(text: Column) -> tuple[Column, Column]:
    """``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD`` to a date and its precision (null when malformed)."""
    day = pc.match_substring_regex(text, r"^\d{4}-\d{2}-\d{2}$")
    month = pc.match_substring_regex(text, r"^\d{4}-\d{2}$")
    year = pc.match_substring_regex(text, r"^\d{4}$")
    padded = pc.case_when(
        pc.make_struct(day, month, year),
        text,
        pc.binary_join_element_wise(text, "-01", ""),
        pc.binary_join_element_wise(text, "-01-01", ""),
    )
    parsed = pc.cast(pc.strptime(padded, format="%Y-%m-%d", unit="s", error_is_null=True), pa.date32())
    # strptime accepts 2023-02-30 on some platforms: check the date prints back the same.
    round_trip = pc.equal(pc.strftime(parsed, format="%Y-%m-%d"), padded)
    parsed = pc.if_else(pc.fill_null(round_trip, False), parsed, None)
    precision = pc.case_when(pc.make_struct(day, month, year), "day", "month", "year")
    return parsed, precision


def _membership(values: Column, allowed: list[str]) -> Column:
    return pc.is_in(values, value_set=pa.array(allowed, pa.string()))


def _unit_lookup(
    codes: Column, resolve: Callable[[str], tuple[str | None, str | None] | None]
) -> tuple[Column, Column, Column]:
    """Resolve each distinct code once: (known, current commune, current province) per row."""
    distinct = [code for code in pc.unique(codes).to_pylist() if code is not None]
    resolved = {code: resolve(code) for code in distinct}
    known_codes = [code for code, place in resolved.items() if place is not None]
    keys = pa.array(known_codes, pa.string())
    index = pc.index_in(codes, value_set=keys)
    communes = pa.array([resolved[c][0] for c in known_codes], pa.string())  # type: ignore[index]
    provinces = pa.array([resolved[c][1] for c in known_codes], pa.string())  # type: ignore[index]
    return pc.is_valid(index), pc.take(communes, index), pc.take(provinces, index)


def _resolve_commune(generation: UnitGeneration) -> Callable[[str], tuple[str | None, str | None] | None]:
    def resolve(code: str) -> tuple[str | None, str | None] | None:
        unit = get_unit(code, generation)
        if unit is None or unit.level is not UnitLevel.COMMUNE:
            return None
        if generation is UnitGeneration.Y2025:
            return unit.code, unit.province_code
        current = to_current(code, UnitLevel.COMMUNE)
        return (current[0].code, current[0].province_code) if current else (None, None)

    return resolve


def _resolve_any_commune(code: str) -> tuple[str | None, str | None] | None:
    return _resolve_commune(UnitGeneration.Y2025)(code) or _resolve_commune(UnitGeneration.PRE_2025)(code)


def validate(table: pa.Table, *, first_row_number: int, today: date) -> ValidatedBatch:
    """Validate and normalise one batch; ``first_row_number`` numbers the batch's first row (1-based)."""
    rows = table.num_rows
    reject = _Rejections(rows)
    pin = _text(table, "pin")
    pin_shaped = pc.fill_null(pc.match_substring_regex(pin, r"^[0-9]{12}$"), False)
    reject.add(
        pc.invert(pin_shaped),
        code="PIN_INVALID_STRUCTURE",
        column="pin",
        value=pin,
    )
    prefix = pc.utf8_slice_codeunits(pin, 0, 3)
    reject.add(
        pc.invert(pc.is_in(prefix, value_set=REGISTRATION_CODES)), code="PIN_UNKNOWN_PROVINCE", column="pin", value=pin
    )

    full_name = _per_distinct(canonical_column, _text(table, "full_name"))
    bad_name = pc.or_kleene(
        pc.or_kleene(pc.is_null(full_name), pc.match_substring_regex(full_name, r"[\d\"\\\x00-\x1f]")),
        pc.greater(pc.utf8_length(full_name), 200),
    )
    folded = _per_distinct(fold_column, full_name)
    reject.add(
        pc.or_kleene(bad_name, pc.equal(pc.fill_null(folded, ""), "")),
        code="NAME_INVALID",
        column="full_name",
        value=full_name,
    )

    birth_text = _text(table, "birth_date")
    birth, precision = _parse_partial_dates(birth_text)
    reject.add(pc.is_null(birth), code="DATE_INVALID", column="birth_date", value=birth_text)
    reject.add(
        pc.greater(birth, pa.scalar(today, pa.date32())),
        code="BIRTH_DATE_IN_FUTURE",
        column="birth_date",
        value=birth_text,
    )
    birth_year = pc.year(birth)
    reject.add(
        pc.less(birth_year, EARLIEST_BIRTH_YEAR), code="BIRTH_DATE_IMPOSSIBLE", column="birth_date", value=birth_text
    )

    sex_text = pc.utf8_upper(_text(table, "sex"))
    sex = pc.case_when(
        pc.make_struct(
            pc.is_in(sex_text, value_set=pa.array(["M", "NAM", "MALE"])),
            pc.is_in(sex_text, value_set=pa.array(["F", "NỮ", "NU", "FEMALE"])),
        ),
        "M",
        "F",
    )
    reject.add(pc.is_null(sex), code="SEX_INVALID", column="sex", value=_text(table, "sex"))

    # Only a well-shaped PIN has digits to decode; a malformed one was rejected above.
    digits = pc.cast(pc.utf8_slice_codeunits(pc.if_else(pin_shaped, pin, "000000000000"), 3, 6), pa.int32())
    century_sex = pc.divide(digits, 100)
    encoded_year = pc.add(pc.add(1900, pc.multiply(pc.divide(century_sex, 2), 100)), pc.remainder(digits, 100))
    reject.add(pc.not_equal(encoded_year, birth_year), code="PIN_BIRTH_YEAR_MISMATCH", column="pin", value=pin)
    encoded_female = pc.equal(pc.remainder(century_sex, 2), 1)
    reject.add(pc.not_equal(encoded_female, pc.equal(sex, "F")), code="PIN_SEX_MISMATCH", column="pin", value=pin)

    ethnicity = _text(table, "ethnicity_code")
    ethnicity = pc.if_else(
        pc.equal(pc.utf8_length(ethnicity), 1), pc.binary_join_element_wise("0", ethnicity, ""), ethnicity
    )
    reject.add(
        pc.and_kleene(pc.is_valid(ethnicity), pc.invert(_membership(ethnicity, [g.code for g in ethnic_groups()]))),
        code="ETHNICITY_UNKNOWN",
        column="ethnicity_code",
        value=ethnicity,
    )
    religion = pc.coalesce(pc.utf8_lower(_text(table, "religion_code")), "none")
    reject.add(
        pc.invert(_membership(religion, [r.code for r in religions()])),
        code="RELIGION_UNKNOWN",
        column="religion_code",
        value=religion,
    )
    nationality = pc.coalesce(pc.utf8_upper(_text(table, "nationality")), "VNM")
    reject.add(
        pc.invert(pc.match_substring_regex(nationality, r"^[A-Z]{3}$")),
        code="NATIONALITY_INVALID",
        column="nationality",
        value=nationality,
    )

    birth_unit = _text(table, "birth_registration_unit_code")
    birth_known, birth_commune, _ = _unit_lookup(birth_unit, _resolve_any_commune)
    reject.add(
        pc.and_kleene(pc.is_valid(birth_unit), pc.invert(birth_known)),
        code="UNIT_UNKNOWN",
        column="birth_registration_unit_code",
        value=birth_unit,
    )
    origin = _text(table, "origin_unit_code")
    origin_generation = pc.coalesce(_text(table, "origin_unit_generation"), UnitGeneration.Y2025.value)
    reject.add(
        pc.invert(_membership(origin_generation, [g.value for g in UnitGeneration])),
        code="UNIT_GENERATION_INVALID",
        column="origin_unit_generation",
        value=origin_generation,
    )
    # A place of origin may be any unit (province, district or commune) of its generation.
    origin_current, _, _ = _unit_lookup(origin, lambda code: ("", "") if get_unit(code) else None)
    origin_old, _, _ = _unit_lookup(origin, lambda code: ("", "") if get_unit(code, UnitGeneration.PRE_2025) else None)
    origin_known = pc.if_else(pc.equal(origin_generation, UnitGeneration.PRE_2025.value), origin_old, origin_current)
    reject.add(
        pc.and_kleene(pc.is_valid(origin), pc.invert(origin_known)),
        code="UNIT_UNKNOWN",
        column="origin_unit_code",
        value=origin,
    )

    status = pc.coalesce(pc.utf8_lower(_text(table, "life_status")), LifeStatus.ALIVE.value)
    reject.add(
        pc.invert(_membership(status, [s.value for s in LifeStatus if s is not LifeStatus.MERGED])),
        code="LIFE_STATUS_INVALID",
        column="life_status",
        value=status,
    )
    status_text = _text(table, "life_status_date")
    status_date, _ = _parse_partial_dates(status_text)
    alive = pc.equal(status, LifeStatus.ALIVE.value)
    reject.add(
        pc.and_kleene(pc.invert(alive), pc.is_null(status_date)),
        code="DATE_INVALID",
        column="life_status_date",
        value=status_text,
    )
    reject.add(
        pc.and_kleene(
            pc.invert(alive),
            pc.or_kleene(pc.less(status_date, birth), pc.greater(status_date, pa.scalar(today, pa.date32()))),
        ),
        code="DATE_INVALID",
        column="life_status_date",
        value=status_text,
    )

    address = canonical_column(_text(table, "address_line"))
    unit_code = _text(table, "unit_code")
    generation = pc.coalesce(_text(table, "unit_generation"), UnitGeneration.Y2025.value)
    reject.add(
        pc.invert(_membership(generation, [g.value for g in UnitGeneration])),
        code="UNIT_GENERATION_INVALID",
        column="unit_generation",
        value=generation,
    )
    current_known, current_commune, current_province = _unit_lookup(unit_code, _resolve_commune(UnitGeneration.Y2025))
    old_known, old_commune, old_province = _unit_lookup(unit_code, _resolve_commune(UnitGeneration.PRE_2025))
    is_old = pc.equal(generation, UnitGeneration.PRE_2025.value)
    unit_known = pc.if_else(is_old, old_known, current_known)
    reject.add(
        pc.and_kleene(pc.is_valid(unit_code), pc.invert(unit_known)),
        code="UNIT_UNKNOWN",
        column="unit_code",
        value=unit_code,
    )
    reject.add(
        pc.xor(pc.is_valid(unit_code), pc.is_valid(address)),
        code="RESIDENCE_INCOMPLETE",
        column="address_line",
        value=address,
    )

    ok = reject.ok
    family, middle, given = split_names(pc.filter(full_name, ok))
    valid = pa.table(
        {
            "row_number": pc.filter(pa.array(range(first_row_number, first_row_number + rows), pa.int64()), ok),
            "pin": pc.filter(pin, ok),
            "full_name": pc.filter(full_name, ok),
            "name_folded": pc.filter(folded, ok),
            "family_name": family,
            "middle_name": middle,
            "given_name": given,
            "birth_date": pc.filter(birth, ok),
            "birth_date_precision": pc.filter(precision, ok),
            "sex": pc.filter(sex, ok),
            "ethnicity_code": pc.filter(ethnicity, ok),
            "religion_code": pc.filter(religion, ok),
            "nationality": pc.filter(nationality, ok),
            "birth_registration_code": pc.filter(prefix, ok),
            "birth_registration_unit_code": pc.filter(birth_commune, ok),
            "origin_unit_code": pc.filter(origin, ok),
            "origin_unit_generation": pc.filter(pc.if_else(pc.is_valid(origin), origin_generation, None), ok),
            "life_status": pc.filter(status, ok),
            "life_status_date": pc.filter(pc.if_else(alive, None, status_date), ok),
            "address_line": pc.filter(address, ok),
            "unit_code": pc.filter(unit_code, ok),
            "unit_generation": pc.filter(pc.if_else(pc.is_valid(unit_code), generation, None), ok),
            "commune_code": pc.filter(pc.if_else(is_old, old_commune, current_commune), ok),
            "province_code": pc.filter(pc.if_else(is_old, old_province, current_province), ok),
        }
    )
    refused = pc.invert(ok)
    rejects = pa.table(
        {
            "row_number": pc.filter(pa.array(range(first_row_number, first_row_number + rows), pa.int64()), refused),
            "column_name": pc.filter(reject.column, refused),
            "code": pc.filter(reject.code, refused),
            "value": pc.utf8_slice_codeunits(pc.filter(reject.value, refused), 0, 200),
        }
    )
    return ValidatedBatch(valid=valid, rejects=rejects)
