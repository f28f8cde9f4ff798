"""The attributes of synthetic persons, held as index arrays until the tables are written.

:class:`PersonDraws` keeps one NumPy array per attribute (vocabulary indices, day numbers, places
of the commune frame), so that duplicates with defects are derived with array operations and
the strings are built once, at the end, for originals and duplicates together.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import date
from functools import cache
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from popreg.synth.arrays import BoolArray, FloatArray, IntArray
from popreg.synth.columns import ByteMatrix, code_matrix, digits, fixed_width, from_vocabulary, rows, vocabulary
from popreg.synth.frequencies import StepTable
from popreg.synth.geography import CommuneFrame
from popreg.synth.names import NameIndices, name_columns
from popreg.synth.schema import PERSONS

EPOCH = date(1970, 1, 1)
DAYS_PER_YEAR = 365.2425
REFORM_DAY = (date(2025, 7, 1) - EPOCH).days
"""1 July 2025: births from this day are registered on the 2025 units (34 provinces)."""

PRECISION_CODES = ("day", "month", "year")
DAY, MONTH, YEAR = range(3)


_CALENDAR_START = date(1850, 1, 1)
_CALENDAR_END = date(2200, 1, 1)


def day_number(value: date) -> int:
    """Days since 1970-01-01, the integer behind Arrow's ``date32``."""
    return (value - EPOCH).days


@dataclass(frozen=True)
class _Calendar:
    """Year, month and day of every day from 1850 to 2199, and the first day of every month.

    Converting a million day numbers to calendar dates through ``datetime64`` casts costs tens
    of milliseconds per field; a table of ~128,000 days answers with one gather.
    """

    first_day: int
    year: IntArray
    month: IntArray
    day: IntArray
    month_start: IntArray
    """Day number of the first of each month, at ``(year - 1850) * 12 + month - 1``."""


@cache
def _calendar() -> _Calendar:
    first = day_number(_CALENDAR_START)
    days = np.arange(first, day_number(_CALENDAR_END)).astype("datetime64[D]")
    months = days.astype("datetime64[M]")
    year = months.astype("datetime64[Y]").astype(np.int64) + 1970
    month_numbers = np.arange(
        np.datetime64(_CALENDAR_START, "M").astype(np.int64), np.datetime64(_CALENDAR_END, "M").astype(np.int64)
    )
    return _Calendar(
        first_day=first,
        year=year,
        month=months.astype(np.int64) % 12 + 1,
        day=(days - months.astype("datetime64[D]")).astype(np.int64) + 1,
        month_start=month_numbers.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64),
    )


def _offsets(days: IntArray) -> IntArray:
    calendar = _calendar()
    offset = days - calendar.first_day
    if len(offset) and (offset.min() < 0 or offset.max() >= len(calendar.year)):
        raise ValueError(f"Dates must lie between {_CALENDAR_START} and {_CALENDAR_END}.")
    return offset


def birth_years(days: IntArray) -> IntArray:
    """The calendar year of each day number."""
    return _calendar().year[_offsets(days)]


