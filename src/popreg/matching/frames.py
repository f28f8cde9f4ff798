"""Whole tables of records normalised at once, for linkage over files and the whole register.

The input is a data frame whose columns are named as the register's fields (full_name or
family_name / middle_name / given_name, birth_date, birth_year, birth_date_precision, sex, address,
commune_code with its unit_generation, province_code; an agency's identifier, postcode and
locality) and a ``record_id``. Each distinct value is
normalised once (a register repeats the same names, dates and communes millions of times), so a
million records take seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

import numpy as np
import pandas as pd

from popreg.matching.normalise import current_commune, fold_name, normalise_address, normalise_identifier, split_name
from popreg.matching.records import _sex, birth_of
from popreg.matching.scoring import Records
from popreg.units.catalogue import UnitGeneration, get_unit

NORMALISED_COLUMNS = (
    "unique_id",
    "family",
    "middle",
    "given",
    "name_key",
    "birth_days",
    "birth_year",
    "birth_month",
    "birth_dom",
    "birth_precision",
    "sex",
    "commune",
    "province",
    "address",
    "identifier",
    "postcode",
    "locality",
)


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name in frame.columns:
        return frame[name]
    return pd.Series([None] * len(frame), index=frame.index, dtype=object)


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA or value is pd.NaT:
        return ""
    return str(value).strip()


def _per_distinct(values: pd.Series, function: Callable[[Any], Any]) -> list[Any]:
    cache: dict[Hashable, Any] = {}
    out = []
    for value in values.tolist():
        key = value if isinstance(value, Hashable) else str(value)
        if key not in cache:
            cache[key] = function(value)
        out.append(cache[key])
    return out


def _name_columns(frame: pd.DataFrame) -> tuple[list[str], list[str], list[str]]:
    has_parts = "family_name" in frame.columns or "given_name" in frame.columns
    middle_given = "middle_name" in frame.columns
    middle_column = _per_distinct(_column(frame, "middle_name"), lambda v: fold_name(_text(v)))
    if has_parts:
        family = _per_distinct(_column(frame, "family_name"), lambda v: fold_name(_text(v)))
        given = _per_distinct(_column(frame, "given_name"), lambda v: fold_name(_text(v)))
        return family, middle_column, given
    parts = _per_distinct(_column(frame, "full_name"), lambda v: split_name(_text(v)))
    middle = middle_column if middle_given else [p.middle for p in parts]
    return [p.family for p in parts], middle, [p.given for p in parts]


def normalise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The normalised columns of :data:`NORMALISED_COLUMNS`; missing values are None (SQL NULL)."""
    family, middle, given = _name_columns(frame)
    name_key = [" ".join(sorted(f"{a} {b} {c}".split())) for a, b, c in zip(family, middle, given, strict=True)]
    precision_column = _column(frame, "birth_date_precision")
    births = [
        birth_of({"birth_date": day, "birth_year": year, "birth_date_precision": _text(precision) or None})
        for day, year, precision in zip(
            _column(frame, "birth_date").tolist(),
            _column(frame, "birth_year").tolist(),
            precision_column.tolist(),
            strict=True,
        )
    ]
    days = pd.array([b[0] for b in births], dtype="Int64")
    as_dates = pd.to_datetime(pd.Series(days, dtype="Int64").astype("float64"), unit="D", errors="coerce")
    communes = [
        current_commune(_text(code) or None, _text(generation) or None)
        for code, generation in zip(
            _column(frame, "commune_code").tolist(), _column(frame, "unit_generation").tolist(), strict=True
        )
    ]

    def province_of(commune: str | None, given_province: Any) -> str:
        unit = get_unit(commune, UnitGeneration.Y2025) if commune else None
        return unit.province_code if unit else _text(given_province)

    provinces = [province_of(c, p) for c, p in zip(communes, _column(frame, "province_code").tolist(), strict=True)]
    result = pd.DataFrame(
        {
            "unique_id": frame["record_id"].astype(str).to_numpy(),
            "family": family,
            "middle": middle,
            "given": given,
            "name_key": name_key,
            "birth_days": days,
            "birth_year": pd.array(as_dates.dt.year, dtype="Int64"),
            "birth_month": pd.array(as_dates.dt.month, dtype="Int64"),
            "birth_dom": pd.array(as_dates.dt.day, dtype="Int64"),
            "birth_precision": [b[1] or None for b in births],
            "sex": _per_distinct(_column(frame, "sex"), _sex),
            "commune": communes,
            "province": provinces,
            "address": _per_distinct(_column(frame, "address"), lambda v: normalise_address(_text(v))),
            "identifier": _per_distinct(_column(frame, "identifier"), lambda v: normalise_identifier(_text(v))),
            "postcode": _per_distinct(_column(frame, "postcode"), lambda v: normalise_identifier(_text(v))),
            "locality": _per_distinct(_column(frame, "locality"), lambda v: fold_name(_text(v))),
        }
    )
    for name in (
        "family",
        "middle",
        "given",
        "name_key",
        "sex",
        "province",
        "address",
        "identifier",
        "postcode",
        "locality",
    ):
        result[name] = result[name].replace("", None)
    return result


def records_from_frame(frame: pd.DataFrame) -> Records:
    """A normalised frame as the columns of the vectorised scorer."""

    def text(name: str) -> list[str]:
        return ["" if value is None or value is pd.NA else str(value) for value in frame[name].tolist()]

    days = frame["birth_days"]
    return Records(
        family=text("family"),
        middle=text("middle"),
        given=text("given"),
        name_key=text("name_key"),
        birth_day=days.fillna(0).astype("int64").to_numpy(),
        birth_known=days.notna().to_numpy(dtype=bool),
        birth_precision=text("birth_precision"),
        sex=text("sex"),
        commune=text("commune"),
        province=text("province"),
        address=text("address"),
        identifier=text("identifier"),
        postcode=text("postcode"),
        locality=text("locality"),
    )
