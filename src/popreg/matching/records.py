"""Records of persons in the normalised form that matching compares, built from any source.

A source record names its fields as the register does (full_name or family/middle/given name,
birth_date, birth_year, sex, address, commune and province codes) plus what agencies' files often
carry (an ``identifier`` such as an old ID-card or social-insurance number, a ``postcode``, a
``locality``: suburb, town or village name); everything optional may be missing.
:func:`normalise_record` turns one into the columns of :class:`Records`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np

from popreg.matching.normalise import (
    NameParts,
    current_commune,
    fold_name,
    normalise_address,
    normalise_identifier,
    split_name,
)
from popreg.matching.scoring import Records
from popreg.units.catalogue import UnitGeneration, get_unit

_EPOCH = date(1970, 1, 1)


@dataclass(frozen=True, slots=True)
class NormalisedRecord:
    family: str
    middle: str
    given: str
    name_key: str
    birth_day: int | None
    birth_precision: str
    sex: str
    commune: str
    province: str
    address: str
    identifier: str = ""
    postcode: str = ""
    locality: str = ""


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value != value:  # NaN from a data frame
        return ""
    return str(value).strip()


def name_parts_of(record: Mapping[str, Any]) -> NameParts:
    """The folded name parts of a record with a full name, with parts, or with both.

    Parts given separately win over the split of the full name: a file that holds the middle name
    in a column of its own says where each word belongs.
    """
    family, middle, given = (_text(record.get(key)) for key in ("family_name", "middle_name", "given_name"))
    if family or given:
        return NameParts(fold_name(family), fold_name(middle), fold_name(given))
    parts = split_name(_text(record.get("full_name")))
    if middle:
        parts = NameParts(parts.family, fold_name(middle), parts.given)
    return parts


def birth_of(record: Mapping[str, Any]) -> tuple[int | None, str]:
    """Days since 1970 and precision ("day", "month", "year") of a record's date or year of birth."""
    value = record.get("birth_date")
    precision = _text(record.get("birth_date_precision")) or "day"
    if isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            if len(text) == 4:
                value, precision = date(int(text), 1, 1), "year"
            elif len(text) == 7:
                value, precision = date(int(text[:4]), int(text[5:7]), 1), "month"
            else:
                value = date.fromisoformat(text[:10])
        except ValueError:
            value = None
    if isinstance(value, datetime):  # a datetime or a pandas Timestamp
        value = value.date()
    if isinstance(value, date):
        return (value - _EPOCH).days, precision
    year = record.get("birth_year")
    if year is not None and _text(year):
        try:
            return (date(int(float(str(year))), 1, 1) - _EPOCH).days, "year"
        except ValueError:
            return None, ""
    return None, ""


def _sex(value: Any) -> str:
    text = fold_name(_text(value))
    if text in {"m", "male", "nam", "1"}:
        return "M"
    if text in {"f", "female", "nu", "2"}:
        return "F"
    return ""


def normalise_record(record: Mapping[str, Any]) -> NormalisedRecord:
    parts = name_parts_of(record)
    birth_day, precision = birth_of(record)
    commune = current_commune(_text(record.get("commune_code")) or None, _text(record.get("unit_generation")) or None)
    province = _text(record.get("province_code"))
    if commune:
        unit = get_unit(commune, UnitGeneration.Y2025)
        province = unit.province_code if unit else province
    return NormalisedRecord(
        family=parts.family,
        middle=parts.middle,
        given=parts.given,
        name_key=parts.key,
        birth_day=birth_day,
        birth_precision=precision,
        sex=_sex(record.get("sex")),
        commune=commune or "",
        province=province,
        address=normalise_address(_text(record.get("address"))),
        identifier=normalise_identifier(_text(record.get("identifier"))),
        postcode=normalise_identifier(_text(record.get("postcode"))),
        locality=fold_name(_text(record.get("locality"))),
    )


def to_records(normalised: Iterable[NormalisedRecord]) -> Records:
    rows = list(normalised)
    return Records(
        family=[row.family for row in rows],
        middle=[row.middle for row in rows],
        given=[row.given for row in rows],
        name_key=[row.name_key for row in rows],
        birth_day=np.array([row.birth_day or 0 for row in rows], dtype=np.int64),
        birth_known=np.array([row.birth_day is not None for row in rows], dtype=bool),
        birth_precision=[row.birth_precision for row in rows],
        sex=[row.sex for row in rows],
        commune=[row.commune for row in rows],
        province=[row.province for row in rows],
        address=[row.address for row in rows],
        identifier=[row.identifier for row in rows],
        postcode=[row.postcode for row in rows],
        locality=[row.locality for row in rows],
    )


def records_of(rows: Iterable[Mapping[str, Any]]) -> Records:
    """Normalise source records into columns for :func:`popreg.matching.scoring.score_pairs`."""
    return to_records(normalise_record(row) for row in rows)