def calendar_parts(days: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """Year, month (1-12) and day of month of each day number."""
    calendar = _calendar()
    offset = _offsets(days)
    return calendar.year[offset], calendar.month[offset], calendar.day[offset]


def from_calendar(year: IntArray, month: IntArray, day: IntArray) -> IntArray:
    """Day numbers of the given dates (months and days must form valid dates)."""
    first_of_month: IntArray = _calendar().month_start[(year - _CALENDAR_START.year) * 12 + month - 1]
    return first_of_month + day - 1


def truncate_to_precision(
    rng: np.random.Generator, days: IntArray, year_share: StepTable, month_share: StepTable
) -> tuple[IntArray, IntArray]:
    """Draw how precisely each date of birth is known, and store it as the register does.

    A date known to the year becomes 1 January of that year, one known to the month the first of
    that month. The shares depend on the year of birth (older people were often registered with
    the year only).
    """
    year, month, day = calendar_parts(days)
    uniform = rng.random(len(days))
    p_year = year_share.at(year)
    precision = np.where(uniform < p_year, YEAR, np.where(uniform < p_year + month_share.at(year), MONTH, DAY))
    recorded = np.where(
        precision == YEAR,
        from_calendar(year, np.ones_like(month), np.ones_like(day)),
        np.where(precision == MONTH, days - day + 1, days),
    )
    return recorded, precision


def ages_in_years(reference_day: int, days: IntArray) -> FloatArray:
    """Exact age in years at the reference day of persons born on the given days."""
    return (reference_day - days) / DAYS_PER_YEAR


@dataclass(frozen=True)
class PersonDraws:
    """One entry per person of every attribute, as indices (see the module docstring).

    ``*_place`` index the places of the :class:`~popreg.synth.geography.CommuneFrame` (-1: not
    recorded); ``*_on_2025_units`` says whether that place is written with its 2025 commune code
    (otherwise its pre-2025 one). ``birth_province_code`` is the numeric PIN province code (79 for
    "079"). ``death_day`` is meaningful where ``deceased``.
    """

    female: BoolArray
    birth_day: IntArray
    precision: IntArray
    ethnicity: IntArray
    religion: IntArray
    family: IntArray
    middle: IntArray
    given: IntArray
    birth_province_code: IntArray
    birth_unit_place: IntArray
    birth_unit_on_2025_units: BoolArray
    origin_place: IntArray
    origin_on_2025_units: BoolArray
    deceased: BoolArray
    death_day: IntArray

    def __len__(self) -> int:
        return len(self.female)

    def take(self, indices: IntArray) -> PersonDraws:
        """The draws of the given persons, in that order."""
        return PersonDraws(**{f.name: getattr(self, f.name)[indices] for f in fields(self)})

    def concat(self, other: PersonDraws) -> PersonDraws:
        """These persons followed by the other ones."""
        return PersonDraws(
            **{f.name: np.concatenate([getattr(self, f.name), getattr(other, f.name)]) for f in fields(self)}
        )

    def with_changes(self, **changes: Any) -> PersonDraws:
        """A copy with some attributes replaced (each by an array of the same length)."""
        return replace(self, **changes)

    @property
    def names(self) -> NameIndices:
        return NameIndices(family=self.family, middle=self.middle, given=self.given)


_PRECISIONS = vocabulary(PRECISION_CODES)
_LIFE_STATUSES = vocabulary(("alive", "deceased"))
_SEXES = code_matrix(["M", "F"])
_NATIONALITY = code_matrix(["VNM"])


def persons_table(
    draws: PersonDraws,
    *,
    person_id: IntArray,
    pin: ByteMatrix,
    stripped: BoolArray | None = None,
    frame: CommuneFrame,
    ethnic_codes: tuple[str, ...],
    religion_codes: tuple[str, ...],
) -> pa.Table:
    """The ``persons`` table (schema :data:`popreg.synth.schema.PERSONS`).

    ``pin`` holds the 12 digits of each PIN; where ``stripped`` is true the names are written
    without diacritics.
    """
    size = len(draws)
    names = name_columns(draws.names, stripped)
    origin_missing = draws.origin_place < 0
    columns = [
        pa.array(person_id, pa.int64()),
        fixed_width(pin),
        names.full_name,
        names.name_folded,
        names.family_name,
        names.middle_name,
        names.given_name,
        pa.array(draws.birth_day.astype(np.int32), pa.date32()),
        from_vocabulary(_PRECISIONS, draws.precision),
        fixed_width(rows(_SEXES, draws.female.astype(np.int64))),
        fixed_width(rows(code_matrix(list(ethnic_codes)), draws.ethnicity)),
        from_vocabulary(vocabulary(religion_codes), draws.religion),
        fixed_width(np.broadcast_to(_NATIONALITY, (size, 3))),
        fixed_width(digits(draws.birth_province_code, 3)),
        frame.unit_codes(draws.birth_unit_place, draws.birth_unit_on_2025_units),
        frame.unit_codes(draws.origin_place, draws.origin_on_2025_units),
        pc.if_else(
            pa.array(origin_missing), pa.scalar(None, pa.string()), frame.generations(draws.origin_on_2025_units)
        ),
        from_vocabulary(_LIFE_STATUSES, draws.deceased.astype(np.int64)),
        pa.array(draws.death_day.astype(np.int32), pa.date32(), mask=~draws.deceased),
    ]
    return pa.Table.from_arrays(columns, schema=PERSONS)
